//! The migrations folder: which files are migrations, in which order, with which checksum.
//!
//! Names follow the Supabase CLI: `^([0-9]+)_(.*)\.sql$`, group 1 the version,
//! group 2 the name. Versions are compared as the CLI compares them: as text
//! (the CLI sorts file names and history rows with `ORDER BY version`, a text column).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::ProjectError;

/// One migration file.
#[derive(Debug, Clone)]
pub struct MigrationFile {
    pub version: String,
    pub name: String,
    pub path: PathBuf,
    /// The file's text. Migration files must be UTF-8, as PostgreSQL's client encoding is.
    pub sql: String,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub checksum: String,
}

impl MigrationFile {
    /// `<version>_<name>.sql`
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// A file in the migrations folder that is not a migration, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IgnoredFile {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct MigrationSet {
    pub dir: PathBuf,
    pub migrations: Vec<MigrationFile>,
    pub ignored: Vec<IgnoredFile>,
}

impl MigrationSet {
    pub fn get(&self, version: &str) -> Option<&MigrationFile> {
        self.migrations.iter().find(|m| m.version == version)
    }

    /// Whether this is a Supabase project's folder: a `config.toml` of the
    /// Supabase CLI beside it, or migrations that use Supabase's `auth` or
    /// `storage` schemas. Its replays then start from the Supabase stand-in,
    /// whatever the target database holds, as `supabase db reset` would.
    pub fn is_supabase_project(&self) -> bool {
        self.supabase_config().is_some()
            || self
                .migrations
                .iter()
                .any(|m| mentions_platform_schema(&m.sql))
    }

    /// The Supabase CLI's `config.toml` of this folder (`supabase/config.toml` for
    /// `supabase/migrations`), if there is one.
    pub fn supabase_config(&self) -> Option<PathBuf> {
        let config = self.dir.parent()?.join("config.toml");
        config.is_file().then_some(config)
    }

    /// The PostgreSQL major that the Supabase CLI's `config.toml` names
    /// (`[db] major_version`), which a new project of this folder runs.
    pub fn supabase_major_version(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.supabase_config()?).ok()?;
        let value: toml::Value = toml::from_str(&text).ok()?;
        let major = value.get("db")?.get("major_version")?.as_integer()?;
        u32::try_from(major).ok()
    }
}

/// `auth.` or `storage.` used as a schema (`auth.users`, `"auth"."uid"()`,
/// `storage.objects`): a plain reading of the text, since only a Supabase
/// project has these schemas to refer to.
fn mentions_platform_schema(sql: &str) -> bool {
    // Line comments and quoted strings say nothing about the schema: a URL such
    // as 'https://auth.example.com' is not a use of `auth`.
    let mut code = String::with_capacity(sql.len());
    let mut in_string = false;
    for line in sql.lines() {
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if in_string {
                if c == '\'' {
                    in_string = false;
                }
                continue;
            }
            match c {
                '\'' => in_string = true,
                '-' if chars.peek() == Some(&'-') => break,
                _ => code.push(c),
            }
        }
        code.push('\n');
    }
    let lower = code.to_ascii_lowercase();
    ["auth.", "\"auth\".", "storage.", "\"storage\"."]
        .iter()
        .any(|needle| {
            lower.match_indices(needle).any(|(at, _)| {
                at == 0
                    || !lower.as_bytes()[at - 1].is_ascii_alphanumeric()
                        && lower.as_bytes()[at - 1] != b'_'
            })
        })
}

/// Splits a file name into (version, name) the way the Supabase CLI does.
pub fn parse_file_name(file_name: &str) -> Option<(String, String)> {
    let stem = file_name.strip_suffix(".sql")?;
    let (version, name) = stem.split_once('_')?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((version.to_string(), name.to_string()))
}

