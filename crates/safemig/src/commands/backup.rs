//! `safemig backup create|verify|list` and `safemig restore`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use safemig_pg::backup::{self, Backup, CreateOptions};
use safemig_project::audit::AuditRecord;

use crate::cli::{BackupArgs, BackupCommand, RestoreArgs};
use crate::context::{CliError, Context};
use crate::report::{self, human};

pub fn run(ctx: &Context, args: &BackupArgs) -> Result<i32, CliError> {
    match &args.command {
        BackupCommand::Create {
            out,
            all_schemas,
            in_db_copy,
            tables,
            jobs,
            restore,
        } => {
            let backup = create(
                ctx,
                out.clone(),
                *all_schemas,
                *in_db_copy,
                tables.as_deref(),
                *jobs,
            )?;
            // Verified at once, so the backup the user made is the one migrate reuses.
            let mut progress = progress_printer(ctx);
            let verification = backup::verify(&backup.dir, *restore, &mut progress)
                .map_err(|e| CliError::input(e.to_string()))?;
            if !verification.ok {
                return Err(CliError {
                    code: 1,
                    message: format!(
                        "the new backup {} failed verification: {}",
                        backup.dir.display(),
                        verification.problems.join("; ")
                    ),
                });
            }
            if ctx.json() {
                report::print_json(&serde_json::json!({
                    "id": backup.manifest.id,
                    "path": backup.dir,
                    "size": backup.size(),
                    "tables": backup.manifest.tables,
                }));
            } else {
                println!(
                    "{} backup {} ({}), verified: {}",
                    human::green("✓"),
                    backup.manifest.id,
                    backup::human_size(backup.size()),
                    if *restore {
                        "restored into a throwaway PostgreSQL, every table's rows and the critical tables' content match"
                    } else {
                        "files and checksums (prove it restores with `safemig backup verify DIR --restore`)"
                    }
                );
                println!("{}", backup.dir.display());
            }
            Ok(0)
        }
        BackupCommand::Verify { path, restore } => verify(ctx, path, *restore),
        BackupCommand::List => list(ctx),
        BackupCommand::Aside { drop_older_than } => aside(ctx, *drop_older_than),
    }
}

fn progress_printer(ctx: &Context) -> impl FnMut(&str) + '_ {
    let spinner = (!ctx.json() && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        bar
    });
    move |step: &str| match &spinner {
        Some(bar) => bar.set_message(step.to_string()),
        None if !ctx.json() => eprintln!("  {step}"),
        None => {}
    }
}

/// Creates a backup of the configured database (used by `backup create` and `migrate --backup auto`).
/// A backup inside a git work tree that git does not ignore would be staged by the
/// next `git add -A`: say so, with the fix. Silent when git is missing or the folder
/// is not in a work tree.
fn warn_if_tracked(dir: &std::path::Path) {
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["check-ignore", "-q", "."])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if status.is_ok_and(|s| s.code() == Some(1)) {
        eprintln!(
            "warning: the backup {} is inside a git work tree and not ignored: `git add -A` would commit \
             production data\n  hint: add the backup folder to .gitignore, or keep backups outside the repository",
            dir.display()
        );
    }
}

pub fn create(
    ctx: &Context,
    out: Option<PathBuf>,
    all_schemas: bool,
    in_db_copy: bool,
    tables: Option<&str>,
    jobs: Option<u32>,
) -> Result<Backup, CliError> {
    let target = ctx.target()?;
    let critical = match tables {
        Some(list) => backup::parse_tables(list)?,
        None => ctx
            .config
            .backup
            .critical
            .iter()
            .filter_map(|t| safemig_project::config::split_table_name(t))
            .collect(),
    };
    // A critical table that does not exist would be in no CSV copy, silently.
    let missing = backup::missing_tables(&mut target.connect()?, &critical)?;
    if !missing.is_empty() {
        let list = missing.join(", ");
        if tables.is_some() {
            return Err(CliError::input(format!(
                "--tables: no table {list} in {}; nothing was backed up\n  hint: list the tables with `\\dt *.*` in psql; write them as schema.table",
                target.display()
            )));
        }
        eprintln!(
            "warning: [backup] critical in safemig.toml names {list}, which is no table in {}: it is in no CSV copy of this backup",
            target.display()
        );
    }
    let migrations = ctx
        .migrations()
        .map(|set| set.migrations.into_iter().map(|m| m.path).collect())
        .unwrap_or_default();
    let options = CreateOptions {
        root: out.unwrap_or_else(|| ctx.config.backup_dir()),
        all_schemas,
        in_db_copy,
        critical,
        critical_limit: ctx.config.backup.critical_limit_mib * 1024 * 1024,
        migrations,
        jobs,
    };
    // Complete dumps of production data must not end up in git.
    for dir in options.root.ancestors() {
        if dir.file_name().is_some_and(|n| n == ".safemig") {
            use std::os::unix::fs::DirBuilderExt;
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir);
            safemig_project::audit::ignore_state_dir(dir);
        }
    }
    let mut progress = progress_printer(ctx);
    let result = backup::create(&target, &options, &mut progress);
    if let Ok(made) = &result {
        warn_if_tracked(&made.dir);
    }
    let mut record = AuditRecord::new(
        "backup create",
        if result.is_ok() { "ok" } else { "failed" },
        match &result {
            Ok(b) => serde_json::json!({ "id": b.manifest.id, "path": b.dir, "size": b.size() }),
            Err(e) => serde_json::json!({ "summary": e.to_string() }),
        },
    );
    record.database = Some(target.display());
    ctx.audit_local(&record);
    Ok(result?)
}

