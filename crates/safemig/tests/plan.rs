//! `safemig plan` and `plan --rehearse` against a real throwaway PostgreSQL.

mod common;

use common::Project;

const BASE: &str = "CREATE TABLE public.tracks (id int PRIMARY KEY, title text, bpm int);\n\
                    INSERT INTO public.tracks SELECT g, 'track ' || g, g FROM generate_series(1, 50) g;";

/// A project with the base migration applied for real, then two pending ones.
fn project_with_pending() -> Project {
    let p = Project::new();
    p.migration("20250101000000_base.sql", BASE);
    let run = p.safemig(&["migrate", "--backup", "skip"]);
    assert_eq!(run.code, 0, "{run:?}");
    p.migration(
        "20250201000000_bpm_type.sql",
        "ALTER TABLE public.tracks ALTER COLUMN bpm TYPE bigint;",
    );
    p.migration(
        "20250301000000_index.sql",
        "CREATE INDEX CONCURRENTLY tracks_title ON public.tracks (title);",
    );
    p
}

#[test]
fn plan_lists_pending_migrations_with_their_class_backup_and_guards() {
    let p = project_with_pending();
    let run = p.safemig(&["--format", "json", "plan"]);
    assert_eq!(run.code, 0, "{run:?}");
    let json = run.json();
    let pending = json["pending"].as_array().unwrap();
    let versions: Vec<&str> = pending
        .iter()
        .map(|m| m["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["20250201000000", "20250301000000"]);
    assert_eq!(pending[0]["class"], "review", "{json}");
    assert!(
        pending[0]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "change-column-type"),
        "{json}"
    );
    assert_eq!(pending[0]["refused_without_allow_risky"], false);
    assert_eq!(pending[1]["class"], "safe", "{json}");
    assert_eq!(json["backup"]["reuse"], serde_json::Value::Null);
    assert!(
        json["guards"]["protected_tables"].as_u64().unwrap() >= 1,
        "{json}"
    );
    assert!(json["rehearsal"].is_null());
}

#[test]
fn rehearsal_reports_the_rewrite_and_lock_of_a_type_change_and_none_for_a_concurrent_index_and_changes_nothing(
) {
    let p = project_with_pending();
    let before = p.fingerprint();
    let run = p.safemig(&["--format", "json", "plan", "--rehearse"]);
    assert_eq!(run.code, 0, "{run:?}");
    let json = run.json();
    let migrations = json["rehearsal"]["migrations"].as_array().unwrap();
    assert_eq!(migrations.len(), 2, "{json}");
    assert!(
        migrations.iter().all(|m| m["result"] == "applied"),
        "{json}"
    );

    let alter = &migrations[0]["observed"][0];
    assert_eq!(
        alter["rewritten"],
        serde_json::json!(["public.tracks"]),
        "{json}"
    );
    let locks = alter["locks"].as_array().unwrap();
    assert!(
        locks
            .iter()
            .any(|l| l["relation"] == "public.tracks" && l["mode"] == "AccessExclusiveLock"),
        "{json}"
    );

    let index = &migrations[1]["observed"][0];
    assert_eq!(index["outside_transaction"], true, "{json}");
    assert_eq!(index["locks"], serde_json::json!([]), "{json}");
    assert_eq!(index["rewritten"], serde_json::json!([]), "{json}");

    assert_eq!(json["fresh"]["ok"], true, "{json}");
    // Nothing real changed: same catalog, same filenodes, same rows, nothing recorded as applied.
    assert_eq!(p.fingerprint(), before);
    assert_eq!(
        p.i64("SELECT count(*) FROM supabase_migrations.schema_migrations"),
        1
    );

    // The human report says the same in words.
    let run = p.safemig(&["plan", "--rehearse"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout
            .contains("ACCESS EXCLUSIVE on public.tracks (blocks reads and writes)"),
        "{run:?}"
    );
    assert!(run.stdout.contains("rewrites public.tracks"), "{run:?}");
}

#[test]
fn rehearsal_fails_when_a_guard_would_fire_and_the_real_table_keeps_its_rows() {
    let p = Project::new();
    p.migration("20250101000000_base.sql", BASE);
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    p.migration(
        "20250201000000_purge.sql",
        "DELETE FROM public.tracks WHERE bpm > 10;",
    );
    p.migration(
        "20250301000000_drop.sql",
        "ALTER TABLE public.tracks DROP COLUMN title;",
    );
    let plan = p.safemig(&["--format", "json", "plan"]).json();
    assert_eq!(plan["pending"][1]["class"], "risky", "{plan}");
    assert_eq!(
        plan["pending"][1]["refused_without_allow_risky"], true,
        "{plan}"
    );
    let run = p.safemig(&["--format", "json", "plan", "--rehearse", "--with-data"]);
    assert_eq!(run.code, 1, "{run:?}");
    let json = run.json();
    let m = &json["rehearsal"]["migrations"][0];
    assert_eq!(m["result"], "rolled-back", "{json}");
    assert_eq!(json["rehearsal"]["ok"], false);
    assert_eq!(p.i64("SELECT count(*) FROM public.tracks"), 50);
}

#[test]
fn fresh_replay_finds_a_migration_that_only_works_on_the_existing_database() {
    let p = Project::new();
    // Created by hand on the live database, never by a migration: fine there, fails on `db reset`.
    p.exec("CREATE TABLE public.legacy (id int PRIMARY KEY)");
    p.migration(
        "20250101000000_use_legacy.sql",
        "ALTER TABLE public.legacy ADD COLUMN note text;",
    );
    let run = p.safemig(&["--format", "json", "plan", "--rehearse"]);
    assert_eq!(run.code, 1, "{run:?}");
    let json = run.json();
    assert_eq!(json["rehearsal"]["ok"], true, "{json}");
    assert_eq!(json["fresh"]["ok"], false, "{json}");
    let failed = &json["fresh"]["migrations"][0];
    assert_eq!(failed["result"], "failed", "{json}");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("public.legacy\" does not exist"),
        "{json}"
    );
    let run = p.safemig(&["plan", "--rehearse"]);
    assert!(run.stdout.contains("fresh database:"), "{run:?}");
}

/// Issue 20 item 10: when a guard stops the history on a fresh database, the hint
/// says so; it does not send the user to ordering problems.
#[test]
fn a_guard_on_the_fresh_database_is_not_called_an_ordering_problem() {
    let p = Project::new();
    p.migration(
        "20250101000000_seed.sql",
        "CREATE TABLE public.plans (id int PRIMARY KEY, name text); INSERT INTO public.plans VALUES (1, 'a'), (2, 'b');",
    );
    p.migration(
        "20250102000000_drop_plan.sql",
        "DELETE FROM public.plans WHERE id = 2;",
    );
    let run = p.safemig(&["plan", "--rehearse"]);
    assert_eq!(run.code, 1, "{run:?}");
    let fresh = &run.stdout[run.stdout.find("fresh database:").expect("a fresh section")..];
    assert!(fresh.contains("a guard rolled it back"), "{run:?}");
    assert!(!fresh.contains("ordering"), "{run:?}");
}

/// Issue 19: the rehearsal runs what the app needs (a new user's sign-up, the
/// SQL tests) on the copy before and after the pending migrations: a rename that
/// breaks `handle_new_user` is caught before production, not after.
#[test]
fn a_rename_that_breaks_sign_ups_is_caught_by_the_rehearsal() {
    let p = Project::new();
    p.migration(
        "20250101000000_app.sql",
        "CREATE TABLE public.users (id uuid PRIMARY KEY, email text, full_name text);
         CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
         BEGIN INSERT INTO public.users (id, email, full_name) VALUES (NEW.id, NEW.email, NEW.raw_user_meta_data ->> 'full_name'); RETURN NEW; END $$;
         CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();",
    );
    std::fs::create_dir_all(p.path().join("supabase/tests")).unwrap();
    std::fs::write(
        p.path().join("supabase/tests/profile.sql"),
        "INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-0000000000aa', 't@example.com');
         DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM public.users WHERE email = 't@example.com') THEN RAISE EXCEPTION 'no profile'; END IF; END $$;",
    )
    .unwrap();
    // A test that fails already: a note, not the migrations' doing.
    std::fs::write(
        p.path().join("supabase/tests/data.sql"),
        "DO $$ BEGIN RAISE EXCEPTION 'always'; END $$;",
    )
    .unwrap();
    let run = p.safemig(&["migrate", "--backup", "skip"]);
    assert_eq!(run.code, 0, "{run:?}");

    // Harmless for the app: the rehearsal passes with the checks counted.
    p.migration(
        "20250201000000_note.sql",
        "ALTER TABLE public.users ADD COLUMN note text;",
    );
    let ok = p.safemig(&["plan", "--rehearse"]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert!(
        ok.stdout
            .contains("the app's checks pass after the migrations (3"),
        "{ok:?}"
    );
    assert!(
        ok.stdout
            .contains("data.sql fails on the copy before the migrations too"),
        "{ok:?}"
    );
    std::fs::remove_file(p.migrations_dir().join("20250201000000_note.sql")).unwrap();

    // The column the trigger writes renamed: the migration applies, sign-ups break.
    p.migration(
        "20250201000000_rename.sql",
        "ALTER TABLE public.users RENAME COLUMN full_name TO display_name;",
    );
    let run = p.safemig(&["--format", "json", "plan", "--rehearse"]);
    assert_eq!(run.code, 1, "{run:?}");
    let json = run.json();
    assert_eq!(
        json["rehearsal"]["migrations"][0]["result"], "applied",
        "{json}"
    );
    let broken = json["rehearsal"]["broken"].as_array().unwrap();
    let names: Vec<&str> = broken.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(
        names.iter().any(|n| n.contains("a new user signs up")),
        "{json}"
    );
    assert!(names.contains(&"profile.sql"), "{json}");
    assert!(
        broken[0]["detail"].as_str().unwrap().contains("full_name"),
        "{json}"
    );
    let human = p.safemig(&["plan", "--rehearse"]);
    assert!(
        human
            .stdout
            .contains("broken by the migrations: a new user signs up"),
        "{human:?}"
    );
    assert!(
        human.stdout.contains("break what the app needs"),
        "{human:?}"
    );
    // Nothing real was touched.
    assert!(p.bool("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'full_name')"));
}

/// Issue 19 item 3: the rehearsal compares the copy's schema before and after the
/// pending migrations and names what they removed without naming it (CASCADE).
#[test]
fn the_rehearsal_names_what_a_cascade_took_along() {
    let p = Project::new();
    p.migration(
        "20250101000000_app.sql",
        "CREATE TABLE public.docs (id int PRIMARY KEY, owner uuid);
         ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
         CREATE FUNCTION public.is_admin() RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT false $$;
         CREATE POLICY admins_read ON public.docs FOR SELECT TO authenticated USING (public.is_admin());",
    );
    let run = p.safemig(&["migrate", "--backup", "skip"]);
    assert_eq!(run.code, 0, "{run:?}");
    p.migration(
        "20250201000000_cleanup.sql",
        "DROP FUNCTION public.is_admin() CASCADE;",
    );
    let run = p.safemig(&["--format", "json", "plan", "--rehearse"]);
    let json = run.json();
    let unnamed = json["rehearsal"]["unnamed_removals"].to_string();
    assert!(
        unnamed.contains("policy admins_read ON public.docs"),
        "{json}"
    );
    assert!(
        !unnamed.contains("function"),
        "the function is named by the DROP: {json}"
    );
    let effects = json["rehearsal"]["effects"].as_array().unwrap();
    assert!(
        effects.iter().any(|d| d["state"] == "missing"
            && d["object"]
                .as_str()
                .unwrap()
                .starts_with("function public.is_admin")),
        "{json}"
    );
    let human = p.safemig(&["plan", "--rehearse"]);
    assert!(
        human.stdout.contains("no pending migration names it"),
        "{human:?}"
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM pg_policy WHERE polname = 'admins_read'"),
        1,
        "nothing real touched"
    );
}
