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
    let mut command = tools::command(&pg_restore, &cluster.target(db));
    command.args(["--no-owner", "-d", db]).arg(&dump);
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
    Ok(notes)
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
    apply::migrate(client, set, config, options, &mut |_| {}, &mut |_| Ok(None))
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
) -> Result<RunReport, PgError> {
    cluster.create_database(db)?;
    let mut client = cluster.connect(db)?;
    if supabase {
        client
            .batch_execute(crate::SUPABASE_STANDIN_SQL)
            .map_err(|e| PgError::sql("loading the Supabase stand-in", &e))?;
    }
    let config = without_floors(config);
    let mut options = throwaway_options(&config);
    options.observe = false;
    apply(&mut client, set, &config, &options)
}

/// A note when the throwaway server's major version differs from the
/// database's: catalogs print some definitions differently across majors, and a
/// newer server's dump may not restore completely into an older one.
pub fn version_note(client: &mut Client, cluster: &Ephemeral) -> Result<Option<String>, PgError> {
    let target = backup::server_major(client)?;
    let local = backup::server_major(&mut cluster.connect("postgres")?)?;
    Ok((target != local).then(|| {
        format!(
            "the throwaway PostgreSQL is version {local}, the database {target}: install PostgreSQL {target}'s server \
             (or point SAFEMIG_PG_BIN at it) for a faithful copy"
        )
    }))
}

/// Whether the database is a Supabase one (it has `auth.users`): a replay from
/// empty then starts from the Supabase stand-in, else from nothing, as the
/// database itself did.
pub fn is_supabase(client: &mut Client) -> Result<bool, PgError> {
    crate::history::relation_exists(client, "auth.users")
}

/// A throwaway cluster, or why there cannot be one here.
pub fn cluster() -> Result<Ephemeral, PgError> {
    Ephemeral::start().map_err(|e| {
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
