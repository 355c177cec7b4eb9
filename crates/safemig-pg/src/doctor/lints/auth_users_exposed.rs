//! `auth-users-exposed` (splinter `0002_auth_users_exposed`, ERROR, security)
//!
//! **What it finds**: a view or materialized view in an exposed schema that reads
//! `auth.users` and that `anon` or `authenticated` may select, where the reader's
//! rights do not stop it: a materialized view (no RLS, no owner check), or a view
//! that runs with its owner's rights (no `security_invoker`).
//!
//! **Why it matters**: every user's email, phone and metadata are then one API
//! call away for anyone holding the public anon key.
//!
//! **Fix**: `REVOKE SELECT ON public.user_list FROM anon, authenticated;`, or
//! `ALTER VIEW public.user_list SET (security_invoker = on);` (PostgreSQL 15+), or
//! move it to a schema the API does not expose.

use super::{rows, Category, Hit, Level, Lint, Scope, API_CAN_SELECT, API_SELECTORS, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "auth-users-exposed",
    splinter: "0002_auth_users_exposed",
    level: Level::Error,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    if scope.api_roles.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT pg_catalog.format('%I.%I', n.nspname, c.relname), c.relkind::text, {API_SELECTORS} \
         FROM pg_catalog.pg_class u JOIN pg_catalog.pg_namespace un ON un.oid = u.relnamespace \
         JOIN pg_catalog.pg_depend d ON d.refobjid = u.oid AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
         JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid \
         JOIN pg_catalog.pg_class c ON c.oid = w.ev_class AND c.oid <> u.oid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE un.nspname = 'auth' AND u.relname = 'users' AND n.nspname = ANY($3::text[]) AND {USER_SCHEMA} AND {API_CAN_SELECT} \
           AND (c.relkind = 'm' OR (c.relkind = 'v' AND NOT coalesce(c.reloptions::text[] && \
                ARRAY['security_invoker=1', 'security_invoker=true', 'security_invoker=on', 'security_invoker=yes'], false))) \
         ORDER BY 1"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped, &scope.api_roles, &scope.exposed])?
        .iter()
        .map(|r| {
            let (view, kind, roles): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            let what = if kind == "m" { "materialized view" } else { "view" };
            Hit {
                object: view.clone(),
                message: format!(
                    "{what} {view} reads auth.users with its owner's rights and {roles} may select it: every user's \
                     email, phone and metadata are readable through the API"
                ),
                fix: format!(
                    "REVOKE SELECT ON {view} FROM {roles};\n\
                     -- or, for a view that should apply the reader's rights (PostgreSQL 15+):\n\
                     -- ALTER VIEW {view} SET (security_invoker = on);"
                ),
            }
        })
        .collect())
}
