//! `safemig verify [--drift]`: is the database what it should be? Required
//! objects from `[verify]`, protected tables' rows, the SQL tests, and with
//! --drift, the schema against the one the migrations build from empty.

use safemig_pg::drift::{self, Difference};
use safemig_pg::status::State;
use safemig_pg::verify::{self, Check};
use safemig_pg::{backup, rehearse};
use safemig_project::audit::AuditRecord;

use crate::cli::VerifyArgs;
use crate::context::{CliError, Context};
use crate::report::{self, human};

pub fn run(ctx: &Context, args: &VerifyArgs) -> Result<i32, CliError> {
    let target = ctx.target()?;
    let mut client = target.connect()?;
    let mut checks: Vec<Check> = verify::required_objects(&mut client, &ctx.config)?;

    // The backup the last migrate run took (or reused) before it changed anything:
    // its critical tables' rows are floors, while it is younger than [backup]
    // max_age (after that, rows the application deleted since are no loss).
    let mut notes = Vec::new();
    let history = safemig_pg::history::read(&mut client)?;
    let last_backup_id = history
        .safemig
        .values()
        .filter(|r| r.backup_id.is_some())
        .max_by_key(|r| r.applied_at)
        .and_then(|r| r.backup_id.clone());
    let (system, database) = backup::identity(&mut client)?;
    let floor_backup = last_backup_id.as_deref().and_then(|id| {
        backup::list(&ctx.config.backup_dir())
            .into_iter()
            .find(|b| {
                b.manifest.id == id
                    && b.verified()
                    && b.manifest.system_identifier == system
                    && b.manifest.database == database
            })
    });
    let floor_backup = match floor_backup {
        Some(b)
            if (chrono::Utc::now() - b.manifest.finished_at)
                .to_std()
                .is_ok_and(|age| age <= ctx.config.backup.max_age) =>
        {
            Some(b)
        }
        Some(b) => {
            notes.push(format!(
                "backup {} (taken before the last migration) is older than [backup] max_age: its row counts are not used as floors",
                b.manifest.id
            ));
            None
        }
        None => None,
    };
    checks.extend(verify::protected_rows(
        &mut client,
        &ctx.config,
        floor_backup.as_ref(),
    )?);

    if !args.no_tests {
        let dir = args.tests.clone().unwrap_or_else(|| ctx.config.tests_dir());
        let files = verify::test_files(&dir);
        if files.is_empty() {
            notes.push(format!("no SQL tests in {} (each .sql file there runs in a transaction that is rolled back)", dir.display()));
        }
        for file in files {
            let label = file
                .strip_prefix(&dir)
                .unwrap_or(&file)
                .display()
                .to_string();
            checks.push(verify::run_test(&mut client, &file, &label));
        }
    }

    let mut drift_report: Option<Result<Vec<Difference>, String>> = None;
    if args.drift {
        // The migrations the database has applied, not the pending ones: drift is
        // about what was done outside them, not about what is still to come.
        let all = ctx.migrations()?;
        let statuses = safemig_pg::status::compute(&all, &history);
        let applied: std::collections::BTreeSet<&str> = statuses
            .iter()
            .filter(|s| matches!(s.state, State::Applied | State::Changed))
            .map(|s| s.version.as_str())
            .collect();
        let pending = statuses
            .iter()
            .filter(|s| matches!(s.state, State::Pending | State::OutOfOrder))
            .count();
        if pending > 0 {
            notes.push(format!("drift leaves out the {pending} migration(s) not applied yet (safemig status lists them)"));
        }
        let set = safemig_project::MigrationSet {
            dir: all.dir.clone(),
            migrations: all
                .migrations
                .iter()
                .filter(|m| applied.contains(m.version.as_str()))
                .cloned()
                .collect(),
            ignored: Vec::new(),
        };
        if !ctx.json() {
            eprintln!(
                "{}",
                human::dim("  … replaying the migrations on a throwaway PostgreSQL for --drift")
            );
        }
        let cluster = rehearse::cluster(Some(safemig_pg::backup::server_major(&mut client)?))?;
        notes.extend(cluster.notes().iter().cloned());
        let supabase = rehearse::is_supabase(&mut client, &set)?;
        let replay = rehearse::replay_from_empty(&cluster, "drift", &set, &ctx.config, supabase)?;
        notes.extend(replay.notes.iter().cloned());
        let replay = match &replay.environment_failure {
            Some(why) => {
                notes.push(format!(
                    "the replay failed by this machine's doing, not the project's: {why}"
                ));
                replay.run
            }
            None => replay.run,
        };
        let exposed = &ctx.config.check.exposed_schemas;
        drift_report = Some(match replay.migrations.iter().find(|m| m.result != safemig_pg::apply::Outcome::Applied) {
            Some(m) => Err(format!(
                "the migrations do not build from an empty database ({} {}: {}), so there is nothing to compare with; \
                 `safemig plan --rehearse` and `safemig check` show why",
                m.version,
                m.name,
                m.reason.as_deref().unwrap_or("not applied")
            )),
            None => {
                let expected = drift::snapshot(&mut cluster.connect("drift")?, exposed)?;
                let actual = drift::snapshot(&mut client, exposed)?;
                Ok(drift::compare(&expected, &actual))
            }
        });
    }

    let drift_ok = match &drift_report {
        None => true,
        Some(Ok(list)) => list.is_empty(),
        Some(Err(_)) => false,
    };
    // A verification that checked nothing proves nothing: it must not pass
    // silently (a --dir from another folder that missed the project's tests, a
    // project with nothing configured yet).
    let nothing_checked = checks.is_empty() && drift_report.is_none();
    if nothing_checked {
        notes.push(format!(
            "nothing was checked: no required objects ([verify] in safemig.toml{}), no row floors (a verified backup \
             taken by the last migrate, or [guard.min_rows]), no SQL tests in {}; add one of them, or run from the \
             project's folder (or give --config)",
            ctx.config
                .source
                .as_ref()
                .map(|s| format!(", read from {}", s.display()))
                .unwrap_or_else(|| ": no safemig.toml was found".into()),
            args.tests.clone().unwrap_or_else(|| ctx.config.tests_dir()).display()
        ));
    }
    let ok = checks.iter().all(|c| c.ok) && drift_ok && !nothing_checked;
    let failed = checks.iter().filter(|c| !c.ok).count();
    audit(ctx, &target, &mut client, ok, failed, &drift_report);

    if ctx.json() {
        let drift_json = drift_report.as_ref().map(|d| match d {
            Ok(list) => serde_json::json!({ "ok": list.is_empty(), "differences": list }),
            Err(e) => serde_json::json!({ "ok": false, "error": e }),
        });
        report::print_json(&serde_json::json!({
            "database": target.display(),
            "ok": ok,
            "checks": checks,
            "nothing_checked": nothing_checked,
            "notes": notes,
            "drift": drift_json,
            "backup": floor_backup.as_ref().map(|b| &b.manifest.id),
        }));
        return Ok(if ok { 0 } else { 1 });
    }
    println!("{} {}", human::bold("safemig verify →"), target.display());
    for (kind, title) in [
        ("object", "required objects ([verify] in safemig.toml)"),
        ("rows", "protected rows"),
        ("test", "SQL tests (each rolled back)"),
    ] {
        let list: Vec<&Check> = checks.iter().filter(|c| c.kind == kind).collect();
        if list.is_empty() {
            continue;
        }
        println!("{}", human::bold(title));
        for c in list {
            let mark = if c.ok {
                human::green("✓")
            } else {
                human::red("✗")
            };
            println!(
                "  {mark} {}  {}",
                c.name,
                if c.ok {
                    human::dim(&c.detail)
                } else {
                    c.detail.clone()
                }
            );
        }
    }
    for note in &notes {
        println!("{} {note}", human::dim("note:"));
    }
    if let Some(d) = &drift_report {
        println!(
            "{}",
            human::bold("drift (the database against its migrations replayed from empty)")
        );
        match d {
            Err(e) => println!("  {} {e}", human::red("✗")),
            Ok(list) if list.is_empty() => println!(
                "  {} the schema is what the migrations build",
                human::green("✓")
            ),
            Ok(list) => {
                for diff in list {
                    let state = match diff.state {
                        "missing" => human::red("missing  "),
                        "extra" => human::yellow("extra    "),
                        _ => human::yellow("different"),
                    };
                    println!("  {state} {}", diff.object);
                    match diff.state {
                        "missing" => println!(
                            "            {}",
                            human::dim("the migrations create it; the database lacks it")
                        ),
                        "extra" => println!(
                            "            {}",
                            human::dim(
                                "in the database, but no migration creates it (made by hand?)"
                            )
                        ),
                        _ => {
                            println!(
                                "            {} {}",
                                human::dim("migrations:"),
                                diff.expected.as_deref().unwrap_or("")
                            );
                            println!(
                                "            {} {}",
                                human::dim("database:  "),
                                diff.actual.as_deref().unwrap_or("")
                            );
                        }
                    }
                }
            }
        }
    }
    if ok {
        println!(
            "{}",
            human::green(&format!("verified: {} checks passed", checks.len()))
        );
    } else if nothing_checked {
        println!(
            "{}",
            human::red("not verified: nothing was checked (see the note above)")
        );
    } else {
        let drift_count = match &drift_report {
            Some(Ok(list)) => list.len(),
            Some(Err(_)) => 1,
            None => 0,
        };
        println!(
            "{}",
            human::red(&format!(
                "verification failed: {failed} check(s), {drift_count} drift finding(s)"
            ))
        );
    }
    Ok(if ok { 0 } else { 1 })
}

/// To the local audit file, and to `safemig.audit` when safemig already keeps one
/// there (verify reads; it does not create schemas).
fn audit(
    ctx: &Context,
    target: &safemig_pg::Target,
    client: &mut safemig_pg::postgres::Client,
    ok: bool,
    failed: usize,
    drift: &Option<Result<Vec<Difference>, String>>,
) {
    let mut record = AuditRecord::new(
        "verify",
        if ok { "ok" } else { "failed" },
        serde_json::json!({
            "failed_checks": failed,
            "drift": drift.as_ref().map(|d| match d { Ok(list) => list.len() as i64, Err(_) => -1 }),
        }),
    );
    record.database = Some(target.display());
    ctx.audit_local(&record);
    let has_table = client
        .query_one("SELECT to_regclass('safemig.audit') IS NOT NULL", &[])
        .map(|r| r.get::<_, bool>(0))
        .unwrap_or(false);
    if has_table {
        if let Err(e) = safemig_pg::history::insert_audit(client, &record) {
            eprintln!("warning: could not write the audit row to safemig.audit: {e}");
        }
    }
}
