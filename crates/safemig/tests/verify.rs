//! `safemig verify` and `verify --drift` against a real throwaway PostgreSQL,
//! on the seed's project: a new-user trigger and 59 library tracks.

mod common;

use common::Project;

const BASELINE: &str = "\
CREATE TABLE public.users (id uuid PRIMARY KEY, email text NOT NULL);
CREATE TABLE public.library_tracks (id int PRIMARY KEY, title text NOT NULL);
INSERT INTO public.library_tracks SELECT g, 'track ' || g FROM generate_series(1, 59) g;
CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO public.users (id, email) VALUES (NEW.id, NEW.email);
  RETURN NEW;
END $$;
";

const TRIGGER: &str = "\
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users
  FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
";

const CONFIG: &str = r#"
[guard.min_rows]
"public.library_tracks" = 59

[verify]
functions = ["public.handle_new_user()"]
triggers = ["on_auth_user_created ON auth.users"]
tables = ["public.users", "public.library_tracks"]
columns = ["public.users.email"]
"#;

/// The seed's ready test: a new auth user gets its public.users row.
const NEW_USER_TEST: &str =
    include_str!("../../../examples/supabase/tests/new_user_creates_profile.sql");

fn seed_project() -> Project {
    let p = Project::new();
    p.migration("20250831022018_baseline_schema.sql", BASELINE);
    p.migration("20250831022100_add_user_creation_trigger.sql", TRIGGER);
    p.config(CONFIG);
    std::fs::create_dir_all(p.path().join("supabase/tests")).unwrap();
    std::fs::write(
        p.path().join("supabase/tests/new_user_creates_profile.sql"),
        NEW_USER_TEST,
    )
    .unwrap();
    let run = p.safemig(&["migrate", "--backup", "skip"]);
    assert_eq!(run.code, 0, "{run:?}");
    p
}

fn failed_checks(run: &common::Run) -> Vec<(String, String)> {
    run.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_good_database_verifies_and_the_test_user_is_rolled_back() {
    let p = seed_project();
    let run = p.safemig(&["--format", "json", "verify"]);
    assert_eq!(run.code, 0, "{run:?}");
    let json = run.json();
    let names: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for expected in [
        "function public.handle_new_user()",
        "trigger on_auth_user_created ON auth.users",
        "public.library_tracks",
        "new_user_creates_profile.sql",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not checked: {names:?}"
        );
    }
    // The test inserted a user, and it was rolled back.
    assert_eq!(p.i64("SELECT count(*) FROM auth.users"), 0);
    assert_eq!(p.i64("SELECT count(*) FROM public.users"), 0);
    let run = p.safemig(&["verify"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("verified:"), "{run:?}");
}

#[test]
fn verify_fails_naming_the_cause_when_the_trigger_is_dropped_disabled_or_its_function_broken() {
    let p = seed_project();

    p.exec("ALTER TABLE auth.users DISABLE TRIGGER on_auth_user_created");
    let run = p.safemig(&["--format", "json", "verify"]);
    assert_eq!(run.code, 1, "{run:?}");
    let failed = failed_checks(&run);
    assert!(
        failed
            .iter()
            .any(|(n, d)| n.starts_with("trigger") && d.starts_with("disabled")),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|(n, d)| n == "new_user_creates_profile.sql" && d.contains("public.users row")),
        "{failed:?}"
    );
    p.exec("ALTER TABLE auth.users ENABLE TRIGGER on_auth_user_created");

    p.exec("DROP TRIGGER on_auth_user_created ON auth.users");
    let run = p.safemig(&["--format", "json", "verify"]);
    assert_eq!(run.code, 1, "{run:?}");
    let failed = failed_checks(&run);
    assert!(
        failed
            .iter()
            .any(|(n, d)| n.starts_with("trigger") && d.starts_with("missing")),
        "{failed:?}"
    );
    p.exec(TRIGGER);

    p.exec(
        "CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$ \
         BEGIN INSERT INTO public.users (id, email, full_name) VALUES (NEW.id, NEW.email, ''); RETURN NEW; END $$",
    );
    let run = p.safemig(&["--format", "json", "verify"]);
    assert_eq!(run.code, 1, "{run:?}");
    let failed = failed_checks(&run);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].1.contains("full_name"), "{failed:?}");
}

#[test]
fn verify_fails_when_protected_rows_are_lost() {
    let p = seed_project();
    p.exec("DELETE FROM public.library_tracks WHERE id > 57");
    let run = p.safemig(&["--format", "json", "verify", "--no-tests"]);
    assert_eq!(run.code, 1, "{run:?}");
    let failed = failed_checks(&run);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].1.contains("57 rows") && failed[0].1.contains("59"),
        "{failed:?}"
    );
}

