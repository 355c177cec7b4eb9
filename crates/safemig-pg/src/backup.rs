//! Backups that are proven restorable.
//!
//! A backup is one directory:
//!
//! ```text
//! complete.dump        pg_dump -Fc: the whole database (less Supabase-managed schemas)
//! schema.sql           pg_restore --schema-only of complete.dump (the database is read once)
//! data.sql             pg_restore --data-only of complete.dump
//! tables/S.T.csv       each critical table, COPY ... CSV HEADER
//! migrations/*.sql     the migration files at the time of the backup
//! manifest.json        what, where, sizes, SHA-256, exact row counts, content checksums
//! manifest.txt         the same for people
//! SHA256SUMS           `sha256sum -c SHA256SUMS` checks every file
//! verification.json    written by `backup verify` (not part of the checksummed set)
//! ```
//!
//! It is written into a hidden `.ID.partial` directory and renamed into place only
//! when everything, the manifest last, is written and fsynced: an interrupted
//! backup is never listed or used. Files are 0600, directories 0700.
//!
//! A table's content checksum is `md5` over the sorted `md5` of each row's text
//! form, computed by the server: the same in the source and in any database the
//! backup is restored into, whatever the physical row order.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use postgres::Client;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::UNPROTECTED_SCHEMAS;
use crate::connect::Target;
use crate::csv_digest::{self, CsvDigest};
use crate::ephemeral::Ephemeral;
use crate::redact::redact;
use crate::tools::{self, Tool};
use crate::{quote_ident, quote_qualified, PgError};

/// 2: content checksums are [`csv_digest`]s. Format 1 backups (server-side
/// `md5` checksums) are still read, verified and restored.
pub const FORMAT_VERSION: u32 = 2;

/// Settings that fix how values print as text, so a table's content checksum is
/// the same in the source and in any database it is restored into.
const CANONICAL_TEXT: &str =
    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; \
    SET extra_float_digits = 3; SET bytea_output = 'hex'";
pub const MANIFEST: &str = "manifest.json";
pub const VERIFICATION: &str = "verification.json";

/// Schemas Supabase manages, left out of the complete dump as `supabase db dump` does.
pub const SUPABASE_MANAGED: &[&str] = &[
    "auth",
    "storage",
    "realtime",
    "_realtime",
    "extensions",
    "graphql",
    "graphql_public",
    "vault",
    "pgsodium",
    "pgsodium_masks",
    "supabase_functions",
    "net",
    "pgbouncer",
    "cron",
    "pgtle",
    "_analytics",
    "_supavisor",
    "supabase_migrations",
];

#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// The folder holding backups (each backup is a directory in it).
    pub root: PathBuf,
    /// Keep the Supabase-managed schemas in the complete dump.
    pub all_schemas: bool,
    /// Also copy the critical tables into the database, in schema `safemig_backup`.
    pub in_db_copy: bool,
    /// Critical tables, `schema.table`; empty = every protected table with data, up to `critical_limit` bytes in all.
    pub critical: Vec<(String, String)>,
    pub critical_limit: u64,
    /// Migration files to copy into the backup.
    pub migrations: Vec<PathBuf>,
    /// `pg_dump -Fd -j N` instead of one custom-format file.
    pub jobs: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableEntry {
    pub schema: String,
    pub name: String,
    pub rows: i64,
    /// For critical tables: the content checksum and the CSV file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    pub id: String,
    pub tool_version: String,
    pub server_version: String,
    pub system_identifier: String,
    pub database: String,
    pub database_bytes: i64,
    /// The connection, redacted.
    pub url: String,
    pub pg_dump: String,
    pub pg_dump_flags: Vec<String>,
    pub dump: String,
    pub applied_migrations: Vec<String>,
    pub excluded_schemas: Vec<String>,
    /// The database had Supabase's `auth.users` (restores load the stand-in first).
    pub supabase: bool,
    pub in_db_copy: Option<String>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: chrono::DateTime<chrono::Utc>,
    pub files: Vec<FileEntry>,
    pub tables: Vec<TableEntry>,
    /// A fingerprint of the protected tables' write statistics (rows inserted,
    /// updated, deleted, and their storage, table by table), read just before the
    /// backup's snapshot. `migrate --backup auto` reuses the backup only while it
    /// has not changed.
    #[serde(default)]
    pub writes: Option<String>,
    /// The data of the tables in the schemas the platform owns (`auth`, `storage`):
    /// their definitions are left out (the platform makes them), their rows are not
    /// (user accounts, identities, file metadata). Each is a CSV in `platform/`,
    /// with exact rows and a content checksum; `restore --tables auth.users` loads it.
    #[serde(default)]
    pub platform_tables: Vec<TableEntry>,
    /// `pg_current_snapshot()` of the backup's snapshot: rows whose `xmin` it
    /// does not see were written after the backup (`rollback` needs to know).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    pub at: chrono::DateTime<chrono::Utc>,
    pub restore: bool,
    pub ok: bool,
    pub problems: Vec<String>,
    #[serde(default)]
    pub notes: Vec<String>,
    /// SHA-256 of the manifest.json that was verified: a verification copied into
    /// another backup, or left behind by an edited one, no longer counts.
    #[serde(default)]
    pub manifest_sha256: Option<String>,
}

/// A backup on disk.
#[derive(Debug, Clone)]
pub struct Backup {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub verification: Option<Verification>,
}

impl Backup {
    pub fn open(dir: &Path) -> Result<Backup, PgError> {
        let text = std::fs::read_to_string(dir.join(MANIFEST)).map_err(|e| {
            PgError::Tool(format!(
                "{} is not a safemig backup: cannot read {MANIFEST}: {e}",
                dir.display()
            ))
        })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
            PgError::Tool(format!("{}: {MANIFEST} does not parse: {e}", dir.display()))
        })?;
        if !(1..=FORMAT_VERSION).contains(&manifest.format_version) {
            return Err(PgError::Tool(format!(
                "{}: manifest format {} is not one this safemig reads ({FORMAT_VERSION})",
                dir.display(),
                manifest.format_version
            )));
        }
        // Every path the manifest names stays inside the backup: a tampered manifest
        // must not make verify or restore read a file elsewhere.
        let named = manifest
            .files
            .iter()
            .map(|f| f.path.as_str())
            .chain(manifest.tables.iter().filter_map(|t| t.file.as_deref()))
            .chain(
                manifest
                    .platform_tables
                    .iter()
                    .filter_map(|t| t.file.as_deref()),
            )
            .chain(std::iter::once(manifest.dump.as_str()));
        for path in named {
            let p = Path::new(path);
            if path.is_empty()
                || p.is_absolute()
                || p.components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(PgError::Tool(format!(
                    "{}: {MANIFEST} names a file outside the backup folder ({path:?}); the backup was tampered with, do not use it",
                    dir.display()
                )));
            }
        }
        let verification = std::fs::read_to_string(dir.join(VERIFICATION))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        Ok(Backup {
            dir: dir.to_path_buf(),
            manifest,
            verification,
        })
    }

    /// Passed a verification of this very manifest.
    pub fn verified(&self) -> bool {
        let current = sha256_file(&self.dir.join(MANIFEST))
            .ok()
            .map(|(_, sha)| sha);
        self.verification
            .as_ref()
            .is_some_and(|v| v.ok && v.manifest_sha256.is_some() && v.manifest_sha256 == current)
    }

    pub fn size(&self) -> u64 {
        self.manifest.files.iter().map(|f| f.size).sum()
    }
}

/// Every complete backup under `root`, oldest first. Partial ones (`.ID.partial`) are never listed.
pub fn list(root: &Path) -> Vec<Backup> {
    let mut out: Vec<Backup> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| Backup::open(&e.path()).ok())
        .collect();
    out.sort_by_key(|b| b.manifest.finished_at);
    out
}

/// Hidden `.ID.partial` folders under `root`: backups that were interrupted (the
/// process killed, the machine or the server stopped) before they were complete.
/// They are never listed or used; `backup list` names them so they can be removed.
pub fn interrupted(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with('.') && name.ends_with(".partial")
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

fn io(what: &str, path: &Path, e: std::io::Error) -> PgError {
    PgError::Tool(format!("{what} {}: {e}", path.display()))
}

/// Creates `path` (and missing parents) mode 0700. A folder that already exists
/// keeps its mode: it may be shared (`/tmp`, a team folder, a symlinked
/// `.safemig/backups`), and safemig never changes what it did not create; what
/// holds data goes into a folder of its own inside it, created here 0700.
fn private_dir(path: &Path) -> Result<(), PgError> {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_symlink() {
            return match std::fs::metadata(path) {
                Ok(target) if target.is_dir() => Ok(()),
                Ok(_) => Err(PgError::Tool(format!(
                    "{} is a symbolic link to something that is not a folder\n  hint: point it at a folder, or pass another --out",
                    path.display()
                ))),
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(PgError::Tool(format!(
                    "{} is a symbolic link that loops (it points back at itself)\n  hint: fix or remove the link, or pass another --out",
                    path.display()
                ))),
                Err(_) => Err(PgError::Tool(format!(
                    "{} is a symbolic link to {}, which does not exist\n  hint: create the folder it points at, or remove the link",
                    path.display(),
                    std::fs::read_link(path)
                        .map(|t| t.display().to_string())
                        .unwrap_or_else(|_| "?".into())
                ))),
            };
        }
        if meta.is_dir() {
            return Ok(());
        }
        return Err(PgError::Tool(format!(
            "{} exists and is not a folder\n  hint: pass another --out",
            path.display()
        )));
    }
    // The missing ancestors, outermost first: only these are ours to set.
    let mut missing = Vec::new();
    let mut at = Some(path);
    while let Some(p) = at {
        if p.as_os_str().is_empty() || std::fs::symlink_metadata(p).is_ok() {
            break;
        }
        missing.push(p.to_path_buf());
        at = p.parent();
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| io("cannot create", path, e))?;
    for created in missing.iter().rev() {
        std::fs::set_permissions(created, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io("cannot set the mode of", created, e))?;
    }
    Ok(())
}

fn private_file(path: &Path) -> Result<std::fs::File, PgError> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io("cannot create", path, e))
}

