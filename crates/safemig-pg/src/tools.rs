//! Finding `pg_dump` / `pg_restore` whose major version can read the server:
//! `SAFEMIG_PG_BIN` alone when it is set (the user's explicit choice: a folder, or
//! several separated by `:`), else `PATH`
//! and `/usr/lib/postgresql/*/bin`, newest first.
//! A dump made by an older pg_dump than the server is refused by pg_dump itself;
//! we say which version is needed before it gets that far.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::connect::Target;
use crate::PgError;

#[derive(Debug, Clone)]
pub struct Tool {
    pub path: PathBuf,
    pub major: u32,
    /// `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`
    pub version: String,
}

fn version_of(path: &Path) -> Option<(u32, String)> {
    let out = Command::new(path).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let number = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let major = number.split('.').next()?.parse().ok()?;
    Some((major, text))
}

/// The newest `program` whose major version is at least `server_major`.
pub fn find(program: &str, server_major: u32) -> Result<Tool, PgError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dirs) = std::env::var_os("SAFEMIG_PG_BIN") {
        candidates.extend(std::env::split_paths(&dirs).map(|d| d.join(program)));
    } else {
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|d| d.join(program)));
        }
        if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
            candidates.extend(
                entries
                    .flatten()
                    .map(|e| e.path().join("bin").join(program)),
            );
        }
    }
    let mut found: Vec<Tool> = candidates
        .into_iter()
        .filter(|p| p.is_file())
        .filter_map(|path| {
            version_of(&path).map(|(major, version)| Tool {
                path,
                major,
                version,
            })
        })
        .collect();
    found.sort_by_key(|t| std::cmp::Reverse(t.major));
    let newest = found.first().map(|t| t.version.clone());
    found.into_iter().find(|t| t.major >= server_major).ok_or_else(|| {
        PgError::Tool(format!(
            "{program} {server_major} or newer is needed for this PostgreSQL {server_major} server; {}\n  \
             hint: on Debian or Ubuntu install postgresql-client-{server_major} (from apt.postgresql.org if your \
             release lacks it), or set SAFEMIG_PG_BIN to a folder holding a recent {program}",
            match newest {
                Some(v) => format!("the newest found is `{v}`"),
                None => "none was found in SAFEMIG_PG_BIN, PATH or /usr/lib/postgresql/*/bin".to_string(),
            }
        ))
    })
}

/// A command for a libpq tool, connected to `target` through libpq's environment
/// variables: the password never appears on a command line (visible in `ps`).
pub fn command(tool: &Tool, target: &Target) -> Command {
    let mut command = Command::new(&tool.path);
    for var in ["PGPASSWORD", "PGSERVICE", "DATABASE_URL", "PGOPTIONS"] {
        command.env_remove(var);
    }
    command
        .env("PGHOST", target.host())
        .env("PGPORT", target.port().to_string())
        .env("PGUSER", target.user())
        .env("PGDATABASE", target.dbname())
        .env("PGSSLMODE", target.sslmode.as_str())
        .env("PGAPPNAME", "safemig")
        .env("PGCONNECT_TIMEOUT", "10");
    if let Some(root) = &target.sslrootcert {
        command.env("PGSSLROOTCERT", root);
    }
    if let Some(password) = target.password() {
        command.env("PGPASSWORD", password);
    }
    command
}
