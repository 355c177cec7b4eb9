//! `drop-column`: a column of an existing table is dropped.

use pg_query::protobuf::AlterTableType;

use pg_query::NodeEnum;

use super::{alter_table_cmds, cmd_type, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DropColumn;

static DOC: RuleDoc = RuleDoc {
    name: "drop-column",
    severity: Severity::Risky,
    summary: "ALTER TABLE ... DROP COLUMN deletes a column and every value in it",
    what_it_does: "Finds `ALTER TABLE ... DROP COLUMN` (with or without `IF EXISTS`) on a table that this migration \
                   did not create.",
    why_it_matters: "The column's data is gone for good: PostgreSQL only marks the column dropped, but nothing can \
                     read it back. Indexes, constraints and (with CASCADE) views that use the column go with it. \
                     Application code that is still running selects or inserts the column by name and fails \
                     as soon as the migration commits.",
    example: "ALTER TABLE public.profiles DROP COLUMN legacy_avatar_url;",
    use_instead: "Stop using the column in the application first and deploy that; drop the column in a later \
                  migration. If the loss is intended, allow it for this migration in safemig.toml \
                  (`[[allow]] loss = [\"columns\"]`).",
};

impl Rule for DropColumn {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        // ALTER TYPE ... DROP ATTRIBUTE: the attribute's values go from every stored value.
        if let NodeEnum::AlterTableStmt(stmt) = ctx.node {
            if stmt.objtype == pg_query::protobuf::ObjectType::ObjectType as i32 {
                let ty = stmt
                    .relation
                    .as_ref()
                    .map(super::qualified)
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                return stmt
                    .cmds
                    .iter()
                    .filter_map(|c| match c.node.as_ref() {
                        Some(NodeEnum::AlterTableCmd(cmd)) if cmd_type(cmd) == AlterTableType::AtDropColumn => Some(cmd),
                        _ => None,
                    })
                    .map(|cmd| {
                        Hit::new(format!(
                            "drops attribute `{}` of type `{ty}`: its value goes from every column and row of that type",
                            cmd.name
                        ))
                        .help("add a new type without it and move the columns over, keeping the old values")
                    })
                    .collect();
            }
        }
        alter_table_cmds(ctx.node)
            .into_iter()
            .filter(|(table, cmd)| {
                cmd_type(cmd) == AlterTableType::AtDropColumn
                    && !ctx.file.created_here(table)
                    && !ctx.file.adds_column(table, &cmd.name)
            })
            .map(|(table, cmd)| {
                Hit::new(format!("drops column `{}` of `{table}` and every value in it", cmd.name))
                    .help("deploy code that no longer uses the column first, and drop it in a later migration")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_once_per_column() {
        let found = hits(
            &DropColumn,
            "ALTER TABLE public.t DROP COLUMN a, DROP COLUMN IF EXISTS b;",
        );
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("`a` of `public.t`"));
    }

    #[test]
    fn quiet_on_a_table_created_in_the_file_and_on_other_commands() {
        assert!(!fires(
            &DropColumn,
            "CREATE TABLE t (a int, b int);\nALTER TABLE t DROP COLUMN b;"
        ));
        assert!(!fires(
            &DropColumn,
            "ALTER TABLE t ADD COLUMN c int, DROP CONSTRAINT k;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DropColumn,
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_attribute WHERE attname = 'a') THEN ALTER TABLE t DROP COLUMN a; END IF; END $$;"
        ));
    }
}