fn sha256_file(path: &Path) -> Result<(u64, String), PgError> {
    let mut file = std::fs::File::open(path).map_err(|e| io("cannot read", path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| io("cannot read", path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn fsync_dir(path: &Path) {
    if let Ok(dir) = std::fs::File::open(path) {
        let _ = dir.sync_all();
    }
}

pub(crate) fn run_tool(mut command: Command, what: &str) -> Result<(), PgError> {
    let output = command
        .output()
        .map_err(|e| PgError::Tool(format!("cannot run {what}: {e}")))?;
    if !output.status.success() {
        return Err(PgError::Tool(format!(
            "{what} failed: {}",
            redact(String::from_utf8_lossy(&output.stderr).trim())
        )));
    }
    Ok(())
}

pub fn server_major(client: &mut Client) -> Result<u32, PgError> {
    let num: String = client
        .query_one("SHOW server_version_num", &[])
        .map_err(|e| PgError::sql("reading the server version", &e))?
        .get(0);
    Ok(num.parse::<u32>().unwrap_or(0) / 10000)
}

/// The content checksum of a table, order-independent, computed by the server,
/// over the columns `COPY TO` writes (all but generated ones, which are computed
/// again on load): the checksum of the CSV copy's content, too. For a table
/// without generated columns it is the checksum of whole rows.
///
/// Of the kind of `like` (a checksum from a manifest): a [`csv_digest`], or the
/// server-side `md5` of format 1 backups.
pub fn table_content(
    client: &mut impl postgres::GenericClient,
    schema: &str,
    name: &str,
    like: &str,
) -> Result<(i64, String), PgError> {
    let columns = copy_columns(client, schema, name)?
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    content_of_columns(client, schema, name, &columns, like)
}

/// The rows of the table itself, not of inheritance children.
fn count_own_rows(
    client: &mut impl postgres::GenericClient,
    schema: &str,
    name: &str,
) -> Result<i64, PgError> {
    client
        .query_one(
            &format!(
                "SELECT count(*) FROM ONLY {}",
                quote_qualified(schema, name)
            ),
            &[],
        )
        .map(|r| r.get(0))
        .map_err(|e| PgError::sql(&format!("counting the rows of {schema}.{name}"), &e))
}

pub(crate) fn count_rows(
    client: &mut impl postgres::GenericClient,
    schema: &str,
    name: &str,
) -> Result<i64, PgError> {
    client
        .query_one(
            &format!("SELECT count(*) FROM {}", quote_qualified(schema, name)),
            &[],
        )
        .map(|r| r.get(0))
        .map_err(|e| PgError::sql(&format!("counting the rows of {schema}.{name}"), &e))
}

/// User tables of the database, outside the excluded schemas: (schema, name, bytes).
fn user_tables(
    client: &mut impl postgres::GenericClient,
    excluded: &[String],
) -> Result<Vec<(String, String, i64)>, PgError> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, pg_table_size(c.oid)::int8 FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'p' \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'safemig_backup') \
               AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> ALL($1) \
             ORDER BY 1, 2",
            &[&excluded],
        )
        .map_err(|e| PgError::sql("listing the tables", &e))?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Writes a new backup of `target`; returns it once it is complete and in place.
pub fn create(
    target: &Target,
    options: &CreateOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Backup, PgError> {
    let started_at = chrono::Utc::now();
    let mut client = target.connect()?;
    let major = server_major(&mut client)?;
    let pg_dump = tools::find("pg_dump", major)?;
    let pg_restore = tools::find("pg_restore", major)?;
    let info = client
        .query_one(
            "SELECT current_setting('server_version'), (SELECT system_identifier::text FROM pg_control_system()), \
                    current_database()::text, pg_database_size(current_database())::int8, \
                    to_regclass('auth.users') IS NOT NULL",
            &[],
        )
        .map_err(|e| PgError::sql("reading the server's identity", &e))?;
    let (server_version, system_identifier, database, database_bytes, supabase): (
        String,
        String,
        String,
        i64,
        bool,
    ) = (
        info.get(0),
        info.get(1),
        info.get(2),
        info.get(3),
        info.get(4),
    );

    let writes = write_counter(&mut client).ok();

    let id = format!(
        "{}_{}",
        started_at.format("%Y%m%dT%H%M%S%.3fZ"),
        sanitize(&database)
    );
    let partial = options.root.join(format!(".{id}.partial"));
    private_dir(&options.root).and_then(|()| {
        let _ = std::fs::remove_dir_all(&partial);
        // Never an existing folder or a link someone put there (its name is predictable).
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&partial)
            .map_err(|e| io("cannot create", &partial, e))
    }).map_err(|e| {
        PgError::Tool(format!(
            "{e}\n  hint: the backup folder must be writable by this user (mode 0700); fix its owner or \
             permissions, or choose another folder with --out or [backup] dir"
        ))
    })?;
    let result = write_backup(
        &mut client,
        target,
        options,
        &partial,
        &id,
        &pg_dump,
        &pg_restore,
        progress,
    )
    .and_then(
        |Written {
             files,
             tables,
             platform_tables,
             excluded,
             flags,
             dump,
             in_db_copy,
             applied,
             snapshot,
         }| {
            let manifest = Manifest {
                format_version: FORMAT_VERSION,
                id: id.clone(),
                tool_version: env!("CARGO_PKG_VERSION").into(),
                server_version,
                system_identifier,
                database,
                database_bytes,
                url: target.display(),
                pg_dump: pg_dump.version.clone(),
                pg_dump_flags: flags,
                dump,
                applied_migrations: applied,
                excluded_schemas: excluded,
                supabase,
                in_db_copy,
                started_at,
                finished_at: chrono::Utc::now(),
                files,
                tables,
                platform_tables,
                writes,
                snapshot: Some(snapshot),
            };
            finish(&partial, &manifest)?;
            Ok(manifest)
        },
    );
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            // pg_dump gives up on a table another session holds exclusively: say who.
            let text = e.to_string();
            if text.contains("could not obtain lock")
                || text.contains("lock timeout")
                || text.contains("LOCK TABLE")
            {
                let holders = crate::lock::table_lock_holders(&mut client, true);
                if !holders.is_empty() {
                    return Err(PgError::Tool(format!(
                        "{text}\n  blocked by: {}",
                        holders.join("\n  blocked by: ")
                    )));
                }
            }
            return Err(e);
        }
    };
    let dir = options.root.join(&id);
    std::fs::rename(&partial, &dir)
        .map_err(|e| io("cannot move the finished backup into", &dir, e))?;
    fsync_dir(&options.root);
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    Ok(Backup {
        dir,
        manifest,
        verification: None,
    })
}

/// How long a backup waits for a table another session holds exclusively before
/// it gives up and names that session: `SAFEMIG_BACKUP_LOCK_WAIT` seconds, default 60.
/// Parallel dump jobs: one per core, at most four (each is a server backend too).
fn default_jobs() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
        .min(4)
}

/// LZ4 where pg_dump has it (16 and later, when built with it), else gzip at
/// its fastest level.
fn fastest_compression(pg_dump: &Tool) -> &'static str {
    if pg_dump.major >= 16 {
        "--compress=lz4"
    } else {
        "-Z1"
    }
}

