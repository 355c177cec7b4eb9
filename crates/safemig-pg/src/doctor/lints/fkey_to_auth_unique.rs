//! `fkey-to-auth-unique` (splinter `0021_fkey_to_auth_unique`, ERROR, security)
//!
//! **What it finds**: a foreign key of the project that references a table of the
//! `auth` schema through a unique constraint other than its primary key (say
//! `auth.users (email)` or `(phone)`).
//!
//! **Why it matters**: the auth server owns those constraints and may change or
//! drop them in an upgrade, which then fails, or breaks the project's key. Only the
//! primary key (`auth.users.id`) is stable.
//!
//! **Fix**: reference `auth.users (id)` instead.

use super::{rows, Category, Hit, Level, Lint, Scope, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "fkey-to-auth-unique",
    splinter: "0021_fkey_to_auth_unique",
    level: Level::Error,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.quote_ident(k.conname), \
                pg_catalog.format('%I.%I', rn.nspname, rc.relname) \
         FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_class rc ON rc.oid = k.confrelid JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
         JOIN pg_catalog.pg_index i ON i.indexrelid = k.conindid \
         WHERE k.contype = 'f' AND rn.nspname = 'auth' AND i.indisunique AND NOT i.indisprimary AND {USER_SCHEMA} \
         ORDER BY 1, 2"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped])?
        .iter()
        .map(|r| {
            let (table, key, parent): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            Hit {
                object: format!("foreign key {key} on {table}"),
                message: format!(
                    "foreign key {key} on {table} references {parent} through a unique constraint the auth server \
                     owns and may change in an upgrade; only its primary key is stable"
                ),
                fix: format!(
                    "-- reference the primary key instead (a column holding {parent}.id):\n\
                     ALTER TABLE {table} DROP CONSTRAINT {key};\n\
                     -- ALTER TABLE {table} ADD COLUMN user_id uuid REFERENCES {parent} (id);"
                ),
            }
        })
        .collect())
}
