//! The guarded apply engine behind `safemig migrate`.
//!
//! For each pending migration, in version order:
//!
//! 1. `BEGIN`; `SET LOCAL lock_timeout` / `statement_timeout`;
//! 2. a catalog snapshot of the protected tables ([`crate::catalog`]);
//! 3. the file's statements, one at a time, so an error names its statement;
//! 4. a second snapshot and the guards: a protected table dropped, a column lost or
//!    rows lost rolls the whole migration back, unless `safemig.toml` allows that
//!    loss for that migration;
//! 5. the history rows (Supabase's and safemig's), then `COMMIT`.
//!
//! A lock timeout rolls the migration back and retries it after a pause, a bounded
//! number of times: safemig never queues behind a long transaction for longer than
//! the lock timeout, so it never blocks the application for longer either.
//! Statements that cannot run in a transaction (`CREATE INDEX CONCURRENTLY`, ...)
//! run on their own, and the report says so.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use postgres::{Client, Transaction};
use safemig_analyze::{Statement, TxBehaviour};
use safemig_project::{Config, MigrationFile, MigrationSet};
use serde::Serialize;

use crate::catalog::{self, Need, Needs, Protection, Scope, Unexplained, Violation};
use crate::history::{self, SafemigRecordInput};
use crate::observe::{self, Observation};
use crate::queries::Queries;
use crate::redact::redact;
use crate::status::{self, State};
use crate::{lock, PgError};

#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub dry_run: bool,
    pub include_all: bool,
    pub target: Option<String>,
    pub lock_timeout: Duration,
    pub lock_retries: u32,
    pub statement_timeout: Duration,
    pub advisory_lock_wait: Duration,
    pub backup_id: Option<String>,
    /// Where backups are (to read the snapshot of the run's backup: rows written
    /// after it and before a migration are told apart at rollback).
    pub backup_root: Option<std::path::PathBuf>,
    /// `pg_current_snapshot()` of the run's backup, when it says.
    pub backup_snapshot: Option<String>,
    /// Between migrations, ask the server to flush the session's statistics
    /// (PostgreSQL 15 and later): the next migration's transaction counters
    /// then hold its own writes only, not those of the one before.
    pub flush_stats: bool,
    pub actor: String,
    /// Migrations `check` classes risky and that are not allowed: version -> why.
    /// A run that would apply one is refused before anything runs.
    pub risky: BTreeMap<String, String>,
    /// The history inserts, prepared once per run (set by the engine).
    pub inserts: Option<history::Inserts>,
    /// Record each statement's duration, locks and rewrites (`plan --rehearse`).
    pub observe: bool,
    /// A throwaway database: refuse every migration that reaches outside its
    /// transaction (dblink, pg_net, COPY ... PROGRAM), so nothing real is touched.
    pub fence_outside: bool,
    /// A throwaway server where these index methods are safemig's stand-ins (of
    /// pgvector, PGroonga), which take no options: `CREATE INDEX ... USING` one of
    /// them is sent without its `WITH (...)`, and the report says so.
    pub standin_index_methods: Vec<String>,
}

impl MigrateOptions {
    pub fn from_config(config: &Config) -> MigrateOptions {
        MigrateOptions {
            dry_run: false,
            include_all: false,
            target: None,
            lock_timeout: config.migrate.lock_timeout,
            lock_retries: config.migrate.lock_retries,
            statement_timeout: config.migrate.statement_timeout,
            advisory_lock_wait: config.migrate.advisory_lock_wait,
            backup_id: None,
            backup_root: Some(config.backup_dir()),
            backup_snapshot: None,
            flush_stats: false,
            actor: safemig_project::audit::os_user(),
            risky: BTreeMap::new(),
            inserts: None,
            observe: false,
            fence_outside: false,
            standin_index_methods: Vec::new(),
        }
    }
}

/// The stable result names of `migrate --format json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Applied,
    Refused,
    RolledBack,
    Failed,
    Skipped,
    DryRun,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Refused => "refused",
            Outcome::RolledBack => "rolled-back",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::DryRun => "dry-run",
        }
    }
}

/// A statement, placed in its file.
#[derive(Debug, Clone, Serialize)]
pub struct StatementRef {
    /// 1-based index among the file's statements (as the Supabase CLI counts them).
    pub index: usize,
    pub line: usize,
    pub column: usize,
    /// The statement, shortened to its first lines.
    pub excerpt: String,
}

/// An error PostgreSQL raised while running a statement.
#[derive(Debug, Clone, Serialize)]
pub struct StatementError {
    pub statement: Option<StatementRef>,
    pub sqlstate: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    pub version: String,
    pub name: String,
    pub result: Outcome,
    pub reason: Option<String>,
    pub file: PathBuf,
    pub statements: usize,
    pub duration_ms: u64,
    /// How long the guard kept the migration's locks after its last statement
    /// (its checks, the history rows, COMMIT): what applications waited for it.
    pub locks_held_by_guard_ms: f64,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<GuardFinding>,
    /// Losses an `[[allow]]` of safemig.toml permitted, with their counts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<Violation>,
    /// What changed in protected tables without losing data (rows updated, an
    /// empty table or a column with no value dropped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<StatementError>,
    /// Per statement, when the run observes (`plan --rehearse`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<Observation>,
    /// Why `safemig rollback` cannot take this migration back, each with its line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cannot_roll_back: Vec<String>,
}

/// A guard violation with the statement that caused it.
#[derive(Debug, Clone, Serialize)]
pub struct GuardFinding {
    #[serde(flatten)]
    pub violation: Violation,
    pub statement: Option<StatementRef>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct RunReport {
    pub migrations: Vec<MigrationReport>,
    /// Why nothing was attempted, when the run was refused as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// This run's `running` row in `safemig.audit`, removed when the run ends normally.
    #[serde(skip)]
    pub running_row: Option<i64>,
}

impl RunReport {
    /// True when everything asked for happened (or, in a dry run, would).
    pub fn ok(&self) -> bool {
        self.refused.is_none()
            && self
                .migrations
                .iter()
                .all(|m| matches!(m.result, Outcome::Applied | Outcome::DryRun))
    }
}

/// What the engine reports while it works, for live output.
pub enum Event<'a> {
    Starting {
        file: &'a MigrationFile,
        index: usize,
        total: usize,
    },
    Finished(&'a MigrationReport),
    Waiting(String),
}

/// A migration file with its parsed statements.
struct Prepared<'a> {
    file: &'a MigrationFile,
    statements: Vec<Statement>,
    /// Per statement, what the guard tests before it runs (read from the parse
    /// tree once, not on every attempt): its column type changes, its UPDATE probe.
    type_changes: Vec<Vec<safemig_analyze::TypeChange>>,
    update_probes: Vec<Option<safemig_analyze::UpdateProbe>>,
    /// Per statement, the relations it names: what the guard reads at BEGIN.
    named: Vec<Vec<safemig_analyze::QualifiedName>>,
    /// Some statement changes tables it does not name without locking them: the
    /// guard reads every protected table around this migration.
    reaches_unnamed: bool,
    /// The statements as the file has them, for the history row (a throwaway run
    /// may send some rewritten, see [`MigrateOptions::standin_index_methods`]).
    history_statements: Vec<String>,
    /// What was sent differently from the file, and why.
    notes: Vec<String>,
    /// What `safemig rollback` needs recorded: the objects the statements touch
    /// (their state before is read in the migration's transaction), or why it
    /// cannot be taken back.
    undo: safemig_analyze::undo::UndoPlan,
}

