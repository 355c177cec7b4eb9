//! What every command needs: the configuration, the migrations, the database target,
//! and the audit trail. Errors here are bad input (exit 2).

use std::path::PathBuf;

use safemig_pg::Target;
use safemig_project::audit::{self, AuditRecord};
use safemig_project::{Config, MigrationSet};

use safemig_analyze::lint::LintOptions;
use safemig_analyze::project::{self, CheckRun};
use safemig_analyze::Severity;

use crate::cli::{Format, Global};

/// An error that ends the command with an exit code (DESIGN.md: 1 refused/failed, 2 bad input).
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    pub fn input(message: impl std::fmt::Display) -> CliError {
        CliError {
            code: 2,
            message: message.to_string(),
        }
    }
}

impl From<safemig_project::ProjectError> for CliError {
    fn from(e: safemig_project::ProjectError) -> CliError {
        CliError::input(e)
    }
}

impl From<safemig_pg::PgError> for CliError {
    fn from(e: safemig_pg::PgError) -> CliError {
        CliError::input(e)
    }
}

pub struct Context {
    pub global: Global,
    pub config: Config,
}

impl Context {
    pub fn load(global: Global) -> Result<Context, CliError> {
        let config = Config::discover(global.config.as_deref(), global.dir.as_deref())?;
        Ok(Context { global, config })
    }

    pub fn json(&self) -> bool {
        self.global.format == Format::Json
    }

    pub fn migrations_dir(&self) -> PathBuf {
        self.config.migrations_dir(self.global.dir.as_deref())
    }

    pub fn migrations(&self) -> Result<MigrationSet, CliError> {
        Ok(safemig_project::migrations::load(&self.migrations_dir())?)
    }

    /// The URL given by --db or DATABASE_URL, if any.
    pub fn explicit_url(&self) -> Option<String> {
        self.global
            .db
            .clone()
            .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()))
    }

    pub fn target(&self) -> Result<Target, CliError> {
        Ok(Target::resolve(self.explicit_url().as_deref())?)
    }

    /// The local audit file: `--audit-file`, else `.safemig/audit.jsonl` in the project.
    pub fn audit_file(&self) -> PathBuf {
        self.global
            .audit_file
            .clone()
            .unwrap_or_else(|| self.config.base().join(".safemig/audit.jsonl"))
    }

    /// What in safemig.toml matches nothing: `[[allow]]` / `allow_risky` entries
    /// naming no migration file, and (with a database) tables that do not exist.
    pub fn config_warnings(
        &self,
        set: Option<&MigrationSet>,
        client: Option<&mut safemig_pg::postgres::Client>,
    ) -> Vec<String> {
        let mut out = set
            .map(|s| self.config.unmatched_migrations(s))
            .unwrap_or_default();
        if let Some(client) = client {
            match safemig_pg::catalog::missing_config_tables(client, &self.config) {
                Ok(missing) => out.extend(missing),
                Err(e) => out.push(format!(
                    "the tables safemig.toml names could not be checked: {e}"
                )),
            }
        }
        let file = self
            .config
            .source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "safemig.toml".into());
        out.into_iter().map(|w| format!("{file}: {w}")).collect()
    }

    /// Appends to the local audit file; a failure to write it is reported, not fatal,
    /// because the database half of the trail may still hold the record.
    pub fn audit_local(&self, record: &AuditRecord) {
        let mut record = record.clone();
        record.database = record.database.map(|d| safemig_pg::redact::redact(&d));
        if let Err(e) = audit::append(&self.audit_file(), &record) {
            eprintln!("warning: could not write the local audit trail: {e}");
        }
    }
}

/// The rules' options from `[check]` of the config.
pub fn lint_options(config: &Config) -> LintOptions {
    LintOptions {
        exposed_schemas: config.check.exposed_schemas.clone(),
        ignore: config.check.ignore.iter().cloned().collect(),
        severity: config
            .check
            .severity
            .iter()
            .filter_map(|(rule, s)| Severity::parse(s).map(|s| (rule.clone(), s)))
            .collect(),
    }
}

/// The analysis options of the project's config.
pub fn project_options(config: &Config) -> project::Options {
    project::Options {
        lint: lint_options(config),
        externals: config.check.externals.iter().cloned().collect(),
    }
}

impl Context {
    /// `check`'s analysis of a migration set, as `migrate` and `plan` use it: the
    /// same library call an editor or a CI action makes.
    pub fn analyse(&self, set: &MigrationSet) -> CheckRun {
        project::analyse(
            set.migrations
                .iter()
                .map(|m| (m.path.as_path(), Some(m.version.clone()), m.sql.as_str())),
            &project_options(&self.config),
            &safemig_analyze::order::Live::default(),
        )
    }
}
