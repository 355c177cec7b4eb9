//! `safemig doctor` end to end, against a real throwaway PostgreSQL with the
//! Supabase stand-in.

mod common;

use common::{Project, Run};

/// A well-formed Supabase project: RLS on, security definer functions with a
/// search_path, a new-user trigger whose function works.
const GOOD_APP: &str = r#"
CREATE TABLE public.users (
    id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    email text NOT NULL,
    full_name text,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY "own row" ON public.users FOR SELECT TO authenticated USING (id = (select auth.uid()));

CREATE FUNCTION public.handle_new_user() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    INSERT INTO public.users (id, email, full_name)
    VALUES (NEW.id, NEW.email, NEW.raw_user_meta_data ->> 'full_name');
    RETURN NEW;
END
$$;
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users
    FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();

-- Helpers policies call live outside the schema the API exposes.
CREATE SCHEMA private;
CREATE FUNCTION private.is_admin() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ SELECT false $$;
"#;

/// Doctor's own checks (not the splinter lints, which `tests/lints.rs` covers).
const OWN: &[&str] = &[
    "unattached-trigger-function",
    "security-definer-without-search-path",
    "table-without-rls",
    "disabled-trigger",
    "new-user-insert-fails",
    "missing-migration-file",
    "pending-migration",
];

/// The findings of doctor's own checks in a `--format json` run, as (check, object) pairs.
fn findings(run: &Run) -> Vec<(String, String)> {
    run.json()["findings"]
        .as_array()
        .expect("a findings array")
        .iter()
        .filter(|f| OWN.contains(&f["check"].as_str().unwrap()))
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["object"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The one finding of this check about this object.
fn finding(run: &Run, check: &str, object: &str) -> serde_json::Value {
    let json = run.json();
    let found: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check && f["object"] == object)
        .collect();
    assert_eq!(found.len(), 1, "one {check} on {object}: {run:?}");
    found[0].clone()
}

fn has(run: &Run, check: &str, object: &str) -> bool {
    findings(run).iter().any(|(c, o)| c == check && o == object)
}

#[test]
fn a_healthy_project_has_no_findings_and_the_insert_test_passes_and_is_rolled_back() {
    let p = Project::new();
    p.migration("20250101000000_app.sql", GOOD_APP);
    let migrate = p.safemig(&["migrate", "--backup", "skip"]);
    assert_eq!(migrate.code, 0, "{migrate:?}");
    let before = p.fingerprint();

    let run = p.safemig(&["doctor", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let json = run.json();
    assert_eq!(findings(&run), Vec::<(String, String)>::new(), "{run:?}");
    assert_eq!(json["summary"]["findings"], 0);
    // The new-user trigger was really exercised, and nothing of it was kept.
    assert_eq!(json["summary"]["insert_test"], "passed", "{run:?}");
    assert_eq!(p.i64("SELECT count(*) FROM auth.users"), 0);
    assert_eq!(p.i64("SELECT count(*) FROM public.users"), 0);
    assert_eq!(p.fingerprint(), before, "doctor changed the database");

    let human = p.safemig(&["doctor"]);
    assert_eq!(human.code, 0, "{human:?}");
    assert!(human.stdout.contains("no problems found"), "{human:?}");
    assert!(
        human.stdout.contains("on_auth_user_created"),
        "the note names the trigger tested: {human:?}"
    );

    // The local audit trail has the run.
    let audit = std::fs::read_to_string(p.path().join(".safemig/audit.jsonl")).unwrap();
    assert!(
        audit.lines().any(|l| l.contains("\"command\":\"doctor\"")),
        "{audit}"
    );

    // --no-insert-test does not insert, and says so.
    let skipped = p.safemig(&["doctor", "--no-insert-test", "--format", "json"]);
    assert_eq!(skipped.code, 0, "{skipped:?}");
    assert_eq!(skipped.json()["summary"]["insert_test"], "skipped");

    // A role that may not insert into auth.users cannot test sign-ups: a note, not a finding.
    p.exec(
        "CREATE ROLE reader LOGIN; GRANT USAGE ON SCHEMA supabase_migrations, safemig TO reader; \
         GRANT SELECT ON ALL TABLES IN SCHEMA supabase_migrations, safemig TO reader;",
    );
    let url = p.url.replace("user=postgres", "user=reader");
    let reader = p.safemig_raw(&["--db", &url, "doctor", "--format", "json"], &[]);
    assert_eq!(reader.code, 0, "{reader:?}");
    assert_eq!(
        reader.json()["summary"]["insert_test"],
        "inconclusive",
        "{reader:?}"
    );
    assert!(
        reader.json()["notes"]
            .to_string()
            .contains("could not run as role reader"),
        "{reader:?}"
    );
}

#[test]
fn every_finding_is_reported_with_a_fix_that_works() {
    let p = Project::new();
    p.exec(
        r#"
        CREATE TABLE public.profiles (id uuid PRIMARY KEY, username text NOT NULL);
        -- The seed's issue 1: the function exists, its trigger does not.
        CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
        BEGIN INSERT INTO public.profiles (id, username) VALUES (NEW.id, NEW.email) ON CONFLICT DO NOTHING; RETURN NEW; END $$;
        -- A trigger whose function leaves out a NOT NULL column: every sign-up fails.
        CREATE FUNCTION public.create_profile() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
        BEGIN INSERT INTO public.profiles (id) VALUES (NEW.id); RETURN NEW; END $$;
        CREATE TRIGGER create_profile_on_signup AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.create_profile();
        -- A disabled trigger.
        CREATE FUNCTION public.note_signup() RETURNS trigger LANGUAGE plpgsql SET search_path = '' AS $$
        BEGIN RETURN NEW; END $$;
        CREATE TRIGGER note_signup AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.note_signup();
        ALTER TABLE auth.users DISABLE TRIGGER note_signup;
        -- Security definer without search_path.
        CREATE FUNCTION public.get_count(who uuid, n integer) RETURNS integer LANGUAGE sql SECURITY DEFINER AS $$ SELECT n $$;
        -- A table in an exposed schema without RLS: public.profiles. Not exposed: private.
        CREATE SCHEMA private;
        CREATE TABLE private.secrets (id int);
        -- History with a row whose file is gone.
        CREATE SCHEMA supabase_migrations;
        CREATE TABLE supabase_migrations.schema_migrations (version text PRIMARY KEY, statements text[], name text);
        INSERT INTO supabase_migrations.schema_migrations (version, name) VALUES ('20240101000000', 'gone');
        "#,
    );
    p.migration("20250201000000_not_yet.sql", "SELECT 1;");
    let users_before = p.i64("SELECT count(*) FROM auth.users");

    let run = p.safemig(&["doctor", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let json = run.json();

    // JSON shape.
    assert!(json["database"]
        .as_str()
        .unwrap()
        .starts_with("postgresql://"));
    for f in json["findings"].as_array().unwrap() {
        for key in ["check", "severity", "object", "message", "fix"] {
            assert!(f[key].is_string(), "{key} in {f}");
        }
        assert!(
            ["risky", "review", "hint"].contains(&f["severity"].as_str().unwrap()),
            "{f}"
        );
    }
    assert_eq!(
        json["summary"]["findings"].as_u64().unwrap() as usize,
        json["findings"].as_array().unwrap().len()
    );
    assert_eq!(json["summary"]["insert_test"], "failed");

    let mut names = findings(&run);
    names.sort();
    assert_eq!(
        names,
        [
            ("disabled-trigger", "trigger note_signup on auth.users"),
            ("missing-migration-file", "migration 20240101000000"),
            (
                "new-user-insert-fails",
                "trigger create_profile_on_signup on auth.users"
            ),
            ("pending-migration", "migration 20250201000000"),
            (
                "security-definer-without-search-path",
                "public.get_count(who uuid, n integer)"
            ),
            ("table-without-rls", "public.profiles"),
            ("unattached-trigger-function", "public.handle_new_user()"),
        ]
        .map(|(c, o)| (c.to_string(), o.to_string())),
        "{run:?}"
    );

    // The new-user test: PostgreSQL's own message, the trigger and function named; rolled back.
    let insert = finding(
        &run,
        "new-user-insert-fails",
        "trigger create_profile_on_signup on auth.users",
    );
    let message = insert["message"].as_str().unwrap();
    assert!(
        message.contains("null value in column \"username\""),
        "{message}"
    );
    assert!(message.contains("public.create_profile()"), "{message}");
    assert!(
        message.contains("Database error saving new user"),
        "{message}"
    );
    assert!(
        insert["fix"]
            .as_str()
            .unwrap()
            .contains("NOT NULL column (username)"),
        "{insert}"
    );
    assert_eq!(insert["severity"], "risky");
    assert_eq!(p.i64("SELECT count(*) FROM auth.users"), users_before);
    assert_eq!(p.i64("SELECT count(*) FROM public.profiles"), 0);

    // The seed's handle_new_user: the fix attaches it to auth.users.
    let unattached = finding(
        &run,
        "unattached-trigger-function",
        "public.handle_new_user()",
    );
    assert_eq!(
        unattached["fix"],
        "CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();"
    );
    assert_eq!(
        finding(
            &run,
            "security-definer-without-search-path",
            "public.get_count(who uuid, n integer)"
        )["fix"]
            .as_str()
            .unwrap()
            .lines()
            .next(),
        Some("ALTER FUNCTION public.get_count(who uuid, n integer) SET search_path = '';")
    );
    assert!(
        !has(&run, "table-without-rls", "private.secrets"),
        "not exposed"
    );

    // Human output: severity[check], the object, the fix; the summary line.
    let human = p.safemig(&["doctor"]);
    assert_eq!(human.code, 1, "{human:?}");
    assert!(
        human
            .stdout
            .contains("risky[table-without-rls] table public.profiles"),
        "{human:?}"
    );
    assert!(
        human
            .stdout
            .contains("--> public.profiles  (splinter 0013_rls_disabled_in_public)"),
        "{human:?}"
    );
    assert!(human.stdout.contains("= fix:"), "{human:?}");
    assert!(
        human
            .stdout
            .contains("ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;"),
        "{human:?}"
    );
    let count = run.json()["findings"].as_array().unwrap().len();
    assert!(
        human.stdout.contains(&format!("{count} findings")),
        "{human:?}"
    );
    assert_eq!(p.i64("SELECT count(*) FROM auth.users"), users_before);

    // Each fix that is plain SQL, run as given, makes its finding go away.
    for (check, object) in [
        ("table-without-rls", "public.profiles"),
        (
            "security-definer-without-search-path",
            "public.get_count(who uuid, n integer)",
        ),
        ("disabled-trigger", "trigger note_signup on auth.users"),
        ("missing-migration-file", "migration 20240101000000"),
        ("unattached-trigger-function", "public.handle_new_user()"),
    ] {
        p.exec(finding(&run, check, object)["fix"].as_str().unwrap());
    }
    let after = p.safemig(&["doctor", "--format", "json"]);
    let mut left = findings(&after);
    left.sort();
    // The broken function still breaks sign-ups; the file is still not applied.
    assert_eq!(
        left,
        [
            (
                "new-user-insert-fails",
                "trigger create_profile_on_signup on auth.users"
            ),
            ("pending-migration", "migration 20250201000000"),
        ]
        .map(|(c, o)| (c.to_string(), o.to_string())),
        "{after:?}"
    );
    assert!(p.bool("SELECT tgenabled = 'O' FROM pg_trigger WHERE tgname = 'note_signup'"));

    // Correct the function: sign-ups work, doctor says so.
    p.exec(
        "CREATE OR REPLACE FUNCTION public.create_profile() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$ \
         BEGIN INSERT INTO public.profiles (id, username) VALUES (NEW.id, NEW.email) ON CONFLICT DO NOTHING; RETURN NEW; END $$;",
    );
    let fixed = p.safemig(&["doctor", "--format", "json"]);
    assert_eq!(
        findings(&fixed),
        [(
            "pending-migration".to_string(),
            "migration 20250201000000".to_string()
        )],
        "{fixed:?}"
    );
    assert_eq!(fixed.json()["summary"]["insert_test"], "passed");
    assert_eq!(p.i64("SELECT count(*) FROM auth.users"), users_before);
}

#[test]
fn the_insert_runs_as_gotrue_and_names_each_cause() {
    let p = Project::new();
    // As on Supabase: GoTrue's role, with search_path auth, and no rights in public.
    p.exec(
        r#"
        GRANT USAGE ON SCHEMA auth TO supabase_auth_admin;
        GRANT SELECT, INSERT ON auth.users TO supabase_auth_admin;
        ALTER ROLE supabase_auth_admin SET search_path = auth;
        CREATE TABLE public.users (id uuid PRIMARY KEY, email text);
        ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
        -- Inserts into a column that does not exist.
        CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
        BEGIN INSERT INTO public.users (id, email, fullname) VALUES (NEW.id, NEW.email, 'x'); RETURN NEW; END $$;
        CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
        -- Not security definer, and unqualified: works for postgres, not for GoTrue.
        CREATE TABLE public.profiles (id uuid PRIMARY KEY);
        ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
        CREATE FUNCTION public.log_signup() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM 1 FROM profiles WHERE false; RETURN NEW; END $$;
        CREATE TRIGGER log_signup BEFORE INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.log_signup();
        "#,
    );
    let fails = |trigger: &str| -> (String, String) {
        let run = p.safemig(&["doctor", "--format", "json"]);
        assert_eq!(run.code, 1, "{run:?}");
        assert_eq!(findings(&run).len(), 1, "{run:?}");
        let f = finding(
            &run,
            "new-user-insert-fails",
            &format!("trigger {trigger} on auth.users"),
        );
        let message = f["message"].as_str().unwrap().to_string();
        assert!(message.contains("as role supabase_auth_admin"), "{message}");
        (message, f["fix"].as_str().unwrap().to_string())
    };

    // BEFORE triggers run first; GoTrue's search_path (auth) has no `profiles`.
    let (message, fix) = fails("log_signup");
    assert!(
        message.contains("relation \"profiles\" does not exist"),
        "{message}"
    );
    assert!(message.contains("public.log_signup()"), "{message}");
    assert!(fix.contains("schema-qualify"), "{fix}");

    // Qualified, GoTrue's role has no right to read it.
    p.exec(
        "CREATE OR REPLACE FUNCTION public.log_signup() RETURNS trigger LANGUAGE plpgsql AS $$ \
            BEGIN PERFORM 1 FROM public.profiles WHERE false; RETURN NEW; END $$;",
    );
    let (message, fix) = fails("log_signup");
    assert!(
        message.contains("permission denied for table profiles"),
        "{message}"
    );
    assert!(fix.contains("SECURITY DEFINER"), "{fix}");

    // The fix doctor proposes makes log_signup work; then handle_new_user's missing column fails.
    p.exec("ALTER FUNCTION public.log_signup() SECURITY DEFINER SET search_path = '';");
    let (message, fix) = fails("on_auth_user_created");
    assert!(
        message.contains("column \"fullname\" of relation \"users\" does not exist"),
        "{message}"
    );
    assert!(message.contains("public.handle_new_user()"), "{message}");
    assert!(fix.contains("names a column that does not exist"), "{fix}");
    assert_eq!(p.i64("SELECT count(*) FROM auth.users"), 0);
    assert_eq!(p.i64("SELECT count(*) FROM public.users"), 0);
}

#[test]
fn plain_postgresql_without_auth_or_migrations_folder() {
    let p = Project::new();
    p.exec(
        r#"
        DROP SCHEMA auth CASCADE;
        CREATE TABLE public."Orders" (id int);
        ALTER TABLE public."Orders" ENABLE ROW LEVEL SECURITY;
        CREATE FUNCTION public."Touch"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
        "#,
    );
    std::fs::remove_dir_all(p.migrations_dir()).unwrap();
    let run = p.safemig(&["doctor", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let json = run.json();
    assert_eq!(
        findings(&run),
        [(
            "unattached-trigger-function".to_string(),
            "public.\"Touch\"()".to_string()
        )]
    );
    let f = finding(&run, "unattached-trigger-function", "public.\"Touch\"()");
    assert_eq!(f["severity"], "review", "not a new-user handler: {f}");
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .contains("EXECUTE FUNCTION public.\"Touch\"();"),
        "{f}"
    );
    assert_eq!(json["summary"]["insert_test"], "not-applicable");
    let notes = json["notes"].to_string();
    assert!(notes.contains("no table auth.users"), "{notes}");
    assert!(notes.contains("no migrations folder"), "{notes}");
}

#[test]
fn a_connection_error_exits_2_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_safemig"))
        .current_dir(dir.path())
        .args([
            "--db",
            "postgresql://someone:s3cretpassw0rd@127.0.0.1:1/app?sslmode=disable",
            "doctor",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let run = common::output(out);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot connect"), "{run:?}");
    assert!(!run.all().contains("s3cretpassw0rd"), "{run:?}");
}

#[test]
fn an_insert_that_fails_before_any_trigger_or_on_a_read_only_connection_is_inconclusive_not_a_finding(
) {
    let p = Project::new();
    p.migration("20250101000000_app.sql", GOOD_APP);
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    // doctor's made-up row breaks a rule of auth.users itself: nothing about the trigger.
    p.exec("ALTER TABLE auth.users ADD CONSTRAINT company_mail CHECK (email LIKE '%@example.com')");
    let run = p.safemig(&["doctor", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!has(&run, "new-user-insert-fails", "auth.users"), "{run:?}");
    assert_eq!(
        run.json()["summary"]["insert_test"],
        "inconclusive",
        "{run:?}"
    );
    p.exec("ALTER TABLE auth.users DROP CONSTRAINT company_mail");

    p.exec("ALTER DATABASE app SET default_transaction_read_only = on");
    let run = p.safemig(&["doctor", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["summary"]["insert_test"],
        "inconclusive",
        "{run:?}"
    );
    assert!(run.stdout.contains("read-only"), "{run:?}");
}