fn verify(ctx: &Context, path: &Path, restore: bool) -> Result<i32, CliError> {
    let mut progress = progress_printer(ctx);
    let verification = backup::verify(path, restore, &mut progress)?;
    let mut record = AuditRecord::new(
        "backup verify",
        if verification.ok { "ok" } else { "failed" },
        serde_json::json!({ "path": path, "restore": restore, "problems": verification.problems }),
    );
    record.database = Backup::open(path).ok().map(|b| b.manifest.url);
    ctx.audit_local(&record);
    if ctx.json() {
        report::print_json(&serde_json::to_value(&verification).unwrap_or_default());
    } else {
        let what = if restore {
            "restored into a throwaway PostgreSQL and compared"
        } else {
            "files and checksums"
        };
        if verification.ok {
            println!("{} {} verified ({what})", human::green("✓"), path.display());
        } else {
            println!(
                "{} {} failed verification ({what}):",
                human::red("✗"),
                path.display()
            );
            for p in &verification.problems {
                println!("  - {p}");
            }
            println!("  Do not rely on this backup: take a new one with `safemig backup create`.");
        }
        for n in &verification.notes {
            println!("  {} {n}", human::yellow("note:"));
        }
    }
    Ok(if verification.ok { 0 } else { 1 })
}

fn list(ctx: &Context) -> Result<i32, CliError> {
    let root = &ctx.config.backup_dir();
    let backups = backup::list(root);
    let interrupted = backup::interrupted(root);
    let newest_verified = backups
        .iter()
        .rev()
        .find(|b| b.verified())
        .map(|b| b.manifest.id.clone());
    if ctx.json() {
        let items: Vec<_> = backups
            .iter()
            .map(|b| {
                serde_json::json!({
                    "id": b.manifest.id,
                    "path": b.dir,
                    "finished_at": b.manifest.finished_at,
                    "size": b.size(),
                    "database": b.manifest.database,
                    "verification": b.verification,
                    "verified": b.verified(),
                    "newest_verified": Some(&b.manifest.id) == newest_verified.as_ref(),
                })
            })
            .collect();
        report::print_json(&serde_json::json!({ "backups": items, "interrupted": interrupted }));
        return Ok(0);
    }
    println!("{} {}", human::bold("backups in"), root.display());
    if backups.is_empty() {
        println!("  (none)");
    }
    for dir in &interrupted {
        // Its age tells a backup being written now from one that died.
        let age = std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .map(|d| format!("last written {} s ago", d.as_secs()))
            .unwrap_or_else(|| "age unknown".into());
        println!(
            "  {} {} is an incomplete backup ({age}): still being written by another `backup create` or \
             migrate, or interrupted (the process or the server stopped). It is not listed and never used; \
             once no backup is running, remove it with `rm -r {}`",
            human::yellow("note:"),
            dir.display(),
            dir.display()
        );
    }
    for b in &backups {
        let state = match &b.verification {
            Some(v) if v.ok && !b.verified() => {
                human::red("verification does not match this manifest")
            }
            Some(v) if v.ok && v.restore => human::green("verified (restored)"),
            Some(v) if v.ok => human::green("verified (files)"),
            Some(_) => human::red("FAILED verification"),
            None => human::yellow("not verified"),
        };
        let mark = if Some(&b.manifest.id) == newest_verified.as_ref() {
            " ← newest verified"
        } else {
            ""
        };
        println!(
            "  {}  {:>10}  {:<12}  {state}{mark}",
            b.manifest.finished_at.format("%Y-%m-%d %H:%M:%S UTC"),
            backup::human_size(b.size()),
            b.manifest.database
        );
        println!("      {}", human::dim(&b.dir.display().to_string()));
    }
    Ok(0)
}

