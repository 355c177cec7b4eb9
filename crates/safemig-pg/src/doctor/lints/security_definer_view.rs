//! `security-definer-view` (splinter `0010_security_definer_view`, ERROR, security)
//!
//! **What it finds**: a view in an exposed schema that `anon` or `authenticated`
//! may select and that runs with its owner's rights (PostgreSQL 15+ without
//! `security_invoker`).
//!
//! **Why it matters**: a view's owner is usually `postgres`, which bypasses row
//! level security: the view shows every row of the tables it reads to whoever may
//! select it, whatever their policies say.
//!
//! **Fix**: `ALTER VIEW public.feed SET (security_invoker = on);`

use super::{
    rows, Category, Hit, Level, Lint, Scope, API_CAN_SELECT, API_SELECTORS, NOT_EXTENSION_RELATION,
    USER_SCHEMA,
};

pub(super) const LINT: Lint = Lint {
    name: "security-definer-view",
    splinter: "0010_security_definer_view",
    level: Level::Error,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    // security_invoker came with PostgreSQL 15: before it, every view runs this way.
    if scope.api_roles.is_empty() || scope.server_major < 15 {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), {API_SELECTORS} \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'v' AND n.nspname = ANY($3::text[]) AND {USER_SCHEMA} AND {NOT_EXTENSION_RELATION} \
           AND {API_CAN_SELECT} \
           AND NOT coalesce(c.reloptions::text[] && ARRAY['security_invoker=1', 'security_invoker=true', \
                'security_invoker=on', 'security_invoker=yes'], false) \
         ORDER BY 1"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped, &scope.api_roles, &scope.exposed])?
        .iter()
        .map(|r| {
            let (view, roles): (String, String) = (r.get(0), r.get(1));
            Hit {
                object: view.clone(),
                message: format!(
                    "view {view} runs with its owner's rights and {roles} may select it: it shows the rows of the \
                     tables it reads whatever their row level security says"
                ),
                fix: format!("ALTER VIEW {view} SET (security_invoker = on);"),
            }
        })
        .collect())
}
