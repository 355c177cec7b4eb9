//! `drop-not-null`: a column that was never NULL may now be.

use pg_query::protobuf::AlterTableType;

use super::{alter_table_cmds, cmd_type, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DropNotNull;

static DOC: RuleDoc = RuleDoc {
    name: "drop-not-null",
    severity: Severity::Hint,
    summary: "ALTER COLUMN ... DROP NOT NULL lets a column that code relies on become NULL",
    what_it_does: "Finds `ALTER TABLE ... ALTER COLUMN ... DROP NOT NULL` on a table that this migration did not \
                   create.",
    why_it_matters: "The statement itself is cheap (a catalog change), but code written against the column assumes \
                     it always has a value: generated TypeScript types (`supabase gen types`) lose their non-null \
                     type, and queries, joins and aggregates that did not handle NULL start to return surprising \
                     results once the first NULL is written.",
    example: "ALTER TABLE public.orders ALTER COLUMN customer_id DROP NOT NULL;",
    use_instead: "Check that the application handles NULL in the column, regenerate the client types, and keep \
                  the statement; or give the column a DEFAULT instead of allowing NULL.",
};

impl Rule for DropNotNull {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        alter_table_cmds(ctx.node)
            .into_iter()
            .filter(|(table, cmd)| cmd_type(cmd) == AlterTableType::AtDropNotNull && !ctx.file.created_here(table))
            .map(|(table, cmd)| {
                Hit::new(format!(
                    "column `{}` of `{table}` may be NULL from now on: check the code that reads it",
                    cmd.name
                ))
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
            &DropNotNull,
            "ALTER TABLE public.t ALTER COLUMN a DROP NOT NULL;"
        )[0]
        .message
        .contains("`a` of `public.t`"));
    }

    #[test]
    fn quiet_on_a_table_created_in_the_file_and_on_set_not_null() {
        assert!(!fires(
            &DropNotNull,
            "CREATE TABLE t (a int NOT NULL);\nALTER TABLE t ALTER COLUMN a DROP NOT NULL;"
        ));
        assert!(!fires(
            &DropNotNull,
            "ALTER TABLE t ALTER COLUMN a SET NOT NULL;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DropNotNull,
            "DO $$ BEGIN ALTER TABLE t ALTER COLUMN a DROP NOT NULL; END $$;"
        ));
    }
}
