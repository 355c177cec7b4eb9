//! `no-primary-key` (splinter `0004_no_primary_key`, INFO, performance)
//!
//! **What it finds**: a table of the project with no primary key.
//!
//! **Why it matters**: rows cannot be told apart: logical replication (Supabase
//! Realtime, read replicas) cannot send its updates and deletes, tools cannot edit
//! one row, and duplicates creep in unseen.
//!
//! **Fix**: `ALTER TABLE public.events ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;`
//! (or `ADD PRIMARY KEY (col)` over a column that is already unique and not null).

use super::{rows, Category, Hit, Level, Lint, Scope, NOT_EXTENSION_RELATION, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "no-primary-key",
    splinter: "0004_no_primary_key",
    level: Level::Info,
    category: Category::Performance,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {USER_SCHEMA} AND {NOT_EXTENSION_RELATION} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) \
         ORDER BY 1"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped])?
        .iter()
        .map(|r| {
            let table: String = r.get(0);
            Hit {
                object: table.clone(),
                message: format!(
                    "table {table} has no primary key: its rows cannot be told apart (replication cannot send \
                     their updates and deletes, duplicates go unseen)"
                ),
                fix: format!(
                    "ALTER TABLE {table} ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;\n\
                     -- or, over columns that are already unique and not null:\n\
                     -- ALTER TABLE {table} ADD PRIMARY KEY (column_name);"
                ),
            }
        })
        .collect())
}
