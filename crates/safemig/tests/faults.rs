//! Faults, against real throwaway PostgreSQL clusters: safemig killed at every
//! statement boundary of a run, the server stopped (`pg_ctl stop -m immediate`)
//! during a migration and during a backup, the connection cut by
//! `pg_terminate_backend`, a full disk and an unwritable backup folder, a backup
//! taken while a migration is half done, a table held `ACCESS EXCLUSIVE`.
//!
//! Every pause comes from the test-only hooks of `safemig_pg::faults`
//! (`SAFEMIG_TEST_PAUSE_AT` / `SAFEMIG_TEST_PAUSE_AFTER_DUMP=marker` with
//! `SAFEMIG_TEST_PAUSE_MARKER`): safemig writes a marker file at a precise point and
//! waits there until the test has done its damage. No sleeps and luck.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{output, Project, Run};

/// Three migrations; each leaves a row in `public.log` and an object, so a half-applied
/// one (object without history, history without object, ...) is visible.
const MIGRATIONS: [(&str, &str); 3] = [
    ("1_create.sql", "CREATE TABLE public.a (id int);\nINSERT INTO public.log VALUES ('1');"),
    (
        "2_alter.sql",
        "ALTER TABLE public.a ADD COLUMN note text;\nINSERT INTO public.log VALUES ('2');\nCREATE INDEX a_note ON public.a (note);",
    ),
    ("3_function.sql", "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 3';\nINSERT INTO public.log VALUES ('3');"),
];

/// Boundaries of a run of MIGRATIONS: per migration, one before each statement, one
/// before the history rows, one before COMMIT and one after it.
const BOUNDARIES: usize = (2 + 3) + (3 + 3) + (2 + 3);

fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap_or_else(|e| panic!("connect: {e}"))
}

fn write_migrations(p: &Project) {
    for (file, sql) in MIGRATIONS {
        p.migration(file, sql);
    }
}

