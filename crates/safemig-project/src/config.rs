//! `safemig.toml`: optional. With no file, every table outside the system and
//! Supabase-managed schemas is protected and the defaults below apply.
//!
//! ```toml
//! migrations_dir = "supabase/migrations"
//!
//! [migrate]
//! lock_timeout = "5s"          # how long one statement may wait for a lock
//! lock_retries = 3             # retries of a migration after a lock timeout
//! statement_timeout = "0"      # 0 = no limit
//! advisory_lock_wait = "60s"   # how long a second `migrate` waits for the first
//!
//! [guard]
//! protect = ["auth.users"]     # protect tables in schemas that are not protected by default
//! unprotect = ["public.scratch"]
//! exact_counts = ["public.library_tracks"]
//!
//! [guard.min_rows]
//! "public.library_tracks" = 59
//!
//! [check]
//! ignore = ["prefer-bigint"]   # rules turned off
//! exposed_schemas = ["public"] # table-without-rls looks here
//! externals = ["app_private"]  # objects or schemas that exist outside the migrations
//! allow_risky = ["20250902000000"]  # reviewed: migrate may apply it although check says risky
//!
//! [verify]                     # what `safemig verify` requires
//! tests_dir = "supabase/tests"  # SQL tests, each run in a transaction that is rolled back
//! functions = ["public.handle_new_user()"]
//! triggers = ["on_auth_user_created ON auth.users"]
//! tables = ["public.users"]
//! columns = ["public.library_tracks.r2_key"]
//! policies = ["Users can view own data ON public.users"]
//! extensions = ["pgcrypto"]
//!
//! [check.severity]
//! index-without-concurrently = "risky"
//!
//! [[allow]]                     # a migration that is meant to lose data
//! migration = "20250901000000"
//! table = "public.sessions"
//! loss = ["rows"]              # rows | columns | table | values | durability | exposure
//! reason = "expired sessions are purged"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::ProjectError;

pub const CONFIG_FILE: &str = "safemig.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Migrations folder, relative to the config file.
    pub migrations_dir: Option<PathBuf>,
    #[serde(default)]
    pub migrate: MigrateConfig,
    #[serde(default)]
    pub guard: GuardConfig,
    #[serde(default)]
    pub allow: Vec<Allowance>,
    #[serde(default)]
    pub check: CheckConfig,
    #[serde(default)]
    pub backup: BackupConfig,
    #[serde(default)]
    pub verify: VerifyConfig,
    /// Where the config was read from; `None` when defaults are in use.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Without a config file: the project root a `--dir .../supabase/migrations` names.
    #[serde(skip)]
    pub root: Option<PathBuf>,
}

/// `[verify]`: what `safemig verify` requires of the database.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyConfig {
    /// SQL tests, relative to the config file (default: supabase/tests).
    pub tests_dir: Option<PathBuf>,
    /// Functions with their argument types: `public.handle_new_user()`.
    pub functions: Vec<String>,
    /// Triggers, enabled: `on_auth_user_created ON auth.users`.
    pub triggers: Vec<String>,
    pub tables: Vec<String>,
    /// `schema.table.column`.
    pub columns: Vec<String>,
    /// `policy name ON schema.table`.
    pub policies: Vec<String>,
    pub extensions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MigrateConfig {
    #[serde(with = "duration_text")]
    pub lock_timeout: Duration,
    pub lock_retries: u32,
    #[serde(with = "duration_text")]
    pub statement_timeout: Duration,
    #[serde(with = "duration_text")]
    pub advisory_lock_wait: Duration,
}

impl Default for MigrateConfig {
    fn default() -> Self {
        MigrateConfig {
            lock_timeout: Duration::from_secs(5),
            lock_retries: 3,
            statement_timeout: Duration::ZERO,
            advisory_lock_wait: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Extra tables (`schema.table`) to protect, e.g. in `auth`.
    pub protect: Vec<String>,
    /// Tables (`schema.table`) not to protect.
    pub unprotect: Vec<String>,
    /// Tables whose rows are counted exactly before and after each migration.
    pub exact_counts: Vec<String>,
    /// `schema.table` = the fewest rows it may hold after any migration (counted exactly).
    pub min_rows: BTreeMap<String, u64>,
}

/// `[backup]`: where backups go and what `migrate --backup auto` accepts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Folder of backups, relative to the working directory.
    pub dir: PathBuf,
    /// A verified backup younger than this, made after the newest applied migration, spares `migrate` a new one.
    #[serde(with = "duration_text")]
    pub max_age: Duration,
    /// Critical tables (`schema.table`), copied as CSV with content checksums; empty = every protected table with data.
    pub critical: Vec<String>,
    /// Upper bound, in MiB, of the critical tables chosen by default (biggest are left to the dump).
    pub critical_limit_mib: u64,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            dir: PathBuf::from(".safemig/backups"),
            max_age: Duration::from_secs(24 * 3600),
            critical: Vec::new(),
            critical_limit_mib: 256,
        }
    }
}

