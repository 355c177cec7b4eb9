//! `table-bloat` (splinter `0020_table_bloat`, INFO, performance)
//!
//! **What it finds**: a table whose pages hold at least 20 MiB more than its rows
//! need, and more than half of it: space left by deleted and updated rows that
//! vacuum marks free but does not give back.
//!
//! **Why it matters**: every sequential scan reads the empty space, caches hold it,
//! backups copy it.
//!
//! **Fix**: `VACUUM FULL public.events;` (rewrites the table under an ACCESS
//! EXCLUSIVE lock: plan the downtime) or `pg_repack`, and autovacuum tuned so it
//! does not come back.
//!
//! The estimate is PostgreSQL's own statistics: rows (`reltuples`) times their
//! average width (`pg_stats`) plus tuple headers, against the pages the table has
//! (`relpages`). A table never analyzed is not estimated.

use super::{rows, Category, Hit, Level, Lint, Scope, NOT_EXTENSION_RELATION, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "table-bloat",
    splinter: "0020_table_bloat",
    level: Level::Info,
    category: Category::Performance,
    find,
};

/// Waste below this is not worth a rewrite.
const MIN_WASTE_BYTES: i64 = 20 * 1024 * 1024;

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    // 24-byte tuple header and 4-byte line pointer per row; 24-byte page header.
    let sql = format!(
        "WITH sizes AS ( \
           SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) AS t, c.relpages::int8 * bs.size AS actual, \
                  pg_catalog.ceil(c.reltuples * (28 + coalesce((SELECT pg_catalog.sum((1 - s.null_frac) * s.avg_width) \
                      FROM pg_catalog.pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname), 0)) \
                      / (bs.size - 24))::int8 * bs.size AS needed \
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, \
                (SELECT current_setting('block_size')::int8 AS size) bs \
           WHERE c.relkind = 'r' AND c.reltuples >= 0 AND {USER_SCHEMA} AND {NOT_EXTENSION_RELATION} \
             AND EXISTS (SELECT 1 FROM pg_catalog.pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname)) \
         SELECT t, actual, needed FROM sizes WHERE actual - needed >= $2 AND actual > 2 * needed ORDER BY 1"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped, &MIN_WASTE_BYTES])?
        .iter()
        .map(|r| {
            let (table, actual, needed): (String, i64, i64) = (r.get(0), r.get(1), r.get(2));
            Hit {
                object: table.clone(),
                message: format!(
                    "table {table} takes {} where its rows need about {}: {} is space left by deleted and updated rows",
                    crate::backup::human_size(actual as u64),
                    crate::backup::human_size(needed as u64),
                    crate::backup::human_size((actual - needed) as u64)
                ),
                fix: format!(
                    "-- rewrites the table under an ACCESS EXCLUSIVE lock (reads and writes wait): plan the downtime,\n\
                     -- or use pg_repack to do it online\n\
                     VACUUM FULL {table};"
                ),
            }
        })
        .collect())
}