#[test]
fn sql_tests_always_roll_back_even_when_they_commit_or_fail_and_tap_failures_count() {
    let p = seed_project();
    let tests = p.path().join("supabase/tests");
    std::fs::write(
        tests.join("commits.sql"),
        "BEGIN;\nINSERT INTO public.library_tracks VALUES (1000, 'sneaky');\nCOMMIT;\n",
    )
    .unwrap();
    std::fs::write(
        tests.join("fails.sql"),
        "DELETE FROM public.library_tracks;\nDO $$ BEGIN RAISE EXCEPTION 'boom'; END $$;\n",
    )
    .unwrap();
    std::fs::write(
        tests.join("tap.sql"),
        "SELECT 'ok 1 - fine';\nSELECT 'not ok 2 - tracks are sorted';\n",
    )
    .unwrap();
    let run = p.safemig(&["--format", "json", "verify"]);
    assert_eq!(run.code, 1, "{run:?}");
    let failed = failed_checks(&run);
    let names: Vec<&str> = failed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["fails.sql", "tap.sql"], "{failed:?}");
    assert!(failed[0].1.contains("boom"), "{failed:?}");
    assert!(
        failed[1].1.contains("not ok 2 - tracks are sorted"),
        "{failed:?}"
    );
    // Neither the COMMIT nor the DELETE stayed.
    assert_eq!(p.i64("SELECT count(*) FROM public.library_tracks"), 59);
    let json = run.json();
    let commits = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "commits.sql")
        .unwrap()
        .clone();
    assert_eq!(commits["ok"], true, "{json}");
    assert!(
        commits["detail"]
            .as_str()
            .unwrap()
            .contains("COMMIT not sent"),
        "{json}"
    );
}

