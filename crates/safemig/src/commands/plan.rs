//! `safemig plan [--rehearse]`: what `migrate` would do, and with --rehearse,
//! proof that it works: the pending migrations run first on a throwaway copy of
//! the target's schema, and every migration replays on an empty database.

use std::collections::BTreeMap;

use safemig_analyze::Class;
use safemig_pg::apply::{MigrationReport, Outcome};
use safemig_pg::status::{self, State};
use safemig_pg::{backup, rehearse};
use safemig_project::audit::AuditRecord;
use safemig_project::MigrationFile;
use serde::Serialize;

use crate::cli::PlanArgs;
use crate::context::{CliError, Context};
use crate::report::{self, human};

#[derive(Debug, Serialize)]
struct Pending {
    version: String,
    name: String,
    class: Class,
    /// The rules behind a review or risky class.
    reasons: Vec<String>,
    /// `migrate` refuses it without --allow-risky (or an allowance in safemig.toml).
    refused_without_allow_risky: bool,
    /// Why a statically risky migration is not risky for this database.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_risky_here: Option<String>,
}

/// `plan --rehearse --rollback`: the rehearsed migrations taken back on the copy.
#[derive(Debug, Serialize)]
struct RollbackProof {
    /// Every one taken back, and the schema is the copy's before them.
    ok: bool,
    migrations: Vec<safemig_pg::rollback::RolledBack>,
    /// What differs from the copy's schema before the migrations (empty when ok).
    differences: Vec<safemig_pg::drift::Difference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
}

#[derive(Debug, Serialize)]
struct Rehearsal {
    /// Where the rehearsal's schema came from.
    source: String,
    notes: Vec<String>,
    migrations: Vec<MigrationReport>,
    /// The app's checks (SQL tests, a new user's sign-up) that passed on the copy
    /// before the pending migrations and fail after them.
    broken: Vec<safemig_pg::verify::Check>,
    /// Those that failed before the pending migrations and pass after them.
    fixed: Vec<String>,
    /// What the pending migrations changed on the copy, object by object
    /// (drift's comparison of the schema before and after them).
    effects: Vec<safemig_pg::drift::Difference>,
    /// Objects they removed that no pending migration names: taken by CASCADE
    /// or as a side effect, what a reader of the files would not expect.
    unnamed_removals: Vec<String>,
    /// How many of those checks ran.
    app_checks: usize,
    ok: bool,
}

#[derive(Debug, Serialize)]
struct Fresh {
    migrations: Vec<MigrationReport>,
    ok: bool,
    /// Whether it started from the Supabase platform stand-in.
    supabase: bool,
    /// The throwaway server's PostgreSQL major.
    postgres_major: u32,
    notes: Vec<String>,
    /// Why the failure is this machine's doing, not the project's.
    #[serde(skip_serializing_if = "Option::is_none")]
    environment_failure: Option<String>,
}