/// Runs `safemig migrate` against `client`. Infrastructure failures before any
/// migration starts are `Err`; everything about migrations is in the report.
/// Called once, under the advisory lock, before the first pending migration of a
/// real run: returns the backup id protecting the run, or why the run must not go on.
pub type BeforeFirst<'a> = dyn FnMut(&[&MigrationFile]) -> Result<Option<String>, String> + 'a;

pub fn migrate(
    client: &mut Client,
    set: &MigrationSet,
    config: &Config,
    options: &MigrateOptions,
    on_event: &mut dyn FnMut(Event),
    before_first: &mut BeforeFirst<'_>,
) -> Result<RunReport, PgError> {
    let mut report = RunReport {
        dry_run: options.dry_run,
        ..Default::default()
    };
    on_event(Event::Waiting("taking safemig's advisory lock".into()));
    if let Err(holder) = lock::acquire(client, options.advisory_lock_wait)? {
        report.refused = Some(format!(
            "another safemig migrate is running against this database (lock {holder}); waited {}s\n  \
             hint: wait for it to finish, or raise [migrate] advisory_lock_wait",
            options.advisory_lock_wait.as_secs()
        ));
        return Ok(report);
    }
    let result = migrate_locked(
        client,
        set,
        config,
        options,
        on_event,
        before_first,
        &mut report,
    );
    // The lock is session-level: if the connection died it is gone already.
    if !client.is_closed() {
        // Whatever the last migration left in the session (a search_path that puts
        // its own functions first, SET ROLE) must not run safemig's own queries.
        let _ =
            client.batch_execute("RESET ALL; RESET ROLE; SET search_path = pg_catalog, pg_temp");
        if let Some(id) = report.running_row.take() {
            let _ = client.execute("DELETE FROM safemig.audit WHERE id = $1", &[&id]);
        }
        let _ = lock::release(client);
    }
    result.map(|()| report)
}

/// Under the advisory lock, a `running` audit row can only be left by a run that
/// died (killed, its connection or the server lost): mark it `interrupted` and say
/// so. Then leave this run's own `running` row, removed when it ends normally.
fn mark_running(
    client: &mut Client,
    options: &MigrateOptions,
    report: &mut RunReport,
) -> Result<(), PgError> {
    let stale = client
        .query(
            "UPDATE safemig.audit SET result = 'interrupted' WHERE command = 'migrate' AND result = 'running' \
             RETURNING to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC', actor",
            &[],
        )
        .map_err(|e| PgError::sql("reading safemig.audit", &e))?;
    for row in stale {
        let (at, actor): (String, String) = (row.get(0), row.get(1));
        report.notes.push(format!(
            "the previous migrate (started {at} by {actor}) was interrupted before it finished: killed, or its \
             connection or the server was lost. Each migration is all-or-nothing: what it applied is applied \
             with its history, the rest is pending (`safemig status`); this run goes on from there"
        ));
    }
    let id: i64 = client
        .query_one(
            "INSERT INTO safemig.audit (actor, command, result, tool_version) VALUES ($1, 'migrate', 'running', $2) RETURNING id",
            &[&options.actor, &env!("CARGO_PKG_VERSION")],
        )
        .map_err(|e| PgError::sql("writing the audit trail (safemig.audit)", &e))?
        .get(0);
    report.running_row = Some(id);
    Ok(())
}

