//! `update-without-where`: every row of an existing table is rewritten.

use pg_query::NodeEnum;

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct UpdateWithoutWhere;

static DOC: RuleDoc = RuleDoc {
    name: "update-without-where",
    severity: Severity::Review,
    summary: "UPDATE without WHERE rewrites every row of the table in one transaction",
    what_it_does: "Finds `UPDATE` with no `WHERE` clause on a table that this migration did not create.",
    why_it_matters: "PostgreSQL writes a new version of every row. Each updated row stays locked until the \
                     migration commits, so concurrent updates and deletes of any row wait; the table and its \
                     indexes grow by up to its whole size in dead tuples, and on a large table the statement runs \
                     for minutes and generates as much WAL. A backfill is sometimes intended, but a lost WHERE \
                     overwrites data.",
    example: "UPDATE public.profiles SET plan = 'free';",
    use_instead: "UPDATE public.profiles SET plan = 'free' WHERE plan IS NULL;\n\
                  -- for a large backfill, update in batches outside the schema migration",
};

impl Rule for UpdateWithoutWhere {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::UpdateStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        let Some(relation) = stmt.relation.as_ref() else {
            return Vec::new();
        };
        let table = qualified(relation);
        if stmt.where_clause.is_some() || ctx.file.created_here(&table) {
            return Vec::new();
        }
        vec![Hit::new(format!(
            "updates every row of `{table}`: the UPDATE has no WHERE"
        ))
        .help("add a WHERE clause; backfill a large table in batches")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_without_where() {
        assert!(hits(&UpdateWithoutWhere, "UPDATE public.t SET a = 1;")[0]
            .message
            .contains("`public.t`"));
        assert!(fires(&UpdateWithoutWhere, "UPDATE t SET a = u.a FROM u;"));
    }

    #[test]
    fn quiet_with_where_or_on_a_table_created_in_the_file() {
        assert!(!fires(
            &UpdateWithoutWhere,
            "UPDATE t SET a = 1 WHERE a IS NULL;"
        ));
        assert!(!fires(
            &UpdateWithoutWhere,
            "CREATE TABLE t (a int);\nUPDATE t SET a = 1;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &UpdateWithoutWhere,
            "DO $$ BEGIN UPDATE t SET a = 1; END $$;"
        ));
    }
}