pub fn run(ctx: &Context, args: &PlanArgs) -> Result<i32, CliError> {
    let set = ctx.migrations()?;
    let target = ctx.target()?;
    let mut client = target.connect()?;
    let history = safemig_pg::history::read(&mut client)?;
    let statuses = status::compute(&set, &history);
    let pending_files: Vec<&MigrationFile> = statuses
        .iter()
        .filter(|s| s.state == State::Pending || (args.include_all && s.state == State::OutOfOrder))
        .filter_map(|s| set.get(&s.version))
        .collect();
    let blocked: Vec<String> = statuses
        .iter()
        .filter(|s| {
            matches!(s.state, State::Changed | State::MissingFile)
                || (!args.include_all && s.state == State::OutOfOrder)
        })
        .map(|s| format!("{} {} is {}", s.version, s.name, s.state.as_str()))
        .collect();

    let checked = ctx.analyse(&set);
    let mut refusals = super::migrate::risky_refusals(ctx, &checked);
    let relaxed = super::migrate::relax_for_target(&mut client, &set, &checked, &mut refusals);
    let pending: Vec<Pending> = pending_files
        .iter()
        .map(|f| {
            let file = checked.get(&f.version);
            let reasons: std::collections::BTreeSet<String> = file
                .map(|c| {
                    c.all_findings()
                        .into_iter()
                        .filter(|x| x.severity > safemig_analyze::Severity::Hint)
                        .map(|x| x.rule.clone())
                        .collect()
                })
                .unwrap_or_default();
            Pending {
                version: f.version.clone(),
                name: f.name.clone(),
                class: file.map_or(Class::Safe, |c| c.class),
                reasons: reasons.into_iter().collect(),
                refused_without_allow_risky: refusals.contains_key(&f.version),
                not_risky_here: relaxed
                    .iter()
                    .find(|(v, _)| *v == f.version)
                    .map(|(_, note)| note.clone()),
            }
        })
        .collect();

    // The backup `migrate --backup auto` would use, or that it would make.
    let (system, database) = backup::identity(&mut client)?;
    let applied = backup::applied_versions(&mut client)?;
    let usable = backup::usable(
        &ctx.config.backup_dir(),
        &system,
        &database,
        &applied,
        ctx.config.backup.max_age,
        backup::write_counter(&mut client).ok(),
    );
    let backup_text = match &usable {
        Some(b) => format!(
            "would use verified backup {} ({}, taken {} ago; no row written to a protected table since)",
            b.manifest.id,
            b.dir.display(),
            backup::age(b)
        ),
        None => format!(
            "would create and verify a new backup in {} first (no verified backup taken with the migrations now applied, younger than max_age, and with no row written since)",
            ctx.config.backup_dir().display()
        ),
    };
    let guards = guards_summary(ctx, &mut client, &pending_files)?;
    let warnings = ctx.config_warnings(Some(&set), Some(&mut client));

    let mut code = 0;
    let mut rehearsal = None;
    let mut rollback: Option<RollbackProof> = None;
    let mut fresh = None;
    if args.rehearse {
        let say = |what: &str| {
            if !ctx.json() {
                eprintln!("{}", human::dim(&format!("  … {what}")));
            }
        };
        say("starting a throwaway PostgreSQL");
        let cluster = rehearse::cluster(Some(safemig_pg::backup::server_major(&mut client)?))?;
        cluster.create_database("rehearsal")?;
        let mut notes = rehearse::copy_target(
            &mut client,
            &target,
            &cluster,
            "rehearsal",
            args.with_data,
            &mut |what| say(what),
        )?;
        // A Supabase project's migrations against a database without Supabase's
        // schemas (a new local or CI database): the copy gets the stand-in, as the
        // project's real databases have the platform.
        if set.is_supabase_project()
            && !rehearse::is_supabase(&mut client, &safemig_project::MigrationSet::default())?
        {
            safemig_pg::supabase::load_for_replay(
                &mut cluster.connect("rehearsal")?,
                &rehearse::all_sql(&set),
            )?;
            notes.push(
                "the database has no Supabase schemas (auth, storage, ...) but the migrations are a Supabase project's: \
                 the copy was given safemig's Supabase platform stand-in first"
                    .into(),
            );
        }
        let mut local = cluster.connect("rehearsal")?;
        // Without the data, row floors cannot hold; with it, they must.
        let config = if args.with_data {
            ctx.config.clone()
        } else {
            rehearse::without_floors(&ctx.config)
        };
        let mut options = rehearse::throwaway_options(&config);
        options.include_all = args.include_all;
        // What the app needs, tested before and after: a failure the migrations
        // caused is theirs; one that was there before is a note.
        let tests_dir = ctx.config.tests_dir();
        say("testing the copy before the migrations (SQL tests, a new user's sign-up)");
        let before_checks = rehearse::app_checks(&mut local, &tests_dir)?;
        let exposed = &ctx.config.check.exposed_schemas;
        let schema_before = safemig_pg::drift::snapshot(&mut local, exposed)?;
        say("applying the pending migrations there");
        let run = rehearse::apply(&mut local, &set, &config, &options)?;
        say("testing the copy after them");
        let after_checks = rehearse::app_checks(&mut local, &tests_dir)?;
        let effects = safemig_pg::drift::compare(
            &schema_before,
            &safemig_pg::drift::snapshot(&mut local, exposed)?,
        );
        let pending_text: String = pending_files
            .iter()
            .map(|f| f.sql.to_lowercase())
            .collect::<Vec<_>>()
            .join("\n");
        let unnamed_removals: Vec<String> = effects
            .iter()
            .filter(|d| d.state == "missing" && !names_object(&pending_text, &d.object))
            .map(|d| d.object.clone())
            .collect();
        let broken: Vec<safemig_pg::verify::Check> = after_checks
            .iter()
            .filter(|c| {
                !c.ok
                    && before_checks
                        .iter()
                        .find(|b| b.name == c.name)
                        .is_none_or(|b| b.ok)
            })
            .cloned()
            .collect();
        // --rollback: the rehearsed migrations taken back on the copy, newest
        // first (the copy holds no rows unless --with-data: losses are allowed
        // there); the schema must be the copy's before them.
        if args.rollback && run.ok() {
            say("taking the rehearsed migrations back on the copy");
            let applied = run
                .migrations
                .iter()
                .filter(|m| m.result == safemig_pg::apply::Outcome::Applied)
                .count();
            let options = safemig_pg::rollback::RollbackOptions {
                dry_run: false,
                allow_loss: true,
                lock_timeout: safemig_pg::rollback::DEFAULT_LOCK_TIMEOUT,
                backup_root: None,
                data: false,
            };
            let mut taken = Vec::new();
            let mut refused = None;
            for _ in 0..applied {
                match safemig_pg::rollback::run(&mut local, None, None, &options)? {
                    Ok(done) => {
                        let ok = done.iter().all(safemig_pg::rollback::RolledBack::ok);
                        taken.extend(done);
                        if !ok {
                            break;
                        }
                    }
                    Err(why) => {
                        refused = Some(why);
                        break;
                    }
                }
            }
            let differences = safemig_pg::drift::compare(
                &schema_before,
                &safemig_pg::drift::snapshot(&mut local, exposed)?,
            );
            let all =
                taken.len() == applied && taken.iter().all(safemig_pg::rollback::RolledBack::ok);
            rollback = Some(RollbackProof {
                ok: all && refused.is_none() && differences.is_empty(),
                migrations: taken,
                differences,
                refused,
            });
        }
        let ok = run.ok() && broken.is_empty();
        let passes_after = |name: &str| after_checks.iter().any(|a| a.name == name && a.ok);
        let fixed: Vec<String> = before_checks
            .iter()
            .filter(|c| !c.ok && passes_after(&c.name))
            .map(|c| c.name.clone())
            .collect();
        let mut notes = notes;
        notes.extend(before_checks.iter().filter(|c| !c.ok && !passes_after(&c.name)).map(|c| {
            format!(
                "{} fails on the copy before the migrations too, so not by their doing{}: {}",
                c.name,
                if args.with_data { "" } else { " (without --with-data the copy holds no rows, which a test may need)" },
                c.detail
            )
        }));
        notes.extend(cluster.notes().iter().cloned());
        notes.extend(safemig_pg::supabase::standins_in_use(
            &mut local,
            &rehearse::all_sql(&set),
        )?);
        notes.extend(run.refused.clone());
        rehearsal = Some(Rehearsal {
            source: format!(
                "{} of {} taken now, in a throwaway PostgreSQL",
                if args.with_data {
                    "a full copy (schema and data)"
                } else {
                    "the schema (and migration history)"
                },
                target.display()
            ),
            notes,
            migrations: run.migrations,
            broken,
            fixed,
            effects,
            unnamed_removals,
            app_checks: after_checks.len(),
            ok,
        });
        say("replaying every migration on an empty database");
        let supabase = rehearse::is_supabase(&mut client, &set)?;
        let replay = rehearse::replay_from_empty(&cluster, "fresh", &set, &ctx.config, supabase)?;
        let mut fresh_notes = replay.notes;
        // The local stack (`supabase start`, `db reset`) runs config.toml's major.
        if let Some(local) = set.supabase_major_version().filter(|m| *m != replay.major) {
            fresh_notes.push(format!(
                "supabase/config.toml names PostgreSQL {local} ([db] major_version), the database runs {}: \
                 `supabase db reset` replays on {local}, this replay on {}",
                replay.major, replay.major
            ));
        }
        fresh = Some(Fresh {
            ok: replay.run.ok(),
            migrations: replay.run.migrations,
            supabase: replay.supabase,
            postgres_major: replay.major,
            notes: fresh_notes,
            environment_failure: replay.environment_failure,
        });
        if !rehearsal.as_ref().is_some_and(|r| r.ok)
            || !fresh.as_ref().is_some_and(|f| f.ok)
            || rollback.as_ref().is_some_and(|r| !r.ok)
        {
            code = 1;
        }
        let mut record = AuditRecord::new(
            "plan --rehearse",
            if code == 0 { "ok" } else { "failed" },
            serde_json::json!({ "pending": pending.iter().map(|p| &p.version).collect::<Vec<_>>() }),
        );
        record.database = Some(target.display());
        ctx.audit_local(&record);
    }

    if ctx.json() {
        report::print_json(&serde_json::json!({
            "database": target.display(),
            "pending": pending,
            "blocked": blocked,
            "backup": { "reuse": usable.as_ref().map(|b| &b.manifest.id), "text": backup_text },
            "guards": guards,
            "rehearsal": rehearsal,
            "rollback": rollback,
            "fresh": fresh,
            "warnings": warnings,
        }));
        return Ok(code);
    }
    println!("{} {}", human::bold("safemig plan →"), target.display());
    for w in &warnings {
        println!("  {} {w}", human::yellow("warning:"));
    }
    if pending.is_empty() {
        println!(
            "  nothing pending: every migration in {} is applied",
            set.dir.display()
        );
    } else {
        println!(
            "{}",
            human::bold(&format!(
                "pending, in the order migrate applies them ({}):",
                pending.len()
            ))
        );
    }
    for (i, p) in pending.iter().enumerate() {
        let class = match p.class {
            Class::Safe => human::green("safe  "),
            Class::Review => human::yellow("review"),
            Class::Risky => human::red("risky "),
        };
        let why = if p.reasons.is_empty() {
            String::new()
        } else {
            format!("  {}", human::dim(&p.reasons.join(", ")))
        };
        println!("  {}. {class}  {} {}{why}", i + 1, p.version, p.name);
        if let Some(note) = &p.not_risky_here {
            println!("            {}", human::dim(note));
        }
        if p.refused_without_allow_risky {
            println!("            {}", human::yellow("migrate refuses it without --allow-risky (the guards still roll back a loss of existing rows or values)"));
        }
    }
    for b in &blocked {
        println!(
            "  {} {b}: migrate refuses to run until this is fixed (safemig status)",
            human::red("blocked:")
        );
    }
    println!("{} {backup_text}", human::bold("backup:"));
    println!(
        "{} {}",
        human::bold("guards:"),
        guards["text"].as_str().unwrap_or_default()
    );
    if let Some(r) = &rehearsal {
        println!("\n{} {}", human::bold("rehearsal:"), r.source);
        for note in &r.notes {
            println!("  {} {note}", human::yellow("note:"));
        }
        if r.migrations.is_empty() {
            println!("  nothing to rehearse");
        }
        for m in &r.migrations {
            super::migrate::print_migration(m);
            print_observed(m);
        }
        for c in &r.broken {
            println!(
                "  {} broken by the migrations: {}\n      {}",
                human::red("✗"),
                c.name,
                c.detail.replace('\n', "\n      ")
            );
        }
        if !r.effects.is_empty() {
            let count = |state: &str| r.effects.iter().filter(|d| d.state == state).count();
            println!(
                "  {} on the copy: {} object(s) created, {} changed, {} removed",
                human::bold("effects"),
                count("extra"),
                count("different"),
                count("missing")
            );
            for d in r.effects.iter().filter(|d| d.state == "missing") {
                let unnamed = r.unnamed_removals.contains(&d.object);
                println!(
                    "    {} {}{}",
                    if unnamed {
                        human::red("removed")
                    } else {
                        human::yellow("removed")
                    },
                    d.object,
                    if unnamed {
                        human::red(
                            "  (no pending migration names it: CASCADE or a side effect took it)",
                        )
                    } else {
                        String::new()
                    }
                );
            }
        }
        for name in &r.fixed {
            println!("  {} fixed by the migrations: {name}", human::green("✓"));
        }
        if r.app_checks > 0 && r.broken.is_empty() {
            println!(
                "  {} the app's checks pass after the migrations ({}: SQL tests, a new user's sign-up)",
                human::green("✓"),
                r.app_checks
            );
        }
        println!(
            "  {}",
            if r.ok {
                human::green(
                    "the rehearsal applied every pending migration; nothing real was touched",
                )
            } else {
                human::red(if r.broken.is_empty() {
                    "the rehearsal failed: migrate would fail the same way (nothing real was touched)"
                } else {
                    "the rehearsal failed: the migrations apply but break what the app needs (nothing real was touched)"
                })
            }
        );
    }
    if let Some(r) = &rollback {
        println!(
            "\n{} the rehearsed migrations taken back on the copy, newest first",
            human::bold("rollback:")
        );
        for m in &r.migrations {
            let head = if m.ok() {
                human::green("✓ taken back")
            } else {
                human::red("✗ refused")
            };
            println!(
                "  {head} {}_{} ({} statement(s))",
                m.version,
                m.name,
                m.statements.len()
            );
            if let Some(reason) = &m.reason {
                println!("      {reason}");
            }
        }
        if let Some(why) = &r.refused {
            println!("  {} {why}", human::red("✗"));
        }
        for d in &r.differences {
            println!("    {} {} {}", human::red("differs:"), d.state, d.object);
        }
        println!(
            "  {}",
            if r.ok {
                human::green("every rehearsed migration can be taken back: the schema is the copy's before them")
            } else {
                human::red("not every rehearsed migration can be taken back exactly (see above)")
            }
        );
    }
    if let Some(f) = &fresh {
        println!(
            "\n{} every migration from an empty database{}, as `supabase db reset` and CI run them (PostgreSQL {})",
            human::bold("fresh database:"),
            if f.supabase { " holding the Supabase platform stand-in" } else { "" },
            f.postgres_major
        );
        for note in &f.notes {
            println!("  {} {note}", human::yellow("note:"));
        }
        match f
            .migrations
            .iter()
            .find(|m| !matches!(m.result, Outcome::Applied))
        {
            None => println!(
                "  {} all {} migrations apply",
                human::green("✓"),
                f.migrations.len()
            ),
            Some(m) => {
                super::migrate::print_migration(m);
                match &f.environment_failure {
                    Some(why) => println!(
                        "  {} {why}",
                        human::yellow("this machine's doing, not the project's:")
                    ),
                    None => println!("  {}", human::dim(fresh_hint(m))),
                }
            }
        }
    }
    Ok(code)
}

