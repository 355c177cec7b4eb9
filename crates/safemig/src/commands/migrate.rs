//! `safemig migrate`: apply pending migrations, each in its own guarded transaction.

use std::io::IsTerminal;
use std::time::Duration;

use safemig_pg::apply::{self, Event, MigrateOptions, MigrationReport, Outcome, RunReport};
use safemig_pg::Target;
use safemig_project::audit::AuditRecord;
use safemig_project::config::parse_duration;

use safemig_pg::backup;

use crate::cli::{BackupMode, MigrateArgs};
use crate::context::{CliError, Context};
use crate::report::{self, human};

pub fn run(ctx: &Context, args: &MigrateArgs) -> Result<i32, CliError> {
    let set = ctx.migrations()?;
    let mut options = options(ctx, args)?;
    // The static check first: risky migrations are refused unless allowed.
    let checked = ctx.analyse(&set);
    options.risky = risky_refusals(ctx, &checked);
    if args.allow_risky {
        // What no rollback undoes stays refused until safemig.toml names the migration.
        options.risky.retain(|_, rules| {
            rules
                .split(", ")
                .any(|r| safemig_analyze::IRREVERSIBLE_RULES.contains(&r))
        });
    }
    if let Some(target) = &options.target {
        if set.get(target).is_none() {
            return Err(CliError::input(format!(
                "--target {target}: no migration file has this version in {}",
                set.dir.display()
            )));
        }
    }
    let target = ctx.target()?;
    if target.is_transaction_pooler() {
        return Err(CliError::input(format!(
            "{} is Supabase's pooler in transaction mode (port 6543): it may run each transaction on another \
             server connection, so safemig's lock against concurrent runs and its timeouts would not hold\n  \
             hint: use the direct connection (db.<project>.supabase.co:5432) or the pooler's session mode (port 5432)",
            target.display()
        )));
    }
    let mut client = match target.connect() {
        Ok(client) => client,
        Err(e) => {
            let mut record = AuditRecord::new(
                "migrate",
                "failed",
                serde_json::json!({ "summary": e.to_string() }),
            );
            record.database = Some(target.display());
            ctx.audit_local(&record);
            return Err(e.into());
        }
    };
    if !ctx.json() {
        let mode = if options.dry_run {
            " (dry run: nothing will be kept)"
        } else {
            ""
        };
        println!(
            "{} {}{mode}",
            human::bold("safemig migrate →"),
            target.display()
        );
    }
    let relaxed = relax_for_target(&mut client, &set, &checked, &mut options.risky);
    let progress = Progress::new(!ctx.json());
    let mut backup_note: Option<String> = None;
    // A backup that could not be made (connection, pg_dump, disk) is a tool error:
    // exit 2, as DESIGN.md says, not 1 (which is for refusals and failed migrations).
    let mut backup_error = false;
    let mut before_first = |_: &[&safemig_project::MigrationFile]| {
        before_first(
            ctx,
            &target,
            args.backup,
            &mut backup_note,
            &mut backup_error,
        )
    };
    let result = apply::migrate(
        &mut client,
        &set,
        &ctx.config,
        &options,
        &mut |event| progress.event(event),
        &mut before_first,
    );
    progress.done();
    if args.backup == BackupMode::Skip && !options.dry_run {
        backup_note = Some("no backup: --backup skip".into());
    }
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            let mut record = AuditRecord::new(
                "migrate",
                "failed",
                serde_json::json!({ "summary": e.to_string() }),
            );
            record.database = Some(target.display());
            record.db_user = Some(target.user().to_string());
            ctx.audit_local(&record);
            return Err(e.into());
        }
    };
    let mut report = report;
    report
        .notes
        .splice(0..0, relaxed.into_iter().map(|(_, note)| note));
    // After the run: a table the migrations were to create and did not is missing now.
    report
        .notes
        .extend(ctx.config_warnings(Some(&set), Some(&mut client)));
    audit(ctx, &target, &mut client, &report, backup_note.as_deref());
    if ctx.json() {
        report::print_json(&serde_json::json!({
            "database": target.display(),
            "backup": backup_note,
            "dry_run": report.dry_run,
            "refused": report.refused,
            "migrations": report.migrations,
            "notes": report.notes,
            "summary": summary(&report),
        }));
    } else {
        if let Some(note) = &backup_note {
            println!("  {} {note}", human::dim("backup:"));
        }
        for note in &report.notes {
            println!("  {} {note}", human::yellow("note:"));
        }
        if let Some(reason) = &report.refused {
            println!("{} {}", human::red("refused:"), reason);
            // Why check called it risky, finding by finding.
            for m in report
                .migrations
                .iter()
                .filter(|m| m.result == Outcome::Refused && options.risky.contains_key(&m.version))
            {
                if let Some(file) = checked.get(&m.version) {
                    println!();
                    for f in file
                        .all_findings()
                        .into_iter()
                        .filter(|f| f.severity == safemig_analyze::Severity::Risky)
                    {
                        let sql = set
                            .migrations
                            .iter()
                            .find(|m| m.path == file.path)
                            .map_or("", |m| m.sql.as_str());
                        super::check::print_finding(&file.path, sql, f);
                    }
                    if let Some(hint) = way_through(&set, file, &m.version) {
                        println!("{hint}");
                    }
                }
            }
        }
        for m in report
            .migrations
            .iter()
            .filter(|m| m.result == Outcome::Skipped)
        {
            print_migration(m);
        }
        println!("{}", summary(&report));
    }
    Ok(if report.ok() {
        0
    } else if backup_error {
        2
    } else {
        1
    })
}

