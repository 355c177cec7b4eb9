//! Rehearsals on a throwaway PostgreSQL: the target's schema (and its migration
//! history) copied into a throwaway database, so the pending migrations can be run
//! there first with the real engine; and a replay of every migration from an empty
//! database, as `supabase db reset` and CI do.

use postgres::Client;
use safemig_project::{Config, MigrationSet};

use crate::apply::{self, MigrateOptions, RunReport};
use crate::connect::Target;
use crate::ephemeral::Ephemeral;
use crate::redact::redact;
use crate::{backup, tools, PgError};

/// Schemas whose rows a schema-only copy still takes: the migration history, so
/// that the rehearsal's pending migrations are the target's.
const HISTORY_SCHEMAS: [&str; 2] = ["supabase_migrations", "safemig"];

/// Copies `target`'s schema into database `db` of `cluster`, with the rows of the
/// history tables (all rows with `with_data`). Returns notes on what could not be
/// copied (an extension the throwaway server does not have, say).
pub fn copy_target(
    client: &mut Client,
    target: &Target,
    cluster: &Ephemeral,
    db: &str,
    with_data: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<String>, PgError> {
    let major = backup::server_major(client)?;
    let pg_dump = tools::find("pg_dump", major)?;
    let pg_restore = tools::find("pg_restore", major)?;
    let work = tempfile::Builder::new()
        .prefix("safemig-rehearsal-")
        .tempdir()
        .map_err(|e| PgError::Tool(format!("cannot make a temporary folder: {e}")))?;
    let dump = work.path().join("target.dump");

    let mut command = tools::command(&pg_dump, target);
    command
        .args(["--format=custom", "--no-comments", "--file"])
        .arg(&dump);
    if !with_data {
        let schemas: Vec<String> = client
            .query(
                "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'",
                &[],
            )
            .map_err(|e| PgError::sql("listing schemas", &e))?
            .into_iter()
            .map(|r| r.get(0))
            .filter(|s: &String| !HISTORY_SCHEMAS.contains(&s.as_str()))
            .collect();
        for schema in schemas {
            // pg_dump's patterns: double quotes keep the name literal.
            command.arg(format!("--exclude-table-data={}.*", pattern_quote(&schema)));
        }
    }
    progress(if with_data {
        "pg_dump (schema and data)"
    } else {
        "pg_dump (schema and migration history)"
    });
    backup::run_tool(command, "pg_dump of the target")?;

    // Roles the schema grants to or is owned by: created bare (no login, no
    // password) so that GRANTs and policies restore as they are.
    let roles: Vec<String> = client
        .query("SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_'", &[])
        .map_err(|e| PgError::sql("listing roles", &e))?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let mut local = cluster.connect(db)?;
    for role in roles {
        let sql = format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {}) THEN CREATE ROLE {} NOLOGIN; END IF; END $$",
            crate::quote_literal(&role),
            crate::quote_ident(&role)
        );
        local
            .batch_execute(&sql)
            .map_err(|e| PgError::sql("creating the target's roles", &e))?;
    }

    progress("pg_restore into the throwaway database");
    // Owners as in the target (its roles exist now): who owns a table decides who
    // may write it without a grant (GoTrue's role owns auth.users, say), and whom
    // a SECURITY DEFINER function runs as.
    let mut command = tools::command(&pg_restore, &cluster.target(db));
    command.args(["-d", db]).arg(&dump);
    let output = command
        .output()
        .map_err(|e| PgError::Tool(format!("cannot run pg_restore: {e}")))?;
    let mut notes = Vec::new();
    if !output.status.success() {
        let errors: Vec<String> = String::from_utf8_lossy(&output.stderr)
            .lines()
            .filter(|l| l.contains("error:") && !l.contains("errors ignored on restore"))
            .map(|l| redact(l.trim()))
            .collect();
        if errors.is_empty() {
            // Not an object it could not create: the restore itself failed
            // (no connection, a damaged archive). A rehearsal on an empty copy would lie.
            return Err(PgError::Tool(format!(
                "pg_restore into the throwaway database failed: {}",
                redact(String::from_utf8_lossy(&output.stderr).trim())
            )));
        }
        {
            notes.push(format!(
                "{} object(s) of the target could not be created in the throwaway database (an extension it \
                 does not have, usually); migrations that depend on them may fail only in the rehearsal: {}",
                errors.len(),
                errors.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            ));
        }
    }
    // The session's search_path as the target gives it to its connections (on
    // Supabase it names `extensions`, so bare uuid_generate_v4() resolves): the
    // copy's connections get the same.
    let search_path: String = client
        .query_one(
            "SELECT reset_val FROM pg_catalog.pg_settings WHERE name = 'search_path'",
            &[],
        )
        .map_err(|e| PgError::sql("reading the target's search_path", &e))?
        .get(0);
    local
        .batch_execute(&format!(
            "ALTER ROLE CURRENT_USER IN DATABASE {} SET search_path = {}",
            crate::quote_ident(db),
            search_path_list(&search_path)
        ))
        .map_err(|e| PgError::sql("giving the copy the target's search_path", &e))?;
    Ok(notes)
}

