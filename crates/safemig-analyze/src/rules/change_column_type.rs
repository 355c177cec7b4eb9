//! `change-column-type`: a column of an existing table changes type.

use pg_query::protobuf::AlterTableType;

use super::{alter_table_cmds, cmd_type, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct ChangeColumnType;

static DOC: RuleDoc = RuleDoc {
    name: "change-column-type",
    severity: Severity::Review,
    summary: "ALTER COLUMN ... TYPE usually rewrites the whole table under an ACCESS EXCLUSIVE lock",
    what_it_does: "Finds `ALTER TABLE ... ALTER COLUMN ... TYPE` on a table that this migration did not create.",
    why_it_matters: "Most type changes make PostgreSQL rewrite every row and rebuild every index of the table while \
                     it holds an ACCESS EXCLUSIVE lock: nothing can read or write the table until it is done, \
                     which takes minutes on a large one. Only a few changes are free: `varchar(n)` to `text` or to \
                     a larger `varchar`, `numeric(p,s)` to a larger precision with the same scale, dropping a \
                     length limit. The application may also still send values of the old type.",
    example: "ALTER TABLE public.events ALTER COLUMN id TYPE bigint;",
    use_instead: "Add a new column of the new type, backfill it in batches, keep both in sync with a trigger, \
                  switch the application over, then drop the old column:\n\
                  ALTER TABLE public.events ADD COLUMN id_new bigint;\n\
                  -- backfill, switch reads and writes, then in a later migration\n\
                  ALTER TABLE public.events DROP COLUMN id;",
};

impl Rule for ChangeColumnType {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        alter_table_cmds(ctx.node)
            .into_iter()
            .filter(|(table, cmd)| cmd_type(cmd) == AlterTableType::AtAlterColumnType && !ctx.file.created_here(table))
            .map(|(table, cmd)| {
                Hit::new(format!(
                    "changes the type of column `{}` of `{table}`: unless the change is binary-compatible, the table \
                     is rewritten while reads and writes wait",
                    cmd.name
                ))
                .help("add a column of the new type, backfill it, and switch over")
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
        let found = hits(
            &ChangeColumnType,
            "ALTER TABLE public.t ALTER COLUMN a TYPE bigint USING a::bigint, ALTER b TYPE text;",
        );
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("`a` of `public.t`"));
    }

    #[test]
    fn quiet_on_a_table_created_in_the_file_and_on_other_commands() {
        assert!(!fires(
            &ChangeColumnType,
            "CREATE TABLE t (a int);\nALTER TABLE t ALTER COLUMN a TYPE bigint;"
        ));
        assert!(!fires(
            &ChangeColumnType,
            "ALTER TABLE t ALTER COLUMN a SET DEFAULT 0;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &ChangeColumnType,
            "DO $$ BEGIN ALTER TABLE t ALTER COLUMN a TYPE bigint; END $$;"
        ));
    }
}
