//! `safemig rollback`: takes back the newest applied migration(s) from what
//! safemig recorded when it applied them (see `safemig_pg::undo`). With
//! `--dry-run` nothing changes: the real database is only read (what would run,
//! what would be lost), and on a throwaway copy of the database the rollback
//! runs for real, then the migrations are applied again: the schema must come
//! back to today's, which proves the rollback restored the state they started from.

use safemig_pg::rollback::{self, RollbackOptions, RolledBack};
use safemig_pg::{drift, rehearse};
use safemig_project::audit::AuditRecord;

use crate::cli::RollbackArgs;
use crate::context::{CliError, Context};
use crate::report::{self, human};

/// The round trip on a throwaway copy.
#[derive(Debug, serde::Serialize)]
struct Proof {
    /// Rolled back, then migrated again: the schema is the one before the rollback.
    ok: bool,
    /// What differs after the round trip (empty when ok).
    differences: Vec<drift::Difference>,
    /// Objects the rollback changed on the copy.
    changed_by_rollback: usize,
    notes: Vec<String>,
}

pub fn run(ctx: &Context, args: &RollbackArgs) -> Result<i32, CliError> {
    let target = ctx.target()?;
    let mut client = target.connect()?;
    let options = RollbackOptions {
        dry_run: args.dry_run,
        allow_loss: args.allow_loss,
        lock_timeout: rollback::DEFAULT_LOCK_TIMEOUT,
        backup_root: Some(ctx.config.backup_dir()),
        data: true,
    };
    let say = |what: &str| {
        if !ctx.json() {
            eprintln!("{}", human::dim(&format!("  … {what}")));
        }
    };
    let done = rollback::run(
        &mut client,
        args.version.as_deref(),
        args.to.as_deref(),
        &options,
    )?
    .map_err(CliError::input)?;
    let all_ok = !done.is_empty() && done.iter().all(RolledBack::ok);
    let proof = if args.dry_run && all_ok {
        Some(prove(ctx, &mut client, &target, args, &say)?)
    } else {
        None
    };
    let ok = all_ok && proof.as_ref().is_none_or(|p| p.ok);

    let mut record = AuditRecord::new(
        "rollback",
        if !ok {
            "refused"
        } else if args.dry_run {
            "dry-run"
        } else {
            "ok"
        },
        serde_json::json!({ "migrations": done, "proof": proof }),
    );
    record.database = Some(target.display());
    record.db_user = Some(target.user().to_string());
    ctx.audit_local(&record);
    if !args.dry_run {
        if let Err(e) = safemig_pg::history::insert_audit(&mut client, &record) {
            eprintln!("warning: could not write the audit row to safemig.audit: {e}");
        }
    }

    let code = if ok { 0 } else { 1 };
    if ctx.json() {
        report::print_json(&serde_json::json!({
            "dry_run": args.dry_run,
            "migrations": done,
            "proof": proof,
        }));
        return Ok(code);
    }
    for m in &done {
        let head = match m.result {
            "rolled-back" => human::green("took back"),
            "dry-run" => human::yellow("would take back"),
            _ => human::red("refused"),
        };
        println!(
            "{head} {}_{} ({} statement(s))",
            m.version,
            m.name,
            m.statements.len()
        );
        for s in &m.statements {
            println!("    {}", s.lines().next().unwrap_or_default());
        }
        for loss in &m.losses {
            println!("    {} {loss}", human::yellow("loses:"));
        }
        for restored in &m.restored {
            println!("    {} {restored}", human::green("restored:"));
        }
        if let Some(reason) = &m.reason {
            println!("  {reason}");
        }
    }
    if let Some(p) = &proof {
        for note in &p.notes {
            eprintln!("{} {note}", human::yellow("note:"));
        }
        if p.ok {
            println!(
                "{} on a throwaway copy: rolled back ({} object(s) changed), then migrated again, the schema is \
                 today's again",
                human::green("proven"),
                p.changed_by_rollback
            );
        } else {
            println!(
                "{} on a throwaway copy: rolled back, then migrated again, the schema differs from today's:",
                human::red("not proven")
            );
            for d in &p.differences {
                println!("    {} {}", d.state, d.object);
            }
        }
    }
    if args.dry_run && ok {
        println!(
            "{}",
            human::dim("nothing was changed; `safemig rollback` without --dry-run does it")
        );
    }
    Ok(code)
}

/// On a throwaway copy of the database (schema, history and safemig's
/// records): the rollback for real, then the migrations again up to the
/// newest one taken back, and the schema compared with the copy's before.
fn prove(
    ctx: &Context,
    client: &mut safemig_pg::postgres::Client,
    target: &safemig_pg::Target,
    args: &RollbackArgs,
    say: &dyn Fn(&str),
) -> Result<Proof, CliError> {
    say("starting a throwaway PostgreSQL for the proof");
    let cluster = rehearse::cluster(Some(safemig_pg::backup::server_major(client)?))?;
    cluster.create_database("rollback")?;
    let mut notes =
        rehearse::copy_target(client, target, &cluster, "rollback", false, &mut |what| {
            say(what)
        })?;
    let mut copy = cluster.connect("rollback")?;
    let exposed = &ctx.config.check.exposed_schemas;
    let before = drift::snapshot(&mut copy, exposed)?;
    say("taking the migrations back on the copy");
    let real = RollbackOptions {
        dry_run: false,
        allow_loss: true, // the copy holds no rows: only the schema is proven
        lock_timeout: rollback::DEFAULT_LOCK_TIMEOUT,
        // A dropped table's definition comes back from the real backup (no rows).
        backup_root: Some(ctx.config.backup_dir()),
        data: false,
    };
    let done = rollback::run(
        &mut copy,
        args.version.as_deref(),
        args.to.as_deref(),
        &real,
    )?
    .map_err(CliError::input)?;
    if let Some(failed) = done.iter().find(|m| !m.ok()) {
        notes.push(format!(
            "on the copy, {} could not be taken back: {}",
            failed.version,
            failed.reason.clone().unwrap_or_default()
        ));
        return Ok(Proof {
            ok: false,
            differences: Vec::new(),
            changed_by_rollback: 0,
            notes,
        });
    }
    let rolled_back = drift::snapshot(&mut copy, exposed)?;
    let changed_by_rollback = drift::compare(&before, &rolled_back).len();
    say("migrating the copy again");
    let set = ctx.migrations()?;
    let config = rehearse::without_floors(&ctx.config);
    let mut options = rehearse::throwaway_options(&config);
    options.target = done.first().map(|m| m.version.clone());
    let run = rehearse::apply(&mut copy, &set, &config, &options)?;
    if !run.ok() {
        let why = run
            .migrations
            .iter()
            .find_map(|m| m.reason.clone())
            .or_else(|| run.refused.clone())
            .unwrap_or_else(|| "it did not apply".into());
        notes.push(format!(
            "the rolled-back migrations could not be applied again on the copy, so the round trip proves nothing: {why}"
        ));
        return Ok(Proof {
            ok: false,
            differences: Vec::new(),
            changed_by_rollback,
            notes,
        });
    }
    let differences = drift::compare(&before, &drift::snapshot(&mut copy, exposed)?);
    Ok(Proof {
        ok: differences.is_empty(),
        differences,
        changed_by_rollback,
        notes,
    })
}