fn migrate_locked(
    client: &mut Client,
    set: &MigrationSet,
    config: &Config,
    options: &MigrateOptions,
    on_event: &mut dyn FnMut(Event),
    before_first: &mut BeforeFirst<'_>,
    report: &mut RunReport,
) -> Result<(), PgError> {
    if !options.dry_run {
        history::ensure_tables(client)?;
        // Best effort, like the audit row at the end: a role that may not write
        // safemig.audit still migrates, without this safety net.
        let _ = mark_running(client, options, report);
    }
    let history = history::read(client)?;
    let statuses = status::compute(set, &history);

    let list = |state: State| -> Vec<String> {
        statuses
            .iter()
            .filter(|s| s.state == state)
            .map(|s| format!("{} {}", s.version, s.name))
            .collect()
    };
    let changed = list(State::Changed);
    if !changed.is_empty() {
        report.refused = Some(format!(
            "applied migrations were changed after they ran: {}\n  hint: never edit an applied migration; \
             restore the file (git checkout) and put the change in a new migration",
            changed.join(", ")
        ));
        return Ok(());
    }
    let missing = list(State::MissingFile);
    if !missing.is_empty() {
        report.refused = Some(format!(
            "the database's history has migrations with no file: {}\n  hint: restore the files \
             (e.g. `supabase migration fetch`), or check that --dir points at the right folder",
            missing.join(", ")
        ));
        return Ok(());
    }
    let out_of_order = list(State::OutOfOrder);
    if !out_of_order.is_empty() && !options.include_all {
        report.refused = Some(format!(
            "pending migrations are older than the newest applied one: {}\n  hint: rename them to a newer \
             version, or pass --include-all to apply them anyway (in version order)",
            out_of_order.join(", ")
        ));
        return Ok(());
    }

    let pending: Vec<&MigrationFile> = statuses
        .iter()
        .filter(|s| {
            s.state == State::Pending || (options.include_all && s.state == State::OutOfOrder)
        })
        .filter(|s| {
            options
                .target
                .as_deref()
                .is_none_or(|t| s.version.as_str() <= t)
        })
        .filter_map(|s| set.get(&s.version))
        .collect();

    // Risky by `check`, and not allowed: refuse before anything runs. A dry run
    // goes ahead (that is how one sees what the guards would do) and says so.
    if !options.dry_run {
        if let Some(file) = pending
            .iter()
            .find(|f| options.risky.contains_key(&f.version))
        {
            let mut m = empty_report(file, Outcome::Refused);
            let rules = &options.risky[&file.version];
            let irreversible = rules
                .split(", ")
                .any(|r| safemig_analyze::IRREVERSIBLE_RULES.contains(&r));
            m.reason = Some(if irreversible {
                format!(
                    "`safemig check` classes it risky ({rules}): it acts outside its own transaction (another \
                     database, a web request, a program, a file, a whole database), which no rollback and no guard \
                     can undo; --allow-risky is not enough: once reviewed, name it in safemig.toml's [check] allow_risky"
                )
            } else {
                format!(
                    "`safemig check` classes it risky ({rules}); review it, then pass --allow-risky or list it in \
                     safemig.toml's [check] allow_risky (the guards still roll back a loss of rows or values that existed when it began)"
                )
            });
            return refuse_all(report, &pending, m);
        }
    }

    // Parse every pending file before running any of them: a broken file later in
    // the run must not leave the earlier ones applied and the run half done.
    let mut prepared = Vec::new();
    for file in &pending {
        match safemig_analyze::split(&file.sql) {
            Ok(mut statements) => {
                let history_statements = statements.iter().map(|s| s.text.clone()).collect();
                let mut notes = Vec::new();
                let methods: Vec<&str> = options
                    .standin_index_methods
                    .iter()
                    .map(String::as_str)
                    .collect();
                for s in statements.iter_mut() {
                    if let Some((sql, names)) = s.without_index_options(&methods) {
                        notes.push(format!(
                            "line {}: the index was built without its options ({}): this index method is \
                             safemig's stand-in here, which takes none",
                            s.code_line,
                            names.join(", ")
                        ));
                        s.text = sql;
                    }
                }
                if let Some((i, s, why)) = statements.iter().enumerate().find_map(|(i, s)| match &s
                    .transaction
                {
                    TxBehaviour::Forbidden(why) => Some((i, s, why.clone())),
                    _ => None,
                }) {
                    let mut m = empty_report(file, Outcome::Refused);
                    m.reason = Some(format!("statement {} (line {}): {why}", i + 1, s.code_line));
                    m.error = Some(StatementError {
                        statement: Some(statement_ref(i, s)),
                        sqlstate: None,
                        message: why,
                    });
                    return refuse_all(report, &pending, m);
                }
                let type_changes = statements.iter().map(Statement::type_changes).collect();
                let update_probes = statements.iter().map(Statement::update_probe).collect();
                let named = statements.iter().map(Statement::named_relations).collect();
                let reaches_unnamed = statements.iter().any(Statement::reaches_unnamed);
                let undo = safemig_analyze::undo::plan(&statements);
                prepared.push(Prepared {
                    file,
                    statements,
                    type_changes,
                    update_probes,
                    named,
                    reaches_unnamed,
                    history_statements,
                    notes,
                    undo,
                });
            }
            Err(e) => {
                let mut m = empty_report(file, Outcome::Failed);
                m.reason = Some(format!(
                    "syntax error at {}:{}:{}: {}",
                    file.path.display(),
                    e.line,
                    e.column,
                    e.message
                ));
                m.error = Some(StatementError {
                    statement: Some(StatementRef {
                        index: 0,
                        line: e.line,
                        column: e.column,
                        excerpt: excerpt_at(&file.sql, e.line),
                    }),
                    sqlstate: Some("42601".into()),
                    message: e.message.clone(),
                });
                return refuse_all(report, &pending, m);
            }
        }
    }

    if options.fence_outside {
        for p in &prepared {
            let lint = safemig_analyze::lint_file(&p.file.sql, &Default::default());
            let outside = lint
                .all_findings()
                .find(|f| f.rule == "reaches-outside")
                .cloned();
            if let Some(f) = outside {
                let mut m = empty_report(p.file, Outcome::Refused);
                m.reason = Some(format!(
                    "line {}: {}; it is never run on a throwaway database, so that nothing real is touched",
                    f.line, f.message
                ));
                return refuse_all(report, &pending, m);
            }
        }
    }

    let mut options = options.clone();
    options.flush_stats = client
        .query_one(
            "SELECT coalesce(pg_catalog.has_function_privilege(\
               pg_catalog.to_regprocedure('pg_catalog.pg_stat_force_next_flush()'), 'EXECUTE'), false)",
            &[],
        )
        .map(|r| r.get(0))
        .unwrap_or(false);
    if !options.dry_run && !prepared.is_empty() {
        let files: Vec<&MigrationFile> = prepared.iter().map(|p| p.file).collect();
        on_event(Event::Waiting(
            "backing up before the first migration".into(),
        ));
        match before_first(&files) {
            Ok(id) => {
                options.backup_snapshot = id.as_ref().and_then(|id| {
                    let root = options.backup_root.as_ref()?;
                    crate::backup::Backup::open(&root.join(id))
                        .ok()?
                        .manifest
                        .snapshot
                });
                options.backup_id = id;
            }
            Err(reason) => {
                report.refused = Some(reason);
                for file in files {
                    let mut m = skipped(file);
                    m.reason = Some("not run: the run was refused before any migration".into());
                    report.migrations.push(m);
                }
                return Ok(());
            }
        }
    }
    let options = &options;
    let mut protection = Protection::from_config(&config.guard);
    protection.exposed = config.check.exposed_schemas.clone();
    let protection = protection.prepare(client)?;
    let options = &{
        let mut options = options.clone();
        if !options.dry_run {
            options.inserts = Some(history::Inserts::prepare(client, &protection.queries)?);
        }
        options
    };
    let total = prepared.len();
    if options.dry_run {
        let mut outer = client
            .transaction()
            .map_err(|e| PgError::sql("starting the dry run", &e))?;
        let mut stopped = false;
        for (index, p) in prepared.iter().enumerate() {
            if stopped {
                report.migrations.push(skipped(p.file));
                continue;
            }
            on_event(Event::Starting {
                file: p.file,
                index,
                total,
            });
            let m = run_one(
                &mut Runner::Dry(&mut outer),
                p,
                config,
                &protection,
                options,
            );
            stopped = m.result != Outcome::DryRun;
            on_event(Event::Finished(&m));
            report.migrations.push(m);
        }
        for m in report.migrations.iter_mut() {
            if let Some(why) = options.risky.get(&m.version) {
                m.notes.push(format!("`safemig check` classes it risky ({why}): migrate refuses it without --allow-risky"));
            }
        }
        // Nothing of a dry run stays: the outer transaction is always rolled back.
        outer
            .rollback()
            .map_err(|e| PgError::sql("rolling back the dry run", &e))?;
    } else {
        let mut stopped = false;
        for (index, p) in prepared.iter().enumerate() {
            if stopped {
                report.migrations.push(skipped(p.file));
                continue;
            }
            on_event(Event::Starting {
                file: p.file,
                index,
                total,
            });
            let m = run_one(&mut Runner::Real(client), p, config, &protection, options);
            stopped = m.result != Outcome::Applied;
            on_event(Event::Finished(&m));
            report.migrations.push(m);
        }
    }
    Ok(())
}

fn refuse_all(
    report: &mut RunReport,
    pending: &[&MigrationFile],
    first: MigrationReport,
) -> Result<(), PgError> {
    let version = first.version.clone();
    report.refused = Some(format!(
        "migration {} {} cannot run: {}; nothing was applied",
        first.version,
        first.name,
        first.reason.clone().unwrap_or_default()
    ));
    for file in pending {
        if file.version == version {
            report.migrations.push(first.clone());
        } else {
            let mut m = skipped(file);
            m.reason = Some(format!(
                "not run: migration {version} cannot run, so nothing was applied"
            ));
            report.migrations.push(m);
        }
    }
    Ok(())
}

fn empty_report(file: &MigrationFile, result: Outcome) -> MigrationReport {
    MigrationReport {
        version: file.version.clone(),
        name: file.name.clone(),
        result,
        reason: None,
        file: file.path.clone(),
        statements: 0,
        duration_ms: 0,
        locks_held_by_guard_ms: 0.0,
        attempts: 0,
        notes: Vec::new(),
        violations: Vec::new(),
        allowed: Vec::new(),
        changes: Vec::new(),
        error: None,
        observed: Vec::new(),
        cannot_roll_back: Vec::new(),
    }
}

fn skipped(file: &MigrationFile) -> MigrationReport {
    let mut m = empty_report(file, Outcome::Skipped);
    m.reason = Some("not run: an earlier migration did not apply".into());
    m
}

/// Where transactions come from: the server directly, or savepoints of the dry run's
/// one outer transaction (so later migrations see earlier ones, and all is undone).
enum Runner<'c, 't> {
    Real(&'c mut Client),
    Dry(&'c mut Transaction<'t>),
}

impl Runner<'_, '_> {
    fn begin(&mut self) -> Result<Transaction<'_>, postgres::Error> {
        match self {
            Runner::Real(client) => client.transaction(),
            Runner::Dry(outer) => outer.transaction(),
        }
    }