fn lock_wait_seconds() -> u64 {
    std::env::var("SAFEMIG_BACKUP_LOCK_WAIT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(60)
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What `write_backup` put on disk, for the manifest.
struct Written {
    files: Vec<FileEntry>,
    tables: Vec<TableEntry>,
    platform_tables: Vec<TableEntry>,
    excluded: Vec<String>,
    flags: Vec<String>,
    dump: String,
    in_db_copy: Option<String>,
    applied: Vec<String>,
    snapshot: String,
}

#[allow(clippy::too_many_arguments)]
fn write_backup(
    client: &mut Client,
    target: &Target,
    options: &CreateOptions,
    dir: &Path,
    id: &str,
    pg_dump: &Tool,
    pg_restore: &Tool,
    progress: &mut dyn FnMut(&str),
) -> Result<Written, PgError> {
    let excluded: Vec<String> = if options.all_schemas {
        Vec::new()
    } else {
        SUPABASE_MANAGED.iter().map(|s| s.to_string()).collect()
    };
    // One snapshot for everything: pg_dump imports the snapshot this transaction
    // exports, so the dump, the row counts, the CSVs and the checksums all describe
    // the same moment, whatever the application writes meanwhile.
    let mut tx = snapshot_transaction(client, None)?;
    let row = tx
        .query_one(
            "SELECT pg_export_snapshot(), pg_current_snapshot()::text",
            &[],
        )
        .map_err(|e| PgError::sql("exporting the backup's snapshot", &e))?;
    let (snapshot, snapshot_xids): (String, String) = (row.get(0), row.get(1));
    // The complete dump: the database is read once; the scripts come from the archive.
    // Directory format with a job per core (tables dumped side by side), and the
    // fastest compression pg_dump has: compressing is most of pg_dump's time at
    // its default level, and the archive stays about as small at the lowest.
    let jobs = options.jobs.unwrap_or_else(default_jobs);
    let (dump, mut flags) = if jobs >= 2 {
        (
            "complete.dir".to_string(),
            vec!["-Fd".to_string(), format!("-j{jobs}")],
        )
    } else {
        ("complete.dump".to_string(), vec!["-Fc".to_string()])
    };
    let compression = flags.len();
    flags.push(fastest_compression(pg_dump).to_string());
    flags.push("--no-password".to_string());
    // pg_dump takes ACCESS SHARE on every table; behind a held ACCESS EXCLUSIVE it
    // would wait forever. Give up instead, and say so.
    flags.push(format!("--lock-wait-timeout={}s", lock_wait_seconds()));
    for schema in &excluded {
        flags.push(format!("--exclude-schema={schema}"));
    }
    flags.push("--exclude-schema=safemig_backup".into());
    progress(&format!(
        "pg_dump {} ({} Supabase-managed schemas left out) → {dump}",
        flags[0],
        excluded.len()
    ));
    // Every table's exact row count; critical tables' content, as CSV, with checksums.
    let tables = user_tables(&mut tx, &excluded)?;
    let mut budget = options.critical_limit;
    let critical: Vec<(String, String)> = if options.critical.is_empty() {
        // Smallest first: a large log table does not crowd out the small ones
        // (users, reference data) the budget is for.
        let mut by_size: Vec<_> = tables.iter().collect();
        by_size.sort_by_key(|(_, _, bytes)| *bytes);
        by_size
            .into_iter()
            .filter(|(s, _, bytes)| !UNPROTECTED_SCHEMAS.contains(&s.as_str()) && *bytes > 0)
            .filter(|(_, _, bytes)| {
                let fits = (*bytes as u64) <= budget;
                if fits {
                    budget -= *bytes as u64;
                }
                fits
            })
            .map(|(s, t, _)| (s.clone(), t.clone()))
            .collect()
    } else {
        options.critical.clone()
    };
    // A partitioned table holds no rows of its own: its partitions' are copied.
    let critical = leaf_partitions(&mut tx, critical, progress)?;
    // The platform's schemas are left out of the dump (the platform makes them),
    // but their rows are the users' own: accounts, identities, file metadata.
    let platform = if options.all_schemas {
        Vec::new()
    } else {
        platform_tables_in(&mut tx)?
    };
    private_dir(&dir.join("tables"))?;
    if !platform.is_empty() {
        private_dir(&dir.join("platform"))?;
    }
    // The critical tables' CSV copies come from pg_dump's own data as data.sql
    // streams (each table read once); the rest (tables pg_dump's COPY cannot
    // give exactly, the platform's data, which the dump leaves out) are written
    // on a connection of their own, from the same snapshot, while pg_dump runs.
    let critical_copies: Vec<(String, String, String)> = critical
        .iter()
        .filter(|(s, t)| tables.iter().any(|(ts, tt, _)| ts == s && tt == t))
        .map(|(s, t)| {
            (
                s.clone(),
                t.clone(),
                format!("tables/{}.{}.csv", sanitize(s), sanitize(t)),
            )
        })
        .collect();
    let from_dump = copies_from_dump(&mut tx, &critical_copies)?;
    let mut copies: Vec<(String, String, String)> = critical_copies
        .iter()
        .filter(|c| !from_dump.contains(c))
        .cloned()
        .collect();
    copies.extend(platform.iter().map(|(s, t)| {
        (
            s.clone(),
            t.clone(),
            format!("platform/{}.{}.csv", sanitize(s), sanitize(t)),
        )
    }));
    for (schema, name, _) in &from_dump {
        progress(&format!(
            "{schema}.{name} (critical): its CSV copy and checksum taken from the dump's data"
        ));
    }
    for (schema, name, file) in &copies {
        if !file.starts_with("platform/") {
            progress(&format!(
                "copying {schema}.{name} (critical: copied and checksummed) alongside the dump"
            ));
        }
    }
    // The platform's tables are many (auth alone has over twenty): one line for them.
    if !platform.is_empty() {
        let mut schemas: Vec<&str> = platform.iter().map(|(s, _)| s.as_str()).collect();
        schemas.dedup();
        progress(&format!(
            "copying {} platform table(s) ({}: the users' data) alongside the dump",
            platform.len(),
            schemas.join(", ")
        ));
    }
    let dump_with = |flags: &[String]| {
        let mut command = tools::command(pg_dump, target);
        command
            .envs(crate::dump_csv::DUMP_ENV.iter().copied())
            .args(flags)
            .arg(format!("--snapshot={snapshot}"))
            .arg("-f")
            .arg(dir.join(&dump));
        run_tool(command, "pg_dump")
    };
    let mut copier = Copier(Some({
        let (target, snapshot, dir, copies) = (
            target.clone(),
            snapshot.clone(),
            dir.to_path_buf(),
            copies.clone(),
        );
        std::thread::spawn(move || copy_tables_at_snapshot(&target, &snapshot, &dir, &copies))
    }));
    match dump_with(&flags) {
        // A pg_dump >= 16 built without LZ4 says so before it reads anything.
        Err(e)
            if flags[compression] == "--compress=lz4" && e.to_string().contains("compression") =>
        {
            let _ = std::fs::remove_dir_all(dir.join(&dump));
            let _ = std::fs::remove_file(dir.join(&dump));
            flags[compression] = "-Z1".to_string();
            dump_with(&flags)?;
        }
        other => other?,
    }
    restrict_tree(&dir.join(&dump))?;
    // Test-only pause point, so fault tests can kill a backup part-way without luck.
    if std::env::var("SAFEMIG_TEST_PAUSE_AFTER_DUMP").as_deref() == Ok("marker") {
        progress("paused (SAFEMIG_TEST_PAUSE_AFTER_DUMP)");
        crate::faults::pause("after pg_dump");
    } else if let Some(seconds) = std::env::var("SAFEMIG_TEST_PAUSE_AFTER_DUMP")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        progress("paused (SAFEMIG_TEST_PAUSE_AFTER_DUMP)");
        std::thread::sleep(std::time::Duration::from_secs(seconds));
    }
    // The scripts are derived from the archive by pg_restore while the database is
    // counted and the critical tables copied: the two overlap instead of adding up.
    // Each script is written (0600) and hashed as it streams out of pg_restore:
    // never read again to be hashed.
    let mut scripts = Jobs(Vec::new());
    let mut writers = Vec::new();
    let mut from_dump_writer = None;
    for (file, flag) in [("schema.sql", "--schema-only"), ("data.sql", "--data-only")] {
        progress(&format!("pg_restore {flag} → {file}"));
        let mut child = Command::new(&pg_restore.path)
            .arg(flag)
            .args(["-f", "-"])
            .arg(dir.join(&dump))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| PgError::Tool(format!("cannot run pg_restore: {e}")))?;
        let mut stdout = child.stdout.take().expect("piped");
        let path = dir.join(file);
        let out = private_file(&path)?;
        let mut splitter = None;
        if flag == "--data-only" && !from_dump.is_empty() {
            let mut wanted = std::collections::HashMap::new();
            for (schema, name, csv) in &from_dump {
                wanted.insert(
                    (schema.clone(), name.clone()),
                    crate::dump_csv::Wanted {
                        out: CsvFile::create(dir, csv)?,
                        done: false,
                        failed: None,
                    },
                );
            }
            splitter = Some(crate::dump_csv::Splitter::new(wanted));
        }
        let (tx_split, rx_split) = std::sync::mpsc::channel();
        from_dump_writer = from_dump_writer.or(splitter.as_ref().map(|_| rx_split));
        writers.push(std::thread::spawn(move || -> Result<FileEntry, PgError> {
            let mut writer = HashingWriter::new(std::io::BufWriter::with_capacity(1 << 20, out));
            let mut converter = None;
            match splitter {
                None => {
                    std::io::copy(&mut stdout, &mut writer)
                        .map_err(|e| io("cannot write", &path, e))?;
                }
                Some(mut splitter) => {
                    // data.sql is written (and hashed) here; the critical
                    // tables' rows become CSV on a thread of their own, block
                    // by block, so the two use both cores.
                    let (blocks, received) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
                    // Each copy is on disk when the thread ends: synced there,
                    // while data.sql is synced here.
                    converter = Some(std::thread::spawn(move || {
                        for block in received {
                            splitter.feed(&block)?;
                        }
                        let mut wanted = splitter.finish()?;
                        for csv in wanted.values_mut().filter(|csv| csv.done) {
                            csv.out.sync()?;
                        }
                        Ok::<_, std::io::Error>(wanted)
                    }));
                    let mut buffer = vec![0u8; 1 << 20];
                    loop {
                        let n = match stdout.read(&mut buffer) {
                            Ok(0) => break,
                            Ok(n) => n,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(io("cannot write", &path, e)),
                        };
                        writer
                            .write_all(&buffer[..n])
                            .map_err(|e| io("cannot write", &path, e))?;
                        if blocks.send(buffer[..n].to_vec()).is_err() {
                            break; // the converter stopped on an error: said below
                        }
                    }
                    drop(blocks);
                }
            }
            let (out, size, sha256) = writer.finish();
            let out = out
                .into_inner()
                .map_err(|e| io("cannot write", &path, e.into_error()))?;
            out.sync_all().map_err(|e| io("cannot sync", &path, e))?;
            if let Some(converter) = converter {
                let wanted = converter
                    .join()
                    .map_err(|_| PgError::Tool("writing the CSV copies failed".into()))?
                    .map_err(|e| io("cannot write a CSV copy beside", &path, e))?;
                let _ = tx_split.send(wanted);
            }
            Ok(FileEntry {
                path: file.to_string(),
                size,
                sha256,
            })
        }));
        scripts.0.push((file, child));
    }
    // pg_restore's errors are read while its output is written (no pipe fills).
    let wait_scripts = |scripts: &mut Jobs,
                        mut writers: Vec<std::thread::JoinHandle<Result<FileEntry, PgError>>>|
     -> Result<Vec<FileEntry>, PgError> {
        for (file, child) in std::mem::take(&mut scripts.0) {
            let output = child
                .wait_with_output()
                .map_err(|e| PgError::Tool(format!("pg_restore: {e}")))?;
            if !output.status.success() {
                // A writer that stopped (a full disk) makes pg_restore fail on
                // its closed pipe: the writer's error is the one to tell.
                for w in std::mem::take(&mut writers) {
                    if let Ok(Err(e)) = w.join() {
                        return Err(e);
                    }
                }
                return Err(PgError::Tool(format!(
                    "pg_restore writing {file} failed: {}",
                    redact(String::from_utf8_lossy(&output.stderr).trim())
                )));
            }
        }
        writers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(PgError::Tool("writing the scripts failed".into())))
            })
            .collect()
    };

    // The copies go on while the scripts are written and the other tables counted.
    let copied_names: std::collections::BTreeSet<(String, String)> = copies
        .iter()
        .chain(&from_dump)
        .map(|(s, t, _)| (s.clone(), t.clone()))
        .collect();
    let mut counted = std::collections::BTreeMap::new();
    for (schema, name, _) in &tables {
        if !copied_names.contains(&(schema.clone(), name.clone())) {
            progress(&format!("counting {schema}.{name}"));
            counted.insert(
                (schema.clone(), name.clone()),
                count_rows(&mut tx, schema, name)?,
            );
        }
    }
    let mut copied = copier.join()?;
    // The scripts, and with data.sql the CSV copies taken from the dump's data;
    // a table whose copy could not be taken from it is copied from the server
    // now (the backup's snapshot is still open).
    let scripts_written = wait_scripts(&mut scripts, writers)?;
    if let Some(received) = from_dump_writer {
        let mut wanted = received
            .recv()
            .map_err(|_| PgError::Tool("writing data.sql failed".into()))?;
        let mut again = Vec::new();
        for (schema, name, file) in &from_dump {
            let Some(csv) = wanted.remove(&(schema.clone(), name.clone())) else {
                continue;
            };
            if csv.done {
                let (rows, checksum, entry) = csv.out.finish(dir, file)?;
                copied.insert(
                    (schema.clone(), name.clone()),
                    (rows, checksum, file.clone(), entry),
                );
            } else {
                let _ = std::fs::remove_file(dir.join(file));
                progress(&format!(
                    "copying {schema}.{name} from the server: {}",
                    csv.failed
                        .unwrap_or_else(|| "the dump's data holds no rows for it".into())
                ));
                again.push((schema.clone(), name.clone(), file.clone()));
            }
        }
        copied.extend(copy_tables_at_snapshot(target, &snapshot, dir, &again)?);
    }
    // Files hashed as they were written.
    let mut hashed: Vec<FileEntry> = scripts_written;
    let mut entries = Vec::new();
    for (schema, name, _) in &tables {
        let mut entry = TableEntry {
            schema: schema.clone(),
            name: name.clone(),
            rows: 0,
            checksum: None,
            file: None,
        };
        match copied.remove(&(schema.clone(), name.clone())) {
            // Copied, counted and checksummed in one read.
            Some((rows, checksum, file, entry_hash)) => {
                entry.rows = rows;
                entry.checksum = Some(checksum);
                entry.file = Some(file);
                hashed.push(entry_hash);
            }
            None => {
                entry.rows = counted
                    .get(&(schema.clone(), name.clone()))
                    .copied()
                    .unwrap_or(0)
            }
        }
        entries.push(entry);
    }
    let mut platform_tables = Vec::new();
    for (schema, name) in platform {
        if let Some((rows, checksum, file, entry_hash)) =
            copied.remove(&(schema.clone(), name.clone()))
        {
            hashed.push(entry_hash);
            platform_tables.push(TableEntry {
                schema,
                name,
                rows,
                checksum: Some(checksum),
                file: Some(file),
            });
        }
    }
    let applied = versions_in(&mut tx)?;
    // The in-database copies: made from the same snapshot, in one transaction that
    // commits only when the rest of the backup is written.
    let mut copies = if options.in_db_copy {
        progress("copying the critical tables into schema safemig_backup");
        Some(copy_at_snapshot(target, &snapshot, id, &critical)?)
    } else {
        None
    };
    tx.commit()
        .map_err(|e| PgError::sql("ending the backup's snapshot", &e))?;

    let in_db_copy = copies.as_ref().map(|_| "safemig_backup".to_string());

    private_dir(&dir.join("migrations"))?;
    for path in &options.migrations {
        if let Some(name) = path.file_name() {
            let target = dir.join("migrations").join(name);
            let bytes = std::fs::read(path).map_err(|e| io("cannot read", path, e))?;
            let mut out = private_file(&target)?;
            out.write_all(&bytes)
                .and_then(|()| out.sync_all())
                .map_err(|e| io("cannot write", &target, e))?;
        }
    }
    let done: std::collections::BTreeSet<PathBuf> =
        hashed.iter().map(|f| dir.join(&f.path)).collect();
    let mut files = hash_files(
        dir,
        walk(dir)?
            .into_iter()
            .filter(|p| !done.contains(p))
            .collect(),
    )?;
    files.extend(hashed);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    if let Some(copies) = copies.as_mut() {
        copies
            .batch_execute("COMMIT")
            .map_err(|e| PgError::sql("committing the copies in safemig_backup", &e))?;
    }
    Ok(Written {
        files,
        tables: entries,
        platform_tables,
        excluded,
        flags,
        dump,
        in_db_copy,
        applied,
        snapshot: snapshot_xids,
    })
}

/// Schemas whose definitions the platform owns but whose rows are the project's.
pub const PLATFORM_DATA_SCHEMAS: &[&str] = &["auth", "storage"];

