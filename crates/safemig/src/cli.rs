//! The command line (contract in DESIGN.md): add options freely, never rename.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "safemig",
    version,
    about = "Safe PostgreSQL and Supabase schema migrations: apply with guards that roll back a migration that loses rows or values that existed when it began",
    long_about = "safemig makes PostgreSQL / Supabase migrations safe. `check` reads them with PostgreSQL's own parser \
and classes each safe, review or risky, and finds ordering bugs across files. `backup` takes backups and proves them \
restorable. `plan --rehearse` runs the pending migrations first on a throwaway copy of the schema. `migrate` checks \
first, backs up, and applies each migration in its own transaction whose guards, checked before COMMIT, roll it back \
if a protected table would lose rows, columns or itself. `verify` proves the result (required objects, protected \
rows, SQL tests; --drift: the schema against the migrations), `doctor` checks a live Supabase database's health, and \
`restore` brings tables or a whole database back. Every change is in the audit trail (`log`).\n\n\
Connection: --db URL, else DATABASE_URL, else libpq's PG* variables and ~/.pgpass.\n\
PostgreSQL programs (pg_dump, and the servers of throwaway databases): SAFEMIG_PG_BIN (folders, `:`-separated), else \
the usual install folders and PATH.\n\
Exit codes: 0 ok; 1 findings, a refused, rolled-back or failed migration, a failed verification; 2 bad input, bad \
config, connection or tool error.",
    after_help = "Start with `safemig demo` to see the whole thing on a throwaway PostgreSQL."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes: shown once, under their own heading, after the
/// command's own (`safemig --help` explains them).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Database URL (postgresql://user@host:port/db?sslmode=require); else DATABASE_URL, else PG* variables.
    #[arg(long, global = true, value_name = "URL")]
    pub db: Option<String>,
    /// Configuration file; else the safemig.toml of the project --dir is in; else ./safemig.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Migrations folder; else the config's migrations_dir; else supabase/migrations.
    #[arg(long, global = true, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// Output format: human or json (sarif and github: check only).
    #[arg(long, global = true, value_enum, default_value_t = Format::Human, hide_possible_values = true)]
    pub format: Format,
    /// Local audit file (JSON lines) [default: .safemig/audit.jsonl in the project].
    #[arg(long, global = true, value_name = "PATH")]
    pub audit_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// SARIF 2.1.0, for code scanning (check only).
    Sarif,
    /// GitHub Actions annotations (check only).
    Github,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Static analysis with PostgreSQL's own parser: rules, classification, ordering. No database needed.
    Check(CheckArgs),
    /// Write the safe version of pending migrations: drops of what holds data kept out (with --db, counted),
    /// of what is empty made IF EXISTS; creates and drops made idempotent; lock_timeout first. A unified
    /// diff by default (exit 1 when there is something to fix); --write applies it, keeping the originals
    /// under .safemig/fix/. Never touches an applied migration.
    Fix(FixArgs),
    /// List the rules of `check`.
    Rules,
    /// Print the documentation of one rule.
    Explain(ExplainArgs),
    /// Which migrations are applied, pending, changed, missing a file, or out of order.
    Status,
    /// What migrate would do; with --rehearse, run it first on a throwaway copy of the database's schema.
    Plan(PlanArgs),
    /// Check, back up, then apply pending migrations, each in its own guarded transaction.
    Migrate(MigrateArgs),
    /// After migrating, or any time: required objects, protected rows, SQL tests; --drift compares with the migrations.
    Verify(VerifyArgs),
    /// Backups that are proven restorable: create, verify, list.
    Backup(BackupArgs),
    /// Restore critical tables in place (--tables), or the complete dump into a database (--into).
    Restore(RestoreArgs),
    /// Take back the newest applied migration(s): what they created is dropped, what they changed gets its
    /// recorded definition back, rows they changed in place, columns and tables they dropped come back
    /// from the backup taken before them, their history rows go. --dry-run proves it on a throwaway copy first.
    Rollback(RollbackArgs),
    /// Print the audit trail (from the database with --db / DATABASE_URL, else the local file).
    Log(LogArgs),
    /// Run the seed runbook end to end on a throwaway PostgreSQL: no database of your own needed.
    Demo(DemoArgs),
    /// Supabase health checks on a live database; performs one test insert into auth.users that is always rolled back.
    #[command(long_about = DOCTOR_ABOUT)]
    Doctor(DoctorArgs),
    /// Start using safemig in a project: a commented safemig.toml with what was detected (with --db, the
    /// database's biggest tables as proposed floors), and supabase/tests/ with the new-user test. Never overwrites.
    Init(InitArgs),
    /// Shell completions, to stdout: `safemig completions bash > ~/.local/share/bash-completion/completions/safemig`.
    Completions(CompletionsArgs),
    /// The manual page (roff), to stdout: `safemig man > ~/.local/share/man/man1/safemig.1`.
    Man,
    /// A language server over stdio for editors: check's diagnostics as you type, the rules' docs on hover.
    Lsp,
}

