//! `unsupported-reg-types` (splinter `0018_unsupported_reg_types`, WARN, security)
//!
//! **What it finds**: a column of a `reg*` type that stores an object's oid
//! (`regproc`, `regprocedure`, `regoper`, `regoperator`, `regconfig`,
//! `regdictionary`, `regnamespace`, `regcollation`).
//!
//! **Why it matters**: `pg_upgrade` refuses databases holding them (the oids do not
//! survive an upgrade), so the project cannot move to a new PostgreSQL major, and
//! Supabase's upgrades stop.
//!
//! **Fix**: `ALTER TABLE public.jobs ALTER COLUMN handler TYPE text USING handler::text;`

use super::{rows, Category, Hit, Level, Lint, Scope, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "unsupported-reg-types",
    splinter: "0018_unsupported_reg_types",
    level: Level::Warn,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.quote_ident(a.attname), t.typname::text \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm') AND {USER_SCHEMA} \
           AND t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace \
           AND t.typname IN ('regcollation', 'regconfig', 'regdictionary', 'regnamespace', 'regoper', 'regoperator', 'regproc', 'regprocedure') \
         ORDER BY 1, 2"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped])?
        .iter()
        .map(|r| {
            let (table, column, kind): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            Hit {
                object: format!("{table}.{column}"),
                message: format!(
                    "column {column} of {table} is of type {kind}, which pg_upgrade refuses: the database cannot move \
                     to a new PostgreSQL major while it is there"
                ),
                fix: format!("ALTER TABLE {table} ALTER COLUMN {column} TYPE text USING {column}::text;"),
            }
        })
        .collect())
}
