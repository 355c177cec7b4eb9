//! Issue 12: replays that behave like Supabase. The platform stand-in (roles,
//! auth, storage, realtime, Vault, webhooks, the `extensions` schema) and the
//! stand-in extensions (pg_cron, pg_net, vector, ...) let a Supabase project's
//! history replay from empty on a plain PostgreSQL; a failure says whether the
//! project or this machine caused it; the throwaway server runs the target's major.

mod common;

use std::path::Path;

use common::Project;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/supabase_platform"
);

/// Copies the fixture project (its `supabase/config.toml` and migrations) into `p`.
fn with_fixture(p: &Project) {
    let from = Path::new(FIXTURE).join("supabase");
    std::fs::copy(
        from.join("config.toml"),
        p.path().join("supabase/config.toml"),
    )
    .unwrap();
    for entry in std::fs::read_dir(from.join("migrations")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), p.migrations_dir().join(entry.file_name())).unwrap();
    }
}

/// A database of `p`'s cluster with nothing of Supabase in it, as a new local or
/// CI database is; its URL.
fn plain_database(p: &Project, name: &str) -> String {
    p.cluster.create_database(name).unwrap();
    p.cluster.url(name)
}

/// The server's message of a statement that must fail.
fn message(result: Result<(), postgres::Error>) -> String {
    let error = result.expect_err("the statement fails");
    error
        .as_db_error()
        .map(|e| e.message().to_string())
        .unwrap_or_else(|| error.to_string())
}

