//! `set-not-null`: SET NOT NULL on an existing table scans it under an ACCESS EXCLUSIVE lock.

use pg_query::protobuf::AlterTableType;

use super::{alter_table_cmds, cmd_type, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct SetNotNull;

static DOC: RuleDoc = RuleDoc {
    name: "set-not-null",
    severity: Severity::Review,
    summary: "ALTER COLUMN ... SET NOT NULL scans the whole table while reads and writes wait",
    what_it_does: "Finds `ALTER TABLE ... ALTER COLUMN ... SET NOT NULL` on a table that this migration did not \
                   create.",
    why_it_matters: "PostgreSQL checks every row for NULLs while it holds an ACCESS EXCLUSIVE lock, so nothing can \
                     read or write the table for as long as the scan takes. If a single NULL is left, the \
                     statement fails after the scan. Since PostgreSQL 12 the scan is skipped when a valid \
                     `CHECK (col IS NOT NULL)` constraint already proves it, and such a constraint can be added \
                     and validated without blocking.",
    example: "ALTER TABLE public.profiles ALTER COLUMN email SET NOT NULL;",
    use_instead:
        "ALTER TABLE public.profiles ADD CONSTRAINT profiles_email_not_null CHECK (email IS NOT NULL) NOT VALID;\n\
                  ALTER TABLE public.profiles VALIDATE CONSTRAINT profiles_email_not_null;\n\
                  ALTER TABLE public.profiles ALTER COLUMN email SET NOT NULL;  -- no scan (PostgreSQL 12+)\n\
                  ALTER TABLE public.profiles DROP CONSTRAINT profiles_email_not_null;",
};

impl Rule for SetNotNull {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        alter_table_cmds(ctx.node)
            .into_iter()
            .filter(|(table, cmd)| cmd_type(cmd) == AlterTableType::AtSetNotNull && !ctx.file.created_here(table))
            .map(|(table, cmd)| {
                Hit::new(format!(
                    "sets column `{}` of `{table}` NOT NULL: the whole table is scanned while reads and writes wait",
                    cmd.name
                ))
                .help("add CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, then SET NOT NULL")
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
            &SetNotNull,
            "ALTER TABLE public.t ALTER COLUMN a SET NOT NULL;"
        )[0]
        .message
        .contains("`a` of `public.t`"));
        assert!(fires(
            &SetNotNull,
            "ALTER TABLE IF EXISTS t ALTER a SET NOT NULL;"
        ));
    }

    #[test]
    fn quiet_on_a_table_created_in_the_file_and_on_drop_not_null() {
        assert!(!fires(
            &SetNotNull,
            "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a SET NOT NULL;"
        ));
        assert!(!fires(
            &SetNotNull,
            "ALTER TABLE t ALTER COLUMN a DROP NOT NULL;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &SetNotNull,
            "DO $$ BEGIN ALTER TABLE t ALTER COLUMN a SET NOT NULL; END $$;"
        ));
    }
}