    fn is_dry(&self) -> bool {
        matches!(self, Runner::Dry(_))
    }

    /// Every migration starts from a clean session: what an earlier one `SET`
    /// (`lock_timeout = 0`, `search_path = ''`, `session_replication_role`, as
    /// pulled `remote_schema.sql` files do) is reset, and safemig's timeouts are set again.
    fn reset_session(&mut self, options: &MigrateOptions) -> Result<(), postgres::Error> {
        let sql = reset_session_sql(options);
        match self {
            Runner::Real(client) => client.batch_execute(&sql),
            Runner::Dry(outer) => outer.batch_execute(&sql),
        }
    }

    fn is_closed(&self) -> bool {
        match self {
            Runner::Real(client) => client.is_closed(),
            Runner::Dry(_) => false,
        }
    }
}

/// A run of statements that share one transaction, or one that must run alone.
enum Segment {
    Tx(Vec<usize>),
    Alone(usize),
}

fn segments(statements: &[Statement]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for (i, s) in statements.iter().enumerate() {
        if s.kind.is_none() || matches!(s.transaction, TxBehaviour::FileTransactionControl(_)) {
            continue; // comments only, or the file's own BEGIN/COMMIT: nothing to send
        }
        match (&s.transaction, out.last_mut()) {
            (TxBehaviour::MustRunAlone(_), _) => out.push(Segment::Alone(i)),
            (_, Some(Segment::Tx(list))) => list.push(i),
            _ => out.push(Segment::Tx(vec![i])),
        }
    }
    if out.is_empty() {
        out.push(Segment::Tx(Vec::new()));
    }
    out
}

/// How one transactional segment ended.
enum SegmentEnd {
    Done {
        changes: Vec<String>,
        allowed: Vec<Violation>,
        held_ms: f64,
        cannot_roll_back: Vec<String>,
    },
    Guard(Vec<GuardFinding>),
    Error(StatementError, bool /* retryable */),
}

fn run_one(
    runner: &mut Runner,
    p: &Prepared,
    config: &Config,
    protection: &Protection,
    options: &MigrateOptions,
) -> MigrationReport {
    let started = Instant::now();
    let file = p.file;
    let mut m = empty_report(
        file,
        if runner.is_dry() {
            Outcome::DryRun
        } else {
            Outcome::Applied
        },
    );
    m.statements = p.statements.len();
    m.cannot_roll_back = p.undo.irreversible.clone();
    let history_statements: Vec<String> = p.history_statements.clone();
    m.notes.extend(p.notes.iter().cloned());
    if let Err(e) = runner.reset_session(options) {
        return fail(m, driver_error(&e, None, file), 0, started, "failed");
    }
    for s in &p.statements {
        if let TxBehaviour::FileTransactionControl(what) = &s.transaction {
            m.notes.push(format!(
                "line {}: the file's own {what} is not sent; safemig runs the migration in its own transaction",
                s.code_line
            ));
        }
    }
    let segments = segments(&p.statements);
    let alone = segments
        .iter()
        .filter(|s| matches!(s, Segment::Alone(_)))
        .count();
    if alone > 0 && segments.len() > 1 {
        m.notes.push(format!(
            "{alone} statement(s) cannot run inside a transaction and run on their own; this migration is \
             therefore not atomic: if a later part fails, earlier parts stay applied. Put such statements \
             in a migration of their own"
        ));
    }
    let mut committed_parts = 0usize;
    let last = segments.len() - 1;
    for (si, segment) in segments.iter().enumerate() {
        let is_last = si == last;
        match segment {
            Segment::Alone(i) => {
                let s = &p.statements[*i];
                let TxBehaviour::MustRunAlone(what) = &s.transaction else {
                    unreachable!()
                };
                if runner.is_dry() {
                    m.notes.push(format!(
                        "statement {} (line {}, {what}) cannot run in a transaction; the dry run did not execute it",
                        i + 1,
                        s.code_line
                    ));
                    continue;
                }
                m.notes.push(format!(
                    "statement {} (line {}, {what}) ran on its own, outside a transaction",
                    i + 1,
                    s.code_line
                ));
                let Runner::Real(client) = runner else {
                    unreachable!()
                };
                m.attempts = m.attempts.max(1);
                let reset = client.batch_execute(&reset_session_sql(options));
                let alone_started = Instant::now();
                if let Err(e) = reset {
                    return fail(
                        m,
                        driver_error(&e, None, file),
                        committed_parts,
                        started,
                        "failed",
                    );
                }
                crate::faults::boundary(|| format!("{} statement {} (alone)", file.version, i + 1));
                let invalid_before = invalid_indexes(client);
                if let Err(error) = run_alone(client, s, *i, file) {
                    // A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind
                    // (PostgreSQL keeps it): name it and the fix.
                    if !client.is_closed() {
                        // Only on the statement's own table: another session's
                        // CREATE INDEX CONCURRENTLY still building is INVALID too.
                        let table = s.index_table();
                        let left = invalid_indexes(client)
                            .into_iter()
                            .filter(|x| !invalid_before.contains(x))
                            .filter(|(_, on)| table.as_deref().is_none_or(|t| t == on.as_str()))
                            .map(|(index, _)| index);
                        for index in left {
                            m.notes.push(format!(
                                "the failed statement left the INVALID index {index}: it is not used by queries but \
                                 slows every write; drop it with `DROP INDEX CONCURRENTLY {index};` before running \
                                 migrate again"
                            ));
                        }
                    }
                    return fail(m, error, committed_parts, started, "failed");
                }
                if options.observe {
                    m.observed.push(Observation {
                        statement: i + 1,
                        line: s.code_line,
                        duration_ms: alone_started.elapsed().as_secs_f64() * 1000.0,
                        locks: Vec::new(),
                        rewritten: Vec::new(),
                        outside_transaction: true,
                        note: Some(observe::outside_transaction_note(what)),
                    });
                }
                committed_parts += 1;
                if is_last {
                    let mut tx = match runner.begin() {
                        Ok(tx) => tx,
                        Err(e) => {
                            return fail(
                                m,
                                driver_error(&e, None, file),
                                committed_parts,
                                started,
                                "failed",
                            )
                        }
                    };
                    let recorded =
                        record(&mut tx, file, &history_statements, started, options, alone)
                            .and_then(|()| {
                                crate::undo::store(
                                    &mut tx,
                                    &protection.queries,
                                    &file.version,
                                    &[],
                                    &p.undo.irreversible,
                                )
                                .map_err(pg_error)
                            })
                            .and_then(|()| tx.commit().map_err(|e| driver_error(&e, None, file)));
                    if let Err(error) = recorded {
                        return fail(m, error, committed_parts, started, "failed");
                    }
                }
            }
            Segment::Tx(indexes) => {
                let mut attempt = 0;
                let observed_before = m.observed.len();
                loop {
                    attempt += 1;
                    m.observed.truncate(observed_before);
                    m.attempts = m.attempts.max(attempt);
                    let end = run_tx_segment(
                        runner,
                        p,
                        indexes,
                        is_last.then_some(&history_statements),
                        config,
                        protection,
                        options,
                        started,
                        alone,
                        &mut m.observed,
                        &mut m.notes,
                    );
                    match end {
                        SegmentEnd::Done {
                            changes,
                            allowed,
                            held_ms,
                            cannot_roll_back,
                        } => {
                            m.cannot_roll_back.extend(cannot_roll_back);
                            m.locks_held_by_guard_ms += held_ms;
                            m.changes.extend(changes);
                            m.allowed.extend(allowed);
                            committed_parts += 1;
                            break;
                        }
                        SegmentEnd::Guard(findings) => {
                            m.result = Outcome::RolledBack;
                            m.reason = Some(format!(
                                "guard: {} — the migration was rolled back, nothing it did remains",
                                findings
                                    .iter()
                                    .map(|f| format!(
                                        "{} {}",
                                        f.violation.table, f.violation.message
                                    ))
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            ));
                            if committed_parts > 0 {
                                m.notes.push(format!(
                                    "{committed_parts} earlier part(s) that ran outside a transaction stay applied"
                                ));
                            }
                            m.violations = findings;
                            m.duration_ms = started.elapsed().as_millis() as u64;
                            return m;
                        }
                        SegmentEnd::Error(error, retryable)
                            if retryable && attempt <= options.lock_retries =>
                        {
                            let pause = backoff(attempt);
                            m.notes.push(format!(
                                "attempt {attempt}: {} — rolled back, retrying in {} ms",
                                error.message.lines().next().unwrap_or(""),
                                pause.as_millis()
                            ));
                            std::thread::sleep(pause);
                        }
                        SegmentEnd::Error(error, retryable) => {
                            let what = if retryable {
                                format!("gave up after {attempt} attempts")
                            } else {
                                "failed".into()
                            };
                            if error.sqlstate.as_deref() == Some("55P03") {
                                if let Runner::Real(client) = runner {
                                    for holder in lock::table_lock_holders(*client, false) {
                                        m.notes.push(format!("waited for {holder}"));
                                    }
                                }
                            }
                            if runner.is_closed() {
                                m.notes.push(
                                    "the connection to the server was lost: if that happened before COMMIT, PostgreSQL \
                                     rolled this migration back; if during COMMIT, it may have committed. \
                                     Run `safemig status` to see which"
                                        .into(),
                                );
                            }
                            return fail(m, error, committed_parts, started, &what);
                        }
                    }
                }
            }
        }
    }
    m.duration_ms = started.elapsed().as_millis() as u64;
    m
}

