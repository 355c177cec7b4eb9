//! `update-overwrites-values`: an `UPDATE` of an existing table sets a column to
//! NULL or to one constant.

use pg_query::{NodeEnum, NodeRef};

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct UpdateOverwritesValues;

static DOC: RuleDoc = RuleDoc {
    name: "update-overwrites-values",
    severity: Severity::Risky,
    summary: "UPDATE ... SET col = NULL or a constant on an existing table: the old values are gone",
    what_it_does: "Finds `UPDATE` statements on a table this migration did not create that assign `NULL` or a \
                   constant to a column, whatever their `WHERE`.",
    why_it_matters: "Every matched row loses the value it had, and nothing in the database remembers it: a \
                     wrong `WHERE` (or none) wipes a column. `safemig migrate` rolls back an update that turns \
                     non-null values NULL in a protected table, and reports every other update with its row \
                     count and the backup that holds the old values.",
    example: "UPDATE public.profiles SET email = NULL WHERE created_at < '2024-01-01';",
    use_instead: "Keep the old values: copy them to a new column or table first, or allow the loss in \
                  safemig.toml once reviewed:\n\
                  CREATE TABLE public.profiles_email_backup AS SELECT id, email FROM public.profiles WHERE created_at < '2024-01-01';\n\
                  UPDATE public.profiles SET email = NULL WHERE created_at < '2024-01-01';",
};

impl Rule for UpdateOverwritesValues {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let mut hits = Vec::new();
        for (node, ..) in ctx.node.nodes() {
            let NodeRef::UpdateStmt(u) = node else {
                continue;
            };
            let Some(table) = u.relation.as_ref().map(qualified) else {
                continue;
            };
            if ctx.file.created_here(&table) {
                continue;
            }
            for target in &u.target_list {
                let Some(NodeEnum::ResTarget(t)) = target.node.as_ref() else {
                    continue;
                };
                // A column this file adds holds no old value yet: filling it is a backfill.
                if ctx.file.adds_column(&table, &t.name) {
                    continue;
                }
                // `WHERE col IS NULL`: only missing values are filled in.
                if fills_only_nulls(u.where_clause.as_deref(), &t.name) {
                    continue;
                }
                let value = match t.val.as_deref().and_then(|v| v.node.as_ref()) {
                    Some(NodeEnum::AConst(c)) if c.isnull => "NULL",
                    Some(NodeEnum::AConst(_)) => "one constant",
                    // `SET col = col` keeps every value.
                    Some(NodeEnum::ColumnRef(c))
                        if c.fields.last().is_some_and(|f| matches!(f.node.as_ref(), Some(NodeEnum::String(s)) if s.sval == t.name)) =>
                    {
                        continue
                    }
                    _ => "a computed value",
                };
                hits.push(Hit::new(format!(
                    "sets column `{}` of `{table}` to {value} in every matched row: the old values are lost",
                    t.name
                )));
            }
        }
        hits
    }
}

/// Whether `where` requires `column IS NULL` (alone or in an AND).
fn fills_only_nulls(r#where: Option<&pg_query::protobuf::Node>, column: &str) -> bool {
    use pg_query::protobuf::{BoolExprType, NullTestType};
    match r#where.and_then(|w| w.node.as_ref()) {
        Some(NodeEnum::NullTest(t)) if t.nulltesttype == NullTestType::IsNull as i32 => {
            match t.arg.as_deref().and_then(|a| a.node.as_ref()) {
                Some(NodeEnum::ColumnRef(c)) => c.fields.last().is_some_and(
                    |f| matches!(f.node.as_ref(), Some(NodeEnum::String(s)) if s.sval == column),
                ),
                _ => false,
            }
        }
        Some(NodeEnum::BoolExpr(b)) if b.boolop == BoolExprType::AndExpr as i32 => {
            b.args.iter().any(|a| fills_only_nulls(Some(a), column))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_on_null_and_constants() {
        assert!(fires(
            &UpdateOverwritesValues,
            "UPDATE public.t SET email = NULL WHERE id > 5;"
        ));
        assert!(fires(
            &UpdateOverwritesValues,
            "UPDATE public.t SET status = 'x';"
        ));
    }

    #[test]
    fn quiet_on_expressions_and_new_tables() {
        assert!(fires(
            &UpdateOverwritesValues,
            "UPDATE public.t SET title = upper(title);"
        ));
        assert!(!fires(
            &UpdateOverwritesValues,
            "UPDATE public.t SET title = title WHERE id = 1;"
        ));
        assert!(!fires(
            &UpdateOverwritesValues,
            "UPDATE public.todos SET priority = 0 WHERE priority IS NULL;"
        ));
        assert!(fires(
            &UpdateOverwritesValues,
            "UPDATE public.todos SET priority = 0 WHERE other IS NULL;"
        ));
        assert!(!fires(
            &UpdateOverwritesValues,
            "CREATE TABLE public.t (a int); UPDATE public.t SET a = 1;"
        ));
        assert!(!fires(
            &UpdateOverwritesValues,
            "ALTER TABLE public.t ADD COLUMN b int; UPDATE public.t SET b = 0;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &UpdateOverwritesValues,
            "DO $$ BEGIN UPDATE public.t SET a = NULL; END $$;"
        ));
    }
}
