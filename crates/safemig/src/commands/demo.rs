//! `safemig demo`: the seed runbook end to end, on a throwaway PostgreSQL, with no input.
//!
//! The story (../shared/seed/SAFE_MIGRATION_STRATEGY.md): production has
//! `handle_new_user()` but no trigger calling it, 59 `library_tracks` that must
//! survive, and a pulled `remote_schema.sql` that would drop a column. The demo
//! runs the real commands, in-process, against a real PostgreSQL, and checks that
//! each step did what it says.

use std::path::{Path, PathBuf};
use std::time::Instant;

use safemig_pg::Ephemeral;

use crate::cli::{
    BackupMode, CheckArgs, DemoArgs, DoctorArgs, Format, Global, MigrateArgs, PlanArgs, VerifyArgs,
};
use crate::context::{CliError, Context};
use crate::report::human;

const BASELINE: &str = r#"-- The baseline schema, as production has it today.
CREATE TABLE public.users (
    id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    email text,
    full_name text,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY "users read their own row" ON public.users FOR SELECT USING (auth.uid() = id);

CREATE TABLE public.library_tracks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL,
    artist text NOT NULL,
    duration_seconds integer NOT NULL,
    r2_key text,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.library_tracks ENABLE ROW LEVEL SECURITY;

-- The function exists, but nothing attaches it to auth.users (the seed's issue 1).
CREATE OR REPLACE FUNCTION public.handle_new_user()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = ''
AS $$
BEGIN
    INSERT INTO public.users (id, email, full_name)
    VALUES (NEW.id, NEW.email, NEW.raw_user_meta_data ->> 'full_name');
    RETURN NEW;
END;
$$;

INSERT INTO public.library_tracks (title, artist, duration_seconds, r2_key)
SELECT 'Track ' || n, 'Artist ' || (n % 7 + 1), 120 + n, 'tracks/' || n || '.mp3'
FROM generate_series(1, 59) AS n;
"#;

const TRIGGER: &str = r#"-- Attach the user-creation trigger to the function the baseline created.
DROP TRIGGER IF EXISTS on_auth_user_created ON auth.users;
CREATE TRIGGER on_auth_user_created
    AFTER INSERT ON auth.users
    FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
"#;

const REMOTE_SCHEMA: &str = r#"-- Pulled with `supabase db pull` from a branch where r2_key had been removed.
ALTER TABLE public.library_tracks ALTER COLUMN duration_seconds TYPE numeric;
ALTER TABLE public.library_tracks DROP COLUMN IF EXISTS r2_key;
"#;

const R2_FIELDS: &str = r#"-- R2 storage fields.
ALTER TABLE public.library_tracks ADD COLUMN IF NOT EXISTS r2_bucket text;
"#;

const CONFIG: &str = r#"# safemig.toml for the demo project
[guard.min_rows]
"public.library_tracks" = 59    # the seed's 59 tracks must survive every migration

[verify]                        # what `safemig verify` requires after migrating
functions = ["public.handle_new_user()"]
triggers = ["on_auth_user_created ON auth.users"]
columns = ["public.library_tracks.r2_key"]
"#;

/// The seed's "test user creation trigger", as a SQL test `verify` runs and rolls back.
const NEW_USER_TEST: &str =
    include_str!("../../../../examples/supabase/tests/new_user_creates_profile.sql");

pub fn run(global: &Global, args: &DemoArgs) -> Result<i32, CliError> {
    if global.format == Format::Json {
        return Err(CliError::input(
            "safemig demo is a walkthrough for people; it has no JSON output",
        ));
    }
    let temp;
    let project: PathBuf = match &args.keep {
        Some(dir) => {
            if dir.exists()
                && std::fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                return Err(CliError::input(format!(
                    "--keep {}: the folder must be new or empty",
                    dir.display()
                )));
            }
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("safemig-demo-")
                .tempdir()
                .map_err(CliError::input)?;
            temp.path().to_path_buf()
        }
    };
    let migrations = project.join("supabase/migrations");
    std::fs::create_dir_all(&migrations).map_err(CliError::input)?;

    title("safemig demo: the seed runbook on a throwaway PostgreSQL");
    step(
        1,
        "Start a throwaway PostgreSQL (initdb + pg_ctl in a temp folder, unix socket only)",
    );
    let started = Instant::now();
    let cluster = Ephemeral::start()?;
    cluster.create_database("app")?;
    let url = cluster.url("app");
    say(&format!(
        "running on {} (port {}), ready in {} ms",
        cluster.socket_dir().display(),
        cluster.port(),
        started.elapsed().as_millis()
    ));

    step(2, "Production today: Supabase auth, the baseline schema, 59 library_tracks, handle_new_user() without its trigger");
    let mut client = cluster.connect("app")?;
    client
        .batch_execute(safemig_pg::supabase::PLATFORM_SQL)
        .map_err(|e| CliError::input(format!("loading the Supabase stand-in: {e}")))?;
    write(
        &migrations.join("20250831022018_baseline_schema.sql"),
        BASELINE,
    )?;
    write(&project.join("safemig.toml"), CONFIG)?;
    let tests = project.join("supabase/tests");
    std::fs::create_dir_all(&tests).map_err(CliError::input)?;
    write(&tests.join("new_user_creates_profile.sql"), NEW_USER_TEST)?;
    let ctx = Context::load(Global {
        db: Some(url.clone()),
        config: Some(project.join("safemig.toml")),
        dir: Some(migrations.clone()),
        format: Format::Human,
        audit_file: Some(project.join(".safemig/audit.jsonl")),
    })?;
    command("safemig migrate --backup skip");
    expect(
        super::migrate::run(
            &ctx,
            &MigrateArgs {
                backup: BackupMode::Skip,
                ..Default::default()
            },
        )? == 0,
        "the baseline migration applies",
    )?;

    command("safemig doctor");
    let doctor = super::doctor::run(&ctx, &DoctorArgs::default())?;
    expect(
        doctor == 1,
        "doctor finds handle_new_user() with no trigger on production (the seed's issue 1)",
    )?;

    step(
        3,
        "Phase 0, before anything changes: a backup, proven by restoring it",
    );
    command("safemig backup create");
    let made = super::backup::create(&ctx, None, false, false, None, None)?;
    say(&format!(
        "{} {} ({})",
        human::green("✓"),
        made.dir.display(),
        safemig_pg::backup::human_size(made.size())
    ));
    command(&format!(
        "safemig backup verify {} --restore",
        made.dir.display()
    ));
    let verified = safemig_pg::backup::verify(&made.dir, true, &mut |_| {})?;
    say(&format!(
        "{} restored into a second throwaway PostgreSQL: every table's row count and the critical tables' checksums match",
        mark(verified.ok)
    ));
    expect(verified.ok, "the backup restores and matches its manifest")?;

    step(4, "The team's new migrations, as in the seed: the trigger file has an older version than the baseline");
    let early_trigger = "20250101000000_add_user_creation_trigger.sql";
    let files = [
        (early_trigger, TRIGGER),
        ("20250831022250_remote_schema.sql", REMOTE_SCHEMA),
        ("20250831022400_add_r2_storage_fields.sql", R2_FIELDS),
    ];
    for (name, text) in files {
        write(&migrations.join(name), text)?;
        say(&human::bold(name));
        println!("{}", human::dim(&human::indent(text.trim_end(), 8)));
    }
    say(&format!(
        "{} {}",
        human::bold("safemig.toml"),
        human::dim("59 library_tracks at least; the trigger and function verify requires")
    ));

    step(
        5,
        "Check them with PostgreSQL's own parser: no database needed",
    );
    command("safemig check");
    let check = super::check::run(&ctx, &CheckArgs::default())?;
    expect(
        check == 1,
        "check finds the trigger before its function, and the risky remote_schema",
    )?;

    step(
        6,
        "Follow check's proposal: give the trigger migration a version after the baseline",
    );
    let renamed = "20250831022100_add_user_creation_trigger.sql";
    std::fs::rename(migrations.join(early_trigger), migrations.join(renamed))
        .map_err(CliError::input)?;
    command(&format!("mv {early_trigger} {renamed}"));
    command("safemig status");
    super::status::run(&ctx)?;

    step(7, "Plan and rehearse: the pending migrations on a throwaway copy of production's schema, then from empty");
    command("safemig plan --rehearse");
    let plan = super::plan::run(
        &ctx,
        &PlanArgs {
            rehearse: true,
            ..Default::default()
        },
    )?;
    expect(
        plan == 1,
        "the rehearsal predicts the guard on remote_schema, with production untouched",
    )?;

    step(
        8,
        "Migrate: check refuses the risky remote_schema; forced, its guard rolls it back",
    );
    command("safemig migrate");
    let code = super::migrate::run(&ctx, &MigrateArgs::default())?;
    expect(code == 1, "migrate refuses the risky migration")?;
    command("safemig migrate --allow-risky");
    let code = super::migrate::run(
        &ctx,
        &MigrateArgs {
            allow_risky: true,
            ..Default::default()
        },
    )?;
    expect(
        code == 1,
        "migrate exits 1 because the guard rolled remote_schema back",
    )?;

    step(
        9,
        "Verify: the trigger creates the public.users row, the 59 tracks are there",
    );
    command("safemig verify");
    let verify = super::verify::run(&ctx, &VerifyArgs::default())?;
    expect(
        verify == 0,
        "verify passes: trigger enabled, its test user gets a public.users row, 59 tracks",
    )?;
    let users: i64 = client
        .query_one("SELECT count(*) FROM auth.users", &[])
        .map_err(|e| CliError::input(e.to_string()))?
        .get(0);
    say(&format!(
        "{} the test's user was rolled back: auth.users holds {users} rows",
        mark(users == 0)
    ));
    expect(users == 0, "the SQL test's user was rolled back")?;

    step(10, "The rollback plan, drilled: lose rows by mistake, restore the critical table from the Phase 0 backup");
    command("DELETE FROM public.library_tracks WHERE id > 10   -- outside safemig, by mistake");
    client
        .batch_execute("DELETE FROM public.library_tracks WHERE id > 10")
        .map_err(|e| CliError::input(format!("deleting rows: {e}")))?;
    let left: i64 = client
        .query_one("SELECT count(*) FROM public.library_tracks", &[])
        .map_err(|e| CliError::input(e.to_string()))?
        .get(0);
    say(&format!("{} {left} library_tracks left", human::red("✗")));
    command(&format!(
        "safemig restore {} --tables public.library_tracks",
        made.dir.display()
    ));
    let restored = safemig_pg::backup::restore_tables(
        &made,
        &mut client,
        &[("public".into(), "library_tracks".into())],
        false,
        &mut |_| {},
    )?;
    let tracks: i64 = client
        .query_one("SELECT count(*) FROM public.library_tracks", &[])
        .map_err(|e| CliError::input(e.to_string()))?
        .get(0);
    say(&format!(
        "{} {tracks} library_tracks again (count and content checksum checked against the manifest before COMMIT; \
         the {left} rows it replaced are kept in schema safemig_backup)",
        mark(tracks == 59 && restored.len() == 1)
    ));
    expect(tracks == 59, "the restore brings the 59 tracks back")?;

    step(
        11,
        "safemig fix: make remote_schema.sql safe (it was never applied), then finish the run without --allow-risky",
    );
    command("safemig fix --write");
    let code = super::fix::run(
        &ctx,
        &crate::cli::FixArgs {
            write: true,
            ..Default::default()
        },
    )?;
    expect(code == 0, "fix wrote the safe remote_schema.sql")?;
    let remote = migrations.join("20250831022250_remote_schema.sql");
    let fixed = std::fs::read_to_string(&remote)
        .map_err(|e| CliError::input(format!("cannot read {}: {e}", remote.display())))?;
    say(&human::bold(
        "20250831022250_remote_schema.sql, as fix wrote it",
    ));
    println!("{}", human::dim(&human::indent(fixed.trim_end(), 8)));
    expect(
        fixed.contains("kept out") && fixed.contains("holds 59 values"),
        "the drop of r2_key's 59 values is kept out, with the count",
    )?;
    command("safemig migrate");
    let code = super::migrate::run(&ctx, &MigrateArgs::default())?;
    expect(
        code == 0,
        "the fixed remote_schema and the R2 fields apply with no --allow-risky: every value tested before the type change",
    )?;

    step(
        12,
        "Take a release back: rollback --dry-run proves it on a throwaway copy, rollback does it, migrate re-applies it",
    );
    let r2_bucket = |client: &mut safemig_pg::postgres::Client| -> Result<bool, CliError> {
        Ok(client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.library_tracks'::regclass \
                 AND attname = 'r2_bucket' AND NOT attisdropped)",
                &[],
            )
            .map_err(|e| CliError::input(e.to_string()))?
            .get(0))
    };
    command("safemig rollback --dry-run");
    let code = super::rollback::run(
        &ctx,
        &crate::cli::RollbackArgs {
            dry_run: true,
            ..Default::default()
        },
    )?;
    expect(
        code == 0 && r2_bucket(&mut client)?,
        "the dry run proves the rollback of the R2 fields on a copy and changes nothing",
    )?;
    command("safemig rollback");
    let code = super::rollback::run(&ctx, &crate::cli::RollbackArgs::default())?;
    let gone = !r2_bucket(&mut client)?;
    let tracks: i64 = client
        .query_one("SELECT count(*) FROM public.library_tracks", &[])
        .map_err(|e| CliError::input(e.to_string()))?
        .get(0);
    say(&format!(
        "{} r2_bucket is gone, the {tracks} tracks are there, and 20250831022400 is pending again (for the Supabase \
         CLI too)",
        mark(code == 0 && gone && tracks == 59)
    ));
    expect(
        code == 0 && gone && tracks == 59,
        "rollback took the R2 fields back",
    )?;
    command("safemig migrate");
    let code = super::migrate::run(&ctx, &MigrateArgs::default())?;
    expect(
        code == 0 && r2_bucket(&mut client)?,
        "the R2 fields apply again",
    )?;

    step(
        13,
        "A new environment (a Supabase branch, CI, a teammate): the whole history into an empty database, no flags",
    );
    cluster.create_database("branch")?;
    let mut branch = cluster.connect("branch")?;
    branch
        .batch_execute(safemig_pg::supabase::PLATFORM_SQL)
        .map_err(|e| CliError::input(format!("loading the Supabase stand-in: {e}")))?;
    let branch_ctx = Context::load(Global {
        db: Some(cluster.url("branch")),
        config: Some(project.join("safemig.toml")),
        dir: Some(migrations.clone()),
        format: Format::Human,
        audit_file: Some(project.join(".safemig/audit.jsonl")),
    })?;
    command("safemig --db postgresql://…/branch migrate");
    let code = super::migrate::run(
        &branch_ctx,
        &MigrateArgs {
            backup: BackupMode::Skip,
            ..Default::default()
        },
    )?;
    let branch_tracks: i64 = branch
        .query_one("SELECT count(*) FROM public.library_tracks", &[])
        .map_err(|e| CliError::input(e.to_string()))?
        .get(0);
    say(&format!(
        "{} the branch has all 4 migrations and the baseline's {branch_tracks} tracks: no --allow-risky, no [[allow]]",
        mark(code == 0 && branch_tracks == 59)
    ));
    expect(
        code == 0 && branch_tracks == 59,
        "a new database builds from the whole history with plain migrate",
    )?;

    step(14, "The audit trail: every run, who, when, which backup");
    command("safemig log");
    super::log::run(
        &ctx,
        &crate::cli::LogArgs {
            local: false,
            limit: 12,
        },
    )?;

    title("Demo complete");
    say("doctor found production's handle_new_user() attached to no trigger: new sign-ups got no public.users row.");
    say("A backup was proven by restoring it before anything changed. check found the trigger migration ordered");
    say("before its function and proposed the fix; the rehearsal predicted what would happen without touching");
    say("production; migrate refused the risky remote_schema.sql and, forced, its guard rolled it back before it");
    say("could drop library_tracks.r2_key; verify proved the trigger creates the public.users row and the 59 tracks");
    say("are there; the Phase 0 backup brought them back after a mistake; safemig fix wrote the safe remote_schema,");
    say("which applied without --allow-risky; a new");
    say("database was built from the whole history with no flag; and every run is in the audit trail.");
    match &args.keep {
        Some(dir) => say(&format!(
            "The example project is kept in {}.",
            dir.display()
        )),
        None => say("Run `safemig demo --keep DIR` to keep the example project and inspect it."),
    }
    drop(client);
    drop(cluster);
    Ok(0)
}

fn mark(ok: bool) -> String {
    if ok {
        human::green("✓")
    } else {
        human::red("✗")
    }
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text)
        .map_err(|e| CliError::input(format!("cannot write {}: {e}", path.display())))
}

fn expect(ok: bool, what: &str) -> Result<(), CliError> {
    if ok {
        Ok(())
    } else {
        Err(CliError {
            code: 1,
            message: format!("demo failed: expected that {what}"),
        })
    }
}

fn title(text: &str) {
    println!("\n{}", human::bold(text));
}

const STEPS: usize = 14;

fn step(n: usize, text: &str) {
    println!(
        "\n{} {}",
        human::bold(&format!("[{n}/{STEPS}]")),
        human::bold(text)
    );
}

fn command(text: &str) {
    println!("\n    {} {}", human::dim("$"), text);
}

fn say(text: &str) {
    println!("    {text}");
}
