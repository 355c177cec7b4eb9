//! safemig-project: a safemig project on disk — `safemig.toml`, the migrations
//! folder, and the local audit file. No database access here.

pub mod audit;
pub mod config;
pub mod migrations;

use std::path::PathBuf;

pub use config::{Allowance, Config, LossKind};
pub use migrations::{IgnoredFile, MigrationFile, MigrationSet};

/// Everything that can be wrong with the files of a project. Each message says
/// which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot read the migrations folder {dir}: {source}\n  hint: pass --dir PATH, or set migrations_dir in safemig.toml (default: supabase/migrations)")]
    MigrationsDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    WriteFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid UTF-8 (first bad byte at byte {offset}); save the file as UTF-8")]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{path} is {size_mib} MiB; safemig reads migration files up to {limit_mib} MiB (parsing takes about 100 times a file's size in memory)\n  hint: split it into smaller migrations, load bulk data with COPY or psql outside the migrations, or raise the limit with SAFEMIG_MAX_MIGRATION_MB")]
    TooLarge {
        path: PathBuf,
        size_mib: u64,
        limit_mib: u64,
    },
    #[error("two migrations have version {version}: {first} and {second}\n  hint: rename one of them to a new version (e.g. with a later timestamp)")]
    DuplicateVersion {
        version: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("invalid configuration in {path}: {message}")]
    Config { path: PathBuf, message: String },
}