/// The tables of `auth` and `storage` whose rows a backup keeps: all but the
/// platform's own migration bookkeeping (restoring an older copy of it would make
/// the auth server or the storage API run their migrations again).
fn platform_tables_in(
    client: &mut impl postgres::GenericClient,
) -> Result<Vec<(String, String)>, PgError> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND n.nspname = ANY($1) \
               AND (n.nspname, c.relname) NOT IN (('auth', 'schema_migrations'), ('storage', 'migrations')) \
             ORDER BY 1, 2",
            &[&PLATFORM_DATA_SCHEMAS],
        )
        .map_err(|e| PgError::sql("listing the auth and storage tables", &e))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Writes `schema.name` to `dir/file` as CSV with a header (what `COPY TO`
/// writes: every column but generated ones) and returns the content checksum of
/// exactly those columns, so a restore of the file can be checked against it.
/// Copies a table to `file` as CSV; returns its rows and content checksum,
/// computed on the bytes as they are written: the table is read once.
fn copy_to_csv(
    tx: &mut postgres::Transaction<'_>,
    dir: &Path,
    file: &str,
    schema: &str,
    name: &str,
) -> Result<(i64, String, FileEntry), PgError> {
    let mut out = CsvFile::create(dir, file)?;
    let mut reader = tx
        .copy_out(&format!(
            "COPY {} TO STDOUT WITH (FORMAT csv, HEADER)",
            quote_qualified(schema, name)
        ))
        .map_err(|e| PgError::sql(&format!("copying {schema}.{name}"), &e))?;
    std::io::copy(&mut reader, &mut out).map_err(|e| io("cannot write", &dir.join(file), e))?;
    drop(reader);
    out.finish(dir, file)
}

/// A CSV copy, from the server's COPY or from the dump's data: hashed and
/// digested (rows, content checksum) as it is written.
struct CsvFile {
    out: HashingWriter<std::io::BufWriter<std::fs::File>>,
    digest: CsvDigest,
}

impl CsvFile {
    fn create(dir: &Path, file: &str) -> Result<CsvFile, PgError> {
        let out = private_file(&dir.join(file))?;
        Ok(CsvFile {
            out: HashingWriter::new(std::io::BufWriter::with_capacity(1 << 20, out)),
            digest: CsvDigest::new(true),
        })
    }

    /// Written out and synced to disk.
    fn sync(&mut self) -> std::io::Result<()> {
        self.out.inner.flush()?;
        self.out.inner.get_ref().sync_all()
    }

    /// Rows, content checksum and the file's entry, once it is on disk.
    fn finish(self, dir: &Path, file: &str) -> Result<(i64, String, FileEntry), PgError> {
        let path = dir.join(file);
        let (out, size, sha256) = self.out.finish();
        let out = out
            .into_inner()
            .map_err(|e| io("cannot write", &path, e.into_error()))?;
        out.sync_all().map_err(|e| io("cannot sync", &path, e))?;
        let (rows, checksum) = self.digest.finish();
        Ok((
            rows,
            checksum,
            FileEntry {
                path: file.to_string(),
                size,
                sha256,
            },
        ))
    }
}

/// The server's COPY stream: records found by the digest (a quoted line break
/// belongs to its value).
impl Write for CsvFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl crate::dump_csv::Records for CsvFile {
    /// A whole record with its `\n`: digested as one, no quote-scanning.
    fn record(&mut self, record: &[u8]) -> std::io::Result<()> {
        self.out.write_all(record)?;
        self.digest
            .record(record.strip_suffix(b"\n").unwrap_or(record));
        Ok(())
    }
}

/// The critical tables with each partitioned one replaced by its leaf
/// partitions (COPY cannot read a partitioned table; pg_dump dumps each
/// partition's rows on their own).
fn leaf_partitions(
    client: &mut impl postgres::GenericClient,
    critical: Vec<(String, String)>,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<(String, String)>, PgError> {
    // One query for all of them: the n-th critical table's leaves, by n.
    let names: Vec<String> = critical
        .iter()
        .map(|(schema, name)| quote_qualified(schema, name))
        .collect();
    let rows = client
        .query(
            "SELECT w.n, n.nspname::text, c.relname::text \
             FROM unnest($1::text[]) WITH ORDINALITY AS w(name, n) \
             JOIN pg_catalog.pg_class p ON p.oid = pg_catalog.to_regclass(w.name) AND p.relkind = 'p' \
             CROSS JOIN LATERAL pg_catalog.pg_partition_tree(p.oid) t \
             JOIN pg_catalog.pg_class c ON c.oid = t.relid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE t.isleaf AND c.relkind = 'r' \
             ORDER BY 1, 2, 3",
            &[&names],
        )
        .map_err(|e| PgError::sql("listing a partitioned table's partitions", &e))?;
    let mut leaves: std::collections::BTreeMap<i64, Vec<(String, String)>> =
        std::collections::BTreeMap::new();
    for r in &rows {
        leaves
            .entry(r.get(0))
            .or_default()
            .push((r.get(1), r.get(2)));
    }
    let mut out = Vec::with_capacity(critical.len());
    for (i, (schema, name)) in critical.into_iter().enumerate() {
        let Some(leaves) = leaves.remove(&(i as i64 + 1)) else {
            if !out.contains(&(schema.clone(), name.clone())) {
                out.push((schema, name));
            }
            continue;
        };
        progress(&format!(
            "{schema}.{name} is partitioned: its partitions are copied ({})",
            leaves
                .iter()
                .map(|(s, t)| format!("{s}.{t}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for leaf in leaves {
            if !out.contains(&leaf) {
                out.push(leaf);
            }
        }
    }
    Ok(out)
}

/// Of the critical tables' copies, those taken from the dump's data: ordinary
/// tables with a column at least (a partitioned table's rows are dumped per
/// partition), in a UTF-8 database (the copy's bytes are UTF-8), that are no
/// extension's (pg_dump dumps only the rows a configuration table's extension
/// marks as the user's, or none), whose values print the same in pg_dump's
/// session: no value of a type whose text names objects by the search_path
/// (pg_dump's is empty: `regclass` prints `public.users`, the server's copy
/// `users`) or whose output is an extension's code, and no `bytea` unless the
/// session's default prints it in hex (pg_dump takes the database's and the
/// role's settings). Types are followed through domains, arrays, ranges and
/// composites.
fn copies_from_dump(
    client: &mut impl postgres::GenericClient,
    copies: &[(String, String, String)],
) -> Result<Vec<(String, String, String)>, PgError> {
    if copies.is_empty() {
        return Ok(Vec::new());
    }
    let schemas: Vec<&str> = copies.iter().map(|(s, _, _)| s.as_str()).collect();
    let names: Vec<&str> = copies.iter().map(|(_, t, _)| t.as_str()).collect();
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN unnest($1::text[], $2::text[]) AS w(s, t) ON w.s = n.nspname AND w.t = c.relname \
             WHERE c.relkind = 'r' \
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid \
                           AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') \
               AND (SELECT pg_catalog.pg_encoding_to_char(d.encoding) FROM pg_catalog.pg_database d \
                    WHERE d.datname = pg_catalog.current_database()) = 'UTF8' \
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass \
                               AND d.objid = c.oid AND d.deptype = 'e') \
               AND NOT EXISTS ( \
                 WITH RECURSIVE types(oid) AS ( \
                   SELECT a.atttypid FROM pg_catalog.pg_attribute a \
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                   UNION \
                   SELECT x.oid FROM types t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid \
                   CROSS JOIN LATERAL ( \
                     SELECT ty.typbasetype WHERE ty.typbasetype <> 0 \
                     UNION ALL SELECT ty.typelem WHERE ty.typelem <> 0 \
                     UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r \
                               WHERE r.rngtypid = ty.oid OR r.rngmultitypid = ty.oid \
                     UNION ALL SELECT a2.atttypid FROM pg_catalog.pg_attribute a2 \
                               WHERE ty.typrelid <> 0 AND a2.attrelid = ty.typrelid AND a2.attnum > 0 \
                                 AND NOT a2.attisdropped) AS x(oid)) \
                 SELECT 1 FROM types t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid \
                 WHERE ty.oid = ANY (ARRAY['pg_catalog.regclass', 'pg_catalog.regtype', 'pg_catalog.regproc', \
                         'pg_catalog.regprocedure', 'pg_catalog.regoper', 'pg_catalog.regoperator', \
                         'pg_catalog.regconfig', 'pg_catalog.regdictionary', 'pg_catalog.regcollation']::pg_catalog.regtype[]) \
                    OR ty.typoutput::pg_catalog.oid >= 16384 \
                    OR (ty.oid = 'pg_catalog.bytea'::pg_catalog.regtype \
                        AND (SELECT s.reset_val FROM pg_catalog.pg_settings s WHERE s.name = 'bytea_output') <> 'hex'))",
            &[&schemas, &names],
        )
        .map_err(|e| PgError::sql("choosing the CSV copies taken from the dump", &e))?;
    let from_dump: std::collections::BTreeSet<(String, String)> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(copies
        .iter()
        .filter(|(s, t, _)| from_dump.contains(&(s.clone(), t.clone())))
        .cloned()
        .collect())
}

/// Passes bytes on to `inner` and hashes them (SHA-256) as they go: a file the
/// backup writes is hashed while it is written, not read again afterwards.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W> HashingWriter<W> {
    fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The writer, the bytes written and their SHA-256 (hex).
    fn finish(self) -> (W, u64, String) {
        (self.inner, self.size, hex::encode(self.hasher.finalize()))
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Rows and [`csv_digest`] of what `copy` (a `COPY ... TO STDOUT` in CSV, no header) writes.
fn digest_copy(
    client: &mut impl postgres::GenericClient,
    copy: &str,
    what: &str,
) -> Result<(i64, String), PgError> {
    let mut reader = client
        .copy_out(copy)
        .map_err(|e| PgError::sql(&format!("checksumming {what}"), &e))?;
    let mut digest = CsvDigest::new(false);
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|e| PgError::Tool(format!("checksumming {what}: {e}")))?;
        if n == 0 {
            break;
        }
        digest.update(&buffer[..n]);
    }
    Ok(digest.finish())
}

/// A name for a table in `safemig_backup` that PostgreSQL keeps whole: identifiers
/// longer than 63 bytes are cut silently, and two cut names can collide. Long
/// names keep their start and end with a hash of the whole.
pub(crate) fn backup_table_name(parts: &[&str]) -> String {
    let full = parts.join("__");
    if full.len() <= 63 {
        return full;
    }
    let hash = hex::encode(&Sha256::digest(full.as_bytes())[..4]);
    let mut head = String::new();
    for c in full.chars() {
        if head.len() + c.len_utf8() > 63 - 1 - hash.len() {
            break;
        }
        head.push(c);
    }
    format!("{head}_{hash}")
}

/// A read-only repeatable-read transaction in the backup's canonical text form,
/// with its lock timeout; `import`: reading the snapshot another one exported.
fn snapshot_transaction<'c>(
    client: &'c mut Client,
    import: Option<&str>,
) -> Result<postgres::Transaction<'c>, PgError> {
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(|e| PgError::sql("starting the backup's snapshot", &e))?;
    let import = import
        .map(|snapshot| {
            format!(
                "SET TRANSACTION SNAPSHOT {}; ",
                crate::quote_literal(snapshot)
            )
        })
        .unwrap_or_default();
    tx.batch_execute(&format!(
        "{import}{CANONICAL_TEXT}; SET LOCAL lock_timeout = '{}s'",
        lock_wait_seconds()
    ))
    .map_err(|e| PgError::sql("setting up the backup's session", &e))?;
    Ok(tx)
}

/// The thread writing the CSV copies. Joined on drop too: a failed backup waits
/// for it before its partial directory is removed.
struct Copier(Option<std::thread::JoinHandle<Result<Copied, PgError>>>);

impl Copier {
    fn join(&mut self) -> Result<Copied, PgError> {
        match self.0.take().map(|h| h.join()) {
            Some(Ok(copied)) => copied,
            Some(Err(_)) => Err(PgError::Tool("copying the tables as CSV failed".into())),
            None => Ok(Copied::new()),
        }
    }
}

impl Drop for Copier {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Copied tables by (schema, name): rows, checksum, file.
type Copied = std::collections::BTreeMap<(String, String), (i64, String, String, FileEntry)>;

/// Writes each of `tables` (schema, name, file) as CSV, counted and checksummed
/// as it streams, on a connection of its own reading the backup's exported snapshot.
fn copy_tables_at_snapshot(
    target: &Target,
    snapshot: &str,
    dir: &Path,
    tables: &[(String, String, String)],
) -> Result<Copied, PgError> {
    let mut copied = Copied::new();
    if tables.is_empty() {
        return Ok(copied);
    }
    let mut client = target.connect()?;
    let mut tx = snapshot_transaction(&mut client, Some(snapshot))?;
    for (schema, name, file) in tables {
        let (rows, checksum, hashed) = copy_to_csv(&mut tx, dir, file, schema, name)?;
        copied.insert(
            (schema.clone(), name.clone()),
            (rows, checksum, file.clone(), hashed),
        );
    }
    tx.commit()
        .map_err(|e| PgError::sql("ending the CSV copies", &e))?;
    Ok(copied)
}

/// Copies the critical tables into `safemig_backup` from the backup's exported
/// snapshot, on a connection of its own, in a transaction left open: the caller
/// commits it when the backup is complete (a failed backup leaves no copies).
fn copy_at_snapshot(
    target: &Target,
    snapshot: &str,
    id: &str,
    critical: &[(String, String)],
) -> Result<Client, PgError> {
    let mut copies = target.connect()?;
    copies
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT {}; \
             CREATE SCHEMA IF NOT EXISTS safemig_backup; REVOKE ALL ON SCHEMA safemig_backup FROM PUBLIC",
            crate::quote_literal(snapshot)
        ))
        .map_err(|e| PgError::sql("preparing the copies in safemig_backup", &e))?;
    for (s, t) in critical {
        copies
            .batch_execute(&format!(
                "CREATE TABLE safemig_backup.{} AS TABLE {}",
                quote_ident(&backup_table_name(&[id, s, t])),
                quote_qualified(s, t)
            ))
            .map_err(|e| PgError::sql(&format!("copying {s}.{t} into safemig_backup"), &e))?;
    }
    Ok(copies)
}