/// Whether the migrations' text (lower case) names `object`, a drift object
/// (`policy owners_read ON public.t`, `column public.t.c`, `function public.f(int)`):
/// its own name, unquoted, appears in them.
fn names_object(text: &str, object: &str) -> bool {
    let (kind, rest) = object.split_once(' ').unwrap_or(("", object));
    let own = match kind {
        "policy" | "trigger" | "constraint" => rest.split(" ON ").next().unwrap_or(rest),
        "function" => rest
            .split('(')
            .next()
            .unwrap_or(rest)
            .rsplit('.')
            .next()
            .unwrap_or(rest),
        "grant" => return true,
        _ => rest.rsplit('.').next().unwrap_or(rest),
    };
    let own = own.trim_matches('"').replace("\"\"", "\"").to_lowercase();
    text.contains(&own)
}

/// What to do when the history does not build from empty, by what stopped it: a
/// guard is not an ordering problem, and an error about a missing object usually is.
fn fresh_hint(m: &MigrationReport) -> &'static str {
    let reason = m.reason.as_deref().unwrap_or_default();
    match m.result {
        Outcome::RolledBack => {
            "a guard rolled it back on the fresh database too: it loses rows or values the history itself made; \
             the refusal above says which [[allow]] (or which rewrite) lets it through"
        }
        Outcome::Refused => "refused before it ran: the reason above says what lets it through",
        _ if reason.contains("does not exist") => {
            "it uses an object no earlier migration makes: `safemig check` finds ordering problems and proposes an order that works"
        }
        _ => "the error above is PostgreSQL's; `safemig check` reads the file and may explain it",
    }
}