/// `backup aside`: what safemig keeps in the database, and dropping what is old.
fn aside(ctx: &Context, drop_older_than: Option<u32>) -> Result<i32, CliError> {
    let target = ctx.target()?;
    let mut client = target.connect()?;
    let (dropped, kept) = match drop_older_than {
        Some(days) => {
            let (dropped, kept) =
                backup::drop_aside(&mut client, chrono::Duration::days(i64::from(days)))?;
            let mut record = AuditRecord::new(
                "backup aside --drop-older-than",
                "ok",
                serde_json::json!({ "days": days, "dropped": dropped.iter().map(|a| &a.table).collect::<Vec<_>>() }),
            );
            record.database = Some(target.display());
            ctx.audit_local(&record);
            (dropped, kept)
        }
        None => (Vec::new(), backup::aside_tables(&mut client)?),
    };
    if ctx.json() {
        report::print_json(
            &serde_json::json!({ "database": target.display(), "dropped": dropped, "kept": kept }),
        );
        return Ok(0);
    }
    let line = |a: &backup::Aside| {
        format!(
            "{}  {}  {}  {}",
            a.made_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "age unknown".into()),
            backup::human_size(a.bytes.max(0) as u64),
            a.table,
            human::dim(a.kind)
        )
    };
    for a in &dropped {
        println!("{} dropped {}", human::green("✓"), line(a));
    }
    if kept.is_empty() {
        println!("nothing kept in safemig_backup");
    } else {
        println!("{}", human::bold("kept in safemig_backup:"));
        for a in &kept {
            println!("  {}", line(a));
        }
        if drop_older_than.is_none() {
            println!(
                "{}",
                human::dim("drop the old ones with `safemig backup aside --drop-older-than DAYS` (they are left out of drift and of the guards)")
            );
        }
    }
    Ok(0)
}

pub fn restore(ctx: &Context, args: &RestoreArgs) -> Result<i32, CliError> {
    let backup = Backup::open(&args.path)?;
    let mut progress = progress_printer(ctx);
    let (result, details, database) = match (&args.tables, &args.into) {
        (Some(list), _) => {
            let tables = backup::parse_tables(list)?;
            let target = ctx.target()?;
            let mut client = target.connect()?;
            let result = backup::restore_tables(
                &backup,
                &mut client,
                &tables,
                args.from_other_database,
                &mut progress,
            );
            let details = match &result {
                Ok(done) => serde_json::json!({ "backup": backup.manifest.id, "tables": done }),
                Err(e) => serde_json::json!({ "backup": backup.manifest.id, "summary": e.to_string() }),
            };
            let result = result
                .map(|done| {
                    let count = done.len();
                    let mut lines: Vec<String> = done
                        .into_iter()
                        .map(|r| {
                            let mut line = format!(
                                "{}: {} rows restored ({} before; those kept in {})",
                                r.table, r.rows_after, r.rows_before, r.kept_in
                            );
                            if !r.cascades_not_restored.is_empty() {
                                line.push_str(&format!(
                                    "\n  note: rows of {} are deleted with this table's (ON DELETE CASCADE) and were not restored; \
                                     if rows of {} were deleted since the backup, theirs went too: restore them together \
                                     (--tables {},{})",
                                    r.cascades_not_restored.join(", "),
                                    r.table,
                                    r.table,
                                    r.cascades_not_restored.join(",")
                                ));
                            }
                            line
                        })
                        .collect();
                    if count > 0 {
                        lines.push(
                            "the replaced rows stay in safemig_backup until you drop them: `safemig backup aside` lists them, \
                             `--drop-older-than DAYS` drops the old ones"
                                .into(),
                        );
                    }
                    lines
                })
                .map_err(|e| CliError { code: 1, message: e.to_string() });
            (result, details, target.display())
        }
        (None, Some(url)) => {
            let target = safemig_pg::Target::resolve(Some(url))?;
            let result = restore_into(ctx, &backup, &target, args.clean, &mut progress);
            let details = serde_json::json!({ "backup": backup.manifest.id, "clean": args.clean, "result": result.as_ref().map_err(|e| e.message.clone()).err() });
            (result, details, target.display())
        }
        (None, None) => {
            return Err(CliError::input(
                "say what to restore: --tables schema.table,... (in place, into the configured database) or --into URL (the complete dump)",
            ))
        }
    };
    let mut record = AuditRecord::new(
        "restore",
        if result.is_ok() { "ok" } else { "failed" },
        details,
    );
    record.database = Some(database);
    ctx.audit_local(&record);
    match result {
        Ok(lines) => {
            if ctx.json() {
                report::print_json(&serde_json::json!({ "restored": lines }));
            } else {
                for l in lines {
                    println!("{} {l}", human::green("✓"));
                }
            }
            Ok(0)
        }
        Err(e) => Err(e),
    }
}

