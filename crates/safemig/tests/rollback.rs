//! `safemig rollback` (issue 16) against a real throwaway PostgreSQL: what a
//! migration changed is recorded in its transaction, taken back newest first,
//! proven on a throwaway copy with --dry-run, and refused with the reason when it
//! cannot be taken back mechanically.

mod common;

use common::Project;

const BASE: &str = "CREATE TABLE public.users (\n\
    id uuid PRIMARY KEY,\n\
    email text NOT NULL,\n\
    created_at timestamptz DEFAULT now()\n\
);\n\
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;\n\
CREATE POLICY \"users read own\" ON public.users FOR SELECT TO authenticated USING (auth.uid() = id);\n\
CREATE VIEW public.user_emails AS SELECT id, email FROM public.users;\n\
CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$\n\
BEGIN\n\
  INSERT INTO public.users (id, email) VALUES (NEW.id, NEW.email);\n\
  RETURN NEW;\n\
END $$;\n\
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();\n";

/// The release that broke sign-ups: the function writes a column that is not
/// there yet, and much else changes around it.
const BROKEN: &str = "SET lock_timeout = '5s';\n\
CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$\n\
BEGIN\n\
  INSERT INTO public.users (id, email, display_name) VALUES (NEW.id, NEW.email, NEW.raw_user_meta_data->>'name');\n\
  RETURN NEW;\n\
END $$;\n\
ALTER TABLE public.users ADD COLUMN nickname text;\n\
ALTER TABLE public.users ALTER COLUMN created_at DROP DEFAULT;\n\
ALTER TABLE public.users ADD CONSTRAINT users_email_present CHECK (email <> '') NOT VALID;\n\
ALTER TABLE public.users FORCE ROW LEVEL SECURITY;\n\
CREATE OR REPLACE VIEW public.user_emails AS SELECT id, email, created_at FROM public.users;\n\
DROP POLICY \"users read own\" ON public.users;\n\
CREATE POLICY \"users read all\" ON public.users FOR SELECT TO authenticated USING (true);\n\
CREATE INDEX IF NOT EXISTS users_email ON public.users (email);\n\
CREATE TABLE public.audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text);\n\
ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;\n\
GRANT SELECT ON public.audit_log TO authenticated;\n\
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n\
CREATE TRIGGER users_touch BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.touch();\n";