/// `"$user", public, extensions` as a list of quoted schema names for `SET`.
fn search_path_list(value: &str) -> String {
    let names: Vec<String> = value
        .split(',')
        .map(|n| n.trim().trim_matches('"').replace("\\$", "$"))
        .filter(|n| !n.is_empty())
        .map(|n| crate::quote_ident(&n))
        .collect();
    if names.is_empty() {
        "DEFAULT".into()
    } else {
        names.join(", ")
    }
}

fn pattern_quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Options for a run in a throwaway database: the engine and guards of `migrate`,
/// with every statement observed, no backup, and risky migrations let through
/// (the point is to see what they would do; `plan` says which `migrate` refuses).
pub fn throwaway_options(config: &Config) -> MigrateOptions {
    let mut options = MigrateOptions::from_config(config);
    options.observe = true;
    options.include_all = true;
    options.fence_outside = true;
    options.advisory_lock_wait = std::time::Duration::from_secs(5);
    options
}

/// The configuration for a throwaway database without the production rows:
/// `[guard.min_rows]` floors are about real data and would fire on empty tables.
/// Every other guard (no table may lose rows, columns or itself) stays.
pub fn without_floors(config: &Config) -> Config {
    let mut config = config.clone();
    config.guard.min_rows.clear();
    config
}

/// Runs the pending migrations of `set` against `client` (a throwaway database).
pub fn apply(
    client: &mut Client,
    set: &MigrationSet,
    config: &Config,
    options: &MigrateOptions,
) -> Result<RunReport, PgError> {
    let mut options = options.clone();
    options.standin_index_methods = crate::supabase::standin_index_methods(client)?;
    apply::migrate(client, set, config, &options, &mut |_| {}, &mut |_| {
        Ok(None)
    })
}

/// A replay of every migration from an empty database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Replay {
    #[serde(flatten)]
    pub run: RunReport,
    /// Whether it started from the Supabase platform stand-in.
    pub supabase: bool,
    /// The throwaway server's PostgreSQL major.
    pub major: u32,
    /// What differs from the real platform: the stand-in extensions used.
    pub notes: Vec<String>,
    /// When a migration failed because of this machine rather than the project
    /// (an extension or a setting this PostgreSQL lacks), why, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_failure: Option<String>,
}