/// `[check]`: how `safemig check` (and `migrate`'s check) read the migrations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckConfig {
    /// Rules turned off everywhere.
    pub ignore: Vec<String>,
    /// Rules given another severity: `rule = "hint" | "review" | "risky"`.
    pub severity: BTreeMap<String, String>,
    /// Schemas the Supabase API exposes (`table-without-rls` looks there).
    pub exposed_schemas: Vec<String>,
    /// Objects (`schema.name`) or whole schemas that exist outside the migrations.
    pub externals: Vec<String>,
    /// Migrations (version or file name) that `migrate` applies although `check`
    /// classes them risky: the risk was reviewed.
    pub allow_risky: Vec<String>,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            ignore: Vec::new(),
            severity: BTreeMap::new(),
            exposed_schemas: vec!["public".into()],
            externals: Vec::new(),
            allow_risky: Vec::new(),
        }
    }
}

/// What a migration is allowed to lose.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Allowance {
    /// The migration's version (or its file name).
    pub migration: String,
    /// `schema.table`, or `*` for every table.
    pub table: String,
    pub loss: Vec<LossKind>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Rows that existed when the migration began, deleted or emptied.
    Rows,
    /// Columns that held a value, dropped.
    Columns,
    /// A table that held rows, dropped.
    Table,
    /// Values overwritten: non-null values turned NULL, or changed by a lossy type change.
    Values,
    /// The table made `UNLOGGED`: its rows vanish at the next crash.
    Durability,
    /// Rows newly readable with Supabase's public anon key: row level security
    /// turned off, or SELECT granted to `anon`, on a table in an exposed schema.
    Exposure,
    /// A history table (`supabase_migrations`, `safemig`) written by the migration itself.
    /// Never allowable; listed so the name is stable in JSON.
    History,
}

impl std::fmt::Display for LossKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LossKind::Rows => "rows",
            LossKind::Columns => "columns",
            LossKind::Table => "table",
            LossKind::Values => "values",
            LossKind::Durability => "durability",
            LossKind::Exposure => "exposure",
            LossKind::History => "history",
        })
    }
}