/// `safemig rollback` refuses (exit 1), says each of `said`, and changes nothing.
fn refused_and_nothing_changed(p: &Project, said: &[&str]) {
    let fingerprint = p.fingerprint();
    let refused = p.safemig(&["rollback"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    for text in said {
        assert!(refused.stdout.contains(text), "{text}\n{refused:?}");
    }
    assert_eq!(p.fingerprint(), fingerprint);
}

fn schema(p: &Project) -> safemig_pg::drift::Schema {
    safemig_pg::drift::snapshot(&mut p.client(), &["public".to_string()]).unwrap()
}

fn function_body(p: &Project) -> String {
    p.client()
        .query_one(
            "SELECT pg_get_functiondef('public.handle_new_user()'::regprocedure)",
            &[],
        )
        .unwrap()
        .get(0)
}

fn sign_up(p: &Project, email: &str) -> Result<(), String> {
    p.client()
        .batch_execute(&format!(
            "INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), '{email}')"
        ))
        .map_err(|e| format!("{e:?}"))
}

#[test]
fn a_release_that_broke_sign_ups_is_taken_back_to_exactly_the_schema_before_it() {
    let p = Project::new();
    p.migration("20250101000000_base.sql", BASE);
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    sign_up(&p, "first@example.com").expect("sign-ups work before");
    let schema_before = schema(&p);
    let body_before = function_body(&p);
    let base_fingerprint = p.fingerprint();

    p.migration("20250201000000_release.sql", BROKEN);
    // check calls it risky (an open policy, a view without security_invoker):
    // shipped anyway, as bad releases are.
    let run = p.safemig(&["migrate", "--backup", "skip", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        sign_up(&p, "second@example.com").is_err(),
        "the release broke sign-ups"
    );
    assert!(p.i64("SELECT count(*) FROM safemig.undo WHERE version = '20250201000000'") > 5);
    assert_eq!(
        p.i64("SELECT count(*) FROM safemig.undo WHERE version = '20250201000000' AND kind = 'irreversible'"),
        0
    );

    // The dry run changes nothing, and proves the rollback on a copy.
    let after_release = p.fingerprint();
    let dry = p.safemig(&["--format", "json", "rollback", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    let json = dry.json();
    assert_eq!(json["migrations"][0]["result"], "dry-run", "{json}");
    assert_eq!(json["proof"]["ok"], true, "{json}");
    assert!(
        json["proof"]["changed_by_rollback"].as_u64().unwrap() > 5,
        "{json}"
    );
    assert_eq!(
        p.fingerprint(),
        after_release,
        "the dry run changed nothing"
    );

    let back = p.safemig(&["rollback", "20250201000000"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert!(
        back.stdout.contains("took back 20250201000000_release"),
        "{back:?}"
    );
    let differences = safemig_pg::drift::compare(&schema_before, &schema(&p));
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(
        function_body(&p),
        body_before,
        "the old function body is back"
    );
    assert!(p.bool("SELECT to_regclass('public.audit_log') IS NULL"));
    assert!(p.bool("SELECT to_regprocedure('public.touch()') IS NULL"));
    assert!(p.bool(
        "SELECT NOT relforcerowsecurity AND relrowsecurity FROM pg_class WHERE oid = 'public.users'::regclass"
    ));
    // Both histories forget it: it is pending again, for safemig and the Supabase CLI.
    assert_eq!(
        p.i64("SELECT count(*) FROM supabase_migrations.schema_migrations WHERE version = '20250201000000'"),
        0
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM safemig.migrations WHERE version = '20250201000000'"),
        0
    );
    let status = p.safemig(&["--format", "json", "status"]).json();
    assert!(
        status["migrations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["version"] == "20250201000000" && m["state"] == "pending"),
        "{status}"
    );
    sign_up(&p, "third@example.com").expect("sign-ups work again");
    assert_eq!(p.i64("SELECT count(*) FROM public.users"), 2);
    // Nothing else changed: the same catalog as after the base, two users more.
    assert_eq!(
        base_fingerprint
            .replace("public.users rows=1", "public.users rows=2")
            .lines()
            .filter(|l| !l.starts_with("safemig.") && !l.starts_with("auth."))
            .collect::<Vec<_>>(),
        p.fingerprint()
            .lines()
            .filter(|l| !l.starts_with("safemig.") && !l.starts_with("auth."))
            .collect::<Vec<_>>()
    );
    let log = p.safemig(&["--format", "json", "log"]);
    assert!(log.stdout.contains("\"rollback\""), "{log:?}");
    // And it applies again.
    assert_eq!(
        p.safemig(&["migrate", "--backup", "skip", "--allow-risky"])
            .code,
        0
    );
}

#[test]
fn what_cannot_be_taken_back_is_refused_with_the_reason_and_nothing_changes() {
    let p = Project::new();
    p.migration("20250101000000_base.sql", BASE);
    p.migration("20250201000000_lowercase.sql", "TRUNCATE public.users;\n");
    p.config(
        "[[allow]]\nmigration = \"20250201000000\"\ntable = \"public.users\"\nloss = [\"rows\"]\n",
    );
    // migrate says so when it applies it.
    let run = p.safemig(&[
        "--format",
        "json",
        "migrate",
        "--backup",
        "skip",
        "--allow-risky",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let json = run.json();
    assert_eq!(
        json["migrations"][0]["cannot_roll_back"],
        serde_json::Value::Null,
        "{json}"
    );
    assert!(
        json["migrations"][1]["cannot_roll_back"][0]
            .as_str()
            .is_some_and(|r| r.contains("TRUNCATE of public.users")),
        "{json}"
    );
    let before = p.fingerprint();
    let refused = p.safemig(&["rollback"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stdout
            .contains("line 1: TRUNCATE of public.users empties a table that existed before"),
        "{refused:?}"
    );
    assert_eq!(p.fingerprint(), before);

    // Not the newest: bad input, with what to do.
    let older = p.safemig(&["rollback", "20250101000000"]);
    assert_eq!(older.code, 2, "{older:?}");
    assert!(older.stderr.contains("--to 20250101000000"), "{older:?}");

    // Applied by another tool: no record of what it changed.
    p.exec(
        "INSERT INTO supabase_migrations.schema_migrations (version, name, statements) \
         VALUES ('20250301000000', 'by_the_cli', '{}')",
    );
    let unknown = p.safemig(&["rollback"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown
            .stdout
            .contains("no record of what 20250301000000 changed"),
        "{unknown:?}"
    );
}

#[test]
fn rows_written_since_into_a_table_the_migration_made_are_a_loss_refused_unless_allowed() {
    let p = Project::new();
    p.migration("20250101000000_base.sql", BASE);
    p.migration(
        "20250201000000_notes.sql",
        "CREATE TABLE public.notes (id int PRIMARY KEY, body text);\n\
         ALTER TABLE public.users ADD COLUMN plan text DEFAULT 'free';\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    sign_up(&p, "a@example.com").unwrap();
    p.exec("INSERT INTO public.notes VALUES (1, 'kept'), (2, 'kept too');");
    let refused = p.safemig(&["rollback"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stdout
            .contains("public.notes holds 2 row(s) written since"),
        "{refused:?}"
    );
    // The default is what every row got: no value of its own was written.
    assert!(!refused.stdout.contains("users.plan"), "{refused:?}");
    assert_eq!(
        p.i64("SELECT count(*) FROM public.notes"),
        2,
        "nothing changed"
    );
    p.exec("UPDATE public.users SET plan = 'pro';");
    let refused = p.safemig(&["rollback"]);
    assert!(
        refused
            .stdout
            .contains("public.users.plan holds 1 value(s)"),
        "{refused:?}"
    );

    let forced = p.safemig(&["rollback", "--to", "20250101000000", "--allow-loss"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert!(p.bool("SELECT to_regclass('public.notes') IS NULL"));
    assert!(p.bool(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.users'::regclass AND attname = 'plan' AND NOT attisdropped)"
    ));
}

#[test]
fn a_dropped_column_comes_back_with_its_values_from_the_backup_taken_before_it() {
    let p = Project::new();
    p.migration(
        "20250101000000_tracks.sql",
        "CREATE TABLE public.library_tracks (id bigint PRIMARY KEY, title text NOT NULL, \
         r2_key text DEFAULT 'pending' NOT NULL, note text);\n\
         CREATE INDEX library_tracks_r2 ON public.library_tracks (r2_key);\n\
         INSERT INTO public.library_tracks SELECT g, 'Track ' || g, 'tracks/' || g || '.mp3', \
         CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 59) g;\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    let schema_before = schema(&p);
    let values_before: String = p
        .client()
        .query_one(
            "SELECT string_agg(id || '=' || r2_key, ',' ORDER BY id) FROM public.library_tracks",
            &[],
        )
        .unwrap()
        .get(0);
    // The pulled schema that drops r2_key, let through on purpose.
    p.config(
        "[[allow]]\nmigration = \"20250201000000\"\ntable = \"public.library_tracks\"\nloss = [\"columns\"]\n\
         reason = \"moving to r2_object\"\n",
    );
    p.migration(
        "20250201000000_drop_r2_key.sql",
        "SET lock_timeout = '5s';\nALTER TABLE public.library_tracks DROP COLUMN r2_key;\n",
    );
    let run = p.safemig(&["migrate", "--backup", "auto", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(p.bool(
        "SELECT NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.library_tracks'::regclass \
         AND attname = 'r2_key' AND NOT attisdropped)"
    ));
    // Written since: a row deleted, a row added. The deleted one's value stays
    // gone with it; the new one gets the default.
    p.exec("DELETE FROM public.library_tracks WHERE id = 59; INSERT INTO public.library_tracks (id, title) VALUES (60, 'New');");

    let dry = p.safemig(&["rollback", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout.contains("would come back from backup")
            && dry.stdout.contains("59 row(s) in its copy"),
        "{dry:?}"
    );
    assert!(dry.stdout.contains("proven on a throwaway copy"), "{dry:?}");

    let back = p.safemig(&["rollback"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert!(
        back.stdout
            .contains("58 value(s) of public.library_tracks.r2_key brought back from backup")
            && back.stdout.contains("1 belonged to rows deleted since"),
        "{back:?}"
    );
    let differences = safemig_pg::drift::compare(&schema_before, &schema(&p));
    assert!(
        differences.is_empty(),
        "the column, its default, NOT NULL and index: {differences:#?}"
    );
    let values_now: String = p
        .client()
        .query_one(
            "SELECT string_agg(id || '=' || r2_key, ',' ORDER BY id) FROM public.library_tracks WHERE id < 59",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        values_now,
        values_before.rsplit_once(",59=").unwrap().0,
        "every value of the rows still there"
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM public.library_tracks WHERE id = 60 AND r2_key = 'pending'"),
        1
    );
}

#[test]
fn a_dropped_column_without_a_backup_is_refused_and_nothing_changes() {
    let p = Project::new();
    p.migration(
        "20250101000000_tracks.sql",
        "CREATE TABLE public.t (id int PRIMARY KEY, gone text);\nINSERT INTO public.t VALUES (1, 'a');\n",
    );
    p.config(
        "[[allow]]\nmigration = \"20250201000000\"\ntable = \"public.t\"\nloss = [\"columns\"]\n",
    );
    p.migration(
        "20250201000000_drop.sql",
        "ALTER TABLE public.t DROP COLUMN gone;\n",
    );
    assert_eq!(
        p.safemig(&["migrate", "--backup", "skip", "--allow-risky"])
            .code,
        0
    );
    let before = p.fingerprint();
    let refused = p.safemig(&["rollback"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stdout
            .contains("applied without a backup (--backup skip)"),
        "{refused:?}"
    );
    assert_eq!(p.fingerprint(), before);
}

#[test]
fn what_a_migration_builds_on_its_own_new_objects_comes_down_in_reverse_order() {
    let p = Project::new();
    p.migration("20250101000000_base.sql", BASE);
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    sign_up(&p, "a@example.com").unwrap();
    let schema_before = schema(&p);
    p.migration(
        "20250201000000_new_things.sql",
        "CREATE TABLE public.a (x int);\n\
         CREATE VIEW public.v AS SELECT x FROM public.a;\n\
         CREATE INDEX a_x ON public.a (x);\n\
         CREATE TYPE public.mood AS ENUM ('ok', 'meh');\n\
         ALTER TABLE public.a ADD COLUMN m public.mood;\n\
         ALTER TABLE public.users ADD COLUMN meta json DEFAULT '{}';\n\
         ALTER TABLE public.users ADD COLUMN slug text;\n\
         UPDATE public.users SET slug = lower(email);\n",
    );
    let run = p.safemig(&[
        "--format",
        "json",
        "migrate",
        "--backup",
        "skip",
        "--allow-risky",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["migrations"][0]["cannot_roll_back"],
        serde_json::Value::Null
    );
    // The backfill is the migration's own (its rows carry its xmin): no loss.
    let dry = p.safemig(&["rollback", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(!dry.stdout.contains("loses"), "{dry:?}");
    // Once the application writes the row, its values cannot be told from the
    // migration's (xmin is per row): counted, so refused until allowed.
    p.exec("UPDATE public.users SET email = email;");
    let refused = p.safemig(&["rollback"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stdout
            .contains("public.users.slug holds 1 value(s)"),
        "{refused:?}"
    );
    assert!(
        !refused.stdout.contains("users.meta"),
        "json compares as text: {refused:?}"
    );
    let back = p.safemig(&["rollback", "--allow-loss"]);
    assert_eq!(back.code, 0, "{back:?}");
    let differences = safemig_pg::drift::compare(&schema_before, &schema(&p));
    assert!(differences.is_empty(), "{differences:#?}");
    assert!(p.bool("SELECT to_regtype('public.mood') IS NULL AND to_regclass('public.a') IS NULL"));
}

#[test]
fn the_seeds_release_is_taken_back_one_migration_at_a_time_to_the_schema_and_rows_before() {
    let p = Project::new();
    p.migration(
        "20250101000000_baseline.sql",
        "CREATE TABLE public.users (id uuid PRIMARY KEY, email text NOT NULL);\n\
         CREATE TABLE public.library_tracks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text NOT NULL, \
         duration_seconds integer NOT NULL DEFAULT 0, r2_key text);\n\
         INSERT INTO public.library_tracks (title, duration_seconds, r2_key) \
         SELECT 'Track ' || n, 120 + n, 'tracks/' || n || '.mp3' FROM generate_series(1, 59) AS n;\n\
         CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$\n\
         BEGIN INSERT INTO public.users (id, email) VALUES (NEW.id, NEW.email); RETURN NEW; END $$;\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    let rows = |p: &Project| -> String {
        p.client()
            .query_one(
                "SELECT string_agg(id || ':' || title || ':' || duration_seconds || ':' || coalesce(r2_key, '-'), ',' ORDER BY id) \
                 FROM public.library_tracks",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let mut states = vec![(schema(&p), rows(&p))];
    for (file, sql) in [
        (
            "20250831022100_add_user_creation_trigger.sql",
            "CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW \
             EXECUTE FUNCTION public.handle_new_user();\n",
        ),
        (
            "20250831022250_remote_schema.sql",
            "SET lock_timeout = '5s';\n\
             ALTER TABLE public.library_tracks ALTER COLUMN duration_seconds TYPE numeric;\n\
             CREATE TABLE public.playlists (id bigint PRIMARY KEY);\n",
        ),
        (
            "20250831022400_add_r2_storage_fields.sql",
            "SET lock_timeout = '5s';\nALTER TABLE public.library_tracks ADD COLUMN IF NOT EXISTS r2_bucket text;\n",
        ),
    ] {
        p.migration(file, sql);
        let run = p.safemig(&["migrate", "--backup", "auto"]);
        assert_eq!(run.code, 0, "{run:?}");
        states.push((schema(&p), rows(&p)));
    }
    sign_up(&p, "new@example.com").expect("the trigger makes the profile");
    assert_eq!(p.i64("SELECT count(*) FROM public.users"), 1);
    states.pop(); // today's
                  // Newest first, each back to exactly the state before it; the baseline stays.
    while let Some((schema_before, rows_before)) = states.pop() {
        let back = p.safemig(&["rollback"]);
        assert_eq!(back.code, 0, "{back:?}");
        let differences = safemig_pg::drift::compare(&schema_before, &schema(&p));
        assert!(differences.is_empty(), "{back:?}\n{differences:#?}");
        assert_eq!(rows(&p), rows_before, "the rows as they were: {back:?}");
    }
    // The trigger is gone with its migration; the 59 tracks are as they were.
    assert!(sign_up(&p, "later@example.com").is_ok());
    assert_eq!(
        p.i64("SELECT count(*) FROM public.users"),
        1,
        "no trigger, no profile"
    );
    assert_eq!(p.i64("SELECT count(*) FROM public.library_tracks"), 59);
    let status = p.safemig(&["--format", "json", "status"]).json();
    let pending = status["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["state"] == "pending")
        .count();
    assert_eq!(pending, 3, "{status}");
}

#[test]
fn plan_rehearses_the_rollback_of_pending_migrations_before_they_ship() {
    let p = Project::new();
    p.migration("20250101000000_base.sql", BASE);
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    p.migration(
        "20250201000000_notes.sql",
        "SET lock_timeout = '5s';\n\
         CREATE TABLE public.notes (id int PRIMARY KEY, body text);\n\
         ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE public.users ADD COLUMN nickname text;\n",
    );
    let before = p.fingerprint();
    let plan = p.safemig(&["--format", "json", "plan", "--rehearse", "--rollback"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    let json = plan.json();
    assert_eq!(json["rollback"]["ok"], true, "{json}");
    assert_eq!(
        json["rollback"]["migrations"][0]["result"], "rolled-back",
        "{json}"
    );
    assert_eq!(p.fingerprint(), before, "nothing real was touched");

    // One that cannot be taken back is named before it ships.
    p.migration("20250301000000_empty_users.sql", "TRUNCATE public.users;\n");
    let plan = p.safemig(&["--format", "json", "plan", "--rehearse", "--rollback"]);
    assert_eq!(plan.code, 1, "{plan:?}");
    let json = plan.json();
    assert_eq!(json["rollback"]["ok"], false, "{json}");
    assert!(
        json["rollback"]["migrations"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("TRUNCATE of public.users")),
        "{json}"
    );
}

#[test]
fn a_migration_that_tampers_with_the_rollback_records_is_rolled_back_by_the_guards() {
    let p = Project::new();
    p.migration("20250101000000_base.sql", BASE);
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    let recorded = p.i64("SELECT count(*) FROM safemig.undo");
    p.migration(
        "20250201000000_tamper.sql",
        "UPDATE safemig.undo SET before = '{}' WHERE version = '20250101000000';\n",
    );
    let run = p.safemig(&["migrate", "--backup", "skip", "--allow-risky"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("safemig.undo written"), "{run:?}");
    assert_eq!(p.i64("SELECT count(*) FROM safemig.undo"), recorded);
    assert_eq!(
        p.i64("SELECT count(*) FROM safemig.undo WHERE version = '20250201000000'"),
        0,
        "nothing of the refused migration is recorded"
    );
}

/// Issue 16 item 2: rows a migration changed in place (UPDATE, DELETE, INSERT
/// into a table that existed) come back from the backup taken before it: the
/// ones it wrote are told by their xmin, the ones it deleted by its count. What
/// was written since to other rows stays; a row it wrote and the application
/// changed since, or a row deleted since, refuses the rollback with the way out.
#[test]
fn rows_changed_in_place_come_back_from_the_backup_and_writes_since_are_kept() {
    let p = Project::new();
    p.migration(
        "20250101000000_tracks.sql",
        "CREATE TABLE public.library_tracks (id bigint PRIMARY KEY, title text NOT NULL, plays int NOT NULL DEFAULT 0, \
           tags text[], meta jsonb, updated_at timestamptz NOT NULL DEFAULT '2025-01-01');\n\
         INSERT INTO public.library_tracks (id, title, tags, meta) SELECT g, 'Track ' || g, \
           CASE WHEN g % 4 = 0 THEN NULL ELSE ARRAY['a,b', 'c\"d'] END, \
           CASE WHEN g % 5 = 0 THEN NULL ELSE jsonb_build_object('n', g, 'quote', 'it''s') END \
           FROM generate_series(1, 59) g;\n\
         CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;\n\
         CREATE TRIGGER library_tracks_touch BEFORE UPDATE ON public.library_tracks FOR EACH ROW EXECUTE FUNCTION public.touch();\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    let rows = |p: &Project| -> String {
        p.client()
            .query_one(
                "SELECT string_agg(format('%s|%s|%s|%s|%s|%s', id, title, plays, tags, meta, updated_at), E'\\n' ORDER BY id) \
                 FROM public.library_tracks",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let before = rows(&p);
    let schema_before = schema(&p);
    p.config(
        "[[allow]]\nmigration = \"20250201000000\"\ntable = \"public.library_tracks\"\nloss = [\"rows\", \"values\"]\n\
         reason = \"the cleanup\"\n",
    );
    p.migration(
        "20250201000000_cleanup.sql",
        "UPDATE public.library_tracks SET title = upper(title), tags = NULL WHERE id <= 10;\n\
         DELETE FROM public.library_tracks WHERE id BETWEEN 50 AND 55;\n\
         INSERT INTO public.library_tracks (id, title) VALUES (100, 'Intro'), (101, 'Outro');\n\
         UPDATE public.library_tracks SET id = 200 WHERE id = 20;\n",
    );
    let run = p.safemig(&[
        "--format",
        "json",
        "migrate",
        "--backup",
        "auto",
        "--allow-risky",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["migrations"][0]["cannot_roll_back"],
        serde_json::Value::Null,
        "{run:?}"
    );
    // Written since, to rows the migration did not touch: kept by the rollback.
    p.exec(
        "UPDATE public.library_tracks SET plays = 7 WHERE id = 30; \
         INSERT INTO public.library_tracks (id, title) VALUES (300, 'Since');",
    );

    let dry = p.safemig(&["rollback", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout.contains(
            "the rows of public.library_tracks the migration wrote (2 inserted, 11 updated) and deleted (6) would come back"
        ),
        "{dry:?}"
    );

    let back = p.safemig(&["rollback"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert!(
        back.stdout.contains(
            "10 row(s) of public.library_tracks put back as they were, 3 the migration inserted deleted, 7 it deleted inserted again"
        ),
        "{back:?}"
    );
    // Exactly the rows before, with what was written since; the trigger did
    // not fire (updated_at as it was) and is enabled again.
    // (Row 30 as the application left it: its own trigger stamped it then.)
    let expected: Vec<&str> = before.lines().filter(|l| !l.starts_with("30|")).collect();
    let now = rows(&p);
    assert!(now.contains("\n30|Track 30|7|"), "{now}");
    let now: Vec<&str> = now
        .lines()
        .filter(|l| !l.starts_with("300|") && !l.starts_with("30|"))
        .collect();
    assert_eq!(now, expected);
    assert_eq!(
        p.i64("SELECT count(*) FROM public.library_tracks WHERE id = 300"),
        1
    );
    assert!(safemig_pg::drift::compare(&schema_before, &schema(&p)).is_empty());
    assert!(p.bool("SELECT tgenabled = 'O' FROM pg_trigger WHERE tgname = 'library_tracks_touch'"));
    assert_eq!(
        p.i64("SELECT count(*) FROM supabase_migrations.schema_migrations"),
        1
    );

    // Applied again; then the application changes a row the migration wrote:
    // what it wrote can no longer be told from what was written since.
    let run = p.safemig(&["migrate", "--backup", "auto", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    p.exec("UPDATE public.library_tracks SET plays = 1 WHERE id = 3;");
    refused_and_nothing_changed(
        &p,
        &[
            "1 of the 13 row(s) of public.library_tracks the migration wrote were changed or deleted since",
            "safemig restore PATH --tables public.library_tracks",
        ],
    );
}

/// A row deleted since the migration, not by it, cannot be told from the ones
/// it deleted: refused, nothing changed.
#[test]
fn a_row_deleted_since_the_migration_refuses_the_rollback_of_its_deletes() {
    let p = Project::new();
    p.migration(
        "20250101000000_base.sql",
        "CREATE TABLE public.t (id int PRIMARY KEY, v text);\n\
         INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 20) g;\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    p.config(
        "[[allow]]\nmigration = \"20250201000000\"\ntable = \"public.t\"\nloss = [\"rows\"]\n",
    );
    p.migration(
        "20250201000000_prune.sql",
        "DELETE FROM public.t WHERE id > 15;\n",
    );
    assert_eq!(
        p.safemig(&["migrate", "--backup", "auto", "--allow-risky"])
            .code,
        0
    );
    p.exec("DELETE FROM public.t WHERE id = 1;");
    refused_and_nothing_changed(
        &p,
        &[
            "1 row(s) of backup",
            "were deleted since the migration, not by it",
        ],
    );
    // Put back by hand: the five it deleted come back.
    p.exec("INSERT INTO public.t VALUES (1, 'v1');");
    let back = p.safemig(&["rollback"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert_eq!(p.i64("SELECT count(*) FROM public.t"), 20);
}

/// Rows a migration inserted into a table that existed, deleted at rollback,
/// must not take rows written since with them (ON DELETE CASCADE).
#[test]
fn a_rollback_that_would_cascade_to_rows_written_since_is_refused() {
    let p = Project::new();
    p.migration(
        "20250101000000_base.sql",
        "CREATE TABLE public.plans (id int PRIMARY KEY, name text NOT NULL);\n\
         INSERT INTO public.plans VALUES (1, 'free');\n\
         CREATE TABLE public.subscriptions (id int PRIMARY KEY, plan_id int NOT NULL REFERENCES public.plans ON DELETE CASCADE);\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    p.migration(
        "20250201000000_pro.sql",
        "INSERT INTO public.plans VALUES (2, 'pro');\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "auto"]).code, 0);
    p.exec("INSERT INTO public.subscriptions VALUES (1, 2);");
    refused_and_nothing_changed(
        &p,
        &["would also delete or change 1 row(s) of public.subscriptions"],
    );
    // Without them, the plan goes.
    p.exec("DELETE FROM public.subscriptions;");
    let back = p.safemig(&["rollback"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert_eq!(p.i64("SELECT count(*) FROM public.plans"), 1);
}

/// Issue 16 item 2: a dropped table comes back from the backup taken before the
/// migration: its definition and everything that belonged to it (key, unique
/// and check constraints, a foreign key, an index, a trigger, row security and
/// a policy, a serial and an identity column with their sequences, grants,
/// comments) and its rows, exactly; a table of the same name made since refuses it.
#[test]
fn a_dropped_table_comes_back_with_what_belonged_to_it_and_its_rows() {
    let p = Project::new();
    p.migration(
        "20250101000000_tracks.sql",
        "CREATE TABLE public.artists (id int PRIMARY KEY, name text NOT NULL);\n\
         INSERT INTO public.artists VALUES (1, 'A'), (2, 'B');\n\
         CREATE TABLE public.library_tracks (id serial PRIMARY KEY, n bigint GENERATED ALWAYS AS IDENTITY, \
           title text NOT NULL CHECK (title <> ''), r2_key text UNIQUE, artist_id int REFERENCES public.artists, \
           meta jsonb DEFAULT '{}');\n\
         CREATE INDEX library_tracks_title ON public.library_tracks (lower(title));\n\
         CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n\
         CREATE TRIGGER library_tracks_touch BEFORE UPDATE ON public.library_tracks FOR EACH ROW EXECUTE FUNCTION public.touch();\n\
         ALTER TABLE public.library_tracks ENABLE ROW LEVEL SECURITY;\n\
         CREATE POLICY \"tracks are public\" ON public.library_tracks FOR SELECT TO anon, authenticated USING (true);\n\
         GRANT SELECT ON public.library_tracks TO anon, authenticated;\n\
         COMMENT ON TABLE public.library_tracks IS 'the library';\n\
         COMMENT ON COLUMN public.library_tracks.r2_key IS 'where the file is';\n\
         INSERT INTO public.library_tracks (title, r2_key, artist_id, meta) SELECT 'Track ' || g, \
           CASE WHEN g % 7 = 0 THEN NULL ELSE 'tracks/' || g || '.mp3' END, 1 + g % 2, \
           jsonb_build_object('tab', E'a\\tb', 'nl', E'x\\ny') FROM generate_series(1, 59) g;\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    let rows = |p: &Project| -> String {
        p.client()
            .query_one(
                "SELECT string_agg(format('%s|%s|%s|%s|%s|%s', id, n, title, r2_key, artist_id, meta), E'\\n' ORDER BY id) \
                 FROM public.library_tracks",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let before = rows(&p);
    let schema_before = schema(&p);
    p.config(
        "[[allow]]\nmigration = \"20250201000000\"\ntable = \"public.library_tracks\"\nloss = [\"table\"]\n\
         reason = \"replaced by r2_objects\"\n",
    );
    p.migration(
        "20250201000000_drop_tracks.sql",
        "SET lock_timeout = '5s';\nUPDATE public.library_tracks SET title = 'x' WHERE id = 1;\nDROP TABLE public.library_tracks;\n",
    );
    let run = p.safemig(&[
        "--format",
        "json",
        "migrate",
        "--backup",
        "auto",
        "--allow-risky",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["migrations"][0]["cannot_roll_back"],
        serde_json::Value::Null,
        "{run:?}"
    );
    assert!(p.bool("SELECT to_regclass('public.library_tracks') IS NULL"));

    let dry = p.safemig(&["rollback", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    assert!(
        dry.stdout
            .contains("public.library_tracks would come back from backup")
            && dry.stdout.contains("and its 59 row(s)"),
        "{dry:?}"
    );

    // A table of that name made since: refused, nothing changed.
    p.exec("CREATE TABLE public.library_tracks (id int);");
    refused_and_nothing_changed(&p, &["a table public.library_tracks exists again"]);
    p.exec("DROP TABLE public.library_tracks;");

    let back = p.safemig(&["rollback"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert!(
        back.stdout
            .contains("public.library_tracks brought back from backup")
            && back.stdout.contains("with its 59 row(s)"),
        "{back:?}"
    );
    let differences = safemig_pg::drift::compare(&schema_before, &schema(&p));
    assert!(differences.is_empty(), "{differences:#?}");
    assert_eq!(rows(&p), before);
    // The sequences go on where they were; grants and comments are back.
    p.exec("INSERT INTO public.library_tracks (title) VALUES ('next');");
    assert_eq!(p.i64("SELECT max(id)::int8 FROM public.library_tracks"), 60);
    assert!(p.bool("SELECT has_table_privilege('anon', 'public.library_tracks', 'SELECT')"));
    assert!(p.bool(
        "SELECT col_description('public.library_tracks'::regclass, 4) = 'where the file is' \
         AND obj_description('public.library_tracks'::regclass, 'pg_class') = 'the library'"
    ));
    assert_eq!(
        p.i64("SELECT count(*) FROM supabase_migrations.schema_migrations"),
        1
    );
}

/// What a migration wrote itself (seed rows of a table it made, a backfill of a
/// column it added, a volatile default computed for every row) still carries
/// its xmin: not data written since, so not a loss. What the application wrote
/// since is.
#[test]
fn what_the_migration_wrote_itself_is_not_a_loss_but_what_came_since_is() {
    let p = Project::new();
    p.migration("20250101000000_base.sql", BASE);
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    sign_up(&p, "a@example.com").unwrap();
    sign_up(&p, "b@example.com").unwrap();
    p.migration(
        "20250201000000_plans.sql",
        "CREATE TABLE public.plans (id int PRIMARY KEY, name text NOT NULL);\n\
         INSERT INTO public.plans VALUES (1, 'free'), (2, 'pro');\n\
         ALTER TABLE public.users ADD COLUMN plan_id int;\n\
         UPDATE public.users SET plan_id = 1;\n\
         ALTER TABLE public.users ADD COLUMN token uuid DEFAULT gen_random_uuid();\n",
    );
    let run = p.safemig(&["migrate", "--backup", "skip", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    let dry = p.safemig(&["rollback", "--dry-run"]);
    assert_eq!(dry.code, 0, "{dry:?}");
    // Since: a plan added, a user moved to it.
    p.exec("INSERT INTO public.plans VALUES (3, 'team'); UPDATE public.users SET plan_id = 3 WHERE email = 'a@example.com';");
    let refused = p.safemig(&["rollback"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    // The user moved since: its row's other values (the token the migration
    // computed) are counted with it, per row; user b's are not.
    assert!(
        refused
            .stdout
            .contains("public.plans holds 1 row(s) written since")
            && refused
                .stdout
                .contains("public.users.plan_id holds 1 value(s)")
            && refused
                .stdout
                .contains("public.users.token holds 1 value(s)"),
        "{refused:?}"
    );
    // Put back by hand, the plans no longer count; the moved user's row still
    // does (written since), until allowed.
    p.exec("DELETE FROM public.plans WHERE id = 3; UPDATE public.users SET plan_id = 1 WHERE email = 'a@example.com';");
    let refused = p.safemig(&["rollback"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        !refused.stdout.contains("public.plans holds"),
        "{refused:?}"
    );
    let back = p.safemig(&["rollback", "--allow-loss"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert!(p.bool("SELECT to_regclass('public.plans') IS NULL"));
}

/// Rows written after the backup and before the migration: the backup holds an
/// older version of them than the one the migration changed. A sign-in between
/// a reused backup and a migration that updates `auth.users` must not be taken
/// back to before it: refused. Rows the migration wrote elsewhere through a
/// trigger are said at apply time, and refused at rollback.
#[test]
fn rows_written_between_the_backup_and_the_migration_or_through_a_trigger_are_refused() {
    let p = Project::new();
    p.migration("20250101000000_base.sql", BASE);
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    sign_up(&p, "a@example.com").unwrap();
    sign_up(&p, "b@example.com").unwrap();
    assert_eq!(p.safemig(&["backup", "create"]).code, 0);
    // After the backup: a sign-in (auth is not in the backup's freshness check,
    // so `--backup auto` reuses it).
    p.exec("UPDATE auth.users SET email = 'a2@example.com' WHERE email = 'a@example.com';");
    p.config(
        "[[allow]]\nmigration = \"20250201000000\"\ntable = \"auth.users\"\nloss = [\"values\"]\n",
    );
    p.migration(
        "20250201000000_mark.sql",
        "UPDATE auth.users SET email = upper(email);\n",
    );
    let run = p.safemig(&["migrate", "--backup", "auto", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("using verified backup"), "{run:?}");
    refused_and_nothing_changed(&p, &["1 row(s) of auth.users that the migration wrote or deleted had been written after backup"]);

    // A trigger of the table it names writes elsewhere: said when applied.
    let p = Project::new();
    p.migration(
        "20250101000000_base.sql",
        "CREATE TABLE public.orders (id int PRIMARY KEY, total int NOT NULL);\n\
         INSERT INTO public.orders SELECT g, g FROM generate_series(1, 10) g;\n\
         CREATE TABLE public.order_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id int, total int);\n\
         CREATE FUNCTION public.log_order() RETURNS trigger LANGUAGE plpgsql AS $$ \
           BEGIN INSERT INTO public.order_log (order_id, total) VALUES (NEW.id, NEW.total); RETURN NEW; END $$;\n\
         CREATE TRIGGER orders_log AFTER UPDATE ON public.orders FOR EACH ROW EXECUTE FUNCTION public.log_order();\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    p.config("[[allow]]\nmigration = \"20250201000000\"\ntable = \"public.orders\"\nloss = [\"values\"]\n");
    p.migration(
        "20250201000000_double.sql",
        "UPDATE public.orders SET total = total * 2 WHERE id <= 3;\n",
    );
    let run = p.safemig(&[
        "--format",
        "json",
        "migrate",
        "--backup",
        "auto",
        "--allow-risky",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.json()["migrations"][0]["cannot_roll_back"]
            .to_string()
            .contains("it also wrote rows of public.order_log"),
        "{run:?}"
    );
    let refused = p.safemig(&["rollback"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stdout
            .contains("it also wrote rows of public.order_log"),
        "{refused:?}"
    );
}

/// A dropped table whose name needs quoting keeps its column grant and comment
/// (pg_dump tags them `COLUMN "User".email`); one whose privileges were
/// narrower than the database's defaults (Supabase grants new tables to anon)
/// comes back with exactly those, never readable by the API.
#[test]
fn a_dropped_table_keeps_its_exact_privileges_or_is_refused() {
    let p = Project::new();
    p.migration(
        "20250101000000_base.sql",
        "CREATE TABLE public.\"User\" (id int PRIMARY KEY, email text NOT NULL);\n\
         INSERT INTO public.\"User\" VALUES (1, 'a@example.com'), (2, 'b@example.com');\n\
         COMMENT ON COLUMN public.\"User\".email IS 'the address';\n\
         GRANT SELECT (email) ON public.\"User\" TO authenticated;\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    let schema_before = schema(&p);
    p.config(
        "[[allow]]\nmigration = \"20250201000000\"\ntable = 'public.\"User\"'\nloss = [\"table\"]\n",
    );
    p.migration("20250201000000_drop.sql", "DROP TABLE public.\"User\";\n");
    let run = p.safemig(&["migrate", "--backup", "auto", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    let back = p.safemig(&["rollback"]);
    assert_eq!(back.code, 0, "{back:?}");
    assert!(safemig_pg::drift::compare(&schema_before, &schema(&p)).is_empty());
    assert!(p.bool(
        "SELECT col_description('public.\"User\"'::regclass, 2) = 'the address' \
         AND has_column_privilege('authenticated', 'public.\"User\"', 'email', 'SELECT')"
    ));
    assert_eq!(p.i64("SELECT count(*) FROM public.\"User\""), 2);

    let p = Project::new();
    p.migration(
        "20250101000000_base.sql",
        "CREATE TABLE public.secrets (id int PRIMARY KEY, value text NOT NULL);\n\
         INSERT INTO public.secrets VALUES (1, 's');\n\
         REVOKE ALL ON public.secrets FROM anon, authenticated;\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    assert!(!p.bool("SELECT has_table_privilege('anon', 'public.secrets', 'SELECT')"));
    let acl_of = |p: &Project| -> String {
        p.client()
            .query_one(
                "SELECT relacl::text FROM pg_class WHERE oid = 'public.secrets'::regclass",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let acl_before = acl_of(&p);
    assert!(!acl_before.contains("anon"), "{acl_before}");
    p.config("[[allow]]\nmigration = \"20250201000000\"\ntable = \"public.secrets\"\nloss = [\"table\"]\n");
    p.migration("20250201000000_drop.sql", "DROP TABLE public.secrets;\n");
    let run = p.safemig(&["migrate", "--backup", "auto", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    let back = p.safemig(&["rollback"]);
    assert_eq!(back.code, 0, "{back:?}");
    // Brought back with the privileges it had: what the default privileges
    // would have added (anon, authenticated) is revoked.
    assert!(!p.bool("SELECT has_table_privilege('anon', 'public.secrets', 'SELECT')"));
    assert!(!p.bool("SELECT has_table_privilege('authenticated', 'public.secrets', 'SELECT')"));
    assert_eq!(acl_of(&p), acl_before);
    assert_eq!(p.i64("SELECT count(*) FROM public.secrets"), 1);
}

/// One backup before a run of two migrations: the second drops a table the
/// first changed (an index). The backup holds the table as it was before the
/// first, so the second is not taken back from it.
#[test]
fn a_backup_shared_with_an_older_migration_that_changed_the_table_is_refused() {
    let p = Project::new();
    p.migration(
        "20250101000000_base.sql",
        "CREATE TABLE public.t (id int PRIMARY KEY, x int);\nINSERT INTO public.t VALUES (1, 1);\n",
    );
    assert_eq!(p.safemig(&["migrate", "--backup", "skip"]).code, 0);
    p.migration(
        "20250201000000_index.sql",
        "CREATE INDEX t_x ON public.t (x);\n",
    );
    p.config(
        "[[allow]]\nmigration = \"20250301000000\"\ntable = \"public.t\"\nloss = [\"table\"]\n",
    );
    p.migration("20250301000000_drop.sql", "DROP TABLE public.t;\n");
    let run = p.safemig(&["migrate", "--backup", "auto", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    let refused = p.safemig(&["rollback"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stdout
            .contains("was taken before 20250201000000 too"),
        "{refused:?}"
    );
    assert!(p.bool("SELECT to_regclass('public.t') IS NULL"));
}
