//! `unused-index` (splinter `0005_unused_index`, INFO, performance)
//!
//! **What it finds**: an index that is neither unique nor a primary key and that
//! no scan has used since the statistics were last reset.
//!
//! **Why it matters**: every insert and update pays to maintain it, and it takes
//! disk and memory, for nothing.
//!
//! **Fix**: `DROP INDEX CONCURRENTLY public.events_kind_idx;`, after checking that
//! the statistics cover a full cycle of the application's work (and every replica).

use super::{rows, Category, Hit, Level, Lint, Scope, NOT_EXTENSION_RELATION, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "unused-index",
    splinter: "0005_unused_index",
    level: Level::Info,
    category: Category::Performance,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, x.relname), pg_catalog.format('%I.%I', n.nspname, c.relname) \
         FROM pg_catalog.pg_stat_user_indexes s JOIN pg_catalog.pg_index i ON i.indexrelid = s.indexrelid \
         JOIN pg_catalog.pg_class x ON x.oid = i.indexrelid JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND {USER_SCHEMA} AND {NOT_EXTENSION_RELATION} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid) \
         ORDER BY 1"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped])?
        .iter()
        .map(|r| {
            let (index, table): (String, String) = (r.get(0), r.get(1));
            Hit {
                object: index.clone(),
                message: format!(
                    "index {index} on {table} has not been used since the statistics were last reset: every write \
                     to {table} maintains it for nothing"
                ),
                fix: format!(
                    "-- first make sure the statistics cover a full cycle of the application's work, on every replica:\n\
                     DROP INDEX CONCURRENTLY {index};"
                ),
            }
        })
        .collect())
}
