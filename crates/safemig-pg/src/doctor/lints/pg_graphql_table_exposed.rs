//! `pg-graphql-anon-table-exposed` and `pg-graphql-authenticated-table-exposed`
//! (splinter `0026_pg_graphql_anon_table_exposed`, `0027_pg_graphql_authenticated_table_exposed`,
//! WARN, security)
//!
//! **What they find**: with `pg_graphql` installed, a table, view, materialized
//! view or foreign table of the project on which `anon` (resp. `authenticated`)
//! may select any column.
//!
//! **Why it matters**: pg_graphql's introspection shows every object its caller may
//! select, with its columns and relations, even when row level security hides all
//! rows: the schema of the project is public to anyone holding the key (or anyone
//! who signs up).
//!
//! **Fix**: `REVOKE SELECT ON public.internal_notes FROM anon;` for what should not
//! be discoverable.

use super::{rows, Category, Hit, Level, Lint, Scope, USER_SCHEMA};

pub(super) const ANON: Lint = Lint {
    name: "pg-graphql-anon-table-exposed",
    splinter: "0026_pg_graphql_anon_table_exposed",
    level: Level::Warn,
    category: Category::Security,
    find: find_anon,
};

pub(super) const AUTHENTICATED: Lint = Lint {
    name: "pg-graphql-authenticated-table-exposed",
    splinter: "0027_pg_graphql_authenticated_table_exposed",
    level: Level::Warn,
    category: Category::Security,
    find: find_authenticated,
};

fn find_anon(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    find(client, scope, "anon", ANON.name)
}

fn find_authenticated(
    client: &mut postgres::Client,
    scope: &Scope,
) -> Result<Vec<Hit>, crate::PgError> {
    find(client, scope, "authenticated", AUTHENTICATED.name)
}

fn find(
    client: &mut postgres::Client,
    scope: &Scope,
    role: &str,
    name: &str,
) -> Result<Vec<Hit>, crate::PgError> {
    let installed: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_graphql') \
                    AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)",
            &[&role],
        )
        .map_err(|e| crate::PgError::sql(&format!("lint {name}"), &e))?
        .get(0);
    if !installed {
        return Ok(Vec::new());
    }
    // Partitioned parents are left out as pg_graphql leaves them out (their partitions are listed).
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), c.relkind::text \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'v', 'm', 'f') AND {USER_SCHEMA} \
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 \
                       AND NOT a.attisdropped AND pg_catalog.has_column_privilege($2::name, c.oid, a.attnum, 'SELECT')) \
         ORDER BY 1"
    );
    let audience = if role == "anon" {
        "anyone holding the public anon key"
    } else {
        "every signed-in user"
    };
    Ok(rows(client, name, &sql, &[&scope.skipped, &role])?
        .iter()
        .map(|r| {
            let (relation, kind): (String, String) = (r.get(0), r.get(1));
            let what = match kind.as_str() {
                "v" => "view",
                "m" => "materialized view",
                "f" => "foreign table",
                _ => "table",
            };
            Hit {
                object: relation.clone(),
                message: format!(
                    "{what} {relation} is in the GraphQL schema for {audience} ({role} may select it): its name, \
                     columns and relations are visible even where row level security hides its rows"
                ),
                fix: format!("-- if it should not be discoverable by {audience}:\nREVOKE SELECT ON {relation} FROM {role};"),
            }
        })
        .collect())
}
