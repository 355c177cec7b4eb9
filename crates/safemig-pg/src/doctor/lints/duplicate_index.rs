//! `duplicate-index` (splinter `0009_duplicate_index`, WARN, performance)
//!
//! **What it finds**: two or more indexes on one table that are the same index
//! under other names (same method, columns or expressions, operator classes,
//! collations, order, predicate and uniqueness).
//!
//! **Why it matters**: each is maintained on every write and takes its own disk and
//! memory; the planner uses one.
//!
//! **Fix**: `DROP INDEX CONCURRENTLY public.events_kind_idx1;`, keeping the one a
//! constraint uses.

use super::{rows, Category, Hit, Level, Lint, Scope, NOT_EXTENSION_RELATION, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "duplicate-index",
    splinter: "0009_duplicate_index",
    level: Level::Warn,
    category: Category::Performance,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    // Those a constraint uses come first: they are the ones to keep.
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), \
                pg_catalog.array_agg(pg_catalog.format('%I.%I', n.nspname, x.relname) \
                    ORDER BY EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid) DESC, x.relname) \
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class x ON x.oid = i.indexrelid \
         JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE i.indisvalid AND {USER_SCHEMA} AND {NOT_EXTENSION_RELATION} \
         GROUP BY c.oid, n.nspname, c.relname, x.relam, i.indkey::text, i.indclass::text, i.indcollation::text, i.indoption::text, \
                  i.indisunique, pg_catalog.pg_get_expr(i.indexprs, i.indrelid), pg_catalog.pg_get_expr(i.indpred, i.indrelid) \
         HAVING pg_catalog.count(*) > 1 ORDER BY 1"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped])?
        .iter()
        .map(|r| {
            let (table, indexes): (String, Vec<String>) = (r.get(0), r.get(1));
            let drops: Vec<String> = indexes[1..]
                .iter()
                .map(|i| format!("DROP INDEX CONCURRENTLY {i};"))
                .collect();
            Hit {
                object: indexes.join(", "),
                message: format!(
                    "table {table} has identical indexes {}: every write maintains each of them, queries use one",
                    indexes.join(", ")
                ),
                fix: format!("-- keep {}\n{}", indexes[0], drops.join("\n")),
            }
        })
        .collect())
}
