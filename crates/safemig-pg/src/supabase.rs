//! The Supabase platform stand-in for throwaway databases: what a new Supabase
//! project holds before its first migration (roles, `auth`, `storage`,
//! `realtime`, `extensions`, the preinstalled extensions), and stand-ins for the
//! extensions Supabase offers that a plain PostgreSQL lacks (`pg_cron`, `pg_net`,
//! `vector`, ...). One folder, `src/supabase/`, with its sources named in its
//! README. Never applied to a real project: only to databases safemig made.

use postgres::Client;

use crate::PgError;

/// Roles, schemas, tables, functions and grants of a new Supabase project.
pub const PLATFORM_SQL: &str = include_str!("supabase/platform.sql");

macro_rules! standin {
    ($name:literal, $version:literal) => {
        (
            $name,
            include_str!(concat!("supabase/extensions/", $name, ".control")),
            concat!($name, "--", $version, ".sql"),
            include_str!(concat!(
                "supabase/extensions/",
                $name,
                "--",
                $version,
                ".sql"
            )),
        )
    };
}

/// (extension, control file, script name, script) of each stand-in extension.
const STANDIN_EXTENSIONS: &[(&str, &str, &str, &str)] = &[
    standin!("pg_cron", "1.6"),
    standin!("pg_net", "0.14.0"),
    standin!("supabase_vault", "0.3.1"),
    standin!("pgsodium", "3.1.9"),
    standin!("pg_graphql", "1.5.11"),
    standin!("pgjwt", "0.2.0"),
    standin!("vector", "0.8.0"),
    standin!("pg_jsonschema", "0.3.3"),
    standin!("http", "1.6"),
    standin!("pgmq", "1.5.1"),
    standin!("wrappers", "0.5.7"),
    standin!("pgroonga", "3.2.5"),
    standin!("hypopg", "1.4.1"),
    standin!("index_advisor", "0.2.0"),
    standin!("pg_hashids", "1.2.1"),
    standin!("plpgsql_check", "2.7"),
    standin!("pg_tle", "1.4.0"),
    standin!("timescaledb", "2.16.1"),
];

/// Older versions a migration may ask for (`CREATE EXTENSION pgmq VERSION
/// '1.4.4'`), as the stand-in's script, with an update path to the default.
const OLDER_VERSIONS: &[(&str, &str)] = &[
    (
        "pgmq--1.4.4.sql",
        include_str!("supabase/extensions/pgmq--1.5.1.sql"),
    ),
    (
        "pgmq--1.4.4--1.5.1.sql",
        include_str!("supabase/extensions/pgmq--1.4.4--1.5.1.sql"),
    ),
];

/// The names of the extensions that have a stand-in.
pub fn standin_names() -> Vec<&'static str> {
    STANDIN_EXTENSIONS.iter().map(|e| e.0).collect()
}

/// The files to add to an installation's `share/extension` folder (file name, text).
pub fn extension_files() -> Vec<(String, &'static str)> {
    STANDIN_EXTENSIONS
        .iter()
        .flat_map(|(name, control, script_name, script)| {
            [
                (format!("{name}.control"), *control),
                (script_name.to_string(), *script),
            ]
        })
        .chain(
            OLDER_VERSIONS
                .iter()
                .map(|(name, text)| (name.to_string(), *text)),
        )
        .collect()
}

/// Loads the platform stand-in into a throwaway database, as a new Supabase
/// project would hold it. Idempotent.
pub fn load(client: &mut Client) -> Result<(), PgError> {
    client
        .batch_execute(PLATFORM_SQL)
        .map_err(|e| PgError::sql("loading the Supabase stand-in", &e))
}

/// Stand-ins the platform itself installs, with what in a migration uses them:
/// noted only when the migrations do (every project has them).
const PREINSTALLED: &[(&str, &[&str])] = &[
    ("supabase_vault", &["vault."]),
    (
        "pgjwt",
        &[
            "sign(",
            "verify(",
            "url_encode(",
            "url_decode(",
            "algorithm_sign(",
        ],
    ),
    ("pg_graphql", &["graphql"]),
    ("pgsodium", &["pgsodium"]),
];

/// Index methods of stand-in extensions, which take no index options.
const STANDIN_INDEX_METHODS: &[(&str, &[&str])] = &[
    ("vector", &["hnsw", "ivfflat"]),
    ("pgroonga", &["pgroonga"]),
];

/// The index methods that are stand-ins on this server (the real extension is
/// not installed there).
pub fn standin_index_methods(client: &mut Client) -> Result<Vec<String>, PgError> {
    let standins: Vec<String> = client
        .query(
            "SELECT name FROM pg_catalog.pg_available_extensions WHERE comment LIKE 'safemig stand-in%'",
            &[],
        )
        .map_err(|e| PgError::sql("listing the stand-in extensions", &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(STANDIN_INDEX_METHODS
        .iter()
        .filter(|(extension, _)| standins.iter().any(|s| s == extension))
        .flat_map(|(_, methods)| methods.iter().map(|m| m.to_string()))
        .collect())
}

/// Loads the platform stand-in for a replay of `migrations` (their text) from
/// empty. pg_graphql was on by default for projects made before 2026-04, and
/// their histories assume it (the hardening guide's `DROP EXTENSION pg_graphql`),
/// so it is installed unless the migrations create it themselves without
/// `IF NOT EXISTS` (a newer project's).
pub fn load_for_replay(client: &mut Client, migrations: &str) -> Result<(), PgError> {
    load(client)?;
    let text = migrations.to_lowercase().replace('"', "");
    if !text.contains("create extension pg_graphql") {
        client
            .batch_execute(
                "DO $graphql$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_graphql; \
                 EXCEPTION WHEN undefined_file OR feature_not_supported OR invalid_parameter_value THEN NULL; END $graphql$",
            )
            .map_err(|e| PgError::sql("installing pg_graphql for the replay", &e))?;
    }
    Ok(())
}

/// The stand-in extensions this database has that `migrations` (their text) use:
/// each is a note in a report, because it has the real extension's shape but not
/// its behaviour.
pub fn standins_in_use(client: &mut Client, migrations: &str) -> Result<Vec<String>, PgError> {
    let text = migrations.to_lowercase();
    let rows = client
        .query(
            "SELECT e.extname, coalesce(a.comment, '') FROM pg_catalog.pg_extension e \
             JOIN pg_catalog.pg_available_extensions a ON a.name = e.extname \
             WHERE a.comment LIKE 'safemig stand-in%' ORDER BY 1",
            &[],
        )
        .map_err(|e| PgError::sql("listing the stand-in extensions", &e))?;
    Ok(rows
        .iter()
        .filter(|r| {
            let name: &str = r.get(0);
            PREINSTALLED
                .iter()
                .find(|(preinstalled, _)| *preinstalled == name)
                .is_none_or(|(_, uses)| uses.iter().any(|u| text.contains(u)))
        })
        .map(|r| {
            let name: String = r.get(0);
            let comment: String = r.get(1);
            let what = comment.split_once(": ").map(|(_, w)| w).unwrap_or("");
            format!(
                "extension {name} is a safemig stand-in here (this PostgreSQL lacks it): {what}; its objects \
                 replay, its behaviour does not"
            )
        })
        .collect())
}
