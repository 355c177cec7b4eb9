//! `safemig migrate` and `safemig status` end to end, against a real throwaway PostgreSQL.

mod common;

use common::Project;
use sha2::{Digest, Sha256};

#[test]
fn applies_pending_in_order_and_nothing_the_second_time() {
    let p = Project::new();
    p.migration(
        "20250102000000_second.sql",
        "ALTER TABLE public.items ADD COLUMN price numeric;",
    );
    p.migration(
        "20250101000000_first.sql",
        "CREATE TABLE public.items (id int PRIMARY KEY, name text);",
    );
    p.migration("README.md", "not a migration");

    let run = p.safemig(&["migrate", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.results(),
        [
            ("20250101000000".into(), "applied".into()),
            ("20250102000000".into(), "applied".into())
        ]
    );
    assert!(p.bool("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'price')"));

    let again = p.safemig(&["migrate", "--format", "json"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.results().is_empty(), "{again:?}");
    let human = p.safemig(&["migrate"]);
    assert!(human.stdout.contains("nothing to apply"), "{human:?}");

    let status = p.safemig(&["status", "--format", "json"]);
    assert_eq!(status.code, 0, "{status:?}");
    let json = status.json();
    let states: Vec<&str> = json["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["applied", "applied"]);
    assert_eq!(
        json["ignored"][0]["path"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next(),
        Some("README.md")
    );
}

#[test]
fn history_is_written_exactly_as_the_supabase_cli_writes_it() {
    let p = Project::new();
    let sql = "-- users and their trigger\nCREATE TABLE public.profiles (id uuid PRIMARY KEY, bio text);\n\n\
               CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.bio := coalesce(NEW.bio, ''); RETURN NEW;\nEND;\n$$;\n\
               CREATE TRIGGER touch BEFORE INSERT ON public.profiles FOR EACH ROW EXECUTE FUNCTION public.touch() ;  \n";
    let path = p.migration("20250101000000_profiles.sql", sql);
    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 0, "{run:?}");

    let mut client = p.client();
    let row = client
        .query_one(
            "SELECT version, name, statements FROM supabase_migrations.schema_migrations",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "20250101000000");
    assert_eq!(row.get::<_, String>(1), "profiles");
    let statements: Vec<String> = row.get(2);
    assert_eq!(
        statements,
        [
            "-- users and their trigger\nCREATE TABLE public.profiles (id uuid PRIMARY KEY, bio text)",
            "CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.bio := coalesce(NEW.bio, ''); RETURN NEW;\nEND;\n$$",
            "CREATE TRIGGER touch BEFORE INSERT ON public.profiles FOR EACH ROW EXECUTE FUNCTION public.touch()",
        ]
    );
    // The table's shape is the CLI's: version text NOT NULL PRIMARY KEY, statements text[], name text.
    let columns: Vec<(String, String, String)> = client
        .query(
            "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
             WHERE table_schema = 'supabase_migrations' AND table_name = 'schema_migrations' ORDER BY ordinal_position",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        columns,
        [
            ("version".into(), "text".into(), "NO".into()),
            ("statements".into(), "ARRAY".into(), "YES".into()),
            ("name".into(), "text".into(), "YES".into()),
        ]
    );
    assert!(p.bool(
        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'supabase_migrations.schema_migrations'::regclass AND contype = 'p')"
    ));

    // safemig's own record: the file's SHA-256, who, the tool version.
    let own = client
        .query_one(
            "SELECT checksum, applied_by, tool_version, statements FROM safemig.migrations",
            &[],
        )
        .unwrap();
    let expected = hex(&Sha256::digest(std::fs::read(&path).unwrap()));
    assert_eq!(own.get::<_, String>(0), expected);
    assert!(!own.get::<_, String>(1).is_empty());
    assert_eq!(own.get::<_, String>(2), env!("CARGO_PKG_VERSION"));
    assert_eq!(own.get::<_, i32>(3), 3);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_changed_applied_migration_is_reported_and_refused() {
    let p = Project::new();
    let first = p.migration("1_create.sql", "CREATE TABLE public.t (id int);");
    assert_eq!(p.safemig(&["migrate"]).code, 0);
    std::fs::write(&first, "CREATE TABLE public.t (id bigint);").unwrap();
    p.migration("2_more.sql", "CREATE TABLE public.u (id int);");

    let status = p.safemig(&["status", "--format", "json"]);
    assert_eq!(
        status.code, 1,
        "status exits 1 when something needs attention: {status:?}"
    );
    assert_eq!(status.json()["migrations"][0]["state"], "changed");
    assert_eq!(status.json()["migrations"][1]["state"], "pending");

    let run = p.safemig(&["migrate", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let refused = run.json()["refused"].as_str().unwrap().to_string();
    assert!(
        refused.contains("changed") && refused.contains("1 create"),
        "{refused}"
    );
    assert!(
        !p.bool("SELECT to_regclass('public.u') IS NOT NULL"),
        "nothing may be applied"
    );
}

#[test]
fn a_changed_migration_applied_by_the_supabase_cli_is_found_by_its_statements() {
    let p = Project::new();
    p.migration("1_create.sql", "CREATE TABLE public.t (id int);\n");
    // As `supabase db push` would have recorded it: no safemig record, only the statements.
    p.exec(
        "CREATE SCHEMA supabase_migrations; \
         CREATE TABLE supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY, statements text[], name text); \
         INSERT INTO supabase_migrations.schema_migrations VALUES ('1', ARRAY['CREATE TABLE public.t (id int)'], 'create'); \
         CREATE TABLE public.t (id int);",
    );
    let status = p.safemig(&["status", "--format", "json"]);
    assert_eq!(
        status.json()["migrations"][0]["state"],
        "applied",
        "{status:?}"
    );
    p.migration(
        "1_create.sql",
        "CREATE TABLE public.t (id int, extra text);\n",
    );
    let status = p.safemig(&["status", "--format", "json"]);
    assert_eq!(
        status.json()["migrations"][0]["state"],
        "changed",
        "{status:?}"
    );
}

#[test]
fn a_history_row_without_its_file_is_missing_file() {
    let p = Project::new();
    let file = p.migration("1_create.sql", "CREATE TABLE public.t (id int);");
    assert_eq!(p.safemig(&["migrate"]).code, 0);
    std::fs::remove_file(file).unwrap();
    p.migration("2_next.sql", "CREATE TABLE public.u (id int);");
    let status = p.safemig(&["status"]);
    assert_eq!(status.code, 1, "{status:?}");
    assert!(status.stdout.contains("missing-file  1"), "{status:?}");
    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("no file"), "{run:?}");
    assert!(!p.bool("SELECT to_regclass('public.u') IS NOT NULL"));
}

#[test]
fn duplicate_versions_are_bad_input_naming_both_files() {
    let p = Project::new();
    p.migration("20250101000000_a.sql", "CREATE TABLE public.a (id int);");
    p.migration("20250101000000_b.sql", "CREATE TABLE public.b (id int);");
    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("20250101000000_a.sql") && run.stderr.contains("20250101000000_b.sql"),
        "{run:?}"
    );
    assert!(!p
        .bool("SELECT to_regclass('public.a') IS NOT NULL OR to_regclass('public.b') IS NOT NULL"));
    assert!(
        !p.bool("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL"),
        "nothing touched"
    );
}

#[test]
fn out_of_order_is_refused_unless_include_all() {
    let p = Project::new();
    p.migration("3_c.sql", "CREATE TABLE public.c (id int);");
    assert_eq!(p.safemig(&["migrate"]).code, 0);
    p.migration("2_b.sql", "CREATE TABLE public.b (id int);");
    p.migration("4_d.sql", "CREATE TABLE public.d (id int);");

    let status = p.safemig(&["status", "--format", "json"]);
    let states: Vec<String> = status.json()["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["out-of-order", "applied", "pending"]);

    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("--include-all"), "{run:?}");
    assert!(
        !p.bool("SELECT to_regclass('public.d') IS NOT NULL"),
        "the refusal applies nothing"
    );

    let run = p.safemig(&["migrate", "--include-all", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.results(),
        [
            ("2".into(), "applied".into()),
            ("4".into(), "applied".into())
        ]
    );
}

#[test]
fn target_stops_at_the_given_version() {
    let p = Project::new();
    p.migration("1_a.sql", "CREATE TABLE public.a (id int);");
    p.migration("2_b.sql", "CREATE TABLE public.b (id int);");
    p.migration("3_c.sql", "CREATE TABLE public.c (id int);");
    let run = p.safemig(&["migrate", "--target", "2", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.results().len(), 2);
    assert!(!p.bool("SELECT to_regclass('public.c') IS NOT NULL"));
    let bad = p.safemig(&["migrate", "--target", "9"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("--target 9"), "{bad:?}");
}

#[test]
fn dry_run_leaves_the_database_identical() {
    let p = Project::new();
    p.migration("1_base.sql", "CREATE TABLE public.tracks (id int PRIMARY KEY, title text); INSERT INTO public.tracks SELECT g, 't' || g FROM generate_series(1, 50) g;");
    assert_eq!(p.safemig(&["migrate"]).code, 0);
    p.migration(
        "2_more.sql",
        "CREATE TABLE public.albums (id int PRIMARY KEY); INSERT INTO public.albums VALUES (1), (2);\n\
         ALTER TABLE public.tracks ADD COLUMN album_id int REFERENCES public.albums (id);\n\
         ALTER TABLE public.tracks ALTER COLUMN title TYPE varchar(200);\n\
         UPDATE public.tracks SET album_id = 1;",
    );
    p.migration(
        "3_fn.sql",
        "CREATE FUNCTION public.n() RETURNS int LANGUAGE sql AS 'SELECT 1';",
    );
    let before = p.fingerprint();
    let run = p.safemig(&["migrate", "--dry-run", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.results(),
        [
            ("2".into(), "dry-run".into()),
            ("3".into(), "dry-run".into())
        ]
    );
    assert_eq!(
        p.fingerprint(),
        before,
        "a dry run must leave catalog and rows as they were"
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM supabase_migrations.schema_migrations"),
        1
    );
    // And then the real run applies what the dry run predicted.
    let run = p.safemig(&["migrate", "--format", "json"]);
    assert_eq!(
        run.results(),
        [
            ("2".into(), "applied".into()),
            ("3".into(), "applied".into())
        ]
    );
}

#[test]
fn a_syntax_error_applies_nothing_and_names_file_line_and_message() {
    let p = Project::new();
    p.migration("1_ok.sql", "CREATE TABLE public.ok (id int);");
    p.migration(
        "2_broken.sql",
        "CREATE TABLE public.b (id int);\n\nALTER TABLE public.b ADD COLUM x int;\n",
    );
    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("2_broken.sql:3:"), "{run:?}");
    assert!(run.stdout.contains("syntax error at or near"), "{run:?}");
    assert!(run.stdout.contains("nothing was applied"), "{run:?}");
    assert!(
        !p.bool("SELECT to_regclass('public.ok') IS NOT NULL"),
        "an earlier pending file is not applied either"
    );
}

#[test]
fn a_runtime_error_rolls_back_and_names_the_statement() {
    let p = Project::new();
    p.migration("1_ok.sql", "CREATE TABLE public.ok (id int);");
    p.migration(
        "2_fails.sql",
        "CREATE TABLE public.half (id int);\nINSERT INTO public.half VALUES (1);\nINSERT INTO public.missing_table\n  VALUES (1);\n",
    );
    p.migration("3_later.sql", "CREATE TABLE public.later (id int);");
    let run = p.safemig(&["migrate", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(
        run.results(),
        [
            ("1".into(), "applied".into()),
            ("2".into(), "failed".into()),
            ("3".into(), "skipped".into())
        ]
    );
    let failed = &run.json()["migrations"][1];
    assert_eq!(failed["error"]["sqlstate"], "42P01");
    assert_eq!(failed["error"]["statement"]["index"], 3);
    assert_eq!(
        failed["error"]["statement"]["line"], 3,
        "PostgreSQL's error position, mapped to the file"
    );
    assert!(failed["error"]["message"]
        .as_str()
        .unwrap()
        .contains("relation \"public.missing_table\" does not exist"));
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("2_fails.sql:3:"),
        "{failed}"
    );
    assert!(
        !p.bool("SELECT to_regclass('public.half') IS NOT NULL"),
        "the failed migration's first statements are rolled back"
    );
    assert_eq!(
        p.i64("SELECT count(*) FROM supabase_migrations.schema_migrations"),
        1
    );

    let human = p.safemig(&["migrate"]);
    assert!(
        human.stdout.contains("2_fails.sql:3:13 (statement 3)"),
        "{human:?}"
    );
}

#[test]
fn concurrently_runs_on_its_own_with_a_note() {
    let p = Project::new();
    p.migration("1_t.sql", "CREATE TABLE public.t (id int, v text);");
    p.migration(
        "2_idx.sql",
        "CREATE INDEX CONCURRENTLY t_v_idx ON public.t (v);",
    );
    let run = p.safemig(&["migrate", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let notes = run.json()["migrations"][1]["notes"].to_string();
    assert!(notes.contains("outside a transaction"), "{notes}");
    assert!(p.bool("SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.t_v_idx'::regclass"));
    assert_eq!(
        p.i64("SELECT count(*) FROM supabase_migrations.schema_migrations"),
        2
    );
}

#[test]
fn a_files_own_begin_commit_is_replaced_but_rollback_is_refused() {
    let p = Project::new();
    p.migration(
        "1_wrapped.sql",
        "BEGIN;\nCREATE TABLE public.w (id int);\nCOMMIT;\n",
    );
    let run = p.safemig(&["migrate", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(p.bool("SELECT to_regclass('public.w') IS NOT NULL"));

    p.migration(
        "2_rollback.sql",
        "CREATE TABLE public.r (id int);\nROLLBACK;\n",
    );
    let run = p.safemig(&["migrate", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.results(), [("2".into(), "refused".into())]);
    assert!(!p.bool("SELECT to_regclass('public.r') IS NOT NULL"));
}

#[test]
fn bad_input_is_exit_two_with_a_clear_message() {
    let p = Project::new();
    // No migrations folder.
    let run = p.safemig(&["--dir", "nowhere", "status"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("nowhere") && run.stderr.contains("--dir"),
        "{run:?}"
    );
    // A bad configuration file.
    p.config("[guard]\nprotekt = []\n");
    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("protekt") && run.stderr.contains("safemig.toml"),
        "{run:?}"
    );
    p.config("");
    // A bad duration.
    let run = p.safemig(&["migrate", "--lock-timeout", "soon"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--lock-timeout"), "{run:?}");
    // An unreachable database.
    let run = p.safemig_raw(
        &[
            "--db",
            "postgresql://nobody@127.0.0.1:1/x?sslmode=disable",
            "status",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cannot connect"), "{run:?}");
    // A non-UTF-8 migration.
    std::fs::write(p.migrations_dir().join("1_bin.sql"), b"SELECT '\xff\xfe';").unwrap();
    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("1_bin.sql") && run.stderr.contains("UTF-8"),
        "{run:?}"
    );
    assert!(
        !p.bool("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL"),
        "nothing touched"
    );
}

#[test]
fn every_run_is_in_the_audit_trail() {
    let p = Project::new();
    // A row, so the drop loses data (dropping an empty table is a schema change only).
    p.migration(
        "1_a.sql",
        "CREATE TABLE public.a (id int); INSERT INTO public.a VALUES (1);",
    );
    assert_eq!(p.safemig(&["migrate"]).code, 0);
    p.migration("2_b.sql", "DROP TABLE public.a;");
    assert_eq!(p.safemig(&["migrate", "--allow-risky"]).code, 1);
    let results: Vec<String> = p
        .client()
        .query("SELECT result FROM safemig.audit ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(results, ["ok", "rolled-back"]);
    let local = std::fs::read_to_string(p.path().join(".safemig/audit.jsonl")).unwrap();
    let commands: Vec<String> = local
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["command"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        commands,
        ["backup create", "migrate", "backup create", "migrate"],
        "each migrate backed up first: {local}"
    );
    let log = p.safemig(&["log", "--format", "json"]);
    assert_eq!(log.code, 0, "{log:?}");
    assert!(log.stdout.contains("rolled-back"), "{log:?}");
}

#[test]
fn risky_migrations_are_refused_before_anything_runs_unless_allowed() {
    let p = Project::new();
    p.migration(
        "1_t.sql",
        "CREATE TABLE public.t (id int, legacy text); INSERT INTO public.t VALUES (1, 'kept');",
    );
    assert_eq!(p.safemig(&["migrate"]).code, 0);
    p.migration("2_ok.sql", "CREATE TABLE public.ok (id int);");
    p.migration("3_drop.sql", "ALTER TABLE public.t DROP COLUMN legacy;");

    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("classes it risky (drop-column)"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("3_drop.sql:1:1"),
        "the finding is shown where it is: {run:?}"
    );
    assert!(
        !p.bool("SELECT to_regclass('public.ok') IS NOT NULL"),
        "nothing of the run was applied"
    );

    // A dry run goes ahead and says what migrate would refuse.
    let dry = p.safemig(&["migrate", "--dry-run", "--format", "json"]);
    assert!(
        dry.stdout.contains("refuses it without --allow-risky"),
        "{dry:?}"
    );

    // Reviewed and allowed in safemig.toml: the guards still stop the loss.
    p.config("[check]\nallow_risky = [\"3\"]\n");
    let run = p.safemig(&["migrate", "--format", "json"]);
    assert_eq!(
        run.results(),
        [
            ("2".into(), "applied".into()),
            ("3".into(), "rolled-back".into())
        ],
        "{run:?}"
    );
    // And an allowance for the loss lets it through.
    p.config("[[allow]]\nmigration = \"3\"\ntable = \"public.t\"\nloss = [\"columns\"]\n");
    let run = p.safemig(&["migrate", "--format", "json"]);
    assert_eq!(run.results(), [("3".into(), "applied".into())], "{run:?}");
}

#[test]
fn a_refusal_offers_the_allowance_that_works_and_check_then_passes() {
    let p = Project::new();
    p.migration(
        "1_t.sql",
        "CREATE TABLE public.t (id int, legacy text); INSERT INTO public.t VALUES (1, 'kept');",
    );
    assert_eq!(p.safemig(&["migrate"]).code, 0);
    p.migration("2_drop.sql", "ALTER TABLE public.t DROP COLUMN legacy;");
    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 1, "{run:?}");
    // The block it prints, fed back as it is.
    let start = run
        .stdout
        .find("[[allow]]")
        .expect("an [[allow]] is offered");
    let block: String = run.stdout[start..]
        .lines()
        .take(5)
        .map(|l| l.trim().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        block.contains("table = \"public.t\"") && block.contains("loss = [\"columns\"]"),
        "{block}"
    );
    p.config(&format!("{block}\n"));
    let run = p.safemig(&["migrate"]);
    assert_eq!(
        run.code, 0,
        "the offered allowance works, with no other flag: {run:?}"
    );
    assert!(!p.bool("SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 't' AND column_name = 'legacy')"));
    // Reviewed and applied: check shows it, and does not fail on it.
    let check = p.safemig(&["check"]);
    assert_eq!(check.code, 0, "{check:?}");
    assert!(
        check.stdout.contains("reviewed in safemig.toml"),
        "{check:?}"
    );
}

/// Issue 20 item 7: config values that match nothing are said, not ignored: an
/// `[[allow]]` for a mistyped version, a critical table or a row floor for a
/// table that does not exist; `backup create --tables` with one is refused.
#[test]
fn config_names_that_match_nothing_are_warned_about() {
    let p = Project::new();
    p.migration(
        "20250101000000_base.sql",
        "CREATE TABLE public.t (id int); INSERT INTO public.t VALUES (1);",
    );
    p.config(
        r#"
[backup]
critical = ["public.tt"]

[guard.min_rows]
"public.t" = 1
"public.nope" = 3

[[allow]]
migration = "20250101000001"
table = "public.t"
loss = ["rows"]
"#,
    );
    let check = p.safemig(&["check"]);
    assert!(
        check.stderr.contains("20250101000001") && check.stderr.contains("names no migration file"),
        "{check:?}"
    );
    let migrate = p.safemig(&["migrate", "--backup", "skip", "--format", "json"]);
    assert_eq!(migrate.code, 0, "{migrate:?}");
    let notes = migrate.json()["notes"].to_string();
    assert!(notes.contains("20250101000001"), "{notes}");
    assert!(
        notes.contains("public.nope") && notes.contains("public.tt"),
        "{notes}"
    );
    assert!(
        !notes.contains("names public.t,"),
        "an existing table is not named: {notes}"
    );
    let plan = p.safemig(&["plan"]);
    assert!(
        plan.stdout.contains("warning:") && plan.stdout.contains("public.nope"),
        "{plan:?}"
    );

    let refused = p.safemig(&["backup", "create", "--tables", "public.t,public.typo"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("public.typo"), "{refused:?}");
    assert!(
        !p.path().join(".safemig/backups").exists()
            || std::fs::read_dir(p.path().join(".safemig/backups"))
                .unwrap()
                .count()
                == 0
    );
    let warned = p.safemig(&["backup", "create"]);
    assert_eq!(warned.code, 0, "{warned:?}");
    assert!(warned.stderr.contains("public.tt"), "{warned:?}");
}

/// Issue 20 item 10: `log` names what each run was about (migrations with their
/// result, the backup), and `--help` shows the global options once, under their
/// own heading, after the command's.
#[test]
fn log_names_migrations_and_backups_and_help_keeps_global_options_apart() {
    let p = Project::new();
    p.migration(
        "20250101000000_first_table.sql",
        "CREATE TABLE public.a (id int);",
    );
    let run = p.safemig(&["migrate"]);
    assert_eq!(run.code, 0, "{run:?}");
    let log = p.safemig(&["log"]);
    assert!(
        log.stdout.contains("20250101000000 first_table  applied"),
        "{log:?}"
    );
    assert!(
        log.stdout.contains(".safemig/backups/20"),
        "the backup migrate took is named: {log:?}"
    );

    let help = p.safemig_raw(&["backup", "verify", "--help"], &[]);
    let (own, global) = help
        .stdout
        .split_once("Global options:")
        .expect("a heading");
    assert!(
        own.contains("--restore") && !own.contains("--audit-file"),
        "{help:?}"
    );
    assert!(
        global.contains("--db") && global.contains("--audit-file"),
        "{help:?}"
    );
    assert!(own.contains("The backup's directory"), "{help:?}");
}
