//! `constraint-without-not-valid`: a CHECK constraint validated while the table is locked.

use pg_query::protobuf::{AlterTableType, ConstrType};

use super::{
    alter_table_cmds, cmd_type, constr_type, constraint_def, Ctx, Hit, Rule, RuleDoc, Severity,
};

pub struct ConstraintWithoutNotValid;

static DOC: RuleDoc = RuleDoc {
    name: "constraint-without-not-valid",
    severity: Severity::Review,
    summary: "ADD CONSTRAINT ... CHECK without NOT VALID scans the table while reads and writes wait",
    what_it_does: "Finds `ALTER TABLE ... ADD CONSTRAINT ... CHECK (...)` without `NOT VALID` on a table that this \
                   migration did not create.",
    why_it_matters: "PostgreSQL checks every existing row while it holds an ACCESS EXCLUSIVE lock, so nothing can \
                     read or write the table until the scan is over. With `NOT VALID` the constraint is added \
                     instantly and enforced for new writes; `VALIDATE CONSTRAINT` then checks the old rows under \
                     a SHARE UPDATE EXCLUSIVE lock, which lets reads and writes go on.",
    example: "ALTER TABLE public.orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);",
    use_instead: "ALTER TABLE public.orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;\n\
                  ALTER TABLE public.orders VALIDATE CONSTRAINT orders_total_positive;",
};

impl Rule for ConstraintWithoutNotValid {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        alter_table_cmds(ctx.node)
            .into_iter()
            .filter(|(table, cmd)| cmd_type(cmd) == AlterTableType::AtAddConstraint && !ctx.file.created_here(table))
            .filter_map(|(table, cmd)| {
                let c = constraint_def(cmd)?;
                if constr_type(c) != ConstrType::ConstrCheck || c.skip_validation {
                    return None;
                }
                let name = if c.conname.is_empty() { String::new() } else { format!(" `{}`", c.conname) };
                Some(
                    Hit::new(format!(
                        "adds CHECK constraint{name} to `{table}` without NOT VALID: every row is checked while reads \
                         and writes wait"
                    ))
                    .help("add it NOT VALID, then VALIDATE CONSTRAINT in a separate statement"),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_an_existing_table() {
        assert!(hits(
            &ConstraintWithoutNotValid,
            "ALTER TABLE public.t ADD CONSTRAINT pos CHECK (a > 0);"
        )[0]
        .message
        .contains("`pos` to `public.t`"));
        assert!(fires(
            &ConstraintWithoutNotValid,
            "ALTER TABLE t ADD CHECK (a > 0);"
        ));
    }

    #[test]
    fn quiet_with_not_valid_on_new_tables_and_on_other_constraints() {
        assert!(!fires(
            &ConstraintWithoutNotValid,
            "ALTER TABLE t ADD CONSTRAINT pos CHECK (a > 0) NOT VALID;"
        ));
        assert!(!fires(
            &ConstraintWithoutNotValid,
            "ALTER TABLE t VALIDATE CONSTRAINT pos;"
        ));
        assert!(!fires(
            &ConstraintWithoutNotValid,
            "CREATE TABLE t (a int);\nALTER TABLE t ADD CONSTRAINT pos CHECK (a > 0);"
        ));
        assert!(!fires(
            &ConstraintWithoutNotValid,
            "ALTER TABLE t ADD CONSTRAINT u UNIQUE (a);"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &ConstraintWithoutNotValid,
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'pos') THEN \
             ALTER TABLE t ADD CONSTRAINT pos CHECK (a > 0); END IF; END $$;"
        ));
    }
}