#[test]
fn drift_finds_a_missing_trigger_an_extra_column_and_a_changed_function_body() {
    let p = seed_project();
    let run = p.safemig(&["--format", "json", "verify", "--drift", "--no-tests"]);
    assert_eq!(
        run.code, 0,
        "a database built by its migrations has no drift: {run:?}"
    );
    assert_eq!(run.json()["drift"]["differences"], serde_json::json!([]));

    p.exec("DROP TRIGGER on_auth_user_created ON auth.users");
    p.exec("ALTER TABLE public.library_tracks ADD COLUMN mood text");
    p.exec(
        "CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$ \
         BEGIN RETURN NEW; END $$",
    );
    let run = p.safemig(&["--format", "json", "verify", "--drift", "--no-tests"]);
    assert_eq!(run.code, 1, "{run:?}");
    let json = run.json();
    let found: Vec<(String, String)> = json["drift"]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["state"].as_str().unwrap().to_string(),
                d["object"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("missing", "trigger on_auth_user_created ON auth.users"),
        ("extra", "column public.library_tracks.mood"),
        ("different", "function public.handle_new_user()"),
    ] {
        assert!(
            found
                .iter()
                .any(|(s, o)| s == expected.0 && o == expected.1),
            "{expected:?} not in {found:?}"
        );
    }
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn drift_ignores_pending_migrations_the_roles_search_path_and_has_no_supabase_grants_on_plain_postgresql(
) {
    let p = seed_project();
    // A type outside the search path that PostgreSQL prints qualified or not,
    // depending on the session's search_path; the database's path includes it.
    p.migration(
        "20250901000000_typed.sql",
        "CREATE DOMAIN extensions.short_text AS text;\nCREATE TABLE public.notes (body extensions.short_text);",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    p.exec("ALTER DATABASE app SET search_path = \"$user\", public, extensions");
    // Not applied yet: not drift.
    p.migration(
        "20251001000000_next.sql",
        "CREATE TABLE public.pending_one (id int);",
    );
    let run = p.safemig(&["--format", "json", "verify", "--drift", "--no-tests"]);
    assert_eq!(run.code, 0, "{run:?}");
    let json = run.json();
    assert_eq!(
        json["drift"]["differences"],
        serde_json::json!([]),
        "{json}"
    );
    assert!(
        json["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("1 migration(s) not applied")),
        "{json}"
    );

    // A plain PostgreSQL database (no auth schema, no Supabase grants), built by its migrations.
    p.cluster.create_database("plain").unwrap();
    let plain = p.cluster.url("plain");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("m")).unwrap();
    std::fs::write(
        dir.path().join("m/1_t.sql"),
        "CREATE TABLE public.t (id int PRIMARY KEY, note text DEFAULT 'x');",
    )
    .unwrap();
    std::fs::write(dir.path().join("safemig.toml"), "").unwrap();
    let m = dir.path().join("m");
    let m = m.to_str().unwrap();
    let config = dir.path().join("safemig.toml");
    let config = config.to_str().unwrap();
    let base = ["--db", plain.as_str(), "--dir", m, "--config", config];
    let run = p.safemig_raw(&[&base[..], &["migrate", "--backup", "skip"]].concat(), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let run = p.safemig_raw(
        &[
            &base[..],
            &["--format", "json", "verify", "--drift", "--no-tests"],
        ]
        .concat(),
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["drift"]["differences"], serde_json::json!([]));
}

#[test]
fn sql_tests_do_not_leak_session_state_and_a_plan_in_a_comment_is_not_pgtap() {
    let p = seed_project();
    let tests = p.path().join("supabase/tests");
    std::fs::write(
        tests.join("a.sql"),
        "PREPARE p AS SELECT 1;\nSELECT pg_advisory_lock(42);\n",
    )
    .unwrap();
    std::fs::write(tests.join("b.sql"), "-- check the query plan(s) stay cheap\nPREPARE p AS SELECT 2;\nSELECT pg_advisory_lock(42);\n").unwrap();
    let run = p.safemig(&["--format", "json", "verify"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(failed_checks(&run).is_empty());
}

#[test]
fn a_malformed_verify_entry_is_bad_config_not_a_missing_object() {
    let p = seed_project();
    p.config("[verify]\nfunctions = [\"public.handle_new_user\"]\n");
    let run = p.safemig(&["verify", "--no-tests"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("functions entry \"public.handle_new_user\"")
            && run.stderr.contains("argument types"),
        "{run:?}"
    );
}

#[test]
fn an_allowance_excuses_lost_rows_only_for_its_own_migration_and_loss() {
    let p = seed_project();
    p.exec("CREATE TABLE public.notes (id int PRIMARY KEY); INSERT INTO public.notes SELECT generate_series(1, 10);");
    // migrate's own backup records the 10 notes.
    p.migration(
        "20250901000000_note_text.sql",
        "ALTER TABLE public.notes ADD COLUMN body text;",
    );
    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 0, "{run:?}");
    p.exec("DELETE FROM public.notes WHERE id > 5");
    // An allowance of an older migration, or of another kind of loss, excuses nothing.
    for allow in [
        "migration = \"20250831022018\"\ntable = \"public.notes\"\nloss = [\"rows\"]",
        "migration = \"20250901000000\"\ntable = \"*\"\nloss = [\"columns\"]",
    ] {
        p.config(&format!("{CONFIG}\n[[allow]]\n{allow}\n"));
        let run = p.safemig(&["--format", "json", "verify", "--no-tests"]);
        assert_eq!(run.code, 1, "{allow}: {run:?}");
        assert!(
            failed_checks(&run)
                .iter()
                .any(|(_, d)| d.contains("5 rows")),
            "{run:?}"
        );
    }
    // The migration applied since the backup, allowed to lose rows: excused.
    p.config(&format!("{CONFIG}\n[[allow]]\nmigration = \"20250901000000\"\ntable = \"public.notes\"\nloss = [\"rows\"]\n"));
    let run = p.safemig(&["--format", "json", "verify", "--no-tests"]);
    assert_eq!(run.code, 0, "{run:?}");
}

/// Issue 20 item 6: `--dir` given from another folder finds the project's
/// `safemig.toml` and `supabase/tests`, writes its audit trail there (no stray
/// `.safemig/` where it was run), and a verify that checked nothing does not pass.
#[test]
fn working_from_another_folder_finds_the_project_and_an_empty_verify_does_not_pass() {
    let p = seed_project();
    std::fs::create_dir_all(p.path().join(".git")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = p.migrations_dir();
    let run_from = |args: &[&str]| {
        let mut full = vec!["--db", p.url.as_str(), "--dir", dir.to_str().unwrap()];
        full.extend_from_slice(args);
        let mut command = p.command(&full, &[]);
        command.current_dir(elsewhere.path());
        common::output(command.output().unwrap())
    };
    let run = run_from(&["verify", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let names: Vec<String> = run.json()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n.contains("new_user_creates_profile")),
        "the project's SQL tests ran: {names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("on_auth_user_created")),
        "the project's [verify] was read: {names:?}"
    );
    assert!(
        !elsewhere.path().join(".safemig").exists(),
        "no stray .safemig/"
    );
    assert!(p.path().join(".safemig/audit.jsonl").is_file());
    let log = run_from(&["log", "--format", "json"]);
    assert_eq!(log.code, 0, "{log:?}");
    assert!(log.stdout.contains("verify"), "{log:?}");

    // Without a config file, a Supabase layout still names the project root.
    std::fs::remove_file(p.path().join("safemig.toml")).unwrap();
    let run = run_from(&["verify", "--format", "json"]);
    let names = run.json()["checks"].to_string();
    assert!(names.contains("new_user_creates_profile"), "{run:?}");

    // Nothing to check: said, and not a pass.
    let bare = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(bare.path().join("migrations")).unwrap();
    let mut command = p.command(
        &[
            "--db",
            p.url.as_str(),
            "--dir",
            bare.path().join("migrations").to_str().unwrap(),
            "verify",
        ],
        &[],
    );
    command.current_dir(bare.path());
    let run = common::output(command.output().unwrap());
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("nothing was checked"), "{run:?}");
}
