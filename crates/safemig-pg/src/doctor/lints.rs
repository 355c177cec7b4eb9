//! The database linter: Supabase's Security and Performance Advisors (splinter)
//! lint for lint, one file each, with safemig's own queries and a fix as SQL.
//!
//! Every lint has a stable kebab-case name (splinter's name, in safemig's
//! spelling), splinter's level (`ERROR`, `WARN`, `INFO`: doctor's `risky`,
//! `review`, `hint`) and category, and the splinter id it answers to, so a finding
//! can be looked up in Supabase's docs
//! (`https://supabase.com/docs/guides/database/database-linter?lint=<id>`).
//!
//! Lints read the catalog only. Each is about objects the project makes: the
//! schemas PostgreSQL and Supabase manage, and objects extensions own, are left
//! out (`Scope::skipped`).

use postgres::Client;
use serde::Serialize;

use crate::PgError;

mod anon_security_definer_function_executable;
mod auth_rls_initplan;
mod auth_users_exposed;
mod duplicate_index;
mod extension_in_public;
mod extension_versions_outdated;
mod fkey_to_auth_unique;
mod foreign_table_in_api;
mod function_search_path_mutable;
mod insecure_queue_exposed_in_api;
mod materialized_view_in_api;
mod multiple_permissive_policies;
mod no_primary_key;
mod pg_graphql_table_exposed;
mod policy_exists_rls_disabled;
mod public_bucket_allows_listing;
mod rls_enabled_no_policy;
mod rls_policy_always_true;
mod rls_references_user_metadata;
mod security_definer_view;
mod sensitive_columns_exposed;
mod table_bloat;
mod unindexed_foreign_keys;
mod unsupported_reg_types;
mod unused_index;

/// splinter's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Error,
    Warn,
    Info,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Security,
    Performance,
    /// safemig's own checks: what breaks the app while migrations look fine.
    Health,
}

/// What the lints look at.
pub struct Scope {
    /// Schemas the Data APIs expose: `[check] exposed_schemas`, plus PostgREST's
    /// `pgrst.db_schemas` where the database says it (the session, or the
    /// `authenticator` role's settings).
    pub exposed: Vec<String>,
    /// Schemas left out: PostgreSQL's own and those Supabase manages.
    pub skipped: Vec<String>,
    /// Of `anon` and `authenticated`, those that exist (none on plain PostgreSQL).
    pub api_roles: Vec<String>,
    pub server_major: u32,
}

/// One finding of a lint, before doctor adds the lint's name and level.
pub struct Hit {
    pub object: String,
    pub message: String,
    pub fix: String,
}

pub struct Lint {
    pub name: &'static str,
    /// splinter's id, e.g. `0001_unindexed_foreign_keys`.
    pub splinter: &'static str,
    pub level: Level,
    pub category: Category,
    pub find: fn(&mut Client, &Scope) -> Result<Vec<Hit>, PgError>,
}

/// Every lint, in splinter's order. (`0013_rls_disabled_in_public` and the
/// security definer half of `0011_function_search_path_mutable` are doctor's
/// older `table-without-rls` and `security-definer-without-search-path`.)
pub const ALL: &[Lint] = &[
    unindexed_foreign_keys::LINT,
    auth_users_exposed::LINT,
    auth_rls_initplan::LINT,
    no_primary_key::LINT,
    unused_index::LINT,
    multiple_permissive_policies::LINT,
    policy_exists_rls_disabled::LINT,
    rls_enabled_no_policy::LINT,
    duplicate_index::LINT,
    security_definer_view::LINT,
    function_search_path_mutable::LINT,
    extension_in_public::LINT,
    rls_references_user_metadata::LINT,
    materialized_view_in_api::LINT,
    foreign_table_in_api::LINT,
    unsupported_reg_types::LINT,
    insecure_queue_exposed_in_api::LINT,
    table_bloat::LINT,
    fkey_to_auth_unique::LINT,
    extension_versions_outdated::LINT,
    sensitive_columns_exposed::LINT,
    rls_policy_always_true::LINT,
    public_bucket_allows_listing::LINT,
    pg_graphql_table_exposed::ANON,
    pg_graphql_table_exposed::AUTHENTICATED,
    anon_security_definer_function_executable::ANON,
    anon_security_definer_function_executable::AUTHENTICATED,
];

/// Reads the scope once for all lints.
pub fn scope(
    client: &mut Client,
    configured: &[String],
    skipped: Vec<String>,
) -> Result<Scope, PgError> {
    let row = client
        .query_one(
            "SELECT coalesce(current_setting('pgrst.db_schemas', true), ''), \
                    coalesce((SELECT pg_catalog.string_agg(pg_catalog.substr(s, 18), ',') \
                              FROM pg_catalog.pg_db_role_setting d, pg_catalog.unnest(d.setconfig) s \
                              WHERE d.setrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'authenticator') \
                                AND s LIKE 'pgrst.db\\_schemas=%'), ''), \
                    ARRAY(SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname IN ('anon', 'authenticated') ORDER BY 1), \
                    current_setting('server_version_num')::int / 10000",
            &[],
        )
        .map_err(|e| PgError::sql("reading which schemas the API exposes", &e))?;
    let mut exposed: Vec<String> = configured.to_vec();
    for list in [row.get::<_, String>(0), row.get::<_, String>(1)] {
        for schema in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let schema = schema.trim_matches('"').to_string();
            if !exposed.contains(&schema) {
                exposed.push(schema);
            }
        }
    }
    Ok(Scope {
        exposed,
        skipped,
        api_roles: row.get(2),
        server_major: row.get::<_, i32>(3) as u32,
    })
}

/// SQL condition: namespace alias `n` is the project's (`$1` = `Scope::skipped`).
pub(crate) const USER_SCHEMA: &str = "n.nspname <> ALL($1::text[]) AND n.nspname NOT LIKE 'pg\\_%'";

/// SQL condition: relation `c` is not an extension's.
pub(crate) const NOT_EXTENSION_RELATION: &str = "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
     WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')";

/// SQL condition: some role of `$2` (`Scope::api_roles`) may SELECT relation `c`.
pub(crate) const API_CAN_SELECT: &str = "EXISTS (SELECT 1 FROM pg_catalog.unnest($2::text[]) r \
     WHERE pg_catalog.has_table_privilege(r::name, c.oid, 'SELECT'))";

/// The roles of `$2` that may SELECT relation `c`, as text (`anon, authenticated`).
pub(crate) const API_SELECTORS: &str =
    "(SELECT pg_catalog.string_agg(r, ', ' ORDER BY r) FROM pg_catalog.unnest($2::text[]) r \
     WHERE pg_catalog.has_table_privilege(r::name, c.oid, 'SELECT'))";

pub(crate) fn rows(
    client: &mut Client,
    what: &str,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Vec<postgres::Row>, PgError> {
    client
        .query(sql, params)
        .map_err(|e| PgError::sql(&format!("lint {what}"), &e))
}