fn fail(
    mut m: MigrationReport,
    error: StatementError,
    committed_parts: usize,
    started: Instant,
    what: &str,
) -> MigrationReport {
    m.result = Outcome::Failed;
    let place = error
        .statement
        .as_ref()
        .map(|s| {
            format!(
                " at {}:{}:{} (statement {})",
                m.file.display(),
                s.line,
                s.column,
                s.index
            )
        })
        .unwrap_or_default();
    m.reason = Some(format!(
        "{what}{place}: {}",
        error.message.lines().next().unwrap_or("")
    ));
    if committed_parts > 0 {
        m.notes.push(format!(
            "{committed_parts} earlier part(s) of this migration ran outside a transaction and stay applied; \
             the migration is not recorded as applied"
        ));
    }
    m.error = Some(error);
    m.duration_ms = started.elapsed().as_millis() as u64;
    m
}

fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500) * 2u32.saturating_pow(attempt.saturating_sub(1));
    let jitter = Duration::from_millis(
        (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos()
            % 250) as u64,
    );
    base.min(Duration::from_secs(10)) + jitter
}

/// A clean session with safemig's timeouts: sent before every migration and
/// every statement that runs on its own.
fn reset_session_sql(options: &MigrateOptions) -> String {
    format!(
        "RESET ALL; RESET ROLE; SET lock_timeout = '{}ms'; SET statement_timeout = '{}ms'{}",
        options.lock_timeout.as_millis(),
        options.statement_timeout.as_millis(),
        if options.flush_stats {
            "; SELECT pg_catalog.pg_stat_force_next_flush()"
        } else {
            ""
        }
    )
}

/// Who may read what the guard reads: PostgreSQL's catalog only. Objects a
/// migration creates (a `public.pg_stat_get_xact_tuples_deleted`, an operator)
/// cannot shadow the guard's queries under this search_path.
/// Row security off: a policy the migration added cannot hide rows from the
/// guard's counts (a query a policy would filter fails instead) nor run its code.
/// Plans generic: the guard's prepared queries are planned once per run, not
/// again for every migration.
const GUARD_SEARCH_PATH: &str =
    "SET LOCAL search_path = pg_catalog, pg_temp; SET LOCAL row_security = off; \
     SET LOCAL plan_cache_mode = force_generic_plan";

/// The session's settings the guard changes, to give them back to the migration.
fn enter_guard(tx: &mut Transaction, queries: &Queries) -> Result<[String; 3], postgres::Error> {
    // One round trip: the values are read before the set_config calls change them.
    let row = queries.query_one(
        tx,
        "SELECT pg_catalog.current_setting('search_path'), pg_catalog.current_setting('row_security'), \
                pg_catalog.current_setting('plan_cache_mode'), \
                pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true), \
                pg_catalog.set_config('row_security', 'off', true), \
                pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true)",
        &[],
    )?;
    Ok([row.get(0), row.get(1), row.get(2)])
}

fn leave_guard(
    tx: &mut Transaction,
    queries: &Queries,
    saved: &[String; 3],
) -> Result<(), postgres::Error> {
    queries
        .execute(
            tx,
            "SELECT pg_catalog.set_config('search_path', $1, true), pg_catalog.set_config('row_security', $2, true), \
                pg_catalog.set_config('plan_cache_mode', $3, true)",
        &[&saved[0], &saved[1], &saved[2]],
    )
    .map(|_| ())
}

/// What one attempt of a transactional segment came to.
enum Attempt {
    Committed {
        changes: Vec<String>,
        allowed: Vec<Violation>,
        /// From the end of the last statement to the end of COMMIT.
        held_ms: f64,
        /// Found as it ran: rows it wrote that its rollback record does not cover.
        cannot_roll_back: Vec<String>,
    },
    Violations(Vec<GuardFinding>),
    /// The migration touched tables the snapshot did not read: rolled back, to
    /// run again with them read at BEGIN.
    Widen(Unexplained),
}

