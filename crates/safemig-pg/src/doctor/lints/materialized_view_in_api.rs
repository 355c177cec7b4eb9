//! `materialized-view-in-api` (splinter `0016_materialized_view_in_api`, WARN, security)
//!
//! **What it finds**: a materialized view in an exposed schema that `anon` or
//! `authenticated` may select.
//!
//! **Why it matters**: materialized views have no row level security: every row it
//! holds is readable through the API by every holder of the key.
//!
//! **Fix**: `REVOKE SELECT ON public.stats FROM anon, authenticated;` (and serve it
//! through a function or a view with the checks it needs).

use super::{
    rows, Category, Hit, Level, Lint, Scope, API_CAN_SELECT, API_SELECTORS, NOT_EXTENSION_RELATION,
    USER_SCHEMA,
};

pub(super) const LINT: Lint = Lint {
    name: "materialized-view-in-api",
    splinter: "0016_materialized_view_in_api",
    level: Level::Warn,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    relations_in_api(
        client,
        scope,
        'm',
        LINT.name,
        "materialized view",
        "has no row level security",
    )
}

/// Relations of `kind` in exposed schemas that the API roles may select.
pub(super) fn relations_in_api(
    client: &mut postgres::Client,
    scope: &Scope,
    kind: char,
    name: &str,
    what: &str,
    why: &str,
) -> Result<Vec<Hit>, crate::PgError> {
    if scope.api_roles.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), {API_SELECTORS} \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = '{kind}' AND n.nspname = ANY($3::text[]) AND {USER_SCHEMA} AND {NOT_EXTENSION_RELATION} \
           AND {API_CAN_SELECT} ORDER BY 1"
    );
    Ok(rows(client, name, &sql, &[&scope.skipped, &scope.api_roles, &scope.exposed])?
        .iter()
        .map(|r| {
            let (relation, roles): (String, String) = (r.get(0), r.get(1));
            Hit {
                object: relation.clone(),
                message: format!(
                    "{what} {relation} {why}, and {roles} may select it: every row it holds is readable through the API"
                ),
                fix: format!("REVOKE SELECT ON {relation} FROM {roles};"),
            }
        })
        .collect())
}