/// Every migration of `set`, from an empty database (holding the Supabase
/// stand-in when `supabase`): what `supabase db reset`, a branch or CI would do. The database is
/// left in `cluster` for the caller to read (drift compares its catalog).
pub fn replay_from_empty(
    cluster: &Ephemeral,
    db: &str,
    set: &MigrationSet,
    config: &Config,
    supabase: bool,
) -> Result<Replay, PgError> {
    cluster.create_database(db)?;
    if supabase {
        crate::supabase::load_for_replay(&mut cluster.connect(db)?, &all_sql(set))?;
    }
    // A new session: it starts with the roles' settings the stand-in made
    // (the search_path with `extensions`), which RESET ALL between migrations keeps.
    let mut client = cluster.connect(db)?;
    let config = without_floors(config);
    let mut options = throwaway_options(&config);
    options.observe = false;
    let run = apply(&mut client, set, &config, &options)?;
    let notes = crate::supabase::standins_in_use(&mut client, &all_sql(set))?;
    let environment_failure = run
        .migrations
        .iter()
        .find_map(|m| m.error.as_ref())
        .and_then(|e| {
            let statement = e
                .statement
                .as_ref()
                .map(|s| s.excerpt.as_str())
                .unwrap_or("");
            environment_cause(
                e.sqlstate.as_deref(),
                &e.message,
                statement,
                cluster.major(),
            )
            .or_else(|| standin_failure(statement, e.sqlstate.as_deref(), &e.message))
        });
    Ok(Replay {
        run,
        supabase,
        major: cluster.major(),
        notes,
        environment_failure,
    })
}