/// Child processes that are killed if the backup fails before waiting for them,
/// so nothing keeps writing into a partial backup that is being removed.
struct Jobs(Vec<(&'static str, std::process::Child)>);

impl Drop for Jobs {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Size and SHA-256 of each file, on every core: the largest files first, each
/// to the thread with the least to read so far.
fn hash_files(dir: &Path, mut paths: Vec<PathBuf>) -> Result<Vec<FileEntry>, PgError> {
    let threads = default_jobs().max(1) as usize;
    let mut sized: Vec<(u64, PathBuf)> = paths
        .drain(..)
        .map(|p| (std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0), p))
        .collect();
    sized.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
    let mut shares: Vec<(u64, Vec<PathBuf>)> = vec![(0, Vec::new()); threads];
    for (size, path) in sized {
        let least = shares
            .iter_mut()
            .min_by_key(|(load, _)| *load)
            .expect("one thread at least");
        least.0 += size;
        least.1.push(path);
    }
    let hashed: Vec<Result<Vec<FileEntry>, PgError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|(_, share)| {
                scope.spawn(move || {
                    share
                        .into_iter()
                        .map(|path| {
                            let (size, sha256) = sha256_file(&path)?;
                            Ok(FileEntry {
                                path: path
                                    .strip_prefix(dir)
                                    .unwrap_or(&path)
                                    .to_string_lossy()
                                    .into_owned(),
                                size,
                                sha256,
                            })
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(PgError::Tool("hashing the backup's files failed".into()))
                })
            })
            .collect()
    });
    let mut files = Vec::new();
    for share in hashed {
        files.extend(share?);
    }
    Ok(files)
}

/// Files under `dir`, recursively.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, PgError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io("cannot read", dir, e))? {
        let path = entry.map_err(|e| io("cannot read", dir, e))?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

/// pg_dump and pg_restore create files with the process umask: make them private.
fn restrict_tree(path: &Path) -> Result<(), PgError> {
    if path.is_dir() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io("cannot set the mode of", path, e))?;
        for file in walk(path)? {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io("cannot set the mode of", &file, e))?;
            if let Ok(f) = std::fs::File::open(&file) {
                let _ = f.sync_all();
            }
        }
    } else {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io("cannot set the mode of", path, e))?;
        if let Ok(f) = std::fs::File::open(path) {
            let _ = f.sync_all();
        }
    }
    Ok(())
}

/// manifest.txt and manifest.json, then SHA256SUMS over every file (the two
/// manifests included), all fsynced. Nothing is visible until the directory is
/// renamed into place.
fn finish(dir: &Path, manifest: &Manifest) -> Result<(), PgError> {
    let mut text = format!(
        "safemig backup {}\n\ndatabase      {}\nconnection    {}\nserver        PostgreSQL {} (system {})\npg_dump       {}\n\
         started       {}\nfinished      {}\nmigrations    {} applied{}\nexcluded      {}\n\nfiles\n",
        manifest.id,
        manifest.database,
        manifest.url,
        manifest.server_version,
        manifest.system_identifier,
        manifest.pg_dump,
        manifest.started_at.to_rfc3339(),
        manifest.finished_at.to_rfc3339(),
        manifest.applied_migrations.len(),
        manifest.applied_migrations.last().map(|v| format!(" (newest {v})")).unwrap_or_default(),
        if manifest.excluded_schemas.is_empty() { "nothing".to_string() } else { manifest.excluded_schemas.join(", ") },
    );
    for f in &manifest.files {
        text.push_str(&format!("  {:>12}  {}\n", f.size, f.path));
    }
    text.push_str("\ntables (exact rows; * = critical, content checksummed)\n");
    for t in &manifest.tables {
        text.push_str(&format!(
            "  {:>10}  {}.{}{}\n",
            t.rows,
            t.schema,
            t.name,
            if t.checksum.is_some() { " *" } else { "" }
        ));
    }
    if !manifest.platform_tables.is_empty() {
        text.push_str(
            "\nplatform data (rows only: the auth and storage schemas themselves are the platform's, \
             and the files in storage buckets live outside the database)\n",
        );
        for t in &manifest.platform_tables {
            text.push_str(&format!("  {:>10}  {}.{} *\n", t.rows, t.schema, t.name));
        }
    }
    let json = serde_json::to_string_pretty(manifest).map_err(|e| PgError::Tool(e.to_string()))?;
    for (name, content) in [("manifest.txt", text), (MANIFEST, json)] {
        let path = dir.join(name);
        let mut file = private_file(&path)?;
        file.write_all(redact(&content).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io("cannot write", &path, e))?;
    }
    let mut sums = String::new();
    for f in &manifest.files {
        sums.push_str(&format!("{}  {}\n", f.sha256, f.path));
    }
    for name in ["manifest.json", "manifest.txt"] {
        sums.push_str(&format!("{}  {name}\n", sha256_file(&dir.join(name))?.1));
    }
    let path = dir.join("SHA256SUMS");
    let mut file = private_file(&path)?;
    file.write_all(sums.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io("cannot write", &path, e))?;
    fsync_dir(dir);
    Ok(())
}

/// Checks a backup: quick (files, sizes, checksums) and, with `restore`, a full
/// restore into a throwaway PostgreSQL compared table by table. The result is
/// written to `verification.json` in the backup.
pub fn verify(
    dir: &Path,
    restore: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Verification, PgError> {
    let (mut problems, backup) = match Backup::open(dir) {
        Ok(backup) => (quick_check(&backup), Some(backup)),
        // A manifest that is there but unreadable is a failed backup, not bad input.
        Err(e) if dir.join(MANIFEST).is_file() => (vec![e.to_string()], None),
        Err(e) => return Err(e),
    };
    let mut notes = Vec::new();
    if let (true, true, Some(backup)) = (restore, problems.is_empty(), &backup) {
        progress("restoring into a throwaway PostgreSQL");
        match restore_and_compare(backup, progress) {
            Ok((p, n)) => {
                problems.extend(p);
                notes.extend(n);
            }
            Err(e) => problems.push(format!("the restore failed: {e}")),
        }
    }
    let manifest_sha256 = sha256_file(&dir.join(MANIFEST)).ok().map(|(_, sha)| sha);
    let verification = Verification {
        at: chrono::Utc::now(),
        restore,
        ok: problems.is_empty(),
        problems,
        notes,
        manifest_sha256,
    };
    let path = dir.join(VERIFICATION);
    let _ = std::fs::remove_file(&path);
    let mut file = private_file(&path)?;
    let json =
        serde_json::to_string_pretty(&verification).map_err(|e| PgError::Tool(e.to_string()))?;
    file.write_all(json.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io("cannot write", &path, e))?;
    Ok(verification)
}

/// Every file present with its size and SHA-256; SHA256SUMS agrees; nothing expected is empty.
pub fn quick_check(backup: &Backup) -> Vec<String> {
    let mut problems = Vec::new();
    let dir = &backup.dir;
    // Hashed on every core (the largest files first), then compared in order.
    let present: Vec<PathBuf> = backup
        .manifest
        .files
        .iter()
        .map(|f| dir.join(&f.path))
        .filter(|p| p.is_file())
        .collect();
    let hashed: std::collections::BTreeMap<String, (u64, String)> = hash_files(dir, present)
        .unwrap_or_default()
        .into_iter()
        .map(|f| (f.path, (f.size, f.sha256)))
        .collect();
    for f in &backup.manifest.files {
        match hashed.get(&f.path).cloned().ok_or(()) {
            Err(_) => problems.push(format!("{} is missing", f.path)),
            Ok((size, _)) if size != f.size => problems.push(format!(
                "{} has {size} bytes, the manifest says {} (truncated or changed)",
                f.path, f.size
            )),
            Ok((_, sha)) if sha != f.sha256 => problems.push(format!(
                "{} does not match its SHA-256 (changed since the backup)",
                f.path
            )),
            Ok(_) => {}
        }
    }
    let listed: std::collections::BTreeSet<&str> = backup
        .manifest
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    // A file the manifest does not know was added afterwards: nothing vouches for it.
    for extra in relative_files(dir, dir) {
        if !listed.contains(extra.as_str())
            && ![
                "manifest.json",
                "manifest.txt",
                "SHA256SUMS",
                "verification.json",
            ]
            .contains(&extra.as_str())
        {
            problems.push(format!(
                "{extra} is not in the manifest (added after the backup was taken)"
            ));
        }
    }
    for required in [backup.manifest.dump.as_str(), "schema.sql", "data.sql"] {
        let present = listed.contains(required)
            || listed
                .iter()
                .any(|p| p.starts_with(&format!("{required}/")));
        if !present {
            problems.push(format!("{required} is not in the manifest"));
        }
    }
    if backup
        .manifest
        .files
        .iter()
        .any(|f| (f.path == backup.manifest.dump || f.path == "schema.sql") && f.size == 0)
    {
        problems.push("the dump is empty".into());
    }
    // SHA256SUMS covers every file, the manifests included, and agrees with the manifest.
    match std::fs::read_to_string(dir.join("SHA256SUMS")) {
        Ok(sums) => {
            let mut listed = std::collections::BTreeMap::new();
            for line in sums.lines() {
                match line.split_once("  ") {
                    Some((hash, path)) => {
                        listed.insert(path.to_string(), hash.to_string());
                    }
                    None => problems.push(format!("SHA256SUMS has a malformed line: {line}")),
                }
            }
            for name in ["manifest.json", "manifest.txt"] {
                match (listed.get(name), sha256_file(&dir.join(name))) {
                    (Some(expected), Ok((_, actual))) if *expected == actual => {}
                    (Some(_), Ok(_)) => problems.push(format!("{name} does not match its SHA-256 in SHA256SUMS (changed since the backup)")),
                    (_, Err(_)) => problems.push(format!("{name} is missing")),
                    (None, _) => problems.push(format!("SHA256SUMS does not list {name}")),
                }
            }
            for f in &backup.manifest.files {
                if listed.get(&f.path) != Some(&f.sha256) {
                    problems.push(format!(
                        "SHA256SUMS does not agree with the manifest about {}",
                        f.path
                    ));
                }
            }
        }
        Err(_) => problems.push("SHA256SUMS is missing".into()),
    }
    problems
}

/// Every file under `dir`, as a path relative to `root` with `/` separators.
fn relative_files(root: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(relative_files(root, &path));
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    out
}

/// Restores the complete dump into a throwaway cluster; compares every table's
/// row count and the critical tables' checksums with the manifest.
fn restore_and_compare(
    backup: &Backup,
    progress: &mut dyn FnMut(&str),
) -> Result<(Vec<String>, Vec<String>), PgError> {
    // The database's own major when it is installed: a dump restores faithfully
    // into the major that made it.
    let major = backup
        .manifest
        .server_version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|m| m.parse().ok());
    let cluster = Ephemeral::start_with(crate::ephemeral::EphemeralOptions {
        major,
        ..Default::default()
    })?;
    cluster.create_database("restored")?;
    let target = cluster.target("restored");
    let mut client = target.connect()?;
    if backup.manifest.supabase {
        crate::supabase::load(&mut client)?;
    }
    let mut notes = cluster.notes().to_vec();
    notes.extend(restore_dump(
        backup,
        &target,
        server_major(&mut client)?,
        progress,
    )?);
    let mut problems = compare_with_manifest(&mut client, &backup.manifest, true)?;
    progress("loading every table copy (tables/, platform/) into scratch tables");
    problems.extend(csv_copies_load(&mut client, backup)?);
    Ok((problems, notes))
}

