//! `rls-enabled-no-policy` (splinter `0008_rls_enabled_no_policy`, INFO, security)
//!
//! **What it finds**: a table with row level security on and no policy at all.
//!
//! **Why it matters**: safe, but every role without `BYPASSRLS` sees no row: if
//! the app reads it through the API, that is an outage waiting to be noticed; if
//! nothing should, a comment saying so helps the next reader.
//!
//! **Fix**: `CREATE POLICY "own rows" ON public.notes FOR SELECT TO authenticated USING (user_id = (select auth.uid()));`

use super::{rows, Category, Hit, Level, Lint, Scope, NOT_EXTENSION_RELATION, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "rls-enabled-no-policy",
    splinter: "0008_rls_enabled_no_policy",
    level: Level::Info,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relrowsecurity AND c.relkind IN ('r', 'p') AND {USER_SCHEMA} AND {NOT_EXTENSION_RELATION} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid) \
         ORDER BY 1"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped])?
        .iter()
        .map(|r| {
            let table: String = r.get(0);
            Hit {
                object: table.clone(),
                message: format!(
                    "table {table} has row level security on and no policy: no role without BYPASSRLS sees any of \
                     its rows (through the API, none at all)"
                ),
                fix: format!(
                    "-- the policies the app needs, e.g.:\n\
                     CREATE POLICY \"own rows\" ON {table} FOR SELECT TO authenticated USING (user_id = (select auth.uid()));\n\
                     -- or, if only the server should read it, say so:\n\
                     -- COMMENT ON TABLE {table} IS 'server only: RLS on, no policy on purpose';"
                ),
            }
        })
        .collect())
}
