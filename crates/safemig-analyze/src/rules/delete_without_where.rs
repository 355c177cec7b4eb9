//! `delete-without-where`: every row of an existing table is deleted.

use pg_query::NodeEnum;

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DeleteWithoutWhere;

static DOC: RuleDoc = RuleDoc {
    name: "delete-without-where",
    severity: Severity::Risky,
    summary: "DELETE without WHERE deletes every row of the table",
    what_it_does: "Finds `DELETE` with no `WHERE` clause on a table that this migration did not create.",
    why_it_matters: "Every row is deleted once the migration commits. On a large table it is also slow: each row \
                     is deleted one by one, fires ON DELETE triggers and foreign-key actions, keeps every deleted \
                     row locked until the migration commits and leaves the table full of dead tuples for VACUUM. It is \
                     rarely what a migration meant; usually the WHERE was lost.",
    example: "DELETE FROM public.sessions;",
    use_instead: "DELETE FROM public.sessions WHERE expires_at < now();",
};

impl Rule for DeleteWithoutWhere {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::DeleteStmt(stmt) = ctx.node else {
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
            "deletes every row of `{table}`: the DELETE has no WHERE"
        ))
        .help("add the WHERE clause that says which rows to delete")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_without_where() {
        assert!(hits(&DeleteWithoutWhere, "DELETE FROM public.t;")[0]
            .message
            .contains("`public.t`"));
        assert!(fires(&DeleteWithoutWhere, "DELETE FROM t USING u;"));
    }

    #[test]
    fn quiet_with_where_or_on_a_table_created_in_the_file() {
        assert!(!fires(&DeleteWithoutWhere, "DELETE FROM t WHERE id = 1;"));
        assert!(!fires(
            &DeleteWithoutWhere,
            "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\nDELETE FROM t;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DeleteWithoutWhere,
            "DO $$ BEGIN DELETE FROM t; END $$;"
        ));
    }
}