/// Per statement: how long, which locks on existing tables, which rewrites.
fn print_observed(m: &MigrationReport) {
    for o in &m.observed {
        let mut parts = vec![format!("{:.1} ms", o.duration_ms)];
        for lock in &o.locks {
            let effect = if lock.blocks_reads() {
                human::red(" (blocks reads and writes)")
            } else if lock.blocks_writes() {
                human::yellow(" (blocks writes)")
            } else {
                String::new()
            };
            parts.push(format!("{} on {}{effect}", lock.mode_name(), lock.relation));
        }
        for table in &o.rewritten {
            parts.push(human::red(&format!("rewrites {table}")));
        }
        if let Some(note) = &o.note {
            parts.push(note.clone());
        }
        println!(
            "      {} {}",
            human::dim(&format!("statement {} (line {}):", o.statement, o.line)),
            parts.join("; ")
        );
    }
}

/// What the guards will protect, in words and as data.
fn guards_summary(
    ctx: &Context,
    client: &mut safemig_pg::postgres::Client,
    pending: &[&MigrationFile],
) -> Result<serde_json::Value, CliError> {
    let guard = &ctx.config.guard;
    let tables = backup::user_table_count(client)?;
    let mut text = format!(
        "{tables} table(s) outside the system and Supabase-managed schemas are protected: a migration that would \
         lose rows, columns or a whole table is rolled back"
    );
    if !guard.protect.is_empty() {
        text.push_str(&format!("; also protected: {}", guard.protect.join(", ")));
    }
    if !guard.unprotect.is_empty() {
        text.push_str(&format!("; not protected: {}", guard.unprotect.join(", ")));
    }
    let floors: BTreeMap<&String, &u64> = guard.min_rows.iter().collect();
    if !floors.is_empty() {
        let list: Vec<String> = floors
            .iter()
            .map(|(t, n)| format!("{t} ≥ {n} rows"))
            .collect();
        text.push_str(&format!("; floors: {}", list.join(", ")));
    }
    let allowances: Vec<String> = ctx
        .config
        .allow
        .iter()
        .filter(|a| {
            pending
                .iter()
                .any(|f| a.migration == f.version || a.migration == f.file_name())
        })
        .map(|a| format!("{} may lose {:?} of {}", a.migration, a.loss, a.table))
        .collect();
    if !allowances.is_empty() {
        text.push_str(&format!("; allowed losses: {}", allowances.join(", ")));
    }
    Ok(serde_json::json!({
        "protected_tables": tables,
        "protect": guard.protect,
        "unprotect": guard.unprotect,
        "min_rows": guard.min_rows,
        "allowances": allowances,
        "text": text,
    }))
}
