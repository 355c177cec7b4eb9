//! Two or more `migrate` runs at once, and a migration that meets another
//! session's lock. Real processes against a real PostgreSQL.

mod common;

use std::time::{Duration, Instant};

use common::{output, Project};

#[test]
fn eight_concurrent_runs_never_apply_a_migration_twice() {
    let p = Project::new();
    p.migration(
        "1_log.sql",
        "CREATE TABLE public.applied_log (version text);",
    );
    // Each migration takes a moment, so the runs really overlap, and logs itself:
    // a double apply would leave two rows for one version.
    for v in 2..=4 {
        p.migration(
            &format!("{v}_step.sql"),
            &format!("SELECT pg_sleep(0.3);\nINSERT INTO public.applied_log VALUES ('{v}');\nCREATE TABLE public.t{v} (id int);"),
        );
    }
    let children: Vec<_> = (0..8)
        .map(|_| {
            p.command(
                &[
                    "--db", &p.url, "migrate", "--format", "json", "--wait", "60s",
                ],
                &[],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let runs: Vec<_> = children
        .into_iter()
        .map(|c| output(c.wait_with_output().unwrap()))
        .collect();
    let mut applied = 0;
    for run in &runs {
        assert_eq!(run.code, 0, "{run:?}");
        applied += run.results().iter().filter(|(_, r)| r == "applied").count();
    }
    assert_eq!(applied, 4, "each migration applied by exactly one run");
    assert_eq!(p.i64("SELECT count(*) FROM public.applied_log"), 3);
    assert_eq!(
        p.i64("SELECT count(DISTINCT version) FROM public.applied_log"),
        3
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM supabase_migrations.schema_migrations"),
        4
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"),
        0,
        "the lock is free again"
    );
}

#[test]
fn a_second_run_waits_a_bounded_time_then_exits_one_naming_the_holder() {
    let p = Project::new();
    p.migration("1_a.sql", "CREATE TABLE public.a (id int);");
    let mut holder = p.client();
    holder
        .batch_execute("SET application_name = 'the-other-migrate'")
        .unwrap();
    holder
        .query_one(
            "SELECT pg_advisory_lock($1)",
            &[&safemig_pg::lock::MIGRATE_LOCK_KEY],
        )
        .unwrap();

    let run = p.safemig(&["migrate", "--wait", "1s"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("another safemig migrate is running"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("the-other-migrate"),
        "names the holder: {run:?}"
    );
    assert!(!p.bool("SELECT to_regclass('public.a') IS NOT NULL"));

    holder
        .query_one(
            "SELECT pg_advisory_unlock($1)",
            &[&safemig_pg::lock::MIGRATE_LOCK_KEY],
        )
        .unwrap();
    assert_eq!(p.safemig(&["migrate"]).code, 0);
}

#[test]
fn a_held_table_lock_makes_migrate_give_up_without_blocking_others() {
    let p = Project::new();
    p.migration(
        "1_t.sql",
        "CREATE TABLE public.t (id int); INSERT INTO public.t SELECT generate_series(1, 10);",
    );
    assert_eq!(p.safemig(&["migrate"]).code, 0);
    p.migration("2_alter.sql", "ALTER TABLE public.t ADD COLUMN note text;");

    // A long transaction that has read the table: it holds ACCESS SHARE until it ends.
    let mut long = p.client();
    long.batch_execute("BEGIN; SELECT count(*) FROM public.t;")
        .unwrap();

    let mut child = p
        .command(
            &[
                "--db",
                &p.url,
                "migrate",
                "--format",
                "json",
                "--lock-timeout",
                "300ms",
                "--lock-retries",
                "2",
            ],
            &[],
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    // Meanwhile, the application keeps reading the table. Were safemig's ACCESS
    // EXCLUSIVE request queued for long, these reads would queue behind it and hit
    // their own 2 s lock timeout.
    let mut app = p.client();
    app.batch_execute("SET lock_timeout = '2s'").unwrap();
    let started = Instant::now();
    let mut reads = 0;
    while child.try_wait().unwrap().is_none() {
        app.query_one("SELECT count(*) FROM public.t", &[])
            .expect("the application is never blocked for long");
        reads += 1;
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "migrate must give up, not wait forever"
        );
    }
    let run = output(child.wait_with_output().unwrap());
    assert!(reads > 0);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.results(), [("2".into(), "failed".into())]);
    let m = &run.json()["migrations"][0];
    assert_eq!(m["attempts"], 3, "{m}");
    assert_eq!(m["error"]["sqlstate"], "55P03");
    assert!(
        m["reason"]
            .as_str()
            .unwrap()
            .contains("gave up after 3 attempts"),
        "{m}"
    );
    assert!(!p.bool("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 't' AND column_name = 'note')"));

    long.batch_execute("COMMIT").unwrap();
    let run = p.safemig(&["migrate"]);
    assert_eq!(
        run.code, 0,
        "once the long transaction ends, the migration applies: {run:?}"
    );
}

#[test]
fn a_migration_that_turns_lock_timeout_off_does_not_turn_it_off_for_the_next() {
    let p = Project::new();
    p.migration("1_t.sql", "CREATE TABLE public.t (id int);");
    assert_eq!(p.safemig(&["migrate"]).code, 0);
    // As pulled remote_schema.sql files start.
    p.migration("2_remote.sql", "SET statement_timeout = 0;\nSET lock_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.u (id int);");
    p.migration("3_alter.sql", "ALTER TABLE public.t ADD COLUMN note text;");
    let mut long = p.client();
    long.batch_execute("BEGIN; SELECT count(*) FROM public.t;")
        .unwrap();
    let started = Instant::now();
    let run = p.safemig(&[
        "migrate",
        "--format",
        "json",
        "--lock-timeout",
        "200ms",
        "--lock-retries",
        "1",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "migration 3 must not wait forever behind the lock"
    );
    assert_eq!(
        run.results(),
        [
            ("2".into(), "applied".into()),
            ("3".into(), "failed".into())
        ],
        "{run:?}"
    );
    assert_eq!(run.json()["migrations"][1]["error"]["sqlstate"], "55P03");
    long.batch_execute("COMMIT").unwrap();
}