/// Starts the binary with the pause hook armed; stdout and stderr are captured.
fn spawn(p: &Project, args: &[&str], env: &[(&str, &str)]) -> Child {
    p.command(args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("safemig starts")
}

/// Waits until safemig reached its pause point (Some(what it wrote)) or exited
/// without reaching it (None).
fn wait_for_pause(child: &mut Child, marker: &Path) -> Option<String> {
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(marker) {
            return Some(text);
        }
        if child.try_wait().unwrap().is_some() {
            return std::fs::read_to_string(marker).ok();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "safemig neither paused nor finished"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Lets a paused safemig go on.
fn resume(marker: &Path) {
    let mut go = marker.as_os_str().to_owned();
    go.push(".go");
    std::fs::write(PathBuf::from(go), "").unwrap();
}

fn marker_env(marker: &Path) -> (&'static str, &str) {
    ("SAFEMIG_TEST_PAUSE_MARKER", marker.to_str().unwrap())
}

/// Waits until no session but `admin`'s is connected to `db` (a killed client's
/// backend ends when it reads the closed socket).
fn wait_until_no_sessions(admin: &mut postgres::Client, db: &str) {
    let started = Instant::now();
    loop {
        let n: i64 = admin
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", &[&db])
            .unwrap()
            .get(0);
        if n == 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the killed client's session never ended"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn advisory_locks(client: &mut postgres::Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
            &[],
        )
        .unwrap()
        .get(0)
}

/// For each migration of MIGRATIONS: applied (true) or not at all (false). Panics
/// on a half-applied one: an object without its history rows or the reverse.
fn applied(client: &mut postgres::Client) -> Vec<bool> {
    let has_history: bool = client
        .query_one(
            "SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    let has_own: bool = client
        .query_one("SELECT to_regclass('safemig.migrations') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    let mut out = Vec::new();
    for v in ["1", "2", "3"] {
        let count = |client: &mut postgres::Client, sql: &str| -> i64 {
            client.query_one(sql, &[&v]).unwrap().get(0)
        };
        let history = if has_history {
            count(
                client,
                "SELECT count(*) FROM supabase_migrations.schema_migrations WHERE version = $1",
            )
        } else {
            0
        };
        let own = if has_own {
            count(
                client,
                "SELECT count(*) FROM safemig.migrations WHERE version = $1",
            )
        } else {
            0
        };
        let log = count(client, "SELECT count(*) FROM public.log WHERE version = $1");
        let object = match v {
            "1" => "SELECT (to_regclass('public.a') IS NOT NULL)::int::bigint WHERE $1::text IS NOT NULL",
            "2" => "SELECT count(*) FROM information_schema.columns WHERE table_name = 'a' AND column_name = 'note' AND $1::text IS NOT NULL",
            _ => "SELECT (to_regprocedure('public.f()') IS NOT NULL)::int::bigint WHERE $1::text IS NOT NULL",
        };
        let object = count(client, object);
        let index = if v == "2" {
            count(client, "SELECT (to_regclass('public.a_note') IS NOT NULL)::int::bigint WHERE $1::text IS NOT NULL")
        } else {
            object
        };
        let all = [history, own, log, object, index];
        assert!(all == [0; 5] || all == [1; 5], "migration {v} is half applied: history {history}, safemig.migrations {own}, log rows {log}, object {object}, index {index}");
        out.push(all[0] == 1);
    }
    out
}

#[test]
fn killed_at_every_statement_boundary_each_migration_is_all_or_nothing_and_a_rerun_finishes() {
    let p = Project::new();
    write_migrations(&p);
    p.cluster.create_database("template_run").unwrap();
    {
        let mut t = connect(&p.cluster.url("template_run"));
        t.batch_execute(safemig_pg::supabase::PLATFORM_SQL).unwrap();
        t.batch_execute("CREATE TABLE public.log (version text)")
            .unwrap();
    }
    let mut admin = connect(&p.cluster.url("postgres"));
    let mut paused = Vec::new();
    for n in 1.. {
        let db = format!("kill_{n}");
        admin
            .batch_execute(&format!("CREATE DATABASE {db} TEMPLATE template_run"))
            .unwrap();
        let url = p.cluster.url(&db);
        let marker = p.path().join(format!("pause-{n}"));
        let n_text = n.to_string();
        let mut child = spawn(
            &p,
            &["--db", &url, "migrate", "--backup", "skip"],
            &[("SAFEMIG_TEST_PAUSE_AT", &n_text), marker_env(&marker)],
        );
        let Some(what) = wait_for_pause(&mut child, &marker) else {
            // Past the last boundary: the run went through untouched.
            let run = output(child.wait_with_output().unwrap());
            assert_eq!(run.code, 0, "{run:?}");
            assert_eq!(applied(&mut connect(&url)), [true, true, true]);
            break;
        };
        child.kill().unwrap();
        let _ = child.wait();
        wait_until_no_sessions(&mut admin, &db);

        // "N V what": at "after COMMIT" V is applied; anywhere before, V is not.
        let mut parts = what.splitn(3, ' ');
        assert_eq!(parts.next(), Some(n_text.as_str()), "{what}");
        let version: usize = parts.next().unwrap().parse().unwrap();
        let done = if parts.next() == Some("after COMMIT") {
            version
        } else {
            version - 1
        };
        let expected: Vec<bool> = (1..=3).map(|v| v <= done).collect();
        let mut client = connect(&url);
        assert_eq!(applied(&mut client), expected, "killed at boundary {what}");
        assert_eq!(
            advisory_locks(&mut client),
            0,
            "killed at {what}: the advisory lock must be free"
        );

        let rerun = p.safemig_raw(
            &[
                "--db", &url, "migrate", "--backup", "skip", "--format", "json",
            ],
            &[],
        );
        assert_eq!(
            rerun.code, 0,
            "killed at {what}, the re-run must finish the job: {rerun:?}"
        );
        let reapplied = rerun
            .results()
            .iter()
            .filter(|(_, r)| r == "applied")
            .count();
        assert_eq!(reapplied, 3 - done, "killed at {what}: {rerun:?}");
        // The re-run says what happened to the run before it.
        let notes = rerun.json()["notes"].to_string();
        assert!(
            notes.contains("the previous migrate") && notes.contains("was interrupted"),
            "killed at {what}, the next run explains: {rerun:?}"
        );
        let audit: Vec<String> = client
            .query(
                "SELECT result FROM safemig.audit WHERE command = 'migrate' ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            audit,
            ["interrupted", "ok"],
            "killed at {what}: the audit trail keeps the interrupted run"
        );
        assert_eq!(
            applied(&mut client),
            [true, true, true],
            "after the re-run, killed at {what}"
        );
        let log: i64 = client
            .query_one("SELECT count(*) FROM public.log", &[])
            .unwrap()
            .get(0);
        assert_eq!(log, 3, "killed at {what}: no migration ran twice");
        drop(client);
        admin.batch_execute(&format!("DROP DATABASE {db}")).unwrap();
        paused.push(what);
    }
    assert_eq!(
        paused.len(),
        BOUNDARIES,
        "every boundary was reached and killed once: {paused:#?}"
    );
}

/// Starts `migrate` paused before statement 2 of migration 2 (boundary 7).
fn migrate_paused_in_migration_two(p: &Project, marker: &Path) -> Child {
    let mut child = spawn(
        p,
        &[
            "--db", &p.url, "migrate", "--backup", "skip", "--format", "json",
        ],
        &[("SAFEMIG_TEST_PAUSE_AT", "7"), marker_env(marker)],
    );
    let what = wait_for_pause(&mut child, marker).expect("migrate reaches boundary 7");
    assert_eq!(what, "7 2 statement 2");
    child
}

fn lost_connection_run_is_reported(run: &Run) {
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.results(),
        [
            ("1".into(), "applied".into()),
            ("2".into(), "failed".into()),
            ("3".into(), "skipped".into())
        ],
        "{run:?}"
    );
    let m = &run.json()["migrations"][1];
    let text = m.to_string();
    assert!(
        text.contains("the connection to the server was lost"),
        "says what happened: {m:#}"
    );
    assert!(text.contains("safemig status"), "says what to do: {m:#}");
    assert!(!run.all().contains("panicked"), "{run:?}");
}

#[test]
fn postgres_stopped_immediately_mid_migration_leaves_each_migration_all_or_nothing() {
    let mut p = Project::new();
    p.exec("CREATE TABLE public.log (version text)");
    write_migrations(&p);
    let marker = p.path().join("pause");
    let child = migrate_paused_in_migration_two(&p, &marker);
    p.cluster.stop_immediate().unwrap();
    resume(&marker);
    let run = output(child.wait_with_output().unwrap());
    lost_connection_run_is_reported(&run);

    p.cluster.restart().unwrap();
    let mut client = p.client();
    assert_eq!(applied(&mut client), [true, false, false]);
    assert_eq!(advisory_locks(&mut client), 0);
    let status = p.safemig(&["status", "--format", "json"]);
    let states: Vec<String> = status.json()["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["applied", "pending", "pending"], "{status:?}");
    // The local audit trail has the interrupted run, which the database could not take.
    let audit = std::fs::read_to_string(p.path().join(".safemig/audit.jsonl")).unwrap();
    assert!(
        audit
            .lines()
            .last()
            .unwrap()
            .contains("connection to the server was lost"),
        "{audit}"
    );

    let rerun = p.safemig(&["migrate", "--backup", "skip"]);
    assert_eq!(rerun.code, 0, "{rerun:?}");
    assert!(
        rerun.stdout.contains("the previous migrate") && rerun.stdout.contains("was interrupted"),
        "the next command explains: {rerun:?}"
    );
    assert_eq!(applied(&mut p.client()), [true, true, true]);
    let log = p.safemig(&["log"]);
    assert!(log.stdout.contains("interrupted"), "{log:?}");
}

/// "N V what" -> how many migrations are applied when safemig paused there.
fn applied_at(what: &str) -> usize {
    let mut parts = what.splitn(3, ' ');
    parts.next();
    let version: usize = parts.next().unwrap().parse().unwrap();
    if parts.next() == Some("after COMMIT") {
        version
    } else {
        version - 1
    }
}

#[test]
fn postgres_stopped_around_each_commit_leaves_each_migration_all_or_nothing() {
    let mut p = Project::new();
    write_migrations(&p);
    p.cluster.create_database("template_run").unwrap();
    {
        let mut t = connect(&p.cluster.url("template_run"));
        t.batch_execute(safemig_pg::supabase::PLATFORM_SQL).unwrap();
        t.batch_execute("CREATE TABLE public.log (version text)")
            .unwrap();
    }
    // Before the history rows, before COMMIT and after COMMIT of migration 1, and
    // before the last COMMIT of the run.
    for at in [3, 4, 5, 15] {
        let db = format!("stop_{at}");
        connect(&p.cluster.url("postgres"))
            .batch_execute(&format!("CREATE DATABASE {db} TEMPLATE template_run"))
            .unwrap();
        let url = p.cluster.url(&db);
        let marker = p.path().join(format!("pause-{at}"));
        let at_text = at.to_string();
        let mut child = spawn(
            &p,
            &[
                "--db", &url, "migrate", "--backup", "skip", "--format", "json",
            ],
            &[("SAFEMIG_TEST_PAUSE_AT", &at_text), marker_env(&marker)],
        );
        let what = wait_for_pause(&mut child, &marker).expect("migrate pauses");
        p.cluster.stop_immediate().unwrap();
        resume(&marker);
        let run = output(child.wait_with_output().unwrap());
        let done = applied_at(&what);
        assert_eq!(run.code, 1, "stopped at {what}: {run:?}");
        let results: Vec<String> = run.results().into_iter().map(|(_, r)| r).collect();
        let expected: Vec<&str> = (0..3)
            .map(|i| {
                if i < done {
                    "applied"
                } else if i == done {
                    "failed"
                } else {
                    "skipped"
                }
            })
            .collect();
        assert_eq!(results, expected, "stopped at {what}: {run:?}");
        assert!(
            run.json()["migrations"][done]
                .to_string()
                .contains("the connection to the server was lost"),
            "{run:?}"
        );

        p.cluster.restart().unwrap();
        let mut client = connect(&url);
        let expected: Vec<bool> = (0..3).map(|i| i < done).collect();
        assert_eq!(applied(&mut client), expected, "stopped at {what}");
        assert_eq!(advisory_locks(&mut client), 0);
        let rerun = p.safemig_raw(&["--db", &url, "migrate", "--backup", "skip"], &[]);
        assert_eq!(rerun.code, 0, "stopped at {what}: {rerun:?}");
        assert!(
            rerun.stdout.contains("was interrupted"),
            "stopped at {what}: {rerun:?}"
        );
        assert_eq!(
            applied(&mut client),
            [true, true, true],
            "stopped at {what}"
        );
    }
}

#[test]
fn a_connection_cut_by_pg_terminate_backend_mid_migration_exits_one_with_nothing_half_applied() {
    let p = Project::new();
    p.exec("CREATE TABLE public.log (version text)");
    write_migrations(&p);
    let marker = p.path().join("pause");
    let child = migrate_paused_in_migration_two(&p, &marker);
    let killed: i64 = p
        .client()
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = 'app' AND application_name = 'safemig' AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(killed, 1, "safemig's one session");
    resume(&marker);
    let run = output(child.wait_with_output().unwrap());
    lost_connection_run_is_reported(&run);
    let mut client = p.client();
    assert_eq!(applied(&mut client), [true, false, false]);
    assert_eq!(advisory_locks(&mut client), 0);
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    assert_eq!(applied(&mut p.client()), [true, true, true]);
}

fn backup_list(p: &Project) -> serde_json::Value {
    let run = p.safemig(&["backup", "list", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    run.json()
}

#[test]
fn postgres_stopped_or_safemig_killed_mid_backup_leaves_no_usable_backup() {
    let mut p = Project::new();
    p.exec("CREATE TABLE public.t AS SELECT generate_series(1, 100) AS id");
    p.migration("1_x.sql", "CREATE TABLE public.x (id int);");
    let marker = p.path().join("pause");
    let mut child = spawn(
        &p,
        &["--db", &p.url, "backup", "create"],
        &[
            ("SAFEMIG_TEST_PAUSE_AFTER_DUMP", "marker"),
            marker_env(&marker),
        ],
    );
    assert_eq!(
        wait_for_pause(&mut child, &marker).as_deref(),
        Some("after pg_dump")
    );
    p.cluster.stop_immediate().unwrap();
    resume(&marker);
    let run = output(child.wait_with_output().unwrap());
    assert_eq!(run.code, 2, "a connection error: {run:?}");
    assert!(
        run.stderr.contains("error:") && !run.all().contains("panicked"),
        "{run:?}"
    );
    p.cluster.restart().unwrap();
    let list = backup_list(&p);
    assert_eq!(list["backups"], serde_json::json!([]), "{list}");
    assert_eq!(
        list["interrupted"],
        serde_json::json!([]),
        "the failed backup cleaned up after itself: {list}"
    );

    // Killed outright, it cannot clean up: the partial folder stays, unlisted, and
    // the next `backup list` says what it is.
    let marker = p.path().join("pause-2");
    let mut child = spawn(
        &p,
        &["--db", &p.url, "backup", "create"],
        &[
            ("SAFEMIG_TEST_PAUSE_AFTER_DUMP", "marker"),
            marker_env(&marker),
        ],
    );
    assert!(wait_for_pause(&mut child, &marker).is_some());
    child.kill().unwrap();
    let _ = child.wait();
    let list = backup_list(&p);
    assert_eq!(list["backups"], serde_json::json!([]), "{list}");
    assert_eq!(list["interrupted"].as_array().unwrap().len(), 1, "{list}");
    let human = p.safemig(&["backup", "list"]);
    assert!(
        human.stdout.contains("is an incomplete backup")
            && human.stdout.contains("interrupted")
            && human.stdout.contains("never used"),
        "{human:?}"
    );

    let run = p.safemig(&["migrate", "--backup", "require"]);
    assert_eq!(run.code, 1, "no usable backup, so require refuses: {run:?}");
    assert!(run.stdout.contains("--backup require"), "{run:?}");
    assert!(!p.bool("SELECT to_regclass('public.x') IS NOT NULL"));
}

/// Runs the binary with a 64 KiB file size limit (`RLIMIT_FSIZE`), SIGXFSZ ignored
/// so writes fail with EFBIG as on a full disk; pg_dump inherits both.
fn with_full_disk(p: &Project, args: &[&str]) -> Run {
    let mut command = p.command(args, &[]);
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 64 * 1024,
                rlim_max: 64 * 1024,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    output(command.output().unwrap())
}

fn nothing_applied(p: &Project) {
    assert!(
        !p.bool("SELECT to_regclass('public.x') IS NOT NULL"),
        "nothing applied"
    );
    assert!(!p.bool(
        "SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL \
         AND EXISTS (SELECT 1 FROM supabase_migrations.schema_migrations)"
    ));
}

#[test]
fn a_full_disk_fails_the_backup_cleanly_and_migrate_does_not_go_on() {
    let p = Project::new();
    // About 1.3 MB of incompressible text: the dump cannot fit in 64 KiB.
    p.exec("CREATE TABLE public.big AS SELECT md5(random()::text) || md5(random()::text) AS v FROM generate_series(1, 20000)");
    p.migration("1_x.sql", "CREATE TABLE public.x (id int);");
    let run = with_full_disk(&p, &["--db", &p.url, "backup", "create"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("pg_dump failed") && run.stderr.contains("File too large"),
        "{run:?}"
    );
    let list = backup_list(&p);
    assert_eq!(list["backups"], serde_json::json!([]), "{list}");
    assert_eq!(list["interrupted"], serde_json::json!([]), "{list}");

    let run = with_full_disk(&p, &["--db", &p.url, "migrate"]);
    assert_eq!(
        run.code, 2,
        "a backup that cannot be written is a tool error: {run:?}"
    );
    assert!(
        run.stdout
            .contains("the backup before migrating failed, so nothing was applied"),
        "{run:?}"
    );
    assert!(run.stdout.contains("File too large"), "{run:?}");
    nothing_applied(&p);
    let run = with_full_disk(&p, &["--db", &p.url, "migrate", "--backup", "require"]);
    assert_eq!(run.code, 1, "{run:?}");
    nothing_applied(&p);
    assert_eq!(backup_list(&p)["backups"], serde_json::json!([]));
}

#[test]
fn an_unwritable_backup_folder_fails_cleanly_and_migrate_does_not_go_on() {
    let p = Project::new();
    p.migration("1_x.sql", "CREATE TABLE public.x (id int);");
    p.config("[backup]\ndir = \"locked\"\n");
    let locked = p.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    // Root ignores permissions: as root, run safemig as the `postgres` user, who owns
    // the project folder but not `locked`.
    let as_root = unsafe { libc::geteuid() } == 0;
    let ids = as_root.then(|| {
        let out = std::process::Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .unwrap();
        let uid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let out = std::process::Command::new("id")
            .args(["-g", "postgres"])
            .output()
            .unwrap();
        let gid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        for path in [
            p.path().to_path_buf(),
            p.path().join("supabase"),
            p.migrations_dir(),
            p.migrations_dir().join("1_x.sql"),
            p.path().join("safemig.toml"),
        ] {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        }
        (uid, gid)
    });
    let run = |args: &[&str]| -> Run {
        let mut full = vec!["--db", p.url.as_str()];
        full.extend_from_slice(args);
        let home = p.path().to_str().unwrap().to_string();
        let mut command = p.command(&full, &[("HOME", &home)]);
        if let Some((uid, gid)) = ids {
            command.uid(uid).gid(gid);
        }
        output(command.output().unwrap())
    };
    let r = run(&["backup", "create"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("locked")
            && (r.stderr.contains("not permitted") || r.stderr.contains("Permission denied")),
        "says what: {r:?}"
    );
    assert!(
        r.stderr.contains("must be writable by this user"),
        "and what to do: {r:?}"
    );
    assert_eq!(
        std::fs::read_dir(&locked).unwrap().count(),
        0,
        "nothing was written"
    );
    let r = run(&["migrate"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stdout
            .contains("the backup before migrating failed, so nothing was applied"),
        "{r:?}"
    );
    nothing_applied(&p);
    let r = run(&["migrate", "--backup", "require"]);
    assert_eq!(r.code, 1, "{r:?}");
    nothing_applied(&p);
}

#[test]
fn a_backup_taken_while_a_migration_is_half_done_sees_none_of_it_and_restores() {
    let p = Project::new();
    p.exec("CREATE TABLE public.log (version text); INSERT INTO public.log VALUES ('base');");
    p.migration(
        "1_a.sql",
        "CREATE TABLE public.a (id int);\nINSERT INTO public.log VALUES ('1');",
    );
    p.migration(
        "2_b.sql",
        "CREATE TABLE public.b (id int);\nINSERT INTO public.log VALUES ('2');",
    );
    // Paused just before migration 2's COMMIT: its table, row and history rows exist,
    // uncommitted, while the backup runs.
    let marker = p.path().join("pause");
    let mut child = spawn(
        &p,
        &["--db", &p.url, "migrate", "--backup", "skip"],
        &[("SAFEMIG_TEST_PAUSE_AT", "9"), marker_env(&marker)],
    );
    assert_eq!(
        wait_for_pause(&mut child, &marker).as_deref(),
        Some("9 2 COMMIT")
    );
    let backup = p.safemig(&["backup", "create"]);
    resume(&marker);
    let migrate = output(child.wait_with_output().unwrap());
    assert_eq!(backup.code, 0, "{backup:?}");
    assert_eq!(
        migrate.code, 0,
        "the backup did not disturb the migration: {migrate:?}"
    );
    assert_eq!(p.i64("SELECT count(*) FROM public.log"), 3);

    let dir = PathBuf::from(backup.stdout.lines().last().unwrap().trim());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["applied_migrations"],
        serde_json::json!(["1"]),
        "one consistent moment: {manifest:#}"
    );
    let tables = manifest["tables"].as_array().unwrap();
    let log = tables.iter().find(|t| t["name"] == "log").unwrap();
    assert_eq!(
        log["rows"], 2,
        "base + migration 1, not migration 2's uncommitted row"
    );
    assert!(
        !tables.iter().any(|t| t["name"] == "b"),
        "migration 2's uncommitted table is not in it"
    );
    let verify = p.safemig(&["backup", "verify", dir.to_str().unwrap(), "--restore"]);
    assert_eq!(
        verify.code, 0,
        "the dump and the manifest agree: {verify:?}"
    );
}

#[test]
fn a_table_held_access_exclusive_makes_migrate_give_up_and_apply_nothing() {
    let p = Project::new();
    p.migration("1_t.sql", "CREATE TABLE public.t (id int);");
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    p.migration(
        "2_alter.sql",
        "CREATE TABLE public.u (id int);\nALTER TABLE public.t ADD COLUMN note text;",
    );
    let mut holder = p.client();
    holder
        .batch_execute("BEGIN; LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE;")
        .unwrap();

    let run = p.safemig(&[
        "migrate",
        "--backup",
        "skip",
        "--format",
        "json",
        "--lock-timeout",
        "200ms",
        "--lock-retries",
        "2",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.results(), [("2".into(), "failed".into())]);
    let m = &run.json()["migrations"][0];
    assert_eq!(m["attempts"], 3, "{m}");
    assert_eq!(m["error"]["sqlstate"], "55P03", "{m}");
    assert!(
        m["reason"]
            .as_str()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{m}"
    );
    // The session it waited for is named, with how to end it.
    let holder_pid = p.i64("SELECT pid::int8 FROM pg_locks WHERE relation = 'public.t'::regclass AND mode = 'AccessExclusiveLock'");
    assert!(
        m["notes"]
            .to_string()
            .contains(&format!("waited for pid {holder_pid} (")),
        "{m}"
    );
    assert!(
        m["notes"]
            .to_string()
            .contains("public.t (AccessExclusiveLock)"),
        "{m}"
    );
    // Nothing applied: not the table the first statement created, no history row.
    assert!(!p.bool("SELECT to_regclass('public.u') IS NOT NULL"));
    assert_eq!(
        p.i64("SELECT count(*) FROM supabase_migrations.schema_migrations WHERE version = '2'"),
        0
    );
    // safemig left no lock request behind: the holder's work goes on.
    assert_eq!(p.i64("SELECT count(*) FROM pg_locks WHERE NOT granted"), 0);
    holder
        .batch_execute("INSERT INTO public.t VALUES (1); COMMIT;")
        .unwrap();
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    assert!(p.bool("SELECT to_regclass('public.u') IS NOT NULL"));
}

#[test]
fn a_failed_create_index_concurrently_names_the_invalid_index_it_left_and_the_fix() {
    let p = Project::new();
    p.migration(
        "1_t.sql",
        "CREATE TABLE public.t (id int, v int);\nINSERT INTO public.t VALUES (1, 1), (2, 1);",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    // Duplicates: the unique index fails after PostgreSQL created it, and stays INVALID.
    p.migration(
        "2_index.sql",
        "CREATE UNIQUE INDEX CONCURRENTLY t_v ON public.t (v);",
    );
    let run = p.safemig(&["migrate", "--backup", "skip"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        p.bool("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = 'public.t_v'::regclass"),
        "PostgreSQL kept it, invalid"
    );
    assert!(run.stdout.contains("INVALID index public.t_v"), "{run:?}");
    assert!(
        run.stdout.contains("DROP INDEX CONCURRENTLY public.t_v;"),
        "{run:?}"
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM supabase_migrations.schema_migrations WHERE version = '2'"),
        0
    );
    // Another attempt names only the index it left, not the one left before.
    p.migration(
        "2_index.sql",
        "CREATE UNIQUE INDEX CONCURRENTLY t_v2 ON public.t (v);",
    );
    let run = p.safemig(&["migrate", "--backup", "skip"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("INVALID index public.t_v2"), "{run:?}");
    assert!(!run.stdout.contains("INVALID index public.t_v "), "{run:?}");
    assert!(!run.stdout.contains("public.t_v;"), "{run:?}");
}