fn options(ctx: &Context, args: &MigrateArgs) -> Result<MigrateOptions, CliError> {
    let duration =
        |flag: &str, value: &Option<String>, default: Duration| -> Result<Duration, CliError> {
            match value {
                Some(text) => {
                    parse_duration(text).map_err(|e| CliError::input(format!("--{flag}: {e}")))
                }
                None => Ok(default),
            }
        };
    let mut options = MigrateOptions::from_config(&ctx.config);
    options.dry_run = args.dry_run;
    options.include_all = args.include_all;
    options.target = args.target.clone();
    options.lock_timeout = duration("lock-timeout", &args.lock_timeout, options.lock_timeout)?;
    options.statement_timeout = duration(
        "statement-timeout",
        &args.statement_timeout,
        options.statement_timeout,
    )?;
    options.advisory_lock_wait = duration("wait", &args.wait, options.advisory_lock_wait)?;
    if let Some(retries) = args.lock_retries {
        options.lock_retries = retries;
    }
    if options.lock_timeout.as_millis() == 0 {
        return Err(CliError::input(
            "--lock-timeout under 1ms would mean no timeout at all (PostgreSQL counts in milliseconds, and 0 waits forever); give a duration such as 5s",
        ));
    }
    Ok(options)
}

fn summary(report: &RunReport) -> String {
    let count = |o: Outcome| report.migrations.iter().filter(|m| m.result == o).count();
    if report.migrations.is_empty() && report.refused.is_none() {
        return "nothing to apply: the database is up to date".into();
    }
    let mut parts = Vec::new();
    for (o, label) in [
        (Outcome::Applied, "applied"),
        (Outcome::DryRun, "would apply"),
        (Outcome::RolledBack, "rolled back by the guards"),
        (Outcome::Failed, "failed"),
        (Outcome::Refused, "refused"),
        (Outcome::Skipped, "skipped"),
    ] {
        let n = count(o);
        if n > 0 {
            parts.push(format!("{n} {label}"));
        }
    }
    if parts.is_empty() {
        "nothing applied".into()
    } else {
        parts.join(", ")
    }
}