/// Reads the migrations folder. A missing folder, unreadable or non-UTF-8 file, or
/// two files with one version are errors that name the files involved.
pub fn load(dir: &Path) -> Result<MigrationSet, ProjectError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ProjectError::MigrationsDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut set = MigrationSet {
        dir: dir.to_path_buf(),
        ..Default::default()
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ProjectError::MigrationsDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        paths.push(entry.path());
    }
    paths.sort();
    for path in paths {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            set.ignored.push(IgnoredFile {
                path,
                reason: "a folder; migrations are files directly in the migrations folder".into(),
            });
            continue;
        }
        let Some((version, name)) = parse_file_name(&file_name) else {
            let reason = if file_name.ends_with(".sql") {
                "the name does not match <digits>_<name>.sql, so it is not a migration (the Supabase CLI skips it too)"
            } else {
                "not a .sql file"
            };
            set.ignored.push(IgnoredFile {
                path,
                reason: reason.into(),
            });
            continue;
        };
        let size = std::fs::metadata(&path)
            .map_err(|source| ProjectError::ReadFile {
                path: path.clone(),
                source,
            })?
            .len();
        let limit_mib = max_migration_mib();
        if size > limit_mib.saturating_mul(1024 * 1024) {
            return Err(ProjectError::TooLarge {
                path,
                size_mib: size.div_ceil(1024 * 1024),
                limit_mib,
            });
        }
        let bytes = std::fs::read(&path).map_err(|source| ProjectError::ReadFile {
            path: path.clone(),
            source,
        })?;
        let checksum = hex::encode(Sha256::digest(&bytes));
        let sql = String::from_utf8(bytes).map_err(|e| ProjectError::NotUtf8 {
            path: path.clone(),
            offset: e.utf8_error().valid_up_to(),
        })?;
        set.migrations.push(MigrationFile {
            version,
            name,
            path,
            sql,
            checksum,
        });
    }
    set.migrations
        .sort_by(|a, b| a.version.cmp(&b.version).then(a.path.cmp(&b.path)));
    for pair in set.migrations.windows(2) {
        if pair[0].version == pair[1].version {
            return Err(ProjectError::DuplicateVersion {
                version: pair[0].version.clone(),
                first: pair[0].path.clone(),
                second: pair[1].path.clone(),
            });
        }
    }
    Ok(set)
}

/// The largest migration file safemig reads, in MiB: `SAFEMIG_MAX_MIGRATION_MB`, else 16.
/// Parsing a file costs about 100 times its size in memory: a 100 MB file would need ~10 GB.
pub fn max_migration_mib() -> u64 {
    std::env::var("SAFEMIG_MAX_MIGRATION_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &u64| n > 0)
        .unwrap_or(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supabase_project_is_known_by_its_config_or_its_use_of_auth_and_storage() {
        assert!(mentions_platform_schema(
            "create trigger t after insert on auth.users ..."
        ));
        assert!(mentions_platform_schema(
            "using ((select auth.uid()) = user_id)"
        ));
        assert!(mentions_platform_schema(
            "insert into \"storage\".\"buckets\" values ('a')"
        ));
        assert!(!mentions_platform_schema(
            "create table oauth.tokens (id int); select myauth.x;"
        ));
        assert!(!mentions_platform_schema("create table public.t (id int)"));
        assert!(!mentions_platform_schema(
            "-- see storage.objects\ninsert into public.c values ('https://auth.example.com/cb');"
        ));

        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("supabase/migrations");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("1_a.sql"), "create table public.t (id int);").unwrap();
        let set = load(&dir).unwrap();
        assert!(!set.is_supabase_project());
        assert_eq!(set.supabase_major_version(), None);
        std::fs::write(
            root.path().join("supabase/config.toml"),
            "project_id = \"x\"\n[db]\nport = 54322\nmajor_version = 17\n",
        )
        .unwrap();
        assert!(set.is_supabase_project());
        assert_eq!(set.supabase_major_version(), Some(17));
    }

    #[test]
    fn file_names_follow_the_supabase_cli() {
        assert_eq!(
            parse_file_name("20250101000000_add_trigger.sql"),
            Some(("20250101000000".into(), "add_trigger".into()))
        );
        assert_eq!(parse_file_name("1_.sql"), Some(("1".into(), "".into())));
        assert_eq!(
            parse_file_name("1_a_b.sql"),
            Some(("1".into(), "a_b".into()))
        );
        assert_eq!(parse_file_name("v1_a.sql"), None);
        assert_eq!(parse_file_name("1a_x.sql"), None);
        assert_eq!(parse_file_name("1_a.sql.bak"), None);
        assert_eq!(parse_file_name("README.md"), None);
    }

    #[test]
    fn loads_in_version_order_with_checksums_and_ignored_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("20250102_b.sql"), "select 2;").unwrap();
        std::fs::write(dir.path().join("20250101_a.sql"), "select 1;").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "hi").unwrap();
        std::fs::write(dir.path().join("draft.sql"), "select 3;").unwrap();
        let set = load(dir.path()).unwrap();
        let versions: Vec<_> = set.migrations.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(versions, ["20250101", "20250102"]);
        // sha256("select 1;")
        assert_eq!(
            set.migrations[0].checksum,
            "354b7196c9ba5fb4b21cf615bb6ec4cd5c07503c34229feef033fc081a8c03f4"
        );
        assert_eq!(set.ignored.len(), 2);
    }

    #[test]
    fn duplicate_versions_name_both_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("7_a.sql"), "").unwrap();
        std::fs::write(dir.path().join("7_b.sql"), "").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("7_a.sql") && err.contains("7_b.sql"), "{err}");
    }

    #[test]
    fn non_utf8_file_is_an_error_with_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("1_a.sql"), b"select '\xff';").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("1_a.sql") && err.contains("byte 8"), "{err}");
    }

    #[test]
    fn missing_folder_is_an_error() {
        let err = load(Path::new("/nonexistent/safemig"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/safemig"), "{err}");
    }
}
