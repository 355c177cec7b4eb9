//! The guards: a protected table that would lose rows, columns or itself rolls its
//! migration back, with the data intact. Each case against a real PostgreSQL.
//! `--allow-risky` throughout: these tests are about the guards, the layer that
//! holds even when the static check is overridden.

mod common;

use common::{Project, Run};

const BASE: &str = "CREATE TABLE public.tracks (id int PRIMARY KEY, title text NOT NULL, r2_key text);
INSERT INTO public.tracks SELECT g, 'Track ' || g, 'k/' || g FROM generate_series(1, 100) g;
CREATE TABLE public.artists (id int PRIMARY KEY);
INSERT INTO public.artists SELECT g FROM generate_series(1, 5) g;
CREATE TABLE public.albums (id int PRIMARY KEY, artist_id int NOT NULL REFERENCES public.artists (id) ON DELETE CASCADE);
INSERT INTO public.albums SELECT g, g % 5 + 1 FROM generate_series(1, 20) g;
";

fn base() -> Project {
    let p = Project::new();
    p.migration("1_base.sql", BASE);
    let run = p.safemig(&["migrate", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    p
}

/// Runs `migrate` with `sql` as migration 2 and checks it was rolled back by the guards.
fn rolled_back(p: &Project, sql: &str) -> Run {
    p.migration("2_change.sql", sql);
    let before = p.fingerprint();
    let run = p.safemig(&["migrate", "--allow-risky", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.results(),
        [("2".into(), "rolled-back".into())],
        "{run:?}"
    );
    assert_eq!(
        p.fingerprint(),
        before,
        "the data and the schema are intact"
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM supabase_migrations.schema_migrations WHERE version = '2'"),
        0
    );
    run
}

fn violation(run: &Run) -> serde_json::Value {
    run.json()["migrations"][0]["violations"][0].clone()
}

#[test]
fn delete_is_rolled_back_and_the_statement_named() {
    let p = base();
    let run = rolled_back(&p, "ALTER TABLE public.tracks ADD COLUMN bpm int;\nDELETE FROM public.tracks WHERE id <= 10;\n");
    let v = violation(&run);
    assert_eq!(v["table"], "public.tracks");
    assert_eq!(v["loss"], "rows");
    assert!(
        v["message"].as_str().unwrap().contains("10 rows deleted"),
        "{v}"
    );
    assert_eq!(v["statement"]["index"], 2);
    assert_eq!(v["statement"]["line"], 2);
    assert!(!p.bool("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'tracks' AND column_name = 'bpm')"));
    let human = p.safemig(&["migrate", "--allow-risky"]);
    assert!(
        human.stdout.contains("caused by statement 2 at"),
        "{human:?}"
    );
    assert!(
        human.stdout.contains("[[allow]]"),
        "the fix is shown: {human:?}"
    );
}

#[test]
fn truncate_is_rolled_back() {
    let p = base();
    let run = rolled_back(&p, "TRUNCATE public.tracks;");
    let v = violation(&run);
    assert_eq!(v["table"], "public.tracks");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("100 rows before, 0 after"),
        "{v}"
    );
}

#[test]
fn truncate_cascade_through_a_foreign_key_is_rolled_back() {
    let p = base();
    let run = rolled_back(&p, "TRUNCATE public.artists CASCADE;");
    let tables: Vec<String> = run.json()["migrations"][0]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["table"].as_str().unwrap().to_string())
        .collect();
    assert!(
        tables.contains(&"public.artists".to_string())
            && tables.contains(&"public.albums".to_string()),
        "{tables:?}"
    );
}

#[test]
fn drop_table_is_rolled_back() {
    let p = base();
    let run = rolled_back(&p, "DROP TABLE public.tracks;");
    let v = violation(&run);
    assert_eq!(v["loss"], "table");
    assert!(v["message"].as_str().unwrap().contains("dropped"), "{v}");
}

#[test]
fn drop_column_is_rolled_back_but_a_rename_is_not_a_loss() {
    let p = base();
    let run = rolled_back(
        &p,
        "ALTER TABLE public.tracks DROP COLUMN IF EXISTS r2_key;",
    );
    let v = violation(&run);
    assert_eq!(v["loss"], "columns");
    assert!(v["message"].as_str().unwrap().contains("\"r2_key\""), "{v}");

    p.migration("2_change.sql", "ALTER TABLE public.tracks RENAME COLUMN r2_key TO storage_key;\nALTER TABLE public.tracks RENAME TO library_tracks;");
    let run = p.safemig(&["migrate", "--allow-risky"]);
    assert_eq!(run.code, 0, "renames lose nothing: {run:?}");
    assert_eq!(
        p.i64("SELECT count(storage_key) FROM public.library_tracks"),
        100
    );
}

#[test]
fn a_cascading_delete_into_a_protected_child_is_rolled_back() {
    let p = base();
    // Only the child is protected: the loss happens through ON DELETE CASCADE.
    p.config("[guard]\nunprotect = [\"public.artists\"]\n");
    let run = rolled_back(&p, "DELETE FROM public.artists WHERE id = 1;");
    let v = violation(&run);
    assert_eq!(v["table"], "public.albums");
    assert!(
        v["message"].as_str().unwrap().contains("4 rows deleted"),
        "{v}"
    );
}

#[test]
fn deletes_hidden_in_dynamic_sql_and_functions_are_caught() {
    let p = base();
    rolled_back(
        &p,
        "DO $$ BEGIN EXECUTE 'DELETE FROM public.tracks WHERE id > ' || 90; END $$;",
    );
    rolled_back(
        &p,
        "CREATE FUNCTION public.purge() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM public.albums; END $$;\nSELECT public.purge();",
    );
    // Hidden from the parser: the first run shows the table emptied, the second counts it first.
    let run = rolled_back(
        &p,
        "DO $$ BEGIN EXECUTE 'TRUNCATE public.' || 'tracks'; END $$;",
    );
    assert!(
        violation(&run)["message"]
            .as_str()
            .unwrap()
            .contains("100 rows before, 0 after"),
        "{run:?}"
    );
}

/// The guard prepares its queries once per run, and a migration runs in the same
/// session: one can DEALLOCATE them and PREPARE its own under their names (plain
/// SQL can, from a DO block too). Here migration 3 deletes rows where no name
/// shows it, and forges the query that would find the table through its locks.
#[test]
fn a_migration_that_replaces_the_guards_prepared_statements_is_rolled_back() {
    let p = base();
    p.migration("2_benign.sql", "ALTER TABLE public.tracks ADD COLUMN bpm int;\n");
    p.migration(
        "3_forge.sql",
        "DO $$ DECLARE r record; BEGIN
  EXECUTE 'DELETE FROM public.' || 'tracks WHERE id > 90';
  FOR r IN SELECT name, parameter_types FROM pg_prepared_statements WHERE statement LIKE '%pg_locks%' LOOP
    EXECUTE format('DEALLOCATE %I', r.name);
    EXECUTE format('PREPARE %I(%s) AS SELECT 1 WHERE false', r.name, array_to_string(r.parameter_types, ','));
  END LOOP;
END $$;
",
    );
    let run = p.safemig(&["migrate", "--allow-risky", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.results(),
        [("2".into(), "applied".into()), ("3".into(), "rolled-back".into())],
        "{run:?}"
    );
    assert_eq!(p.i64("SELECT count(*) FROM public.tracks"), 100);
    let v = &run.json()["migrations"][1]["violations"][0];
    assert!(
        v["message"].as_str().unwrap().contains("DEALLOCATE"),
        "says what the migration did: {run:?}"
    );
    // Dropped without a forgery: the guard's next read fails; nothing is applied.
    p.migration(
        "3_forge.sql",
        "DO $$ BEGIN EXECUTE 'DELETE FROM public.' || 'tracks WHERE id > 90'; END $$;\nDEALLOCATE ALL;\n",
    );
    let run = p.safemig(&["migrate", "--allow-risky"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(p.i64("SELECT count(*) FROM public.tracks"), 100);
    assert!(run.stdout.contains("does not exist"), "{run:?}");
    // The next run prepares its queries anew and applies a harmless file.
    p.migration("3_forge.sql", "ALTER TABLE public.tracks ADD COLUMN mood text;\n");
    let run = p.safemig(&["migrate", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn rewrites_that_keep_every_row_pass() {
    let p = base();
    p.migration(
        "2_change.sql",
        "ALTER TABLE public.tracks ALTER COLUMN title TYPE varchar(100);\nVACUUM FULL public.albums;\nUPDATE public.tracks SET title = upper(title);\nINSERT INTO public.tracks VALUES (101, 'new', NULL);",
    );
    let run = p.safemig(&["migrate", "--allow-risky", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.i64("SELECT count(*) FROM public.tracks"), 101);
}

#[test]
fn an_allowance_lets_an_intended_delete_through_and_only_that() {
    let p = base();
    p.config(
        "[[allow]]\nmigration = \"2\"\ntable = \"public.tracks\"\nloss = [\"rows\"]\nreason = \"purge test tracks\"\n",
    );
    p.migration("2_purge.sql", "DELETE FROM public.tracks WHERE id > 90;");
    let run = p.safemig(&["migrate", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.i64("SELECT count(*) FROM public.tracks"), 90);

    // The allowance is for migration 2 and for rows: migration 3 dropping a column is still stopped.
    p.migration(
        "3_drop.sql",
        "DELETE FROM public.tracks WHERE id > 80; ALTER TABLE public.tracks DROP COLUMN r2_key;",
    );
    let run = p.safemig(&["migrate", "--allow-risky", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(p.i64("SELECT count(*) FROM public.tracks"), 90);
}

#[test]
fn a_min_rows_floor_cannot_be_allowed_away() {
    let p = Project::new();
    p.config(
        "[guard.min_rows]\n\"public.library_tracks\" = 59\n\n[[allow]]\nmigration = \"2\"\ntable = \"*\"\nloss = [\"rows\"]\n",
    );
    p.migration(
        "1_base.sql",
        "CREATE TABLE public.library_tracks (id int PRIMARY KEY); INSERT INTO public.library_tracks SELECT generate_series(1, 59);",
    );
    assert_eq!(p.safemig(&["migrate", "--allow-risky"]).code, 0);
    p.migration(
        "2_one_less.sql",
        "DELETE FROM public.library_tracks WHERE id = 59;",
    );
    let run = p.safemig(&["migrate", "--allow-risky", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let text = run.stdout.clone();
    assert!(text.contains("requires at least 59"), "{text}");
    assert_eq!(p.i64("SELECT count(*) FROM public.library_tracks"), 59);
}

#[test]
fn one_guarded_failure_stops_the_run_after_the_good_ones() {
    let p = base();
    p.migration(
        "2_good.sql",
        "ALTER TABLE public.tracks ADD COLUMN bpm int;",
    );
    p.migration("3_bad.sql", "DROP TABLE public.albums;");
    p.migration("4_after.sql", "CREATE TABLE public.after (id int);");
    let run = p.safemig(&["migrate", "--allow-risky", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.results(),
        [
            ("2".into(), "applied".into()),
            ("3".into(), "rolled-back".into()),
            ("4".into(), "skipped".into())
        ]
    );
    assert_eq!(p.i64("SELECT count(*) FROM public.albums"), 20);
    assert!(!p.bool("SELECT to_regclass('public.after') IS NOT NULL"));
}

#[test]
fn supabase_managed_schemas_are_not_protected_unless_asked() {
    let p = base();
    p.exec("INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'a@example.com')");
    p.migration("2_auth.sql", "DELETE FROM auth.users;");
    assert_eq!(p.safemig(&["migrate", "--allow-risky"]).code, 0);
    p.exec("INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'b@example.com')");
    p.config("[guard]\nprotect = [\"auth.users\"]\n");
    p.migration("3_auth_again.sql", "DELETE FROM auth.users;");
    let run = p.safemig(&["migrate", "--allow-risky", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(violation(&run)["table"], "auth.users");
    assert_eq!(p.i64("SELECT count(*) FROM auth.users"), 1);
}

#[test]
fn a_delete_next_to_a_rewrite_is_still_caught() {
    let p = base();
    // The rewrite gives the table new storage; the delete before it must not hide behind it.
    let run = rolled_back(&p, "DELETE FROM public.tracks WHERE id <= 5;\nALTER TABLE public.tracks ALTER COLUMN title TYPE varchar(50);");
    assert_eq!(violation(&run)["loss"], "rows", "{run:?}");
    let run = rolled_back(&p, "ALTER TABLE public.tracks ALTER COLUMN title TYPE varchar(50);\nDELETE FROM public.tracks WHERE id <= 5;");
    assert!(
        violation(&run)["message"]
            .as_str()
            .unwrap()
            .contains("5 rows deleted"),
        "{run:?}"
    );
}

#[test]
fn rows_deleted_by_a_deferred_trigger_at_commit_are_caught() {
    let p = base();
    p.migration(
        "2_deferred.sql",
        "CREATE FUNCTION public.purge() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM public.tracks; RETURN NULL; END $$;\n\
         CREATE CONSTRAINT TRIGGER purge_later AFTER INSERT ON public.artists DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.purge();\n\
         INSERT INTO public.artists VALUES (99);",
    );
    let run = p.safemig(&["migrate", "--allow-risky", "--format", "json"]);
    assert_eq!(
        run.results(),
        [("2".into(), "rolled-back".into())],
        "{run:?}"
    );
    assert_eq!(p.i64("SELECT count(*) FROM public.tracks"), 100);
}

#[test]
fn an_allowance_matches_a_table_whose_name_needs_quotes() {
    let p = Project::new();
    p.migration("1_base.sql", "CREATE TABLE public.\"Play Log\" (id int); INSERT INTO public.\"Play Log\" SELECT generate_series(1, 10);");
    assert_eq!(p.safemig(&["migrate"]).code, 0);
    p.migration(
        "2_purge.sql",
        "DELETE FROM public.\"Play Log\" WHERE id > 5;",
    );
    let run = p.safemig(&["migrate", "--allow-risky", "--format", "json"]);
    assert_eq!(
        run.json()["migrations"][0]["violations"][0]["table"],
        "public.\"Play Log\"",
        "{run:?}"
    );
    let human = p.safemig(&["migrate", "--allow-risky"]);
    assert!(
        human.stdout.contains("table = 'public.\"Play Log\"'"),
        "{human:?}"
    );
    // The table exactly as the violation names it, in the [[allow]] it suggests.
    p.config("[[allow]]\nmigration = \"2\"\ntable = 'public.\"Play Log\"'\nloss = [\"rows\"]\n");
    let run = p.safemig(&["migrate", "--allow-risky"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(p.i64("SELECT count(*) FROM public.\"Play Log\""), 5);
}

#[test]
fn a_min_rows_floor_holds_where_it_held_so_a_new_database_still_builds() {
    let p = Project::new();
    p.config("[guard.min_rows]\n\"public.library_tracks\" = 59\n");
    // A new database: the table starts empty, below its floor; later migrations still apply.
    p.migration(
        "1_base.sql",
        "CREATE TABLE public.library_tracks (id int PRIMARY KEY);",
    );
    p.migration(
        "2_more.sql",
        "ALTER TABLE public.library_tracks ADD COLUMN title text;",
    );
    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 0, "{run:?}");
    // Filled to the floor, it may not drop below it again.
    p.exec("INSERT INTO public.library_tracks SELECT generate_series(1, 59)");
    p.config("[guard.min_rows]\n\"public.library_tracks\" = 59\n\n[[allow]]\nmigration = \"3\"\ntable = \"*\"\nloss = [\"rows\"]\n");
    p.migration(
        "3_one_less.sql",
        "DELETE FROM public.library_tracks WHERE id = 59;",
    );
    let run = p.safemig(&["migrate", "--allow-risky"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("requires at least 59"), "{run:?}");
}