impl Config {
    /// Reads `path`. A syntax error, unknown key or wrong type names the file and the key.
    pub fn load(path: &Path) -> Result<Config, ProjectError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProjectError::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ProjectError::Config {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.validate(path)?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// `explicit` if given (must exist); else, with a migrations folder given
    /// (`--dir`), the `safemig.toml` of the project that folder is in (looked for
    /// from the folder upwards, up to the top of its git work tree); else
    /// `./safemig.toml` if present; else defaults. Without a config file, a
    /// Supabase layout's `--dir .../supabase/migrations` still names the project
    /// root, so `.safemig/` and `supabase/tests` are found there and not in the
    /// working directory.
    pub fn discover(explicit: Option<&Path>, dir: Option<&Path>) -> Result<Config, ProjectError> {
        if let Some(path) = explicit {
            return Config::load(path);
        }
        if let Some(found) = dir.and_then(config_above) {
            return Config::load(&found);
        }
        if Path::new(CONFIG_FILE).is_file() {
            return Config::load(Path::new(CONFIG_FILE));
        }
        Ok(Config {
            root: dir.and_then(supabase_root),
            ..Config::default()
        })
    }

    /// The folder relative paths of the project are taken from: the config file's,
    /// else the project root `--dir` named, else the working directory.
    pub fn base(&self) -> PathBuf {
        match (&self.source, &self.root) {
            (Some(source), _) => source.parent().unwrap_or(Path::new("")).to_path_buf(),
            (None, Some(root)) => root.clone(),
            // Empty, so that relative paths stay as written in messages.
            (None, None) => PathBuf::new(),
        }
    }

    fn validate(&self, path: &Path) -> Result<(), ProjectError> {
        let bad = |message: String| ProjectError::Config {
            path: path.to_path_buf(),
            message,
        };
        let tables = self
            .guard
            .protect
            .iter()
            .chain(&self.guard.unprotect)
            .chain(&self.guard.exact_counts)
            .chain(&self.backup.critical)
            .chain(self.guard.min_rows.keys());
        for table in tables {
            if split_table_name(table).is_none() {
                return Err(bad(format!(
                    "`{table}` is not a table name of the form schema.table (quote a part with \" if it contains a dot)"
                )));
            }
        }
        for (rule, severity) in &self.check.severity {
            if !matches!(severity.as_str(), "hint" | "review" | "risky") {
                return Err(bad(format!(
                    "[check.severity] {rule} = \"{severity}\": the severity must be \"hint\", \"review\" or \"risky\""
                )));
            }
        }
        for allow in &self.allow {
            if allow.table != "*" && split_table_name(&allow.table).is_none() {
                return Err(bad(format!(
                    "[[allow]] table `{}` is not of the form schema.table or *",
                    allow.table
                )));
            }
            if allow.loss.is_empty() {
                return Err(bad(format!(
                    "[[allow]] for migration {} names no loss; use loss = [\"rows\"], [\"columns\"], [\"table\"], [\"values\"], [\"durability\"] or [\"exposure\"]",
                    allow.migration
                )));
            }
        }
        Ok(())
    }

    /// The migrations folder: `--dir`, else the config's (relative to the config file),
    /// else `supabase/migrations`.
    pub fn migrations_dir(&self, cli_dir: Option<&Path>) -> PathBuf {
        if let Some(dir) = cli_dir {
            return dir.to_path_buf();
        }
        match &self.migrations_dir {
            Some(dir) if dir.is_relative() => self.base().join(dir),
            Some(dir) => dir.clone(),
            None => self.base().join("supabase/migrations"),
        }
    }

    /// The folder of backups: `[backup] dir`, relative to the config file when there
    /// is one (like `migrations_dir`), else to the working directory.
    pub fn backup_dir(&self) -> PathBuf {
        if self.backup.dir.is_relative() {
            self.base().join(&self.backup.dir)
        } else {
            self.backup.dir.clone()
        }
    }

    /// The SQL tests folder of `safemig verify`: [verify] tests_dir (relative to the
    /// config file), else supabase/tests.
    pub fn tests_dir(&self) -> PathBuf {
        let dir = self
            .verify
            .tests_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("supabase/tests"));
        if dir.is_relative() {
            self.base().join(dir)
        } else {
            dir
        }
    }

    /// Names in the config that match no migration file: an `[[allow]]` or a
    /// `[check] allow_risky` entry whose version was mistyped covers nothing, and
    /// the migration it was meant for is refused or rolled back.
    pub fn unmatched_migrations(&self, set: &crate::MigrationSet) -> Vec<String> {
        let known = |name: &str| {
            set.migrations
                .iter()
                .any(|m| m.version == name || m.file_name() == name)
        };
        let mut out = Vec::new();
        for allow in &self.allow {
            if !known(&allow.migration) {
                out.push(format!(
                    "[[allow]] migration = \"{}\" names no migration file in {}: it covers nothing",
                    allow.migration,
                    set.dir.display()
                ));
            }
        }
        for name in &self.check.allow_risky {
            if !known(name) {
                out.push(format!(
                    "[check] allow_risky names \"{name}\", which no migration file in {} is",
                    set.dir.display()
                ));
            }
        }
        out
    }