/// Every CSV copy of the backup (the critical tables' and the platform data's),
/// loaded into a scratch table of text columns and compared with the manifest's
/// rows and checksum: proves the files `restore --tables` reads restorable, whether
/// or not the database they came from is at hand. A value's text is what the CSV
/// holds, so the checksum of text columns is the checksum of the typed ones.
fn csv_copies_load(client: &mut Client, backup: &Backup) -> Result<Vec<String>, PgError> {
    let mut problems = Vec::new();
    let entries = backup
        .manifest
        .tables
        .iter()
        .chain(&backup.manifest.platform_tables);
    for t in entries {
        let (Some(file), Some(expected)) = (&t.file, &t.checksum) else {
            continue;
        };
        let path = backup.dir.join(file);
        let header = csv_header(&path)?;
        let columns = header
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let definition = header
            .iter()
            .map(|c| format!("{} text", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut tx = client
            .transaction()
            .map_err(|e| PgError::sql("starting a scratch load", &e))?;
        tx.batch_execute(&format!(
            "CREATE TEMPORARY TABLE safemig_csv_check ({definition}) ON COMMIT DROP"
        ))
        .map_err(|e| PgError::sql(&format!("making a scratch table for {file}"), &e))?;
        let (rows, checksum) = match load_csv(
            &mut tx,
            &path,
            "pg_temp",
            "safemig_csv_check",
            &columns,
            expected,
        ) {
            Ok(loaded) => loaded,
            Err(e) => {
                problems.push(format!("{file} does not load: {e}"));
                continue;
            }
        };
        if rows != t.rows || &checksum != expected {
            problems.push(format!(
                "{file} loads {rows} rows with checksum {checksum}; the manifest says {} rows of {}.{} with {expected}",
                t.rows, t.schema, t.name
            ));
        }
        tx.commit()
            .map_err(|e| PgError::sql("ending a scratch load", &e))?;
    }
    Ok(problems)
}

/// Every table of the manifest against a database the backup was restored into:
/// present, with its row count, and (with `checksums`) the critical tables' content.
pub fn compare_with_manifest(
    client: &mut Client,
    manifest: &Manifest,
    checksums: bool,
) -> Result<Vec<String>, PgError> {
    client
        .batch_execute(CANONICAL_TEXT)
        .map_err(|e| PgError::sql("setting up the comparison", &e))?;
    let mut problems = Vec::new();
    for t in &manifest.tables {
        // A table copied as CSV was counted as its copy: its own rows (`ONLY`).
        let copied = t.checksum.as_deref().is_some_and(csv_digest::is_csv_digest);
        let counted = match copied {
            true => count_own_rows(client, &t.schema, &t.name),
            false => count_rows(client, &t.schema, &t.name),
        };
        let rows = match counted {
            Ok(n) => n,
            Err(_) => {
                problems.push(format!(
                    "table {}.{} is missing after the restore",
                    t.schema, t.name
                ));
                continue;
            }
        };
        if rows != t.rows {
            problems.push(format!(
                "table {}.{}: {rows} rows restored, {} in the manifest",
                t.schema, t.name, t.rows
            ));
        }
        if let (true, Some(expected)) = (checksums, &t.checksum) {
            if &table_content(client, &t.schema, &t.name, expected)?.1 != expected {
                problems.push(format!(
                    "table {}.{}: content checksum differs from the manifest",
                    t.schema, t.name
                ));
            }
        }
    }
    Ok(problems)
}

/// `pg_restore` of the complete dump into `target`: schema and data must load
/// without error; the post-data section (indexes, constraints, triggers) is
/// restored too, and what cannot be (a foreign key to a schema the backup left
/// out, say `auth.users`) is reported as a note.
pub fn restore_dump(
    backup: &Backup,
    target: &Target,
    major: u32,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<String>, PgError> {
    let pg_restore = tools::find("pg_restore", major)?;
    let dump = backup.dir.join(&backup.manifest.dump);
    progress("pg_restore --section=pre-data --section=data");
    let mut command = tools::command(&pg_restore, target);
    command
        .args([
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--section=pre-data",
            "--section=data",
            "-j2",
            "-d",
        ])
        .arg(target.dbname())
        .arg(&dump);
    run_tool(command, "pg_restore (schema and data)")?;
    // Before the post-data section: the foreign keys into auth.users it adds then
    // find the users they point at.
    let mut notes = load_platform_data(backup, target, progress)?;
    progress("pg_restore --section=post-data");
    let list = post_data_list(&pg_restore, &dump, target)?;
    let mut command = tools::command(&pg_restore, target);
    command
        .args(["--no-owner", "--no-privileges", "--section=post-data", "-L"])
        .arg(list.path())
        .arg("-d")
        .arg(target.dbname())
        .arg(&dump);
    let output = command
        .output()
        .map_err(|e| PgError::Tool(format!("cannot run pg_restore: {e}")))?;
    if !output.status.success() {
        let errors: Vec<String> = String::from_utf8_lossy(&output.stderr)
            .lines()
            .filter(|l| l.contains("error:"))
            .map(|l| redact(l.trim()))
            .collect();
        notes.push(format!(
            "{} post-data object(s) (indexes, constraints, triggers) could not be restored outside the original \
             database, usually because they refer to schemas the backup leaves out: {}",
            errors.len(),
            errors.join("; ")
        ));
    }
    Ok(notes)
}

/// The archive's table of contents (`pg_restore -l`).
pub(crate) fn archive_toc(pg_restore: &tools::Tool, dump: &Path) -> Result<String, PgError> {
    let output = Command::new(&pg_restore.path)
        .arg("-l")
        .arg(dump)
        .output()
        .map_err(|e| PgError::Tool(format!("cannot run pg_restore -l: {e}")))?;
    if !output.status.success() {
        return Err(PgError::Tool(format!(
            "pg_restore -l {} failed: {}",
            dump.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The dump's table of contents for its post-data section, without the
/// publications the target already has: a Supabase project (or the stand-in)
/// comes with `supabase_realtime`, and the tables the backup adds to it still
/// restore (`PUBLICATION TABLE` entries stay).
fn post_data_list(
    pg_restore: &tools::Tool,
    dump: &Path,
    target: &Target,
) -> Result<tempfile::NamedTempFile, PgError> {
    let toc = archive_toc(pg_restore, dump)?;
    let existing: Vec<String> = target
        .connect()?
        .query("SELECT pubname FROM pg_catalog.pg_publication", &[])
        .map_err(|e| PgError::sql("listing the target's publications", &e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let list: String = toc
        .lines()
        .filter(|line| {
            let made_already = existing.iter().any(|name| {
                line.contains(&format!(" PUBLICATION - {name} "))
                    || line.ends_with(&format!(" PUBLICATION - {name}"))
            });
            !made_already
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let mut file = tempfile::NamedTempFile::new()
        .map_err(|e| PgError::Tool(format!("cannot make a temporary file: {e}")))?;
    std::io::Write::write_all(&mut file, list.as_bytes())
        .map_err(|e| PgError::Tool(format!("cannot write the restore list: {e}")))?;
    Ok(file)
}

/// Loads the backup's platform data (`auth`, `storage` rows) into the tables of
/// the same name in `target` (a new Supabase project, or the stand-in), in one
/// transaction with triggers off (a new-user trigger must not run again for a
/// restored user), each checked against the manifest before COMMIT. A table that
/// is missing, already holds rows, or lacks a column of the backup's is left
/// alone and named in a note: `restore --tables` can load it later.
fn load_platform_data(
    backup: &Backup,
    target: &Target,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<String>, PgError> {
    let mut notes = Vec::new();
    if backup.manifest.platform_tables.is_empty() {
        return Ok(notes);
    }
    let mut client = target.connect()?;
    let mut tx = client
        .transaction()
        .map_err(|e| PgError::sql("starting the platform data load", &e))?;
    tx.batch_execute(&format!(
        "{}; SET LOCAL session_replication_role = replica",
        CANONICAL_TEXT.replace("SET ", "SET LOCAL ")
    ))
    .map_err(|e| PgError::sql("preparing the platform data load (session_replication_role needs a superuser or the postgres role)", &e))?;
    let mut loaded = Vec::new();
    let mut empty = 0;
    for t in &backup.manifest.platform_tables {
        let Some(file) = &t.file else { continue };
        let path = backup.dir.join(file);
        let exists: bool = tx
            .query_one(
                "SELECT pg_catalog.to_regclass(pg_catalog.quote_ident($1) || '.' || pg_catalog.quote_ident($2)) IS NOT NULL",
                &[&t.schema, &t.name],
            )
            .map_err(|e| PgError::sql("looking for a platform table", &e))?
            .get(0);
        if !exists {
            notes.push(format!(
                "{}.{}: no such table here; its {} backed-up rows were not loaded",
                t.schema, t.name, t.rows
            ));
            continue;
        }
        let header = csv_header(&path)?;
        let current = copy_columns(&mut tx, &t.schema, &t.name)?;
        let missing: Vec<&String> = header.iter().filter(|c| !current.contains(c)).collect();
        if !missing.is_empty() {
            notes.push(format!(
                "{}.{}: this table has no column {}; its {} backed-up rows were not loaded",
                t.schema,
                t.name,
                list_or_none(&missing),
                t.rows
            ));
            continue;
        }
        let present = count_rows(&mut tx, &t.schema, &t.name)?;
        if present > 0 {
            notes.push(format!(
                "{}.{} already holds {present} rows: left as it is (`safemig restore --tables {}.{}` replaces them with the backup's {})",
                t.schema, t.name, t.schema, t.name, t.rows
            ));
            continue;
        }
        progress(&format!("loading {}.{} (platform data)", t.schema, t.name));
        let columns = header
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let like = t.checksum.as_deref().unwrap_or_default();
        let (rows, checksum) = load_csv(&mut tx, &path, &t.schema, &t.name, &columns, like)?;
        if rows != t.rows || Some(&checksum) != t.checksum.as_ref() {
            return Err(PgError::Tool(format!(
                "{}.{} after loading: {rows} rows and checksum {checksum}, the manifest says {} rows; nothing of the platform data was loaded",
                t.schema, t.name, t.rows
            )));
        }
        if rows > 0 {
            loaded.push(format!("{}.{} ({rows} rows)", t.schema, t.name));
        } else {
            empty += 1;
        }
    }
    tx.commit()
        .map_err(|e| PgError::sql("committing the platform data", &e))?;
    if !loaded.is_empty() || empty > 0 {
        if empty > 0 {
            loaded.push(format!("{empty} empty table(s)"));
        }
        notes.insert(0, format!("platform data loaded: {}", loaded.join(", ")));
    }
    Ok(notes)
}

/// Restores critical tables in place, each in one transaction with the others:
/// the current rows are kept aside in `safemig_backup`, the table is emptied
/// (foreign-key cascades and triggers off for this transaction), the backup's rows
/// are loaded, and the count and content checksum must match the manifest before
/// COMMIT.
/// What `restore --tables` did to one table.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub table: String,
    pub rows_before: i64,
    pub rows_after: i64,
    /// Where the rows it replaced are kept.
    pub kept_in: String,
    /// Tables the backup copies whose rows go with this table's (a foreign key
    /// `ON DELETE CASCADE` into it) and that were not restored with it: a user
    /// deleted since the backup took their profile and identities along.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cascades_not_restored: Vec<String>,
}

/// Restores critical tables in place, in one transaction, and commits only when
/// each table matches the manifest (row count and content checksum) and every
/// foreign key into and out of the restored tables still holds. Columns are
/// matched by name (a table whose columns were reordered since is restored
/// right); a table whose columns differ from the backup's is refused. A backup
/// of another database is refused unless `other_database` says it is meant.
pub fn restore_tables(
    backup: &Backup,
    client: &mut Client,
    tables: &[(String, String)],
    other_database: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Restored>, PgError> {
    let problems = quick_check(backup);
    if !problems.is_empty() {
        return Err(PgError::Tool(format!(
            "refusing to restore from a backup that fails verification: {}",
            problems.join("; ")
        )));
    }
    let (system, database) = identity(client)?;
    if !other_database
        && (system != backup.manifest.system_identifier || database != backup.manifest.database)
    {
        return Err(PgError::Tool(format!(
            "backup {} is of database {} on server {}, not of this one ({database} on server {system}); \
             nothing was changed\n  hint: restore a backup of this database, or pass --from-other-database if \
             replacing these tables with another database's rows is what you mean",
            backup.manifest.id, backup.manifest.database, backup.manifest.system_identifier
        )));
    }
    let mut wanted = Vec::new();
    for (schema, name) in tables {
        let entry = backup
            .manifest
            .tables
            .iter()
            .chain(&backup.manifest.platform_tables)
            .find(|t| &t.schema == schema && &t.name == name && t.file.is_some())
            .ok_or_else(|| {
                PgError::Tool(format!(
                    "{schema}.{name} is not a critical table of this backup (no content copy); the backup copies: {}",
                    copied_tables(&backup.manifest)
                ))
            })?;
        wanted.push(entry.clone());
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ").to_string();
    let mut tx = client
        .transaction()
        .map_err(|e| PgError::sql("starting the restore", &e))?;
    tx.batch_execute(&format!(
        "{}; SET LOCAL session_replication_role = replica; CREATE SCHEMA IF NOT EXISTS safemig_backup",
        CANONICAL_TEXT.replace("SET ", "SET LOCAL ")
    ))
        .map_err(|e| PgError::sql("preparing the restore (session_replication_role needs a superuser or the postgres role)", &e))?;
    let mut restored = Vec::new();
    let mut oids = Vec::new();
    for t in &wanted {
        let table = quote_qualified(&t.schema, &t.name);
        let file = backup.dir.join(t.file.as_deref().unwrap_or_default());
        let header = csv_header(&file)?;
        let current = copy_columns(&mut tx, &t.schema, &t.name)?;
        let missing: Vec<&String> = header.iter().filter(|c| !current.contains(c)).collect();
        let added: Vec<&String> = current.iter().filter(|c| !header.contains(c)).collect();
        if !missing.is_empty() || !added.is_empty() {
            return Err(PgError::Tool(format!(
                "{}.{}: its columns are not the backup's (in the backup only: {}; in the table only: {}); \
                 rolled back, nothing changed\n  hint: restore into a new database with `safemig restore DIR \
                 --into URL` and copy what you need from there",
                t.schema,
                t.name,
                list_or_none(&missing),
                list_or_none(&added)
            )));
        }
        let columns = header
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        // Two restores in the same millisecond (or a clock set back) must not collide.
        let mut aside =
            backup_table_name(&[&format!("before_restore_{stamp}"), &t.schema, &t.name]);
        for n in 2.. {
            let taken: bool = tx
                .query_one(
                    "SELECT pg_catalog.to_regclass(pg_catalog.quote_ident('safemig_backup') || '.' || pg_catalog.quote_ident($1)) IS NOT NULL",
                    &[&aside],
                )
                .map_err(|e| PgError::sql("naming the copy of the current rows", &e))?
                .get(0);
            if !taken {
                break;
            }
            aside =
                backup_table_name(&[&format!("before_restore_{stamp}_{n}"), &t.schema, &t.name]);
        }
        progress(&format!(
            "restoring {}.{} (current rows kept in safemig_backup.{aside})",
            t.schema, t.name
        ));
        tx.batch_execute(&format!(
            "CREATE TABLE safemig_backup.{} AS TABLE {table}; DELETE FROM {table}",
            quote_ident(&aside)
        ))
        .map_err(|e| {
            PgError::sql(
                &format!("keeping the current rows of {}.{} aside", t.schema, t.name),
                &e,
            )
        })?;
        let rows_before = count_rows(&mut tx, "safemig_backup", &aside)?;
        let like = t.checksum.as_deref().unwrap_or_default();
        let (rows, checksum) = load_csv(&mut tx, &file, &t.schema, &t.name, &columns, like)?;
        if rows != t.rows || Some(&checksum) != t.checksum.as_ref() {
            return Err(PgError::Tool(format!(
                "{}.{} after loading: {rows} rows and checksum {checksum}, the manifest says {} rows and {}; \
                 rolled back, nothing changed",
                t.schema,
                t.name,
                t.rows,
                t.checksum.clone().unwrap_or_default()
            )));
        }
        oids.push(format!("{table}"));
        restored.push(Restored {
            table: format!("{}.{}", t.schema, t.name),
            rows_before,
            rows_after: rows,
            kept_in: format!("safemig_backup.{aside}"),
            cascades_not_restored: Vec::new(),
        });
    }
    // session_replication_role = replica loaded the rows without checking foreign
    // keys: check every one into and out of the restored tables now.
    let broken = broken_foreign_keys(&mut tx, &oids)?;
    if !broken.is_empty() {
        return Err(PgError::Tool(format!(
            "the restored rows break foreign keys: {}; rolled back, nothing changed\n  hint: restore the \
             related tables together (--tables parent,child, if the backup holds both), or restore the whole \
             backup into a new database with --into",
            broken.join("; ")
        )));
    }
    let copied: Vec<String> = backup
        .manifest
        .tables
        .iter()
        .chain(&backup.manifest.platform_tables)
        .filter(|t| t.file.is_some())
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();
    for (r, oid) in restored.iter_mut().zip(&oids) {
        let rows = tx
            .query(
                "SELECT DISTINCT n.nspname::text || '.' || c.relname::text FROM pg_catalog.pg_constraint k \
                 JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE k.contype = 'f' AND k.confdeltype = 'c' AND k.confrelid = $1::pg_catalog.text::pg_catalog.regclass \
                   AND NOT k.conrelid = ANY($2::pg_catalog.text[]::pg_catalog.regclass[]::pg_catalog.oid[]) ORDER BY 1",
                &[oid, &oids],
            )
            .map_err(|e| PgError::sql("reading the tables that cascade from the restored ones", &e))?;
        r.cascades_not_restored = rows
            .iter()
            .map(|row| row.get::<_, String>(0))
            .filter(|name| copied.contains(name))
            .collect();
    }
    tx.commit()
        .map_err(|e| PgError::sql("committing the restore", &e))?;
    Ok(restored)
}

/// The tables a backup holds a content copy of, for messages.
fn copied_tables(manifest: &Manifest) -> String {
    let names: Vec<String> = manifest
        .tables
        .iter()
        .chain(&manifest.platform_tables)
        .filter(|t| t.file.is_some())
        .map(|t| format!("{}.{}", t.schema, t.name))
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn list_or_none(items: &[&String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The columns `COPY table TO` writes: all but generated ones, in table order.
fn copy_columns(
    client: &mut impl postgres::GenericClient,
    schema: &str,
    name: &str,
) -> Result<Vec<String>, PgError> {
    let rows = client
        .query(
            "SELECT a.attname::text FROM pg_catalog.pg_attribute a \
             WHERE a.attrelid = pg_catalog.to_regclass($1)::pg_catalog.oid AND a.attnum > 0 \
               AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum",
            &[&quote_qualified(schema, name)],
        )
        .map_err(|e| PgError::sql(&format!("reading the columns of {schema}.{name}"), &e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The column names of a CSV file's header line, as `COPY ... CSV HEADER` writes
/// them (a name with a comma, a quote or a line break is quoted, quotes doubled).
pub(crate) fn csv_header(path: &Path) -> Result<Vec<String>, PgError> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| io("cannot read", path, e))?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = String::new();
    let mut names = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    loop {
        line.clear();
        if reader
            .read_line(&mut line)
            .map_err(|e| io("cannot read", path, e))?
            == 0
        {
            break;
        }
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    current.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => names.push(std::mem::take(&mut current)),
                ('\n' | '\r', false) => {}
                (c, _) => current.push(c),
            }
        }
        if !quoted {
            break; // a line break inside quotes belongs to the name
        }
    }
    names.push(current);
    Ok(names)
}

/// Loads the CSV copy at `path` into `schema.name`, by the names of its header
/// (`columns`, a quoted list in the file's order), and returns the table's rows
/// and its content checksum over those columns, in that order, as the backup
/// took it.
///
/// The checksum is of the kind of `like` (the manifest's).
fn load_csv(
    tx: &mut postgres::Transaction<'_>,
    path: &Path,
    schema: &str,
    name: &str,
    columns: &str,
    like: &str,
) -> Result<(i64, String), PgError> {
    let mut input = std::fs::File::open(path).map_err(|e| io("cannot read", path, e))?;
    let mut writer = tx
        .copy_in(&format!(
            "COPY {} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER)",
            quote_qualified(schema, name)
        ))
        .map_err(|e| PgError::sql(&format!("loading {schema}.{name}"), &e))?;
    std::io::copy(&mut input, &mut writer).map_err(|e| io("cannot load", path, e))?;
    writer
        .finish()
        .map_err(|e| PgError::sql(&format!("loading {schema}.{name}"), &e))?;
    content_of_columns(tx, schema, name, columns, like)
}

/// The content checksum of `table` over `columns` (a quoted list), in that order.
/// Rows and content checksum of `table` over `columns` (a quoted list), in that
/// order, of the kind of `like`: a [`csv_digest`] (one read gives both; `ONLY`,
/// as the CSV copy holds the table's own rows, as `COPY table TO` writes them),
/// or format 1's count and server-side md5.
fn content_of_columns(
    client: &mut impl postgres::GenericClient,
    schema: &str,
    name: &str,
    columns: &str,
    like: &str,
) -> Result<(i64, String), PgError> {
    if csv_digest::is_csv_digest(like) {
        let copy = format!(
            "COPY (SELECT {columns} FROM ONLY {}) TO STDOUT WITH (FORMAT csv)",
            quote_qualified(schema, name)
        );
        return digest_copy(client, &copy, &format!("{schema}.{name}"));
    }
    let rows = count_rows(client, schema, name)?;
    let sql = format!(
        "SELECT coalesce(md5(string_agg(h, '' ORDER BY h)), md5('')) FROM (SELECT md5(ROW({columns})::text) AS h FROM {} t) rows",
        quote_qualified(schema, name)
    );
    client
        .query_one(&sql, &[])
        .map(|r| (rows, r.get(0)))
        .map_err(|e| PgError::sql(&format!("checksumming {schema}.{name}"), &e))
}

/// Foreign keys into or out of `tables` (quoted names) that some row breaks:
/// `constraint on child: N rows point at no row of parent`.
fn broken_foreign_keys(
    client: &mut impl postgres::GenericClient,
    tables: &[String],
) -> Result<Vec<String>, PgError> {
    let rows = client
        .query(
            "SELECT c.conname::text, \
                    (SELECT pg_catalog.format('%I.%I', n.nspname, r.relname) FROM pg_catalog.pg_class r \
                       JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace WHERE r.oid = c.conrelid), \
                    (SELECT pg_catalog.format('%I.%I', n.nspname, r.relname) FROM pg_catalog.pg_class r \
                       JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace WHERE r.oid = c.confrelid), \
                    (SELECT pg_catalog.array_agg(pg_catalog.quote_ident(a.attname) ORDER BY k.n) \
                       FROM pg_catalog.unnest(c.conkey) WITH ORDINALITY k(attnum, n) \
                       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum), \
                    (SELECT pg_catalog.array_agg(pg_catalog.quote_ident(a.attname) ORDER BY k.n) \
                       FROM pg_catalog.unnest(c.confkey) WITH ORDINALITY k(attnum, n) \
                       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) \
             FROM pg_catalog.pg_constraint c \
             WHERE c.contype = 'f' AND (c.conrelid = ANY($1::pg_catalog.text[]::pg_catalog.regclass[]::pg_catalog.oid[]) \
                                     OR c.confrelid = ANY($1::pg_catalog.text[]::pg_catalog.regclass[]::pg_catalog.oid[]))",
            &[&tables],
        )
        .map_err(|e| PgError::sql("reading the foreign keys of the restored tables", &e))?;
    let mut broken = Vec::new();
    for r in rows {
        let (name, child, parent): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let (from, to): (Vec<String>, Vec<String>) = (r.get(3), r.get(4));
        let not_null = from
            .iter()
            .map(|c| format!("ch.{c} IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let matches = from
            .iter()
            .zip(&to)
            .map(|(f, t)| format!("p.{t} = ch.{f}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        let orphans: i64 = client
            .query_one(
                &format!(
                    "SELECT pg_catalog.count(*) FROM {child} ch WHERE {not_null} \
                     AND NOT EXISTS (SELECT FROM {parent} p WHERE {matches})"
                ),
                &[],
            )
            .map_err(|e| PgError::sql(&format!("checking foreign key {name}"), &e))?
            .get(0);
        if orphans > 0 {
            broken.push(format!(
                "{name} on {child}: {orphans} row{} at no row of {parent}",
                if orphans == 1 { " points" } else { "s point" }
            ));
        }
    }
    Ok(broken)
}

/// The tables of `tables` that do not exist in `client`'s database, as `schema.table`.
pub fn missing_tables(
    client: &mut Client,
    tables: &[(String, String)],
) -> Result<Vec<String>, PgError> {
    let mut out = Vec::new();
    for (schema, name) in tables {
        let exists: bool = client
            .query_one(
                "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
                &[&quote_qualified(schema, name)],
            )
            .map_err(|e| PgError::sql("looking up the critical tables", &e))?
            .get(0);
        if !exists {
            out.push(format!("{schema}.{name}"));
        }
    }
    Ok(out)
}

/// Is `client`'s database empty of user tables (outside the excluded schemas)?
pub fn user_table_count(client: &mut Client) -> Result<usize, PgError> {
    Ok(user_tables(
        client,
        &SUPABASE_MANAGED
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    )?
    .len())
}

/// The newest backup under `root` of this database (same system identifier and
/// name) that passed verification, was taken with exactly the migrations now
/// applied, is younger than `max_age`, and whose files still match their checksums.
pub fn usable(
    root: &Path,
    system_identifier: &str,
    database: &str,
    applied: &[String],
    max_age: std::time::Duration,
    writes_now: Option<String>,
) -> Option<Backup> {
    let now = chrono::Utc::now();
    list(root).into_iter().rev().find(|b| {
        b.verified()
            && b.manifest.system_identifier == system_identifier
            && b.manifest.database == database
            && b.manifest.applied_migrations == applied
            && (now - b.manifest.finished_at)
                .to_std()
                .is_ok_and(|age| age <= max_age)
            // Rows written since would be in no backup when a migration changes them.
            && b.manifest.writes.is_some()
            && b.manifest.writes == writes_now
            && quick_check(b).is_empty()
    })
}

/// A fingerprint of the writes to the tables the guards protect: table by table,
/// rows inserted, updated and deleted since the statistics were last reset, and
/// the table's storage (a `TRUNCATE` or a rewrite changes it). safemig's own
/// tables, the history and the schemas Supabase manages (logins write `auth` all
/// the time) are left out. PostgreSQL publishes a session's counts within about a
/// second of its commit.
pub fn write_counter(client: &mut impl postgres::GenericClient) -> Result<String, PgError> {
    let mut excluded: Vec<&str> = crate::catalog::UNPROTECTED_SCHEMAS.to_vec();
    excluded.extend(["pg_catalog", "safemig_backup"]);
    client
        .query_one(
            "SELECT pg_catalog.md5(coalesce(pg_catalog.string_agg(s.relid::text || ':' || s.n_tup_ins || ':' || s.n_tup_upd \
                    || ':' || s.n_tup_del || ':' || coalesce(pg_catalog.pg_relation_filenode(s.relid)::text, '-'), ',' \
                    ORDER BY s.relid), '')) \
             FROM pg_catalog.pg_stat_all_tables s \
             WHERE s.schemaname <> ALL($1) AND s.schemaname NOT LIKE 'pg\\_%'",
            &[&excluded],
        )
        .map(|r| r.get(0))
        .map_err(|e| PgError::sql("reading the write statistics", &e))
}

/// How old a backup is, for messages: `12 min`, `3 h`.
pub fn age(backup: &Backup) -> String {
    let seconds = (chrono::Utc::now() - backup.manifest.finished_at)
        .num_seconds()
        .max(0);
    match seconds {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

/// The versions in `supabase_migrations.schema_migrations`, in order (none when it does not exist).
pub fn applied_versions(client: &mut Client) -> Result<Vec<String>, PgError> {
    versions_in(client)
}

/// The versions, read as text: a history table edited by hand (a `bigint`
/// version) is read, not a crash; an unreadable one is an error, never "none".
fn versions_in(client: &mut impl postgres::GenericClient) -> Result<Vec<String>, PgError> {
    if !crate::history::relation_exists(client, "supabase_migrations.schema_migrations")? {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "SELECT version::text FROM supabase_migrations.schema_migrations ORDER BY version",
            &[],
        )
        .map_err(|e| PgError::sql("reading supabase_migrations.schema_migrations", &e))?;
    rows.iter()
        .map(|r| {
            r.try_get::<_, Option<String>>(0)
                .map(Option::unwrap_or_default)
                .map_err(|e| {
                    PgError::Tool(format!(
                        "reading supabase_migrations.schema_migrations: {e}"
                    ))
                })
        })
        .collect()
}

/// This database's identity, to match backups with it.
pub fn identity(client: &mut Client) -> Result<(String, String), PgError> {
    let row = client
        .query_one("SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database()::text", &[])
        .map_err(|e| PgError::sql("reading the server's identity", &e))?;
    Ok((row.get(0), row.get(1)))
}

/// Table names from `schema.table,...`.
pub fn parse_tables(list: &str) -> Result<Vec<(String, String)>, PgError> {
    list.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            safemig_project::config::split_table_name(t).ok_or_else(|| {
                PgError::BadTarget(format!(
                    "`{t}` is not a table name of the form schema.table"
                ))
            })
        })
        .collect()
}

/// Sizes for people.
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

/// A table in `safemig_backup`: rows a `restore --tables` replaced, or an
/// in-database copy `backup create --in-db-copy` made.
#[derive(Debug, Clone, Serialize)]
pub struct Aside {
    pub table: String,
    pub kind: &'static str,
    /// When it was made, read from its name (both kinds start with a UTC time).
    pub made_at: Option<chrono::DateTime<chrono::Utc>>,
    pub bytes: i64,
}

/// Every table in `safemig_backup`, oldest first.
pub fn aside_tables(client: &mut impl postgres::GenericClient) -> Result<Vec<Aside>, PgError> {
    let rows = client
        .query(
            "SELECT c.relname::text, pg_catalog.pg_total_relation_size(c.oid)::int8 FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'safemig_backup' AND c.relkind IN ('r', 'p') ORDER BY 1",
            &[],
        )
        .map_err(|e| PgError::sql("listing the tables in safemig_backup", &e))?;
    let mut out: Vec<Aside> = rows
        .iter()
        .map(|r| {
            let name: String = r.get(0);
            let (kind, stamp) = match name.strip_prefix("before_restore_") {
                Some(rest) => ("rows a restore replaced", rest),
                None => ("in-database copy of a backup", name.as_str()),
            };
            let made_at = stamp
                .get(..15)
                .and_then(|s| {
                    chrono::NaiveDateTime::parse_from_str(&s.to_uppercase(), "%Y%m%dT%H%M%S").ok()
                })
                .map(|t| t.and_utc());
            Aside {
                table: format!("safemig_backup.{}", quote_ident(&name)),
                kind,
                made_at,
                bytes: r.get(1),
            }
        })
        .collect();
    out.sort_by_key(|a| a.made_at);
    Ok(out)
}

/// Drops, in one transaction, the tables in `safemig_backup` made more than
/// `older_than` ago; a table whose age cannot be read from its name is kept.
pub fn drop_aside(
    client: &mut Client,
    older_than: chrono::Duration,
) -> Result<(Vec<Aside>, Vec<Aside>), PgError> {
    let mut tx = client
        .transaction()
        .map_err(|e| PgError::sql("starting the drop", &e))?;
    let now = chrono::Utc::now();
    let (dropped, kept): (Vec<Aside>, Vec<Aside>) = aside_tables(&mut tx)?
        .into_iter()
        .partition(|a| a.made_at.is_some_and(|t| now - t > older_than));
    for a in &dropped {
        tx.batch_execute(&format!("DROP TABLE {}", a.table))
            .map_err(|e| PgError::sql(&format!("dropping {}", a.table), &e))?;
    }
    tx.commit()
        .map_err(|e| PgError::sql("committing the drop", &e))?;
    Ok((dropped, kept))
}