#[derive(Debug, Args, Clone, Default)]
pub struct InitArgs {}

#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FailOn {
    /// Exit 1 when a file is risky.
    #[default]
    Risky,
    /// Exit 1 when a file is risky or needs review.
    Review,
    /// Always exit 0 (bad input still exits 2).
    Never,
}

#[derive(Debug, Args, Clone, Default)]
pub struct CheckArgs {
    /// Migration files or folders (default: the migrations folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The class at which check exits 1.
    #[arg(long, value_enum, default_value_t = FailOn::Risky)]
    pub fail_on: FailOn,
    /// Show hints (style and robustness findings) in full; by default they are counted.
    /// JSON, SARIF and GitHub output always include them.
    #[arg(long)]
    pub hints: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct FixArgs {
    /// Migration files (default: every pending migration of the migrations folder).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write the fixed files (the originals are kept under .safemig/fix/<time>/); without it, print a diff.
    #[arg(long, conflicts_with = "diff")]
    pub write: bool,
    /// Print a unified diff of what would change (the default).
    #[arg(long)]
    pub diff: bool,
    /// Only these rules' rewrites (`safemig explain RULE` says what fix does for it); repeatable.
    #[arg(long = "rule", value_name = "NAME")]
    pub rules: Vec<String>,
    /// With the database (--db or DATABASE_URL): rename files the Supabase CLI skips because a dash follows
    /// the version (`<digits>-<rest>.sql`, as some generators write) to `<digits>_<rest>.sql`.
    #[arg(long)]
    pub rename_skipped: bool,
}

#[derive(Debug, Args, Clone)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub command: BackupCommand,
}

