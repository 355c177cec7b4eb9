//! `alter-domain-add-constraint`: a constraint added to a domain checks every column of that type.

use pg_query::NodeEnum;

use super::{function_name, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct AlterDomainAddConstraint;

static DOC: RuleDoc = RuleDoc {
    name: "alter-domain-add-constraint",
    severity: Severity::Review,
    summary: "ALTER DOMAIN ... ADD CONSTRAINT scans every column of the domain's type",
    what_it_does: "Finds `ALTER DOMAIN ... ADD CONSTRAINT` without `NOT VALID`.",
    why_it_matters: "PostgreSQL checks the new constraint against every row of every table with a column of that \
                     domain, holding a lock on each table that blocks writes until the check is done.",
    example: "ALTER DOMAIN public.email ADD CONSTRAINT email_at CHECK (VALUE LIKE '%@%');",
    use_instead: "ALTER DOMAIN public.email ADD CONSTRAINT email_at CHECK (VALUE LIKE '%@%') NOT VALID;\n\
                  -- later, in its own migration:\nALTER DOMAIN public.email VALIDATE CONSTRAINT email_at;",
};

impl Rule for AlterDomainAddConstraint {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::AlterDomainStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        // subtype 'C': ADD CONSTRAINT (PostgreSQL's AD_AddConstraint).
        if stmt.subtype != "C" {
            return Vec::new();
        }
        let not_valid = matches!(
            stmt.def.as_ref().and_then(|d| d.node.as_ref()),
            Some(NodeEnum::Constraint(c)) if c.skip_validation
        );
        if not_valid {
            return Vec::new();
        }
        vec![Hit::new(format!(
            "adds a constraint to domain `{}`: every column of this type is checked while writes wait",
            function_name(&stmt.type_name)
        ))
        .help("add it NOT VALID, then VALIDATE CONSTRAINT in a later migration")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_without_not_valid() {
        assert!(fires(
            &AlterDomainAddConstraint,
            "ALTER DOMAIN email ADD CONSTRAINT c CHECK (VALUE <> '');"
        ));
        assert!(fires(
            &AlterDomainAddConstraint,
            "DO $$ BEGIN ALTER DOMAIN d ADD CHECK (VALUE > 0); END $$;"
        ));
    }

    #[test]
    fn quiet_with_not_valid_and_on_other_changes() {
        assert!(!fires(
            &AlterDomainAddConstraint,
            "ALTER DOMAIN email ADD CONSTRAINT c CHECK (VALUE <> '') NOT VALID;"
        ));
        assert!(!fires(
            &AlterDomainAddConstraint,
            "ALTER DOMAIN email VALIDATE CONSTRAINT c;"
        ));
        assert!(!fires(
            &AlterDomainAddConstraint,
            "ALTER DOMAIN email SET DEFAULT 'x';"
        ));
    }
}
