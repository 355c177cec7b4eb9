//! `safemig check`, `rules` and `explain` through the real binary, and the
//! parser's fidelity against a real PostgreSQL: whatever the server accepts is
//! never a syntax error.

mod common;

use std::path::Path;

use common::{output, Project, Run};

/// `safemig ARGS` in `dir`, with no database anywhere in the environment.
fn safemig(dir: &Path, args: &[&str]) -> Run {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_safemig"));
    command
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL");
    output(command.output().unwrap())
}

fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("supabase/migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    for (name, sql) in files {
        std::fs::write(migrations.join(name), sql).unwrap();
    }
    dir
}

const BASELINE: &str = "CREATE TABLE public.users (id uuid PRIMARY KEY);\nALTER TABLE public.users ENABLE ROW LEVEL SECURITY;\n\
CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$\n\
BEGIN INSERT INTO public.users (id) VALUES (NEW.id); RETURN NEW; END $$;\n";
const TRIGGER: &str = "DROP TRIGGER IF EXISTS on_auth_user_created ON auth.users;\n\
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();\n";

fn findings(run: &Run) -> Vec<(String, String, u64)> {
    let json = run.json();
    let mut out = Vec::new();
    for file in json["files"].as_array().unwrap() {
        let name = file["path"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string();
        for f in file["findings"].as_array().unwrap() {
            out.push((
                name.clone(),
                f["rule"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
            ));
        }
    }
    out
}

#[test]
fn the_seed_ordering_bug_is_found_with_an_order_that_works() {
    let dir = project(&[
        ("20250101000000_add_user_creation_trigger.sql", TRIGGER),
        ("20250831022018_baseline_schema.sql", BASELINE),
    ]);
    let run = safemig(dir.path(), &["check", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(findings(&run).contains(&(
        "20250101000000_add_user_creation_trigger.sql".into(),
        "use-before-create".into(),
        2
    )));
    let json = run.json();
    assert_eq!(json["files"][0]["class"], "risky");
    assert_eq!(json["files"][1]["class"], "safe");
    assert_eq!(
        json["proposed_order"],
        serde_json::json!([
            "20250831022018_baseline_schema.sql",
            "20250101000000_add_user_creation_trigger.sql"
        ])
    );
    assert_eq!(json["summary"]["risky"], 1);

    let human = safemig(dir.path(), &["check"]);
    assert!(
        human
            .stdout
            .contains("20250101000000_add_user_creation_trigger.sql:2:1"),
        "{human:?}"
    );
    assert!(human.stdout.contains("an order that works"), "{human:?}");

    // In the proposed order, nothing is left to say about the order.
    std::fs::rename(
        dir.path()
            .join("supabase/migrations/20250101000000_add_user_creation_trigger.sql"),
        dir.path()
            .join("supabase/migrations/20250831022100_add_user_creation_trigger.sql"),
    )
    .unwrap();
    let run = safemig(dir.path(), &["check", "--format", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.json()["proposed_order"].is_null());
}

#[test]
fn a_trigger_function_without_its_trigger_is_reported() {
    let dir = project(&[("1_baseline.sql", BASELINE)]);
    let run = safemig(
        dir.path(),
        &["check", "--format", "json", "--fail-on", "review"],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        findings(&run)
            .iter()
            .any(|(_, rule, line)| rule == "unattached-trigger-function" && *line == 3),
        "{run:?}"
    );
}

#[test]
fn fail_on_and_classes() {
    let dir = project(&[("1_a.sql", "CREATE TABLE public.t (id bigint PRIMARY KEY);\nALTER TABLE public.t ENABLE ROW LEVEL SECURITY;\nCREATE INDEX t_idx ON public.other (x);")]);
    let run = safemig(dir.path(), &["check", "--format", "json"]);
    assert_eq!(run.json()["files"][0]["class"], "review", "{run:?}");
    assert_eq!(
        run.code, 0,
        "review does not fail the default --fail-on risky"
    );
    assert_eq!(
        safemig(dir.path(), &["check", "--fail-on", "review"]).code,
        1
    );
    let dir = project(&[("1_a.sql", "DROP TABLE public.tracks;")]);
    assert_eq!(safemig(dir.path(), &["check"]).code, 1);
    assert_eq!(
        safemig(dir.path(), &["check", "--fail-on", "never"]).code,
        0
    );
}

#[test]
fn syntax_errors_and_psql_meta_commands() {
    let dir = project(&[
        ("1_broken.sql", "CREATE TABLE public.a (id int);\n\nALTER TABLE public.a ADD COLUM b int;\n"),
        ("2_dump.sql", "\\connect postgres\nCREATE TABLE public.b (id int);\nCOPY public.b (id) FROM stdin;\n1\n2\n\\.\n"),
    ]);
    let run = safemig(dir.path(), &["check", "--format", "json"]);
    assert_eq!(run.code, 1);
    let found = findings(&run);
    assert!(
        found.contains(&("1_broken.sql".into(), "syntax-error".into(), 3)),
        "{found:?}"
    );
    assert!(
        found.contains(&("2_dump.sql".into(), "psql-meta-command".into(), 1)),
        "{found:?}"
    );
    assert!(
        found.contains(&("2_dump.sql".into(), "psql-meta-command".into(), 3)),
        "{found:?}"
    );
    assert!(
        !found
            .iter()
            .any(|(f, r, _)| f == "2_dump.sql" && r == "syntax-error"),
        "{found:?}"
    );
    let message = run.json()["files"][0]["findings"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("syntax error at or near \"int\""),
        "PostgreSQL's own message: {message}"
    );
}

#[test]
fn duplicate_versions_are_findings_on_both_files() {
    let dir = project(&[("7_a.sql", "SELECT 1;"), ("7_b.sql", "SELECT 2;")]);
    let run = safemig(dir.path(), &["check", "--format", "json"]);
    assert_eq!(run.code, 1);
    let dupes: Vec<_> = findings(&run)
        .into_iter()
        .filter(|(_, r, _)| r == "duplicate-version")
        .collect();
    assert_eq!(dupes.len(), 2, "{run:?}");
}

#[test]
fn suppressions_and_configuration() {
    let dir = project(&[(
        "1_a.sql",
        "-- safemig:ignore drop-table replaced by public.tracks_v2 last release\nDROP TABLE IF EXISTS public.tracks;\nTRUNCATE public.cache;\n",
    )]);
    let run = safemig(dir.path(), &["check", "--format", "json"]);
    let found = findings(&run);
    assert!(
        !found.iter().any(|(_, r, _)| r == "drop-table"),
        "{found:?}"
    );
    assert!(found.iter().any(|(_, r, _)| r == "truncate"), "{found:?}");
    assert_eq!(
        run.json()["files"][0]["statements"][0]["suppressed"][0]["rule"],
        "drop-table"
    );

    std::fs::write(
        dir.path().join("safemig.toml"),
        "[check]\nignore = [\"truncate\"]\n",
    )
    .unwrap();
    assert_eq!(safemig(dir.path(), &["check"]).code, 0);
    std::fs::write(
        dir.path().join("safemig.toml"),
        "[check.severity]\ntruncate = \"hint\"\n",
    )
    .unwrap();
    assert_eq!(safemig(dir.path(), &["check"]).code, 0);
    std::fs::write(
        dir.path().join("safemig.toml"),
        "[check.severity]\ntruncate = \"fatal\"\n",
    )
    .unwrap();
    let bad = safemig(dir.path(), &["check"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("fatal"), "{bad:?}");
}

#[test]
fn sarif_and_github_annotations() {
    let dir = project(&[(
        "1_a.sql",
        "SELECT 1;\nALTER TABLE public.t DROP COLUMN c;\n",
    )]);
    let sarif = safemig(dir.path(), &["check", "--format", "sarif"]).json();
    assert_eq!(sarif["version"], "2.1.0");
    let result = &sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "drop-column")
        .unwrap()
        .clone();
    assert_eq!(result["level"], "error");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
    assert!(sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "drop-column"));

    let github = safemig(dir.path(), &["check", "--format", "github"]);
    assert!(
        github.stdout.lines().any(|l| l.starts_with(
            "::error file=supabase/migrations/1_a.sql,line=2,col=1,title=safemig drop-column::"
        )),
        "{github:?}"
    );
    let wrong = safemig(dir.path(), &["status", "--format", "sarif"]);
    assert_eq!(wrong.code, 2, "{wrong:?}");
}

#[test]
fn rules_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    let rules = safemig(dir.path(), &["rules", "--format", "json"]).json();
    let names: Vec<&str> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for expected in [
        "syntax-error",
        "drop-table",
        "drop-column",
        "truncate",
        "change-column-type",
        "use-before-create",
        "duplicate-version",
        "unattached-trigger-function",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let explain = safemig(dir.path(), &["explain", "drop-column"]);
    assert_eq!(explain.code, 0);
    for section in ["What it does", "Why it matters", "Example", "Use instead"] {
        assert!(explain.stdout.contains(section), "{explain:?}");
    }
    let unknown = safemig(dir.path(), &["explain", "drop-colum"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("drop-column"),
        "suggests the near name: {unknown:?}"
    );
}

/// Valid SQL of many kinds: every file is applied to a real PostgreSQL, and
/// whatever it accepts must come out of `check` without a syntax error.
const VALID: &[&str] = &[
    "CREATE TABLE public.a (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text, tags text[] DEFAULT '{}', meta jsonb);",
    "CREATE TYPE public.mood AS ENUM ('happy', 'sad');\nCREATE TABLE public.m (m public.mood);\nALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'calm';",
    "CREATE FUNCTION public.f(x int) RETURNS int LANGUAGE plpgsql AS $fn$\nDECLARE y int := 0; -- ; inside\nBEGIN\n  FOR i IN 1..x LOOP y := y + i; END LOOP;\n  RETURN y; -- done;\nEND;\n$fn$;",
    "DO $$\nBEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'g') THEN\n    EXECUTE 'CREATE TABLE public.g (id int)';\n  END IF;\nEND\n$$;",
    "CREATE TABLE public.e (id int);\nCOMMENT ON TABLE public.e IS 'it''s a table; with a semicolon';\nINSERT INTO public.e VALUES (1), (2);",
    "CREATE FUNCTION public.s() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;",
    "CREATE TABLE public.p (id int, v text);\nCREATE INDEX CONCURRENTLY p_v ON public.p (v) WHERE v IS NOT NULL;",
    "CREATE TABLE public.r (id int);\nALTER TABLE public.r ENABLE ROW LEVEL SECURITY;\nCREATE POLICY \"own rows\" ON public.r FOR SELECT USING (auth.uid() IS NOT NULL);",
    "CREATE VIEW public.v AS WITH x AS (SELECT 1 AS n) SELECT n FROM x;\nCREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS n;",
    "SET lock_timeout = '2s';\nCREATE SCHEMA IF NOT EXISTS app;\nCREATE TABLE app.t (id int);\nGRANT SELECT ON app.t TO authenticated;",
    "SELECT $tag$ a $ b $$ c ; $tag$, E'\\n;', U&'\\0041';",
];

#[test]
fn whatever_postgresql_accepts_is_never_a_syntax_error() {
    let p = Project::new();
    for (i, sql) in VALID.iter().enumerate() {
        p.migration(&format!("{}_valid.sql", i + 1), sql);
    }
    // The server's verdict: each file, run as the migration engine runs it.
    let run = p.safemig(&["migrate", "--allow-risky", "--format", "json"]);
    assert_eq!(run.code, 0, "PostgreSQL accepts the corpus: {run:?}");
    let check = safemig(
        p.path(),
        &["check", "--format", "json", "--fail-on", "never"],
    );
    let errors: Vec<_> = findings(&check)
        .into_iter()
        .filter(|(_, r, _)| r == "syntax-error" || r == "psql-meta-command")
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    // A real pg_dump of that database (COPY data, \restrict and all): no syntax error,
    // only the psql-only lines reported as what they are.
    let dump = std::process::Command::new(p.cluster.bin_dir().join("pg_dump"))
        .args(["--no-owner", "-d", &p.url])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dir = project(&[("1_dump.sql", &String::from_utf8(dump.stdout).unwrap())]);
    let check = safemig(
        dir.path(),
        &["check", "--format", "json", "--fail-on", "never"],
    );
    let found = findings(&check);
    assert!(
        !found.iter().any(|(_, r, _)| r == "syntax-error"),
        "{found:?}"
    );
    assert!(
        found.iter().any(|(_, r, _)| r == "psql-meta-command"),
        "the dump's COPY data is found: {found:?}"
    );
}

#[test]
fn whatever_postgresql_rejects_for_syntax_is_reported() {
    let p = Project::new();
    let broken = [
        "CREATE TABEL x (id int);",
        "SELECT 1;\nSELECT (2;",
        "SELECT 1 FROM WHERE;",
        "ALTER TABLE t ADD COLUMN;",
        "INSERT INTO t VALUES (1,);",
    ];
    for (i, sql) in broken.iter().enumerate() {
        let mut client = p.client();
        let err = client
            .batch_execute(sql)
            .expect_err("PostgreSQL rejects it");
        if err.code().map(|c| c.code()) != Some("42601") {
            continue; // not a syntax error on the server (e.g. an unterminated body): skip
        }
        let dir = project(&[(&format!("{}_broken.sql", i + 1), sql)]);
        let check = safemig(dir.path(), &["check", "--format", "json"]);
        assert!(
            findings(&check).iter().any(|(_, r, _)| r == "syntax-error"),
            "{sql}: {check:?}"
        );
    }
}

#[test]
fn with_db_objects_the_database_has_count_and_fresh_only_breaks_are_marked() {
    let p = Project::new();
    p.migration("20250831022018_baseline_schema.sql", BASELINE);
    assert_eq!(p.safemig(&["migrate"]).code, 0);
    // The seed's production: the function is there, its trigger is not.
    let online = p.safemig(&["check", "--format", "json", "--fail-on", "review"]);
    assert_eq!(online.code, 1, "{online:?}");
    let database = &online.json()["database"];
    assert_eq!(
        database["findings"][0]["rule"], "unattached-trigger-function",
        "{online:?}"
    );
    assert!(database["findings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("public.handle_new_user()"));
    // SARIF and GitHub annotations carry it too, with no file to point at.
    let sarif = p.safemig(&["check", "--format", "sarif", "--fail-on", "review"]);
    assert_eq!(sarif.code, 1, "{sarif:?}");
    let results = sarif.json()["runs"][0]["results"].clone();
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["ruleId"] == "unattached-trigger-function"
                && r["locations"][0]["logicalLocations"][0]["name"] == "database"),
        "{results}"
    );
    let github = p.safemig(&["check", "--format", "github", "--fail-on", "review"]);
    assert!(
        github
            .stdout
            .lines()
            .any(|l| l.starts_with("::warning title=safemig unattached-trigger-function::")),
        "{github:?}"
    );
    // The trigger was attached by hand on production, not by a migration.
    p.exec(TRIGGER);
    let offline = safemig(
        p.path(),
        &["check", "--format", "json", "--fail-on", "review"],
    );
    assert!(
        findings(&offline)
            .iter()
            .any(|(_, r, _)| r == "unattached-trigger-function"),
        "{offline:?}"
    );
    let online = p.safemig(&["check", "--format", "json", "--fail-on", "review"]);
    assert!(
        !findings(&online)
            .iter()
            .any(|(_, r, _)| r == "unattached-trigger-function"),
        "{online:?}"
    );
    assert_eq!(
        online.json()["database"]["findings"],
        serde_json::json!([]),
        "{online:?}"
    );

    // A migration older than the baseline that uses its function: fine on this
    // database (the function exists), broken on a fresh one.
    p.migration("20250101000000_add_user_creation_trigger.sql", TRIGGER);
    let online = p.safemig(&["check", "--format", "json"]);
    let trigger_file = &online.json()["files"][0];
    let finding = trigger_file["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "use-before-create")
        .unwrap()
        .clone();
    assert_eq!(finding["fresh_only"], true, "{finding}");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("only on a fresh database"),
        "{finding}"
    );
    let offline = safemig(p.path(), &["check", "--format", "json"]);
    assert!(offline.json()["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f.get("fresh_only").is_none()));
}

/// Every `loss = [...]` and every fenced `safemig.toml` snippet the rules' docs
/// show is fed back to safemig: advice that the config rejects is a bug.
#[test]
fn every_config_snippet_in_the_rules_docs_is_accepted() {
    let p = common::Project::new();
    p.migration("1_t.sql", "CREATE TABLE public.t (id int);");
    let rules = p.safemig(&["rules", "--format", "json"]);
    assert_eq!(rules.code, 0, "{rules:?}");
    let json = rules.json();
    let mut seen = 0;
    for rule in json["rules"].as_array().unwrap() {
        let name = rule["name"].as_str().unwrap();
        let text = p.safemig(&["explain", name]).stdout;
        for (at, _) in text.match_indices("loss = [") {
            let end = text[at..].find(']').unwrap() + at + 1;
            let snippet = &text[at..end];
            p.config(&format!(
                "[[allow]]\nmigration = \"1\"\ntable = \"public.t\"\n{}\n",
                snippet.replace("\\\"", "\"")
            ));
            let run = p.safemig(&["check"]);
            assert_ne!(
                run.code, 2,
                "`safemig explain {name}` advises {snippet}, which safemig.toml rejects: {run:?}"
            );
            seen += 1;
        }
    }
    assert!(
        seen >= 3,
        "the docs show their [[allow]] forms ({seen} seen)"
    );
}

/// Issue 10 item 3: a file that cannot be read never aborts the run: it becomes a
/// finding on that file, every other file is checked and reported as usual in
/// every format, and the exit code is 2.
#[test]
fn a_file_that_is_not_utf8_is_a_finding_and_the_rest_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("supabase/migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(
        migrations.join("20250101000000_a.sql"),
        "DROP TABLE public.orders;\n",
    )
    .unwrap();
    std::fs::write(
        migrations.join("20250102000000_latin1.sql"),
        b"-- caf\xe9\nSELECT 1;\n",
    )
    .unwrap();
    std::fs::write(
        migrations.join("20250103000000_c.sql"),
        "CREATE TABLE public.t (id int);\n",
    )
    .unwrap();
    let run = |format: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_safemig"))
            .args(["check", "--format", format])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, human) = run("human");
    assert_eq!(code, Some(2), "{human}");
    assert!(
        human.contains("unreadable-file") && human.contains("not valid UTF-8"),
        "{human}"
    );
    assert!(
        human.contains("drop-table"),
        "the other files are reported: {human}"
    );
    let (code, json) = run("json");
    assert_eq!(code, Some(2), "{json}");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "{json}");
    assert_eq!(files[1]["findings"][0]["rule"], "unreadable-file", "{json}");
    assert!(
        files[1]["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("byte 6"),
        "{json}"
    );
    let (code, sarif) = run("sarif");
    assert_eq!(code, Some(2));
    assert!(
        sarif.contains("unreadable-file") && sarif.contains("drop-table"),
        "{sarif}"
    );
}

/// Issue 19: a `DROP ... CASCADE` says what it takes along, from the files' own
/// objects and, with `--db`, from what depends on it in the database.
#[test]
fn a_cascade_says_what_it_takes_along_in_the_files_and_in_the_database() {
    let p = Project::new();
    p.exec(
        "CREATE FUNCTION public.is_owner(o uuid) RETURNS boolean LANGUAGE sql AS $$ SELECT o = auth.uid() $$;
         CREATE TABLE public.notes (id int PRIMARY KEY, owner uuid);
         ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
         CREATE POLICY own_notes ON public.notes USING (public.is_owner(owner));",
    );
    p.migration(
        "20250101000000_drop_owner_check.sql",
        "DROP FUNCTION public.is_owner(uuid) CASCADE;",
    );
    let run = p.safemig(&["--format", "json", "check"]);
    let json = run.json();
    let finding = json["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "cascade-reaches")
        .cloned()
        .unwrap_or_else(|| panic!("a cascade-reaches finding: {json}"));
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("policy own_notes on table notes (in the database)"),
        "{finding}"
    );
    assert_eq!(finding["severity"], "risky");
    // Without the database, only what the files made can be named: nothing here.
    let offline = common::output(
        std::process::Command::new(env!("CARGO_BIN_EXE_safemig"))
            .current_dir(p.path())
            .args(["--format", "json", "check"])
            .env_remove("DATABASE_URL")
            .output()
            .unwrap(),
    );
    assert!(!offline.stdout.contains("cascade-reaches"), "{offline:?}");
}