fn restore_into(
    ctx: &Context,
    backup: &Backup,
    target: &safemig_pg::Target,
    clean: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<String>, CliError> {
    let problems = backup::quick_check(backup);
    if !problems.is_empty() {
        return Err(CliError {
            code: 1,
            message: format!(
                "refusing to restore from a backup that fails verification: {}",
                problems.join("; ")
            ),
        });
    }
    let mut client = target.connect()?;
    let tables = backup::user_table_count(&mut client)?;
    if tables > 0 && !clean {
        return Err(CliError::input(format!(
            "{} is not empty ({tables} tables); restore into an empty database, or pass --clean to replace what is there \
             (a backup of it is taken first)",
            target.display()
        )));
    }
    let mut lines = Vec::new();
    if tables > 0 {
        // --clean replaces data: back up what is there first.
        let before = backup::create(
            target,
            &CreateOptions {
                root: ctx.config.backup_dir(),
                all_schemas: false,
                in_db_copy: false,
                critical: Vec::new(),
                critical_limit: ctx.config.backup.critical_limit_mib * 1024 * 1024,
                migrations: Vec::new(),
                jobs: None,
            },
            progress,
        )?;
        let problems = backup::quick_check(&before);
        if !problems.is_empty() {
            return Err(CliError { code: 1, message: format!("--clean: the backup of what it would replace fails verification ({}); nothing was replaced", problems.join("; ")) });
        }
        lines.push(format!(
            "backed up what --clean replaces: {}",
            before.dir.display()
        ));
        // Everything the backup holds is replaced; what it does not hold (the schemas
        // it left out, safemig's own backup copies, the migration history) stays.
        let mut keep: Vec<String> = backup.manifest.excluded_schemas.clone();
        keep.extend([
            "safemig_backup".to_string(),
            "supabase_migrations".to_string(),
        ]);
        let schemas: Vec<String> = client
            .query(
                "SELECT DISTINCT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r','p','v','m','S') AND n.nspname NOT IN ('pg_catalog','information_schema') \
                   AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> ALL($1)",
                &[&keep],
            )
            .map_err(|e| CliError::input(e.to_string()))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        // All the drops in one transaction: either everything is cleared or nothing is.
        let mut tx = client
            .transaction()
            .map_err(|e| CliError::input(e.to_string()))?;
        for schema in &schemas {
            tx.batch_execute(&format!(
                "DROP SCHEMA {} CASCADE",
                safemig_pg::quote_ident(schema)
            ))
            .map_err(|e| {
                CliError::input(format!(
                    "--clean: dropping schema {schema}: {e}; nothing was dropped"
                ))
            })?;
        }
        tx.batch_execute("CREATE SCHEMA IF NOT EXISTS public")
            .map_err(|e| CliError::input(e.to_string()))?;
        tx.commit()
            .map_err(|e| CliError::input(format!("--clean: {e}; nothing was dropped")))?;
    }
    let major = safemig_pg::backup::server_major(&mut client)?;
    let notes = backup::restore_dump(backup, target, major, progress)?;
    let problems = backup::compare_with_manifest(&mut client, &backup.manifest, false)?;
    if !problems.is_empty() {
        return Err(CliError {
            code: 1,
            message: problems.join("; "),
        });
    }
    lines.push(format!(
        "restored {} into {} ({} tables, row counts match the manifest)",
        backup.manifest.id,
        target.display(),
        backup.manifest.tables.len()
    ));
    lines.extend(notes.into_iter().map(|n| format!("note: {n}")));
    Ok(lines)
}
