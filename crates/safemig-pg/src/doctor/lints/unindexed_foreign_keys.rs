//! `unindexed-foreign-keys` (splinter `0001_unindexed_foreign_keys`, INFO, performance)
//!
//! **What it finds**: a foreign key whose columns are not the leading columns of
//! any valid, non-partial index on the referencing table.
//!
//! **Why it matters**: every `DELETE` or key `UPDATE` on the referenced table scans
//! the referencing table for rows that point at it, and joins along the key do too:
//! fine at a hundred rows, minutes of locks at millions.
//!
//! **Fix**: `CREATE INDEX CONCURRENTLY ON public.plays (track_id);`

use super::{rows, Category, Hit, Level, Lint, Scope, NOT_EXTENSION_RELATION, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "unindexed-foreign-keys",
    splinter: "0001_unindexed_foreign_keys",
    level: Level::Info,
    category: Category::Performance,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.quote_ident(k.conname), \
                (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY u.i) \
                   FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY u(att, i) \
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.att) \
         FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE k.contype = 'f' AND NOT c.relispartition AND {USER_SCHEMA} AND {NOT_EXTENSION_RELATION} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i \
                WHERE i.indrelid = k.conrelid AND i.indisvalid AND i.indpred IS NULL \
                  AND (pg_catalog.string_to_array(i.indkey::text, ' ')::int2[])[1:pg_catalog.cardinality(k.conkey)] @> k.conkey) \
         ORDER BY 1, 2"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped])?
        .iter()
        .map(|r| {
            let (table, key, columns): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            Hit {
                object: format!("{table} ({columns})"),
                message: format!(
                    "foreign key {key} on {table} ({columns}) has no index that starts with its columns: deleting \
                     or re-keying a referenced row scans {table} for rows pointing at it, and joins on the key do too"
                ),
                fix: format!("CREATE INDEX CONCURRENTLY ON {table} ({columns});"),
            }
        })
        .collect())
}
