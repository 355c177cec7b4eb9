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
        .collect()
}

/// Loads the platform stand-in into a throwaway database, as a new Supabase
/// project would hold it. Idempotent.
pub fn load(client: &mut Client) -> Result<(), PgError> {
    client
        .batch_execute(PLATFORM_SQL)
        .map_err(|e| PgError::sql("loading the Supabase stand-in", &e))
}

/// The stand-in extensions installed in this database: each is a note in a
/// report, because it has the real extension's shape but not its behaviour.
pub fn standins_in_use(client: &mut Client) -> Result<Vec<String>, PgError> {
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