/// The text of every migration of `set`, for what looks at their words.
pub fn all_sql(set: &MigrationSet) -> String {
    set.migrations
        .iter()
        .map(|m| m.sql.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `CREATE EXTENSION` of one of safemig's stand-ins that failed: safemig's
/// doing, not the project's.
fn standin_failure(statement: &str, sqlstate: Option<&str>, message: &str) -> Option<String> {
    // "already exists": the platform preinstalls it, as Supabase does; a bare
    // CREATE EXTENSION fails there too.
    if sqlstate == Some("42710") {
        return None;
    }
    let lower = statement.to_lowercase().replace('"', "");
    let name = crate::supabase::standin_names()
        .into_iter()
        .find(|name| lower.contains("create extension") && lower.contains(name))?;
    Some(format!(
        "safemig's stand-in for the extension {name} failed to install ({}): a gap in safemig's stand-in, not \
         the project's doing; install the real {name} for this PostgreSQL, and please report it",
        message.lines().next().unwrap_or(message)
    ))
}

/// Settings a PostgreSQL major introduced, that a dump of that major sets at its top.
const NEWER_SETTINGS: &[(&str, u32)] = &[
    ("transaction_timeout", 17),
    ("restrict_nonsystem_relation_kind", 17),
    ("io_combine_limit", 17),
    ("md5_password_warnings", 18),
    ("idle_replication_slot_timeout", 18),
];

/// Why a replay's error is this machine's doing rather than the project's, if it
/// is: an extension the server lacks (Supabase has it), a setting of a newer
/// major than the throwaway server runs, an option the `vector` stand-in cannot take.
pub fn environment_cause(
    sqlstate: Option<&str>,
    message: &str,
    statement: &str,
    server_major: u32,
) -> Option<String> {
    let quoted = |text: &str| text.split('"').nth(1).map(str::to_string);
    let missing_extension = message.contains("could not open extension control file")
        || (message.contains("extension \"") && message.contains("is not available"));
    if missing_extension {
        let name = quoted(message)
            .map(|n| {
                n.rsplit('/')
                    .next()
                    .unwrap_or(&n)
                    .trim_end_matches(".control")
                    .to_string()
            })
            .unwrap_or_default();
        let package = match name.as_str() {
            "postgis" | "postgis_topology" | "postgis_raster" | "address_standardizer" => {
                format!("apt-get install postgresql-{server_major}-postgis-3")
            }
            "timescaledb" => format!("timescaledb-2-postgresql-{server_major}, from Timescale's repository"),
            "pg_partman" => format!("apt-get install postgresql-{server_major}-partman"),
            other => format!(
                "apt-get install postgresql-{server_major}-{}, from apt.postgresql.org if Debian lacks it",
                other.replace('_', "-")
            ),
        };
        return Some(format!(
            "the throwaway PostgreSQL lacks extension {name}, and safemig has no stand-in for it \
             (stand-ins: {}); install it for PostgreSQL {server_major} on this machine (Debian: {package})",
            crate::supabase::standin_names().join(", ")
        ));
    }
    if message.contains("could not load library") {
        let library = quoted(message).unwrap_or_default();
        return Some(format!(
            "the throwaway PostgreSQL {server_major} cannot load {library}: a library it needs is missing on this \
             machine ({}); install it (Debian: the package that provides the missing file, e.g. libossp-uuid16 for \
             uuid-ossp)",
            message.lines().next().unwrap_or(message).rsplit(": ").next().unwrap_or("")
        ));
    }
    if sqlstate == Some("42704") && message.contains("unrecognized configuration parameter") {
        let setting = quoted(message).unwrap_or_default();
        if let Some((_, since)) = NEWER_SETTINGS
            .iter()
            .find(|(name, since)| *name == setting && *since > server_major)
        {
            return Some(format!(
                "{setting} is a setting of PostgreSQL {since} and later (a dump made by pg_dump {since} sets it), \
                 and the throwaway PostgreSQL is {server_major}. {}",
                crate::install::install_hint(*since)
            ));
        }
    }
    // Only an index on a stand-in method: elsewhere, an unknown option is a typo.
    let standin_index = {
        let lower = statement.to_lowercase();
        lower.contains("index")
            && ["hnsw", "ivfflat", "pgroonga"]
                .iter()
                .any(|m| lower.contains(m))
    };
    if sqlstate == Some("22023") && message.contains("unrecognized parameter") && standin_index {
        let message = message
            .lines()
            .next()
            .unwrap_or(message)
            .trim_start_matches("ERROR: ");
        return Some(format!(
            "{message}: the hnsw and ivfflat index methods here are safemig's stand-in for pgvector, which takes \
             no index options; install pgvector for PostgreSQL {server_major} on this machine for a faithful replay"
        ));
    }
    None
}

/// Whether a replay of `set` starts from the Supabase stand-in: the database
/// is a Supabase one (it has `auth.users`), or the folder is a Supabase
/// project's (see [`MigrationSet::is_supabase_project`]), whatever the database holds.
pub fn is_supabase(client: &mut Client, set: &MigrationSet) -> Result<bool, PgError> {
    Ok(set.is_supabase_project() || crate::history::relation_exists(client, "auth.users")?)
}

/// A throwaway cluster of PostgreSQL `major` (the target's) when installed, or
/// why there cannot be one here.
pub fn cluster(major: Option<u32>) -> Result<Ephemeral, PgError> {
    Ephemeral::start_with(crate::ephemeral::EphemeralOptions {
        major,
        ..Default::default()
    })
    .map_err(|e| {
        PgError::Tool(format!(
            "cannot start a throwaway PostgreSQL for the rehearsal: {e}\n  hint: install the PostgreSQL server \
             (Debian: apt-get install postgresql), or set SAFEMIG_PG_BIN to its bin folder"
        ))
    })
}

/// What the application needs of the database, tested on a rehearsal copy: the
/// project's SQL tests (each rolled back) and, where there is an `auth.users`
/// with a trigger, doctor's new-user insert (what a sign-up does, rolled back).
/// Run before and after the pending migrations, the two tell what the
/// migrations broke from what was broken already.
pub fn app_checks(
    client: &mut Client,
    tests_dir: &std::path::Path,
) -> Result<Vec<crate::verify::Check>, PgError> {
    let mut checks = Vec::new();
    if let Some(result) = crate::doctor::signup_test(client)? {
        checks.push(crate::verify::Check {
            kind: "signup",
            name: "a new user signs up (the auth server's insert into auth.users, rolled back)"
                .into(),
            ok: result.is_ok(),
            detail: match result {
                Ok(()) => "the triggers on auth.users ran without error".into(),
                Err(finding) => finding.message,
            },
        });
    }
    for file in crate::verify::test_files(tests_dir) {
        let label = file
            .strip_prefix(tests_dir)
            .unwrap_or(&file)
            .display()
            .to_string();
        checks.push(crate::verify::run_test(client, &file, &label));
    }
    Ok(checks)
}