/// Runs one transactional segment, guarded. When the first attempt shows a loss
/// that cannot be judged without knowing what a table held at BEGIN (a drop, a
/// truncate or an update hidden in dynamic SQL), it is rolled back and run once
/// more with those facts read first: the decision is then exact.
#[allow(clippy::too_many_arguments)]
fn run_tx_segment(
    runner: &mut Runner,
    p: &Prepared,
    indexes: &[usize],
    record_with: Option<&Vec<String>>,
    config: &Config,
    protection: &Protection,
    options: &MigrateOptions,
    started: Instant,
    ran_alone: usize,
    observed: &mut Vec<Observation>,
    notes: &mut Vec<String>,
) -> SegmentEnd {
    let observed_before = observed.len();
    let mut needs = Needs::new();
    // The guard reads the tables the migration names; what else it touched shows
    // in its locks, and it runs again with those read too (twice at most, then
    // with every protected table read, as when a statement reaches unnamed tables).
    let mut scope = if p.reaches_unnamed {
        Scope::All
    } else {
        Scope::Tables(Default::default())
    };
    let mut widened = 0;
    let mut needs_read = false;
    let mut first = true;
    loop {
        observed.truncate(observed_before);
        let attempt = attempt_segment(
            runner,
            p,
            indexes,
            record_with,
            config,
            protection,
            options,
            started,
            ran_alone,
            observed,
            &mut needs,
            &scope,
            first,
        );
        first = false;
        match attempt {
            Ok(Attempt::Committed {
                changes,
                allowed,
                held_ms,
                cannot_roll_back,
            }) => {
                return SegmentEnd::Done {
                    changes,
                    allowed,
                    held_ms,
                    cannot_roll_back,
                }
            }
            Ok(Attempt::Widen(unexplained)) => {
                widened += 1;
                notes.push(match &unexplained {
                    Unexplained::Tables(oids) => format!(
                        "the migration touched {} table(s) it does not name (through dynamic SQL, a function, a \
                         trigger or a cascade): the guard rolled it back and ran it again with them read first",
                        oids.len()
                    ),
                    Unexplained::Everything(what) => format!(
                        "{what} inside the migration: the guard rolled it back and ran it again with every \
                         protected table read first"
                    ),
                    Unexplained::Nothing => String::new(),
                });
                scope = match (unexplained, scope) {
                    (Unexplained::Tables(more), Scope::Tables(mut extra)) if widened < 3 => {
                        extra.extend(more);
                        Scope::Tables(extra)
                    }
                    _ => Scope::All,
                };
            }
            Ok(Attempt::Violations(findings)) => {
                let certain = findings.iter().any(|f| f.violation.undecided.is_none());
                if !needs_read && !certain {
                    needs_read = true;
                    for (oid, need) in findings
                        .iter()
                        .filter_map(|f| f.violation.undecided.as_ref())
                    {
                        needs.entry(*oid).or_default().merge(need);
                    }
                    continue;
                }
                let findings = attribute(runner, p, indexes, protection, &needs, findings);
                return SegmentEnd::Guard(findings);
            }
            Err(error) => {
                let retryable = matches!(error.sqlstate.as_deref(), Some("55P03") | Some("40P01"));
                return SegmentEnd::Error(error, retryable);
            }
        }
    }
}

