//! `drop-table`: a table is dropped.

use pg_query::protobuf::{ObjectType, String as PgString};
use pg_query::NodeEnum;

use super::{Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DropTable;

static DOC: RuleDoc = RuleDoc {
    name: "drop-table",
    severity: Severity::Risky,
    summary: "DROP TABLE deletes a table and every row in it",
    what_it_does: "Finds `DROP TABLE` (with or without `IF EXISTS`, at the top level or inside a `DO` block or \
                   function).",
    why_it_matters: "Every row of the table is gone, and so is every view, foreign key and policy that depended on \
                     it (with CASCADE). A `remote_schema.sql` pulled from another environment often drops tables \
                     production still needs. `IF EXISTS` makes the statement idempotent, not safe.",
    example: "DROP TABLE IF EXISTS public.library_tracks;",
    use_instead: "Keep the table, or rename it and drop it in a later release once nothing uses it \
                  (`ALTER TABLE public.library_tracks RENAME TO library_tracks_retired;`). If the loss is \
                  intended, allow it for this migration in safemig.toml (`[[allow]] loss = [\"table\"]`).",
};

impl Rule for DropTable {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::DropStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        if stmt.remove_type != ObjectType::ObjectTable as i32 {
            return Vec::new();
        }
        stmt.objects
            .iter()
            .filter_map(|o| match o.node.as_ref() {
                Some(NodeEnum::List(list)) => Some(
                    list.items
                        .iter()
                        .filter_map(|i| match i.node.as_ref() {
                            Some(NodeEnum::String(PgString { sval })) => Some(sval.as_str()),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join("."),
                ),
                _ => None,
            })
            .filter(|table| {
                let parts: Vec<&str> = table.split('.').collect();
                let name = match parts.as_slice() {
                    [schema, name] => crate::parse::QualifiedName { schema: schema.to_string(), name: name.to_string() },
                    _ => crate::parse::QualifiedName { schema: String::new(), name: table.clone() },
                };
                !ctx.file.created_here(&name)
            })
            .map(|table| {
                Hit::new(format!("drops table `{table}` and every row in it")).help(
                    "rename it instead and drop it later, or allow the loss for this migration in safemig.toml",
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
    fn fires_on_drop_table_guarded_or_not() {
        assert_eq!(hits(&DropTable, "DROP TABLE public.a, b;").len(), 2);
        assert!(fires(&DropTable, "DROP TABLE IF EXISTS a CASCADE;"));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(&DropTable, "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'a') THEN DROP TABLE a; END IF; END $$;"));
    }

    #[test]
    fn quiet_on_other_drops_and_on_create() {
        assert!(!fires(
            &DropTable,
            "DROP VIEW v; DROP INDEX i; CREATE TABLE a (id int);"
        ));
    }
}