#[test]
fn a_supabase_projects_history_replays_from_empty_on_a_plain_postgres() {
    let p = Project::new();
    with_fixture(&p);
    let plain = plain_database(&p, "plain");
    let run = p.safemig_raw(
        &["--db", &plain, "--format", "json", "plan", "--rehearse"],
        &[],
    );
    let json = run.json();
    let fresh = &json["fresh"];
    assert_eq!(fresh["ok"], true, "{run:?}");
    assert_eq!(
        fresh["supabase"], true,
        "a Supabase project starts from the stand-in: {json}"
    );
    assert!(fresh["environment_failure"].is_null(), "{json}");
    let applied = fresh["migrations"].as_array().unwrap();
    assert_eq!(applied.len(), 7, "{json}");
    assert!(applied.iter().all(|m| m["result"] == "applied"), "{json}");
    // Every stand-in used is named, never silent.
    let notes = fresh["notes"].to_string();
    for extension in [
        "pg_cron",
        "pg_net",
        "vector",
        "supabase_vault",
        "http",
        "pg_jsonschema",
    ] {
        assert!(
            notes.contains(&format!("extension {extension} is a safemig stand-in")),
            "{extension}: {notes}"
        );
    }
    // Index options a stand-in index method cannot take are left out, and said so.
    let notes = applied[6]["notes"].to_string();
    assert!(
        notes.contains("built without its options (tokenizer)")
            && notes.contains("(m, ef_construction)"),
        "{notes}"
    );
    // The rehearsal copy of the plain database was given the stand-in too, and passed.
    assert_eq!(json["rehearsal"]["ok"], true, "{json}");
    assert!(
        json["rehearsal"]["notes"]
            .to_string()
            .contains("platform stand-in first"),
        "{json}"
    );
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn the_stand_ins_behave_like_the_platform_where_a_migration_can_tell() {
    let p = Project::new();
    with_fixture(&p);
    // The last migration's index options are only left out on throwaway
    // databases (the stand-ins take none): `migrate` sends what the file says.
    std::fs::remove_file(
        p.migrations_dir()
            .join("20240107000000_queues_and_wrappers.sql"),
    )
    .unwrap();
    let run = p.safemig(&["migrate", "--backup", "skip", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    let last = std::fs::read_to_string(
        Path::new(FIXTURE).join("supabase/migrations/20240107000000_queues_and_wrappers.sql"),
    )
    .unwrap();
    let without_options: String = last
        .split(';')
        .filter(|s| !s.contains(" with ("))
        .collect::<Vec<_>>()
        .join(";");
    p.exec(&without_options);
    // pg_cron: a job scheduled and one unscheduled; Vault: the secret reads back.
    assert_eq!(
        p.i64("SELECT count(*) FROM cron.job WHERE jobname = 'nightly-welcome'"),
        1
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM cron.job WHERE jobname = 'purge-old'"),
        0
    );
    assert!(p.bool(
        "SELECT decrypted_secret = 'https://example.invalid/functions/v1' FROM vault.decrypted_secrets \
         WHERE name = 'functions_url'"
    ));
    // storage and realtime.
    assert_eq!(
        p.i64("SELECT count(*) FROM storage.buckets WHERE public"),
        1
    );
    assert!(p.bool(
        "SELECT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime' \
         AND tablename = 'messages')"
    ));
    // A sign-up: the auth server's role inserts the user; the new-user trigger
    // makes the profile, whose webhook queues a request through pg_net.
    p.exec(
        "SET ROLE supabase_auth_admin;
         INSERT INTO auth.users (id, email, aud, role) \
           VALUES ('00000000-0000-0000-0000-0000000000aa', 'new@example.com', 'authenticated', 'authenticated');
         RESET ROLE;",
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM public.profiles WHERE email = 'new@example.com'"),
        1
    );
    assert_eq!(p.i64("SELECT count(*) FROM supabase_functions.hooks"), 1);
    assert_eq!(
        p.i64("SELECT count(*) FROM net.http_request_queue WHERE url = 'https://example.invalid/hook'"),
        1
    );
    // pgvector: the dimension is kept and enforced, the distance is computed.
    p.exec("INSERT INTO public.documents (content, embedding) VALUES ('a', '[1,0,0]'), ('b', '[0,1,0]')");
    assert_eq!(
        p.i64("SELECT id FROM public.match_documents('[1,0.1,0]', 1)"),
        1,
        "the nearest document by cosine distance"
    );
    let wrong = p
        .client()
        .batch_execute("INSERT INTO public.documents (content, embedding) VALUES ('c', '[1,2]')");
    assert!(
        message(wrong).contains("expected 3 dimensions"),
        "vector(3) refuses two dimensions"
    );
    // pgmq: the message sent by the migration is there to read, once.
    assert!(p.bool("SELECT message ->> 'to' = 'a@example.com' FROM pgmq.read('emails', 30, 1)"));
    assert_eq!(p.i64("SELECT count(*) FROM pgmq.read('emails', 30, 1)"), 0);
    // PGroonga's operator matches words; a foreign table of a wrapper reads nothing.
    assert!(p.bool("SELECT 'the Quick fox' &@~ 'quick fox'"));
    assert!(p
        .client()
        .batch_execute("SELECT * FROM stripe.customers")
        .is_err());
    // pgjwt signs what it verifies; storage's path helpers split paths.
    assert!(p.bool(
        "SELECT valid FROM extensions.verify(public.signed('{\"sub\": \"1\"}'), 'not-a-secret')"
    ));
    assert!(p.bool(
        "SELECT storage.foldername('u1/x/a.png') = ARRAY['u1', 'x'] AND storage.filename('u1/x/a.png') = 'a.png' \
         AND storage.extension('u1/x/a.png') = 'png'"
    ));
    // As on Supabase, storage rows are not deleted by SQL.
    let delete = p.client().batch_execute("DELETE FROM storage.buckets");
    assert!(
        message(delete).contains("Use the Storage API"),
        "direct deletes from storage are refused"
    );
}

#[test]
fn a_replay_failure_says_whether_the_machine_or_the_project_caused_it() {
    // An extension neither this PostgreSQL nor safemig's stand-ins have (ParadeDB's).
    let p = Project::new();
    p.migration(
        "20240101000000_search.sql",
        "create extension if not exists pg_search;\ncreate table public.readings (at timestamptz, v float8);",
    );
    let run = p.safemig(&["--format", "json", "plan", "--rehearse"]);
    assert_eq!(run.code, 1, "{run:?}");
    let why = run.json()["fresh"]["environment_failure"].to_string();
    assert!(
        why.contains("lacks extension pg_search") && why.contains("apt-get install postgresql-"),
        "{run:?}"
    );

    // A baseline dumped by pg_dump 17 sets transaction_timeout: only PostgreSQL 17 knows it.
    let p = Project::new();
    p.migration(
        "20240101000000_remote_schema.sql",
        "SET statement_timeout = 0;\nSET transaction_timeout = 0;\ncreate table public.t (id int primary key);",
    );
    let run = p.safemig(&["--format", "json", "plan", "--rehearse"]);
    let json = run.json();
    let major = json["fresh"]["postgres_major"].as_u64().unwrap();
    if major < 17 {
        assert_eq!(json["fresh"]["ok"], false, "{json}");
        let why = json["fresh"]["environment_failure"].to_string();
        assert!(
            why.contains("transaction_timeout") && why.contains("PostgreSQL 17"),
            "{json}"
        );
        let human = p.safemig(&["plan", "--rehearse"]);
        assert!(
            human
                .stdout
                .contains("this machine's doing, not the project's"),
            "{human:?}"
        );
    } else {
        assert_eq!(
            json["fresh"]["ok"], true,
            "PostgreSQL {major} knows the setting: {json}"
        );
    }

    // The project's own bug is the project's: no environment is blamed.
    let p = Project::new();
    p.migration(
        "20240101000000_orders.sql",
        "create table public.orders (id int primary key, customer int references public.customers (id));",
    );
    let run = p.safemig(&["--format", "json", "plan", "--rehearse"]);
    assert_eq!(run.code, 1, "{run:?}");
    let json = run.json();
    assert_eq!(json["fresh"]["ok"], false, "{json}");
    assert!(json["fresh"]["environment_failure"].is_null(), "{json}");
}

#[test]
fn the_throwaway_server_runs_the_asked_major_or_says_what_to_install() {
    let installed = safemig_pg::install::discover();
    assert!(
        !installed.is_empty(),
        "the test machine has a PostgreSQL server"
    );
    // A major that is installed is used as it is, without a note.
    let (chosen, note) = safemig_pg::install::server_for(Some(installed[0].major)).unwrap();
    assert_eq!(chosen.major, installed[0].major);
    assert!(note.is_none(), "{note:?}");
    // A major that is not: the closest is used, and the note says what to install.
    let (chosen, note) = safemig_pg::install::server_for(Some(99)).unwrap();
    assert_eq!(
        chosen.major,
        installed.iter().map(|i| i.major).max().unwrap()
    );
    let note = note.expect("a note when the major is missing");
    assert!(
        note.contains("PostgreSQL 99's server was not found")
            && note.contains("apt-get install postgresql-99")
            && note.contains("SAFEMIG_PG_BIN"),
        "{note}"
    );
    // The stand-in extensions are offered beside the server's own, which win.
    let cluster = safemig_pg::Ephemeral::start().unwrap();
    let mut client = cluster.connect("postgres").unwrap();
    let offered: Vec<String> = client
        .query(
            "SELECT name FROM pg_available_extensions WHERE comment LIKE 'safemig stand-in%' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for name in ["pg_cron", "pg_net", "vector"] {
        assert!(offered.iter().any(|o| o == name), "{offered:?}");
    }
    let real: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'pgcrypto' AND comment NOT LIKE 'safemig%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(real, 1, "the server's own extensions are still its own");
}