    /// The tables the config names, with the setting that names them, for
    /// checking against a database.
    pub fn named_tables(&self) -> Vec<(&'static str, &str)> {
        let mut out: Vec<(&'static str, &str)> = Vec::new();
        out.extend(
            self.backup
                .critical
                .iter()
                .map(|t| ("[backup] critical", t.as_str())),
        );
        out.extend(
            self.guard
                .protect
                .iter()
                .map(|t| ("[guard] protect", t.as_str())),
        );
        out.extend(
            self.guard
                .exact_counts
                .iter()
                .map(|t| ("[guard] exact_counts", t.as_str())),
        );
        out.extend(
            self.guard
                .min_rows
                .keys()
                .map(|t| ("[guard.min_rows]", t.as_str())),
        );
        out
    }

    /// Whether `migrate` may apply this migration although `check` classes it risky.
    pub fn risky_allowed(&self, version: &str, file_name: &str) -> bool {
        self.check
            .allow_risky
            .iter()
            .any(|m| m == version || m == file_name)
            || self
                .allow
                .iter()
                .any(|a| a.migration == version || a.migration == file_name)
    }

    /// The allowances that cover `table` (schema.table) in migration `version`.
    pub fn allowed_losses(&self, version: &str, file_name: &str, table: &str) -> Vec<LossKind> {
        self.allow
            .iter()
            .filter(|a| a.migration == version || a.migration == file_name)
            .filter(|a| a.table == "*" || same_table(&a.table, table))
            .flat_map(|a| a.loss.iter().copied())
            .collect()
    }
}

/// The `safemig.toml` in `dir` or a folder above it, looking no higher than the
/// top of the git work tree `dir` is in (a config of an unrelated project further
/// up is never picked up).
fn config_above(dir: &Path) -> Option<PathBuf> {
    let start = std::fs::canonicalize(dir).ok()?;
    for folder in start.ancestors() {
        let candidate = folder.join(CONFIG_FILE);
        if candidate.is_file() {
            return Some(candidate);
        }
        if folder.join(".git").exists() {
            return None;
        }
    }
    None
}

/// The project root of a Supabase layout: `ROOT/supabase/migrations` → `ROOT`.
fn supabase_root(dir: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let supabase = dir.parent()?;
    (dir.file_name()? == "migrations" && supabase.file_name()? == "supabase")
        .then(|| supabase.parent().map(Path::to_path_buf))
        .flatten()
}

/// Splits `schema.table`, honouring double quotes: `"my.schema"."a ""b"""`.
pub fn split_table_name(name: &str) -> Option<(String, String)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = name.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '.' if !quoted => {
                parts.push((std::mem::take(&mut current), was_quoted));
                was_quoted = false;
            }
            c => current.push(c),
        }
    }
    if quoted {
        return None;
    }
    parts.push((current, was_quoted));
    if parts.len() != 2 || parts.iter().any(|(p, _)| p.is_empty()) {
        return None;
    }
    // Unquoted identifiers fold to lower case, as in PostgreSQL.
    let fold = |(p, q): &(String, bool)| if *q { p.clone() } else { p.to_lowercase() };
    Some((fold(&parts[0]), fold(&parts[1])))
}

fn same_table(config_name: &str, table: &str) -> bool {
    match (split_table_name(config_name), split_table_name(table)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }

    #[allow(dead_code)]
    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", value.as_millis()))
    }
}

/// `"5s"`, `"500ms"`, `"2min"`, `"0"`: the forms PostgreSQL's own timeout settings take.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write e.g. \"5s\", \"500ms\" or \"2min\"")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("safemig.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_without_a_file() {
        let config = Config::default();
        assert_eq!(config.migrate.lock_timeout, Duration::from_secs(5));
        assert_eq!(
            config.migrations_dir(None),
            PathBuf::from("supabase/migrations")
        );
    }

    #[test]
    fn reads_guards_and_allowances() {
        let config = parse(
            "[migrate]\nlock_timeout = \"2s\"\n[guard.min_rows]\n\"public.library_tracks\" = 59\n\
             [[allow]]\nmigration = \"2\"\ntable = \"public.t\"\nloss = [\"rows\"]\n",
        )
        .unwrap();
        assert_eq!(config.migrate.lock_timeout, Duration::from_secs(2));
        assert_eq!(config.guard.min_rows["public.library_tracks"], 59);
        assert_eq!(
            config.allowed_losses("2", "2_x.sql", "public.t"),
            vec![LossKind::Rows]
        );
        assert!(config.allowed_losses("3", "3_x.sql", "public.t").is_empty());
        assert!(config.allowed_losses("2", "2_x.sql", "public.u").is_empty());
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_errors_naming_the_key() {
        let err = parse("[guard]\nprotekt = []\n").unwrap_err();
        assert!(err.contains("protekt"), "{err}");
        let err = parse("[migrate]\nlock_retries = \"three\"\n").unwrap_err();
        assert!(err.contains("lock_retries"), "{err}");
        let err = parse("[migrate]\nlock_timeout = \"soon\"\n").unwrap_err();
        assert!(err.contains("soon"), "{err}");
        let err = parse("[guard.min_rows]\nlibrary_tracks = 59\n").unwrap_err();
        assert!(err.contains("schema.table"), "{err}");
    }

    #[test]
    fn table_names_with_quotes_dots_and_unicode() {
        assert_eq!(
            split_table_name("Public.Tracks"),
            Some(("public".into(), "tracks".into()))
        );
        assert_eq!(
            split_table_name("\"my.schema\".\"a \"\"b\"\"\""),
            Some(("my.schema".into(), "a \"b\"".into()))
        );
        assert_eq!(
            split_table_name("public.\"Ünïcode table\""),
            Some(("public".into(), "Ünïcode table".into()))
        );
        assert_eq!(split_table_name("a.b.c"), None);
        assert_eq!(split_table_name("nodot"), None);
        assert_eq!(split_table_name("\"open.quote"), None);
    }
}