#[derive(Debug, Subcommand, Clone)]
pub enum BackupCommand {
    /// Back up the database: complete dump, schema and data scripts, critical tables, migrations, manifest.
    /// Prints the new backup's directory as its last line.
    Create {
        /// The folder of backups (default: [backup] dir, .safemig/backups).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Keep the Supabase-managed schemas (auth, storage, ...) in the complete dump.
        #[arg(long)]
        all_schemas: bool,
        /// Also copy the critical tables into the database, in schema safemig_backup.
        #[arg(long)]
        in_db_copy: bool,
        /// Critical tables, schema.table,... (default: [backup] critical, else every protected table with data).
        #[arg(long, value_name = "TABLES")]
        tables: Option<String>,
        /// Parallel pg_dump jobs (default: one per core, at most four; 1 writes one -Fc file).
        #[arg(short = 'j', long, value_name = "N")]
        jobs: Option<u32>,
        /// Also prove it: restore it into a throwaway PostgreSQL and compare (files and
        /// checksums are always verified, so `migrate --backup auto` can reuse it).
        #[arg(long)]
        restore: bool,
    },
    /// Check a backup: files and checksums; with --restore, restore it into a throwaway PostgreSQL and compare.
    Verify {
        /// The backup's directory (`safemig backup list` shows them).
        path: PathBuf,
        /// Restore it into a throwaway PostgreSQL and compare every table's rows and the critical tables' content.
        #[arg(long)]
        restore: bool,
    },
    /// The backups, with their verification state.
    List,
    /// The tables kept in the database's schema safemig_backup (rows a restore replaced,
    /// in-database copies), with their age; --drop-older-than DAYS drops the older ones.
    Aside {
        /// Drop (in one transaction) the tables made more than DAYS days ago.
        #[arg(long, value_name = "DAYS")]
        drop_older_than: Option<u32>,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct RollbackArgs {
    /// The migration to take back; it must be the newest applied (default: the newest).
    #[arg(value_name = "VERSION")]
    pub version: Option<String>,
    /// Take back every applied migration after VERSION, newest first.
    #[arg(long, value_name = "VERSION", conflicts_with = "version")]
    pub to: Option<String>,
    /// Change nothing: read what would run and what would be lost (a read-only transaction, no lock
    /// taken), and prove it on a throwaway copy (rolled back, then migrated again, the schema must be today's).
    #[arg(long)]
    pub dry_run: bool,
    /// Take back even when rows or values written since the migration would go with it.
    #[arg(long)]
    pub allow_loss: bool,
}

#[derive(Debug, Args, Clone)]
pub struct RestoreArgs {
    /// The backup directory.
    pub path: PathBuf,
    /// Restore these critical tables in place, in one transaction (schema.table,...).
    #[arg(long, value_name = "TABLES")]
    pub tables: Option<String>,
    /// Restore the complete dump into this database (it must be empty unless --clean).
    #[arg(long, value_name = "URL")]
    pub into: Option<String>,
    /// With --into: replace what the database holds (backed up first).
    #[arg(long)]
    pub clean: bool,
    /// With --tables: restore a backup of another database (by default refused).
    #[arg(long)]
    pub from_other_database: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum BackupMode {
    /// Back up first unless a verified backup taken with the migrations now applied, younger than [backup] max_age, exists.
    #[default]
    Auto,
    /// Refuse to migrate without such a verified backup.
    Require,
    /// No backup (written to the audit trail).
    Skip,
}

#[derive(Debug, Args, Clone)]
pub struct ExplainArgs {
    /// A rule name, e.g. drop-column (`safemig rules` lists them).
    pub rule: String,
}

#[derive(Debug, Args, Clone, Default)]
pub struct PlanArgs {
    /// Rehearse: copy the database's schema (and migration history) into a throwaway PostgreSQL, apply the
    /// pending migrations there with the guards, and report per statement its time, locks and rewrites;
    /// also replay every migration on an empty database, as `supabase db reset` does (from the Supabase
    /// platform stand-in for a Supabase project; the throwaway server runs the database's PostgreSQL major,
    /// found in SAFEMIG_PG_BIN or the usual folders). A failure says whether the project or this machine
    /// caused it. Exit 1 if either fails.
    #[arg(long)]
    pub rehearse: bool,
    /// With --rehearse: copy the data too (slower; lets the guards and timings see real rows).
    #[arg(long, requires = "rehearse")]
    pub with_data: bool,
    /// With --rehearse: then take the rehearsed migrations back on the copy with `safemig rollback`,
    /// newest first; the schema must be the copy's before them. Proves, before they ship, that they can
    /// be taken back (or says which cannot, and why).
    #[arg(long, requires = "rehearse")]
    pub rollback: bool,
    /// Also plan pending migrations older than the newest applied one.
    #[arg(long)]
    pub include_all: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct VerifyArgs {
    /// Folder of SQL tests (default: [verify] tests_dir, else supabase/tests). Each file runs in a transaction that is always rolled back.
    #[arg(long, value_name = "DIR")]
    pub tests: Option<PathBuf>,
    /// Skip the SQL tests.
    #[arg(long)]
    pub no_tests: bool,
    /// Also compare the database's schema with the one the migrations build on a throwaway PostgreSQL:
    /// what is missing, extra or different (tables, columns, constraints, indexes, functions, triggers, policies, grants).
    #[arg(long)]
    pub drift: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct MigrateArgs {
    /// Apply migrations that `check` classes risky (the guards still roll back a loss of rows or values that existed when it began).
    #[arg(long)]
    pub allow_risky: bool,
    /// Backup before the first pending migration: auto (default), require, skip.
    #[arg(long, value_enum, default_value_t = BackupMode::Auto)]
    pub backup: BackupMode,
    /// Run each pending migration in a transaction that is rolled back, and report what would happen.
    #[arg(long)]
    pub dry_run: bool,
    /// Also apply pending migrations older than the newest applied one (in version order).
    #[arg(long)]
    pub include_all: bool,
    /// Apply pending migrations up to and including this version.
    #[arg(long, value_name = "VERSION")]
    pub target: Option<String>,
    /// How long one statement may wait for a lock before the migration is rolled back and retried (e.g. 5s).
    #[arg(long, value_name = "DURATION")]
    pub lock_timeout: Option<String>,
    /// How many times a migration is retried after a lock timeout.
    #[arg(long, value_name = "N")]
    pub lock_retries: Option<u32>,
    /// Longest a statement may run (e.g. 10min); 0 = no limit.
    #[arg(long, value_name = "DURATION")]
    pub statement_timeout: Option<String>,
    /// How long to wait for another safemig migrate on the same database (e.g. 60s).
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct LogArgs {
    /// Read the local audit file even when a database is configured.
    #[arg(long)]
    pub local: bool,
    /// Show at most this many records (newest).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Args, Clone, Default)]
pub struct DemoArgs {
    /// Keep the example project in this folder instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

const DOCTOR_ABOUT: &str = "Supabase health checks on a live database (or plain PostgreSQL). Each finding names its \
check, severity (risky, review, hint), the object, and the fix as SQL. doctor's own checks: unattached-trigger-function, \
security-definer-without-search-path, table-without-rls (schemas in [check] exposed_schemas), disabled-trigger, \
new-user-insert-fails, missing-migration-file, pending-migration. Then the lints of Supabase's database linter \
(splinter, the dashboard's Security and Performance Advisors), each with its splinter id: unindexed-foreign-keys, \
auth-users-exposed, auth-rls-initplan, no-primary-key, unused-index, multiple-permissive-policies, \
policy-exists-rls-disabled, rls-enabled-no-policy, duplicate-index, security-definer-view, \
function-search-path-mutable, extension-in-public, rls-references-user-metadata, materialized-view-in-api, \
foreign-table-in-api, unsupported-reg-types, insecure-queue-exposed-in-api, table-bloat, fkey-to-auth-unique, \
extension-versions-outdated, sensitive-columns-exposed, rls-policy-always-true, public-bucket-allows-listing, \
pg-graphql-anon-table-exposed, pg-graphql-authenticated-table-exposed, anon-security-definer-function-executable, \
authenticated-security-definer-function-executable.\n\n\
new-user-insert-fails WRITES A TEST ROW: when a trigger on auth.users fires on INSERT, doctor inserts one test user \
(email safemig-doctor-<random>@example.invalid) into auth.users, as role supabase_auth_admin when it exists (as the \
Supabase auth server does), inside a transaction that is ALWAYS rolled back, with a 5 s statement timeout and a 3 s \
lock timeout. A failure is what users see as \"Database error saving new user\". Nothing is kept, but sequences \
the triggers advance stay advanced. --no-insert-test skips it.\n\n\
Exit codes: 0 no findings, or hints only; 1 a risky or review finding; 2 bad input, config or connection error.";

#[derive(Debug, Args, Clone, Default)]
pub struct DoctorArgs {
    /// Skip the test insert into auth.users (a transaction that is always rolled back).
    #[arg(long)]
    pub no_insert_test: bool,
}