/// Tables the segment's statements update or truncate by name: counted at BEGIN
/// on the first attempt, so the common case needs no second one.
fn static_needs(
    tx: &mut Transaction,
    queries: &Queries,
    p: &Prepared,
    indexes: &[usize],
    needs: &mut Needs,
) -> Result<(), PgError> {
    let census = Need::census();
    for &i in indexes {
        let s = &p.statements[i];
        // UPDATEs are probed one by one before they run (only the rows they match);
        // one that cannot be probed is counted whole, from BEGIN.
        let unprobed: Vec<_> = if p.update_probes[i].is_some() {
            Vec::new()
        } else {
            s.updated_tables()
        };
        let mut oids = catalog::resolve(tx, queries, &unprobed)?;
        // A rewrite keeps every row, but a truncate in the same migration would not:
        // counting at BEGIN decides on the first run.
        let rewritten: Vec<_> = p.type_changes[i].iter().map(|c| c.table.clone()).collect();
        oids.extend(catalog::resolve(tx, queries, &rewritten)?);
        if !s.truncates.is_empty() {
            oids.extend(catalog::resolve_truncate_targets(
                tx,
                queries,
                &s.truncates,
                s.truncate_cascades,
            )?);
        }
        for oid in oids {
            needs.entry(oid).or_default().merge(&census);
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn attempt_segment(
    runner: &mut Runner,
    p: &Prepared,
    indexes: &[usize],
    record_with: Option<&Vec<String>>,
    config: &Config,
    protection: &Protection,
    options: &MigrateOptions,
    started: Instant,
    ran_alone: usize,
    observed: &mut Vec<Observation>,
    needs: &mut Needs,
    scope: &Scope,
    first: bool,
) -> Result<Attempt, StatementError> {
    let file = p.file;
    let dry = runner.is_dry();
    let mut tx = runner.begin().map_err(|e| driver_error(&e, None, file))?;
    let sql_err = |e: postgres::Error| driver_error(&e, None, file);
    if first {
        static_needs(&mut tx, &protection.queries, p, indexes, needs).map_err(pg_error)?;
    }
    // The names resolve as the migration will resolve them: before the guard's search_path.
    let scope = match scope {
        Scope::All => Scope::All,
        Scope::Tables(extra) => {
            let names: Vec<_> = indexes
                .iter()
                .flat_map(|&i| p.named[i].iter().cloned())
                .collect();
            let mut oids =
                catalog::resolve(&mut tx, &protection.queries, &names).map_err(pg_error)?;
            oids.extend(extra);
            Scope::Tables(oids)
        }
    };
    // What rollback will need: the state before of what the statements touch,
    // its names resolved as the migration resolves them (its search_path).
    let record_undo = record_with.is_some() && !dry;
    let undo_names = if record_undo {
        crate::undo::resolve_all(&mut tx, &protection.queries, &p.undo).map_err(pg_error)?
    } else {
        Vec::new()
    };
    // The guard reads under pg_catalog only; the migration then runs as it would have.
    let saved = enter_guard(&mut tx, &protection.queries).map_err(sql_err)?;
    // Read and stored in the guard's session (definitions come out qualified),
    // before the statements take their locks (the applications never wait for
    // it) and before the guard reads the history tables' counters (a write to
    // safemig.undo by the migration itself is still caught).
    let mut undo_before = Vec::new();
    if record_undo {
        undo_before =
            crate::undo::read_all(&mut tx, &protection.queries, &undo_names).map_err(pg_error)?;
        crate::undo::written_since_backup(
            &mut tx,
            &mut undo_before,
            options.backup_snapshot.as_deref(),
        )
        .map_err(pg_error)?;
        crate::undo::store(
            &mut tx,
            &protection.queries,
            &file.version,
            &undo_before,
            &p.undo.irreversible,
        )
        .map_err(pg_error)?;
    }
    let before = catalog::snapshot_before(&mut tx, protection, needs, &scope).map_err(pg_error)?;
    let history_before = catalog::history_state(&mut tx, protection).map_err(pg_error)?;
    leave_guard(&mut tx, &protection.queries, &saved).map_err(sql_err)?;

    // Observing (a rehearsal): the tables as they were when the migration began,
    // and the state after each statement, which is the next one's "before".
    let existing = if options.observe {
        Some(observe::read(&mut tx).map_err(pg_error)?)
    } else {
        None
    };
    let mut last = existing.clone();
    let mut probed = catalog::Probed::new();
    // Rows updated per table by probed UPDATEs; None once one updated other rows
    // than its probe matched (the table is then counted whole).
    let mut updates_probed: std::collections::BTreeMap<u32, Option<i64>> = Default::default();
    let mut findings = Vec::new();
    for &i in indexes {
        let s = &p.statements[i];
        if !dry {
            crate::faults::boundary(|| format!("{} statement {}", file.version, i + 1));
        }
        // A type change is tested before it runs: afterwards the old values are gone.
        let mut tested = Vec::new();
        for change in &p.type_changes[i] {
            if let Some((columns, violation)) =
                catalog::value_probe(&mut tx, &protection.queries, change, &before)
                    .map_err(pg_error)?
            {
                tested.extend(columns);
                if let Some(violation) = violation {
                    findings.push(GuardFinding {
                        violation,
                        statement: Some(statement_ref(i, s)),
                    });
                }
            }
        }
        // Nothing is gained by running the statement once a loss is certain: stop here.
        if let Some(refused) = refused(&findings, config, file) {
            tx.rollback().map_err(sql_err)?;
            return Ok(Attempt::Violations(refused));
        }
        // An UPDATE is tested before it runs, on the rows it matches: rows the
        // same migration inserts later cannot hide the values it turns NULL.
        let mut probed_update = None;
        if let Some(probe) = &p.update_probes[i] {
            if let Some((oid, matched, counter, violations)) =
                catalog::update_probe(&mut tx, &protection.queries, probe, &before)
                    .map_err(pg_error)?
            {
                probed_update = Some((oid, matched, counter));
                findings.extend(violations.into_iter().map(|violation| GuardFinding {
                    violation,
                    statement: Some(statement_ref(i, s)),
                }));
                if let Some(refused) = refused(&findings, config, file) {
                    tx.rollback().map_err(sql_err)?;
                    return Ok(Attempt::Violations(refused));
                }
            }
        }
        // One that cannot be probed (a WITH, a MERGE, an upsert) is counted whole around itself.
        let updated: Vec<u32> = if probed_update.is_some() {
            Vec::new()
        } else {
            catalog::resolve(&mut tx, &protection.queries, &s.updated_tables())
                .map_err(pg_error)?
                .into_iter()
                .filter(|oid| before.tables.contains_key(oid))
                .collect()
        };
        let mut around = Vec::new();
        if !updated.is_empty() {
            let saved = enter_guard(&mut tx, &protection.queries).map_err(sql_err)?;
            for oid in &updated {
                around.push((
                    *oid,
                    catalog::census_now(&mut tx, &protection.queries, *oid).map_err(pg_error)?,
                ));
            }
            leave_guard(&mut tx, &protection.queries, &saved).map_err(sql_err)?;
        }
        let started_at = Instant::now();
        tx.batch_execute(&s.text)
            .map_err(|e| driver_error(&e, Some((i, s)), file))?;
        // The UPDATE updated exactly the rows its probe matched, or the probe
        // proves nothing about this table.
        if let Some((oid, matched, counter)) = probed_update {
            let now =
                catalog::updated_counter(&mut tx, &protection.queries, oid).map_err(pg_error)?;
            let entry = updates_probed.entry(oid).or_insert(Some(0));
            *entry = match *entry {
                Some(sum) if now - counter == matched => Some(sum + matched),
                _ => None,
            };
        }
        if !around.is_empty() {
            let saved = enter_guard(&mut tx, &protection.queries).map_err(sql_err)?;
            for (oid, was) in &around {
                let now =
                    catalog::census_now(&mut tx, &protection.queries, *oid).map_err(pg_error)?;
                if let (Some(was), Some(now)) = (was, now) {
                    for violation in catalog::values_nulled(&before.tables[oid], was, &now) {
                        findings.push(GuardFinding {
                            violation,
                            statement: Some(statement_ref(i, s)),
                        });
                    }
                }
            }
            leave_guard(&mut tx, &protection.queries, &saved).map_err(sql_err)?;
        }
        if !tested.is_empty() {
            probed.extend(
                catalog::column_types(&mut tx, &protection.queries, &tested).map_err(pg_error)?,
            );
        }
        if let (Some(existing), Some(previous)) = (&existing, last.take()) {
            let duration_ms = started_at.elapsed().as_secs_f64() * 1000.0;
            let after = observe::read(&mut tx).map_err(pg_error)?;
            let (locks, rewritten) = observe::compare(existing, &previous, &after);
            observed.push(Observation {
                statement: i + 1,
                line: s.code_line,
                duration_ms,
                locks,
                rewritten,
                outside_transaction: false,
                note: None,
            });
            last = Some(after);
        }
    }
    let statements_done = Instant::now();
    // Deferred constraint triggers would fire at COMMIT, after the guard looked: fire them now.
    tx.batch_execute(&format!(
        "SET CONSTRAINTS ALL IMMEDIATE; {GUARD_SEARCH_PATH}"
    ))
    .map_err(sql_err)?;
    // The history first: what the migration wrote there, or left to run when
    // safemig writes there (a trigger, a rule), and whether it hid its writes.
    let (history_after, hooks) = catalog::history_after(&mut tx, protection).map_err(pg_error)?;
    let mut refused_now: Vec<Violation> = catalog::history_writes(&history_before, &history_after);
    refused_now.extend(hooks);
    let mut also_wrote = Vec::new();
    if refused_now.is_empty() {
        if let Some(statements) = record_with.filter(|_| !dry) {
            crate::faults::boundary(|| format!("{} history rows", file.version));
            record(&mut tx, file, statements, started, options, ran_alone)?;
            // What it wrote to tables that existed, counted now that it has run.
            if record_undo
                && p.undo
                    .touched
                    .iter()
                    .any(|t| t.kind == safemig_analyze::undo::Kind::Rows)
            {
                crate::undo::store_counts(&mut tx, &protection.queries, &file.version)
                    .map_err(pg_error)?;
            }
        }
    }
    // After the history rows: anything they set off is seen too.
    // Whether the migration touched tables the snapshot did not read, the history
    // rows' side effects included (a constraint or default the migration gave a
    // history table runs when safemig writes it).
    let touched = catalog::unexplained(&mut tx, protection, &before).map_err(pg_error)?;
    if touched.unexplained != Unexplained::Nothing {
        tx.rollback().map_err(sql_err)?;
        return Ok(Attempt::Widen(touched.unexplained));
    }
    // Rows it wrote that its rollback record does not cover (a trigger, a
    // cascade): from the locks the guard just read (read here when it did not).
    if record_undo && p.undo.writes_existing && refused_now.is_empty() {
        let written = match &touched.written {
            Some(written) => written.clone(),
            None => crate::undo::written_tables(&mut tx, &protection.queries).map_err(pg_error)?,
        };
        also_wrote = crate::undo::uncovered(&undo_before, &written);
        crate::undo::store_irreversible(&mut tx, &protection.queries, &file.version, &also_wrote)
            .map_err(pg_error)?;
    }
    let after = catalog::snapshot_after(&mut tx, protection, &before).map_err(pg_error)?;
    let mut verdict = catalog::evaluate(&before, &after, protection, &probed, &updates_probed);
    let locked = before.reach.is_some().then_some(&touched.exposed_tables);
    verdict
        .changes
        .extend(catalog::new_exposures(&mut tx, &before, protection, locked).map_err(pg_error)?);
    let (shown, noted) =
        catalog::auth_users_exposures(&mut tx, &before, protection, touched.catalog_changes)
            .map_err(pg_error)?;
    verdict.violations.extend(shown);
    verdict.changes.extend(noted);
    findings.extend(
        verdict
            .violations
            .into_iter()
            .chain(refused_now)
            .map(|violation| GuardFinding {
                violation,
                statement: None,
            }),
    );
    // Last, just before COMMIT (no code of the migration runs after this): were
    // the guard's own queries the ones it prepared? Otherwise what they read says nothing.
    let tampered = protection.queries.tampered(&mut tx).map_err(sql_err)?;
    if tampered > 0 {
        protection.queries.forget_all();
        findings.push(GuardFinding {
            violation: catalog::tampered_statements(tampered),
            statement: None,
        });
    }
    let (allowed, refused) = split_allowed(findings, config, file);
    if !refused.is_empty() {
        tx.rollback().map_err(sql_err)?;
        return Ok(Attempt::Violations(refused));
    }
    if !dry {
        crate::faults::boundary(|| format!("{} COMMIT", file.version));
    }
    tx.commit().map_err(sql_err)?;
    if !dry {
        crate::faults::boundary(|| format!("{} after COMMIT", file.version));
    }
    Ok(Attempt::Committed {
        changes: verdict.changes,
        allowed: allowed.into_iter().map(|f| f.violation).collect(),
        held_ms: statements_done.elapsed().as_secs_f64() * 1000.0,
        cannot_roll_back: also_wrote,
    })
}

/// The findings no `[[allow]]` permits, when there are any.
fn refused(
    findings: &[GuardFinding],
    config: &Config,
    file: &MigrationFile,
) -> Option<Vec<GuardFinding>> {
    let (_, refused) = split_allowed(findings.to_vec(), config, file);
    (!refused.is_empty()).then_some(refused)
}

/// (allowed by an `[[allow]]` of safemig.toml, not allowed).
fn split_allowed(
    findings: Vec<GuardFinding>,
    config: &Config,
    file: &MigrationFile,
) -> (Vec<GuardFinding>, Vec<GuardFinding>) {
    findings.into_iter().partition(|f| {
        f.violation.allowable
            && config
                .allowed_losses(&file.version, &file.file_name(), &f.violation.table)
                .contains(&f.violation.loss)
    })
}

/// Which statement caused each violation: replays the segment in a transaction
/// that is always rolled back, checking the guards after every statement. Runs only
/// after a violation, so the normal path pays nothing for it.
fn attribute(
    runner: &mut Runner,
    p: &Prepared,
    indexes: &[usize],
    protection: &Protection,
    needs: &Needs,
    mut findings: Vec<GuardFinding>,
) -> Vec<GuardFinding> {
    if findings.iter().all(|f| f.statement.is_some()) {
        return findings;
    }
    let replay = (|| -> Result<(), PgError> {
        let mut tx = runner.begin().map_err(|e| PgError::sql("replaying", &e))?;
        let saved =
            enter_guard(&mut tx, &protection.queries).map_err(|e| PgError::sql("replaying", &e))?;
        let before = catalog::snapshot_before(&mut tx, protection, needs, &Scope::All)?;
        let history_before = catalog::history_state(&mut tx, protection)?;
        leave_guard(&mut tx, &protection.queries, &saved)
            .map_err(|e| PgError::sql("replaying", &e))?;
        for &i in indexes {
            let s = &p.statements[i];
            tx.batch_execute(&s.text)
                .map_err(|e| PgError::sql("replaying", &e))?;
            let saved = enter_guard(&mut tx, &protection.queries)
                .map_err(|e| PgError::sql("replaying", &e))?;
            let after = catalog::snapshot_after(&mut tx, protection, &before)?;
            let history_after = catalog::history_state(&mut tx, protection)?;
            let mut now = catalog::evaluate(
                &before,
                &after,
                protection,
                &Default::default(),
                &Default::default(),
            )
            .violations;
            now.extend(catalog::history_writes(&history_before, &history_after));
            now.extend(catalog::history_hooks(&mut tx, protection)?);
            leave_guard(&mut tx, &protection.queries, &saved)
                .map_err(|e| PgError::sql("replaying", &e))?;
            for f in findings.iter_mut().filter(|f| f.statement.is_none()) {
                if now
                    .iter()
                    .any(|v| v.table == f.violation.table && v.loss == f.violation.loss)
                {
                    f.statement = Some(statement_ref(i, s));
                }
            }
            if findings.iter().all(|f| f.statement.is_some()) {
                break;
            }
        }
        tx.rollback().map_err(|e| PgError::sql("replaying", &e))
    })();
    let _ = replay; // attribution is best effort; the violation itself is already certain
    findings
}
fn record(
    tx: &mut Transaction,
    file: &MigrationFile,
    statements: &[String],
    started: Instant,
    options: &MigrateOptions,
    ran_alone: usize,
) -> Result<(), StatementError> {
    let input = SafemigRecordInput {
        checksum: file.checksum.clone(),
        applied_by: options.actor.clone(),
        duration_ms: started.elapsed().as_millis() as i64,
        backup_id: options.backup_id.clone(),
        ran_alone,
    };
    history::record_applied(
        tx,
        options.inserts.as_ref(),
        &file.version,
        &file.name,
        statements,
        &input,
    )
    .map_err(pg_error)
}

/// A statement that cannot run in a transaction, on its own. The session's
/// lock_timeout and statement_timeout, set at the start of the run, apply.
fn run_alone(
    client: &mut Client,
    s: &Statement,
    index: usize,
    file: &MigrationFile,
) -> Result<(), StatementError> {
    client
        .batch_execute(&s.text)
        .map_err(|e| driver_error(&e, Some((index, s)), file))
}

/// Indexes marked INVALID (left by a failed `CREATE INDEX CONCURRENTLY`), qualified and quoted.
/// INVALID indexes, as (schema.index, the name of their table).
fn invalid_indexes(client: &mut Client) -> Vec<(String, String)> {
    client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname), t.relname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid ORDER BY 1",
            &[],
        )
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        .unwrap_or_default()
}

fn pg_error(e: PgError) -> StatementError {
    let sqlstate = match &e {
        PgError::Sql { sqlstate, .. } => sqlstate.clone(),
        _ => None,
    };
    StatementError {
        statement: None,
        sqlstate,
        message: redact(&e.to_string()),
    }
}

/// A driver error, placed at its statement and, when PostgreSQL gives a position,
/// at the exact line and column of the file.
fn driver_error(
    e: &postgres::Error,
    statement: Option<(usize, &Statement)>,
    file: &MigrationFile,
) -> StatementError {
    let mut message = crate::describe_db_error(e);
    // Closed, or an I/O error on the socket (the server went away mid-conversation).
    let io = std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>());
    if e.as_db_error().is_none() && (e.is_closed() || io) {
        message = format!("the connection to the server was lost: {message}");
    }
    let statement = statement.map(|(i, s)| {
        let mut r = statement_ref(i, s);
        if let Some(postgres::error::ErrorPosition::Original(pos)) =
            e.as_db_error().and_then(|d| d.position())
        {
            let byte = s
                .text
                .char_indices()
                .nth((*pos as usize).saturating_sub(1))
                .map(|(b, _)| b)
                .unwrap_or(0);
            let (line, column) = safemig_analyze::line_col(&file.sql, s.offset + byte);
            r.line = line;
            r.column = column;
        }
        r
    });
    StatementError {
        statement,
        sqlstate: e.code().map(|c| c.code().to_string()),
        message: redact(&message),
    }
}

fn statement_ref(index: usize, s: &Statement) -> StatementRef {
    let (code_line, code_column) = (
        s.code_line,
        if s.code_line == s.line { s.column } else { 1 },
    );
    let code = s.text.get(s.code_offset - s.offset..).unwrap_or(&s.text);
    StatementRef {
        index: index + 1,
        line: code_line,
        column: code_column,
        excerpt: shorten(code),
    }
}

fn shorten(text: &str) -> String {
    let lines: Vec<&str> = text.lines().take(3).collect();
    let mut out = lines.join("\n");
    if out.chars().count() > 300 {
        out = out.chars().take(300).collect::<String>() + "…";
    } else if text.lines().count() > 3 {
        out.push_str("\n…");
    }
    out
}

fn excerpt_at(sql: &str, line: usize) -> String {
    sql.lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim_end()
        .to_string()
}
