//! `create-domain-with-constraint`: a domain whose constraint cannot be changed online.

use pg_query::NodeEnum;

use super::{function_name, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct CreateDomainWithConstraint;

static DOC: RuleDoc = RuleDoc {
    name: "create-domain-with-constraint",
    severity: Severity::Hint,
    summary: "CREATE DOMAIN with a CHECK or NOT NULL constraint",
    what_it_does: "Finds `CREATE DOMAIN` with a `CHECK` or `NOT NULL` constraint.",
    why_it_matters: "A domain's constraint lives on the type, not the table: changing it later with \
                     `ALTER DOMAIN ... ADD CONSTRAINT` scans every column of that type in every table while holding \
                     locks, with no `NOT VALID`-then-`VALIDATE` path that tables have for their own constraints.",
    example: "CREATE DOMAIN public.email AS text CHECK (VALUE LIKE '%@%');",
    use_instead: "CREATE DOMAIN public.email AS text;\n\
                  ALTER TABLE public.users ADD CONSTRAINT users_email_check CHECK (email LIKE '%@%') NOT VALID;",
};

impl Rule for CreateDomainWithConstraint {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::CreateDomainStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        if stmt.constraints.is_empty() {
            return Vec::new();
        }
        vec![Hit::new(format!(
            "domain `{}` carries a constraint: changing it later locks and scans every column of this type",
            function_name(&stmt.domainname)
        ))
        .help("keep constraints on the tables, where they can be added NOT VALID and validated online")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_on_check_and_not_null() {
        assert!(fires(
            &CreateDomainWithConstraint,
            "CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');"
        ));
        assert!(fires(
            &CreateDomainWithConstraint,
            "CREATE DOMAIN id AS bigint NOT NULL;"
        ));
        assert!(fires(
            &CreateDomainWithConstraint,
            "DO $$ BEGIN CREATE DOMAIN d AS int CHECK (VALUE > 0); END $$;"
        ));
    }

    #[test]
    fn quiet_without_constraint() {
        assert!(!fires(
            &CreateDomainWithConstraint,
            "CREATE DOMAIN email AS text;"
        ));
        assert!(!fires(
            &CreateDomainWithConstraint,
            "CREATE TYPE mood AS ENUM ('a');"
        ));
    }
}