/// Migrations `check` classes risky and that `safemig.toml` does not allow:
/// version -> the risky rules. `migrate` refuses them without --allow-risky.
pub fn risky_refusals(
    ctx: &Context,
    checked: &super::check::CheckRun,
) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for file in checked
        .files
        .iter()
        .filter(|f| f.class == safemig_analyze::Class::Risky)
    {
        let version = file.version.clone().unwrap_or_default();
        if ctx.config.risky_allowed(&version, &file.file_name) {
            continue;
        }
        let rules: std::collections::BTreeSet<&str> = file
            .all_findings()
            .into_iter()
            .filter(|f| f.severity == safemig_analyze::Severity::Risky)
            .map(|f| f.rule.as_str())
            .collect();
        out.insert(version, rules.into_iter().collect::<Vec<_>>().join(", "));
    }
    out
}

/// At a refusal, the one option that gets a reviewed migration through: with
/// `--allow-risky` alone the guards would roll its loss back, so name the loss in
/// an `[[allow]]` (tables and kinds taken from the statements); what no guard
/// can undo needs `[check] allow_risky`.
fn way_through(
    set: &safemig_project::MigrationSet,
    file: &super::check::CheckedFile,
    version: &str,
) -> Option<String> {
    let sql = set.get(version)?.sql.as_str();
    let statements = safemig_analyze::split(sql).ok()?;
    let mut blocks: std::collections::BTreeMap<String, std::collections::BTreeSet<&str>> =
        std::collections::BTreeMap::new();
    let mut irreversible = false;
    for f in file
        .all_findings()
        .into_iter()
        .filter(|f| f.severity == safemig_analyze::Severity::Risky)
    {
        let loss = match f.rule.as_str() {
            "drop-table" => "table",
            "drop-column" | "drop-type-cascade" => "columns",
            "truncate" | "delete-without-where" | "delete-rows" => "rows",
            "update-overwrites-values" | "lossy-type-change" => "values",
            "set-unlogged" => "durability",
            "disable-rls" | "grant-to-anon" | "open-policy" | "view-exposes-auth-users" => {
                "exposure"
            }
            _ => {
                irreversible |= safemig_analyze::IRREVERSIBLE_RULES.contains(&f.rule.as_str());
                continue;
            }
        };
        let tables: Vec<String> = f
            .statement
            .and_then(|i| statements.get(i.wrapping_sub(1)))
            .map(|s| {
                s.data_targets()
                    .into_iter()
                    .map(|t| t.table)
                    .chain(s.updated_tables())
                    .chain(s.type_changes().into_iter().map(|c| c.table))
                    .map(|t| {
                        if t.schema.is_empty() {
                            format!("public.{}", t.name)
                        } else {
                            t.to_string()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let tables = if tables.is_empty() {
            vec!["*".to_string()]
        } else {
            tables
        };
        for table in tables {
            blocks.entry(table).or_default().insert(loss);
        }
    }
    if irreversible {
        return Some(format!(
            "\n  Once reviewed, name it in safemig.toml (--allow-risky is not enough for what no rollback undoes):\n    \
             [check]\n    allow_risky = [\"{version}\"]"
        ));
    }
    if blocks.is_empty() {
        return None;
    }
    let mut out = String::from(
        "\n  If this is intended, allow exactly this loss for this migration in safemig.toml (with --allow-risky \
         alone the guards would roll it back):",
    );
    for (table, kinds) in blocks {
        let kinds: Vec<String> = kinds.into_iter().map(|k| format!("\"{k}\"")).collect();
        out.push_str(&format!(
            "\n    [[allow]]\n    migration = \"{version}\"\n    table = {}\n    loss = [{}]\n    reason = \"why this loss is intended\"",
            toml_string(&table),
            kinds.join(", ")
        ));
    }
    Some(out)
}

/// A migration `check` classes risky only for what a table or column holds
/// (dropping it, truncating it, adding a required column to it) is not risky for a
/// database where each such table does not exist before the run (an earlier
/// migration of the run creates it) or holds nothing: nothing can be lost there.
/// Removes those from `risky` and says why, one note per migration. The guards
/// still decide at run time, from what each table holds when its migration begins.
pub fn relax_for_target(
    client: &mut safemig_pg::postgres::Client,
    set: &safemig_project::MigrationSet,
    checked: &super::check::CheckRun,
    risky: &mut std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut notes = Vec::new();
    let versions: Vec<String> = risky.keys().cloned().collect();
    for version in versions {
        let (Some(file), Some(checked_file)) = (set.get(&version), checked.get(&version)) else {
            continue;
        };
        let Some(why) = not_risky_for_target(client, checked_file, &file.sql) else {
            continue;
        };
        notes.push((
            version.clone(),
            format!(
                "{version} {}: `check` classes it risky ({}), but not for this database: {why}; the guards \
                 still decide when it runs",
                file.name, risky[&version],
            ),
        ));
        risky.remove(&version);
    }
    notes
}

/// Why a migration `check` classes risky is not risky for the database behind
/// `client`, or `None` when it is: every risky finding is about what a table or
/// column holds (`DATA_RULES`), and each such table does not exist or holds nothing.
pub fn not_risky_for_target(
    client: &mut safemig_pg::postgres::Client,
    checked_file: &super::check::CheckedFile,
    sql: &str,
) -> Option<String> {
    use safemig_pg::catalog::Stake;
    let statements = safemig_analyze::split(sql).ok()?;
    let risky_findings: Vec<_> = checked_file
        .all_findings()
        .into_iter()
        .filter(|f| f.severity == safemig_analyze::Severity::Risky)
        .collect();
    if risky_findings.is_empty() {
        return None;
    }
    // What a table holds is read with row security off: a policy must not make it look empty.
    let _ = client.batch_execute("SET row_security = off");
    let mut why = Vec::new();
    let relaxed = risky_findings.iter().all(|f| {
        if !safemig_analyze::DATA_RULES.contains(&f.rule.as_str()) || f.inside.is_some() {
            return false;
        }
        let Some(statement) = f.statement.and_then(|i| statements.get(i.wrapping_sub(1))) else {
            return false;
        };
        let targets = statement.data_targets();
        !targets.is_empty()
            && targets.iter().all(|t| {
                let name = match &t.column {
                    Some(c) => format!("{}.{c}", t.table),
                    None => t.table.to_string(),
                };
                match safemig_pg::catalog::stake(client, t).unwrap_or(Stake::HoldsData) {
                    Stake::Absent => {
                        why.push(format!("{} does not exist before the run", t.table));
                        true
                    }
                    Stake::Empty => {
                        why.push(format!(
                            "{name} holds no {}",
                            if t.column.is_some() { "value" } else { "row" }
                        ));
                        true
                    }
                    Stake::HoldsData => false,
                }
            })
    });
    let _ = client.batch_execute("RESET row_security");
    if !relaxed {
        return None;
    }
    why.sort();
    why.dedup();
    Some(why.join(", "))
}

/// `--backup auto|require`: a verified backup of this database taken with exactly
/// the migrations now applied, younger than `[backup] max_age` and still matching
/// its checksums; or a new one (auto), or a refusal (require). Runs under the advisory lock, only when something will be applied.
fn before_first(
    ctx: &Context,
    target: &Target,
    mode: BackupMode,
    note: &mut Option<String>,
    tool_error: &mut bool,
) -> Result<Option<String>, String> {
    if mode == BackupMode::Skip {
        return Ok(None);
    }
    let mut failed = |e: String| {
        *tool_error = true;
        e
    };
    let mut client = target.connect().map_err(|e| failed(e.to_string()))?;
    let (system, database) = backup::identity(&mut client).map_err(|e| failed(e.to_string()))?;
    let applied = backup::applied_versions(&mut client).map_err(|e| failed(e.to_string()))?;
    let root = &ctx.config.backup_dir();
    if let Some(found) = backup::usable(
        root,
        &system,
        &database,
        &applied,
        ctx.config.backup.max_age,
        backup::write_counter(&mut client).ok(),
    ) {
        *note = Some(format!(
            "using verified backup {} ({}, taken {} ago; no row written to a protected table since)",
            found.manifest.id,
            found.dir.display(),
            backup::age(&found)
        ));
        return Ok(Some(found.manifest.id));
    }
    if mode == BackupMode::Require {
        return Err(format!(
            "--backup require: no verified backup of {database} in {} taken with the migrations now applied, \
             younger than [backup] max_age, and with no row written to a protected table since\n  hint: safemig backup create, then safemig backup verify DIR (or --backup auto)",
            root.display()
        ));
    }
    let made = super::backup::create(ctx, None, false, false, None, None)
        .map_err(|e| failed(format!("the backup before migrating failed, so nothing was applied: {}\n  hint: fix the cause, or pass --backup skip to migrate without a backup", e.message)))?;
    let verification =
        backup::verify(&made.dir, false, &mut |_| {}).map_err(|e| failed(e.to_string()))?;
    if !verification.ok {
        return Err(format!(
            "the new backup {} failed verification: {}",
            made.dir.display(),
            verification.problems.join("; ")
        ));
    }
    *note = Some(format!(
        "backed up to {} (verified: files and checksums)",
        made.dir.display()
    ));
    Ok(Some(made.manifest.id))
}

/// Writes the run to the local audit file and, unless it was a dry run, to `safemig.audit`.
fn audit(
    ctx: &Context,
    target: &Target,
    client: &mut safemig_pg::postgres::Client,
    report: &RunReport,
    backup: Option<&str>,
) {
    let result = if report.refused.is_some() {
        "refused"
    } else if report.dry_run {
        "dry-run"
    } else if report.ok() {
        "ok"
    } else if report
        .migrations
        .iter()
        .any(|m| m.result == Outcome::RolledBack)
    {
        "rolled-back"
    } else {
        "failed"
    };
    let migrations: Vec<_> = report
        .migrations
        .iter()
        .map(|m| serde_json::json!({ "version": m.version, "name": m.name, "result": m.result, "reason": m.reason, "allowed": m.allowed, "changes": m.changes, "cannot_roll_back": m.cannot_roll_back }))
        .collect();
    let mut record = AuditRecord::new(
        "migrate",
        result,
        serde_json::json!({
            "summary": summary(report),
            "refused": report.refused,
            "dry_run": report.dry_run,
            "migrations": migrations,
            "backup": backup,
        }),
    );
    record.database = Some(target.display());
    record.db_user = Some(target.user().to_string());
    ctx.audit_local(&record);
    if report.dry_run || client.is_closed() {
        return;
    }
    let written = safemig_pg::history::ensure_tables(client)
        .and_then(|()| safemig_pg::history::insert_audit(client, &record));
    if let Err(e) = written {
        eprintln!("warning: could not write the audit row to safemig.audit: {e}");
    }
}

/// Live output: a spinner on a terminal, plain lines otherwise.
struct Progress {
    enabled: bool,
    spinner: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(enabled: bool) -> Progress {
        let spinner = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress { enabled, spinner }
    }

    fn event(&self, event: Event) {
        if !self.enabled {
            return;
        }
        match event {
            Event::Waiting(what) => {
                if let Some(s) = &self.spinner {
                    s.set_message(what);
                }
            }
            Event::Starting { file, index, total } => {
                if let Some(s) = &self.spinner {
                    s.set_message(format!(
                        "[{}/{}] {} {}",
                        index + 1,
                        total,
                        file.version,
                        file.name
                    ));
                }
            }
            Event::Finished(m) => match &self.spinner {
                Some(s) => s.suspend(|| print_migration(m)),
                None => print_migration(m),
            },
        }
    }

    fn done(&self) {
        if let Some(s) = &self.spinner {
            s.finish_and_clear();
        }
    }
}

pub fn print_migration(m: &MigrationReport) {
    let head = format!("{} {}", m.version, m.name);
    match m.result {
        Outcome::Applied => println!(
            "  {} {head}  {}",
            human::green("✓"),
            human::dim(&format!(
                "applied in {} ms ({} statements)",
                m.duration_ms, m.statements
            ))
        ),
        Outcome::DryRun => println!(
            "  {} {head}  {}",
            human::green("✓"),
            human::dim(&format!(
                "would apply ({} statements, {} ms, rolled back)",
                m.statements, m.duration_ms
            ))
        ),
        Outcome::Skipped => println!(
            "  {} {head}  {}",
            human::dim("·"),
            human::dim(m.reason.as_deref().unwrap_or("skipped"))
        ),
        Outcome::RolledBack => {
            println!(
                "  {} {head}  {}",
                human::red("✗"),
                human::red("rolled back by the guards: nothing it did remains")
            );
            for f in &m.violations {
                println!(
                    "      {} {}",
                    human::bold(&f.violation.table),
                    f.violation.message
                );
                if let Some(s) = &f.statement {
                    println!(
                        "        caused by statement {} at {}:{}:{}",
                        s.index,
                        m.file.display(),
                        s.line,
                        s.column
                    );
                    println!("{}", human::dim(&human::indent(&s.excerpt, 10)));
                }
            }
            let allowable: Vec<_> = m
                .violations
                .iter()
                .filter(|f| f.violation.allowable)
                .collect();
            if !allowable.is_empty() {
                println!(
                    "      If this loss is intended, allow it for this migration in safemig.toml:"
                );
                for f in allowable {
                    println!(
                        "{}",
                        human::dim(&format!(
                            "        [[allow]]\n        migration = \"{}\"\n        table = {}\n        loss = [\"{}\"]\n        reason = \"why this loss is intended\"",
                            m.version, toml_string(&f.violation.table), f.violation.loss
                        ))
                    );
                }
            }
            if m.violations.iter().any(|f| !f.violation.allowable) {
                println!("      A min_rows floor in safemig.toml cannot be allowed away; change the migration.");
            }
        }
        Outcome::Failed | Outcome::Refused => {
            let word = if m.result == Outcome::Failed {
                "failed"
            } else {
                "refused"
            };
            println!("  {} {head}  {}", human::red("✗"), human::red(word));
            if let Some(e) = &m.error {
                if let Some(s) = &e.statement {
                    println!(
                        "      at {}:{}:{} (statement {})",
                        m.file.display(),
                        s.line,
                        s.column,
                        s.index
                    );
                    println!("{}", human::dim(&human::indent(&s.excerpt, 8)));
                }
                println!("{}", human::indent(&e.message, 6));
            } else if let Some(reason) = &m.reason {
                println!("      {reason}");
            }
            if m.result == Outcome::Failed {
                // The engine's notes say when the usual promise does not hold.
                let lost = m
                    .notes
                    .iter()
                    .any(|n| n.contains("connection to the server was lost"));
                let partial = m.notes.iter().any(|n| n.contains("stay applied"));
                if lost {
                    println!("      The connection was lost: run `safemig status` to see whether it was applied.");
                } else if partial {
                    println!("      Its transaction was rolled back, but the parts that ran outside a transaction stay applied (see the note).");
                } else {
                    println!("      The migration's transaction was rolled back; fix the file and run migrate again.");
                }
            }
        }
    }
    for v in &m.allowed {
        println!(
            "      {} {} {} (allowed by safemig.toml; the backup holds what was there)",
            human::yellow("allowed loss:"),
            human::bold(&v.table),
            v.message
        );
    }
    for change in &m.changes {
        println!("      {} {change}", human::dim("changed:"));
    }
    for note in &m.notes {
        println!("      {} {note}", human::yellow("note:"));
    }
    if matches!(m.result, Outcome::Applied) {
        if let Some(first) = m.cannot_roll_back.first() {
            println!(
                "      {} safemig rollback cannot take it back ({first}{}): keep the backup",
                human::dim("rollback:"),
                if m.cannot_roll_back.len() > 1 {
                    format!(", and {} more", m.cannot_roll_back.len() - 1)
                } else {
                    String::new()
                }
            );
        }
    }
}

/// A TOML string for `text`: a literal ('...') when it holds double quotes.
fn toml_string(text: &str) -> String {
    if text.contains('"') && !text.contains('\'') {
        format!("'{text}'")
    } else {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
