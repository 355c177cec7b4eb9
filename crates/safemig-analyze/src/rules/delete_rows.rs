//! `delete-rows`: rows of an existing table are deleted, whatever the `WHERE`.

use pg_query::NodeEnum;

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DeleteRows;

static DOC: RuleDoc = RuleDoc {
    name: "delete-rows",
    severity: Severity::Risky,
    summary: "DELETE ... WHERE on an existing table: the matched rows are gone for good",
    what_it_does: "Finds `DELETE` with a `WHERE` on a table this migration did not create (`delete-without-where` \
                   covers the one without).",
    why_it_matters: "A migration that deletes rows destroys data that nothing else remembers, and a `WHERE` does not \
                     say how many rows it matches on production (`WHERE true`, a join matching every row, a date in \
                     the wrong format). `safemig migrate` rolls back any deletion of rows that existed when the \
                     migration began unless `safemig.toml` allows it; on a database where the table is empty or \
                     not yet created, the migration is not risky.",
    example: "DELETE FROM public.todos WHERE inserted_at < '2024-01-01';",
    use_instead: "Keep the rows: archive them first, or allow the loss for this migration once reviewed:\n\
                  [[allow]]\nmigration = \"20240303000000\"\ntable = \"public.todos\"\nloss = [\"rows\"]\n\
                  reason = \"todos older than 2024 are purged\"",
};

impl Rule for DeleteRows {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        // Anywhere in the statement: `WITH moved AS (DELETE ... RETURNING *) INSERT ...` deletes too.
        let mut hits = Vec::new();
        for (node, ..) in ctx.node.nodes() {
            let pg_query::NodeRef::DeleteStmt(stmt) = node else {
                continue;
            };
            let Some(relation) = stmt.relation.as_ref() else {
                continue;
            };
            let table = qualified(relation);
            let top = matches!(ctx.node, NodeEnum::DeleteStmt(_));
            // A top-level DELETE without WHERE is delete-without-where's.
            if (top && stmt.where_clause.is_none()) || ctx.file.created_here(&table) {
                continue;
            }
            hits.push(
                Hit::new(format!(
                    "deletes the rows of `{table}` its WHERE matches: they are gone once the migration commits"
                ))
                .help("archive the rows first, or allow the loss in safemig.toml ([[allow]] loss = [\"rows\"])"),
            );
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_with_where_on_an_existing_table() {
        assert!(fires(
            &DeleteRows,
            "DELETE FROM public.todos WHERE inserted_at < '2024-01-01';"
        ));
        assert!(!fires(&DeleteRows, "DELETE FROM public.todos;"));
        assert!(!fires(
            &DeleteRows,
            "CREATE TABLE public.t (id int); DELETE FROM public.t WHERE id = 1;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DeleteRows,
            "DO $$ BEGIN DELETE FROM public.t WHERE id = 1; END $$;"
        ));
    }
}
