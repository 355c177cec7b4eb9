//! Bad input, table-driven: malformed, empty, binary, huge and non-UTF-8 migration
//! files; bad safemig.toml; bad URLs, wrong passwords, unreachable hosts, TLS
//! required but not offered; missing or too-old pg_dump; missing, empty or
//! duplicate migrations; a history table edited by hand; a damaged backup folder;
//! table names with quotes, dots, spaces and unicode in the config.
//!
//! One throwaway cluster for every case. Each case runs the real binary in a fresh
//! project folder and must: exit with the code DESIGN.md gives (2 bad input, config,
//! connection or tool error; 1 refused or failed), say what is wrong (and, where
//! the case has a fix, what to do), never panic, and change nothing in the database
//! (a catalog + row-count fingerprint before and after).
//!
//! `BAD_INPUT_PRINT=1 cargo test -p safemig --test bad_input -- --nocapture` prints
//! every case's output.

mod common;

use std::path::Path;

use common::{output, Project, Run};
use safemig_pg::EphemeralOptions;

const PASSWORD: &str = "Bad-input_pw-8817";
const WEIRD: &str = r#""My Schema.x"."Tä""ble; DROP TABLE public.base; --""#;

const BASE: &str = "CREATE TABLE public.base (id int);
INSERT INTO public.base VALUES (1), (2), (3);
CREATE SCHEMA \"My Schema.x\";
CREATE TABLE \"My Schema.x\".\"Tä\"\"ble; DROP TABLE public.base; --\" (id int);
INSERT INTO \"My Schema.x\".\"Tä\"\"ble; DROP TABLE public.base; --\" VALUES (1), (2);";

/// What a case writes into its project folder, besides `supabase/migrations/0_base.sql`.
type Setup = fn(&Path);

struct Case {
    name: &'static str,
    setup: Setup,
    /// `{url}` the case's database, `{port}` the TCP port, `{dir}` the case folder.
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// SQL run in a database of the case's own (a copy of the base), for cases about
    /// the database's state; `{url}` then points there.
    db: Option<&'static str>,
    code: i32,
    /// Each of these appears in the output (case-sensitive).
    says: &'static [&'static str],
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn mig(dir: &Path, name: &str, sql: &str) {
    write(dir, &format!("supabase/migrations/{name}"), sql);
}

fn none(_: &Path) {}

fn cases() -> Vec<Case> {
    let c = |name, setup, args, code, says| Case {
        name,
        setup,
        args,
        env: &[],
        db: None,
        code,
        says,
    };
    let migrate: &'static [&'static str] = &["--db", "{url}", "migrate", "--backup", "skip"];
    vec![
        // ---- migration files ----
        c(
            "syntax error",
            |d| mig(d, "1_bad.sql", "CREATE TABLE public.x (id int);\nCREATE TABLE (;\n"),
            migrate,
            1,
            &["1_bad.sql:2", "syntax error", "nothing was applied"],
        ),
        c(
            "syntax error, check",
            |d| mig(d, "1_bad.sql", "CREATE TABLE (;"),
            &["check"],
            1,
            &["syntax-error", "1_bad.sql:1"],
        ),
        c(
            "unterminated dollar quote",
            |d| mig(d, "1_bad.sql", "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1;\n"),
            migrate,
            1,
            &["1_bad.sql", "unterminated dollar-quoted string", "nothing was applied"],
        ),
        c(
            "unterminated comment",
            |d| mig(d, "1_bad.sql", "CREATE TABLE public.x (id int); /* never closed"),
            migrate,
            1,
            &["1_bad.sql", "unterminated /* comment", "nothing was applied"],
        ),
        c(
            "ROLLBACK in a file",
            |d| mig(d, "1_bad.sql", "CREATE TABLE public.x (id int);\nROLLBACK;\n"),
            migrate,
            1,
            &["1_bad.sql", "ROLLBACK", "nothing was applied"],
        ),
        c(
            "COMMIT in the middle of a file",
            |d| mig(d, "1_bad.sql", "CREATE TABLE public.x (id int);\nCOMMIT;\nCREATE TABLE public.y (id int);\n"),
            migrate,
            1,
            &["1_bad.sql", "COMMIT", "nothing was applied"],
        ),
        c(
            "PREPARE TRANSACTION",
            |d| mig(d, "1_bad.sql", "BEGIN;\nCREATE TABLE public.x (id int);\nPREPARE TRANSACTION 'x';\n"),
            migrate,
            1,
            &["1_bad.sql", "PREPARE TRANSACTION", "nothing was applied"],
        ),
        c(
            "psql meta-command",
            |d| mig(d, "1_bad.sql", "\\connect other\nCREATE TABLE public.x (id int);\n"),
            migrate,
            1,
            &["1_bad.sql", "nothing was applied"],
        ),
        c(
            "a later file broken: the earlier one is not applied either",
            |d| {
                mig(d, "1_good.sql", "CREATE TABLE public.x (id int);");
                mig(d, "2_bad.sql", "SELEC 1;");
            },
            migrate,
            1,
            &["2_bad.sql", "syntax error", "nothing was applied"],
        ),
        c(
            "a statement that fails in the database",
            |d| mig(d, "1_bad.sql", "CREATE TABLE public.x (id int);\nINSERT INTO public.missing VALUES (1);\n"),
            migrate,
            1,
            &["1_bad.sql:2:13", "relation \"public.missing\" does not exist", "rolled back"],
        ),
        c(
            "binary file",
            |d| write(d, "supabase/migrations/1_bin.sql", [0x7f, b'E', b'L', b'F', 0, 0xff, 0xfe, 1, 2, 3]),
            migrate,
            2,
            &["1_bin.sql", "not valid UTF-8", "save the file as UTF-8"],
        ),
        c(
            "non-UTF-8 (Latin-1) file",
            |d| write(d, "supabase/migrations/1_latin1.sql", b"INSERT INTO public.base VALUES (1); -- caf\xe9\n"),
            migrate,
            2,
            &["1_latin1.sql", "not valid UTF-8", "byte 42"],
        ),
        c(
            "UTF-16 file",
            |d| {
                let text: Vec<u8> = "\u{feff}SELECT 1;".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
                write(d, "supabase/migrations/1_utf16.sql", text)
            },
            migrate,
            2,
            &["1_utf16.sql", "not valid UTF-8"],
        ),
        c(
            "NUL byte in a file",
            |d| mig(d, "1_nul.sql", "CREATE TABLE public.x (id int);\0\nSELECT 1;"),
            migrate,
            1,
            &["1_nul.sql", "NUL", "nothing was applied"],
        ),
        c(
            "huge (100 MB) file",
            |d| {
                let line = "INSERT INTO public.base VALUES (1); -- a huge data migration, line after line\n";
                write(d, "supabase/migrations/1_huge.sql", line.repeat(100 * 1024 * 1024 / line.len() + 1))
            },
            migrate,
            2,
            &["1_huge.sql is 101 MiB", "up to 16 MiB", "hint: split it"],
        ),
        c(
            "huge file, check (not read: an unreadable-file finding, the other files reported)",
            |d| {
                let line = "INSERT INTO public.base VALUES (1); -- a huge data migration, line after line\n";
                write(d, "supabase/migrations/1_huge.sql", line.repeat(17 * 1024 * 1024 / line.len() + 1))
            },
            &["check"],
            2,
            &["1_huge.sql is 18 MiB", "up to 16 MiB", "unreadable-file", "help: split it", "0_base.sql"],
        ),
        c(
            "binary file, check",
            |d| write(d, "supabase/migrations/1_bin.sql", [0xff, 0xfe, 0, 1]),
            &["check"],
            2,
            &["1_bin.sql", "not valid UTF-8"],
        ),
        c("empty file is applied as an empty migration, as the Supabase CLI does", |d| mig(d, "1_empty.sql", ""), &["--db", "{url}", "migrate", "--backup", "skip", "--dry-run"], 0, &["1 empty", "would apply (0 statements"]),
        c("comments only", |d| mig(d, "1_c.sql", "-- nothing here\n/* nor here */\n"), &["--db", "{url}", "migrate", "--backup", "skip", "--dry-run"], 0, &["1 c", "would apply"]),
        c(
            "dangling symlink as a migration",
            |d| std::os::unix::fs::symlink("/nonexistent/file.sql", d.join("supabase/migrations/1_link.sql")).unwrap(),
            migrate,
            2,
            &["cannot read", "1_link.sql", "No such file"],
        ),
        c(
            "duplicate versions",
            |d| {
                mig(d, "7_a.sql", "SELECT 1;");
                mig(d, "7_b.sql", "SELECT 2;");
            },
            migrate,
            2,
            &["two migrations have version 7", "7_a.sql", "7_b.sql", "rename one"],
        ),
        c(
            "migrations folder missing",
            |d| std::fs::remove_dir_all(d.join("supabase")).unwrap(),
            migrate,
            2,
            &["cannot read the migrations folder", "--dir"],
        ),
        c("migrations folder missing, --dir", none, &["--db", "{url}", "--dir", "nowhere", "migrate"], 2, &["nowhere", "--dir"]),
        c("--dir is a file", |d| write(d, "afile", "x"), &["--db", "{url}", "--dir", "afile", "status"], 2, &["afile", "--dir"]),
        c(
            "migrations folder empty: the history has a migration with no file",
            |d| std::fs::remove_file(d.join("supabase/migrations/0_base.sql")).unwrap(),
            migrate,
            1,
            &["history has migrations with no file", "0 base", "restore the files"],
        ),
        c("--target of no file", none, &["--db", "{url}", "migrate", "--target", "99"], 2, &["--target 99", "no migration file"]),
        c("bad --lock-timeout", none, &["--db", "{url}", "migrate", "--lock-timeout", "soon"], 2, &["--lock-timeout"]),
        // ---- safemig.toml ----
        c("config: TOML syntax", |d| write(d, "safemig.toml", "[migrate\nlock_timeout = 5s"), migrate, 2, &["safemig.toml", "invalid configuration"]),
        c("config: unknown key", |d| write(d, "safemig.toml", "lock_timout = \"5s\"\n"), migrate, 2, &["safemig.toml", "lock_timout"]),
        c("config: unknown section key", |d| write(d, "safemig.toml", "[migrate]\nretries = 3\n"), migrate, 2, &["safemig.toml", "retries"]),
        c("config: wrong type", |d| write(d, "safemig.toml", "[migrate]\nlock_timeout = 5\n"), migrate, 2, &["safemig.toml", "lock_timeout"]),
        c("config: bad duration", |d| write(d, "safemig.toml", "[migrate]\nlock_timeout = \"5 parsecs\"\n"), migrate, 2, &["safemig.toml", "5 parsecs"]),
        c("config: negative number", |d| write(d, "safemig.toml", "[migrate]\nlock_retries = -1\n"), migrate, 2, &["safemig.toml", "lock_retries"]),
        c("config: min_rows not a number", |d| write(d, "safemig.toml", "[guard.min_rows]\n\"public.base\" = \"many\"\n"), migrate, 2, &["safemig.toml", "line 2", "expected u64"]),
        c("config: bad table name", |d| write(d, "safemig.toml", "[guard]\nprotect = [\"a.b.c\"]\n"), migrate, 2, &["safemig.toml", "a.b.c"]),
        c(
            "config: [[allow]] without its table",
            |d| write(d, "safemig.toml", "[[allow]]\nmigration = \"1\"\nloss = [\"rows\"]\nreason = \"x\"\n"),
            migrate,
            2,
            &["safemig.toml", "table"],
        ),
        c("config: not UTF-8", |d| write(d, "safemig.toml", b"[guard]\nprotect = [\"caf\xe9\"]\n"), migrate, 2, &["safemig.toml", "UTF-8"]),
        c("config: --config missing", none, &["--db", "{url}", "--config", "nope.toml", "migrate"], 2, &["nope.toml"]),
        c(
            "config: quoted table names are identifiers, never SQL",
            |d| {
                write(d, "safemig.toml", format!("[guard]\nexact_counts = ['{WEIRD}']\n\n[guard.min_rows]\n'{WEIRD}' = 2\n"));
                mig(d, "1_del.sql", "DELETE FROM \"My Schema.x\".\"Tä\"\"ble; DROP TABLE public.base; --\" WHERE id = 1;");
            },
            &["--db", "{url}", "migrate", "--backup", "skip", "--allow-risky"],
            1,
            &["rolled back by the guards", "\"My Schema.x\""],
        ),
        c(
            "config: [backup] critical names a table that needs quotes",
            |d| write(d, "safemig.toml", format!("[backup]\ncritical = ['{WEIRD}']\n")),
            &["--db", "{url}", "backup", "create"],
            0,
            &["(critical): its CSV copy and checksum taken from the dump's data", ".safemig/backups/"],
        ),
        c(
            "config: a protected table that does not exist, named like an injection",
            |d| write(d, "safemig.toml", "[guard]\nprotect = [\"public.\\\"x'); DROP TABLE public.base; --\\\"\"]\n"),
            &["--db", "{url}", "migrate", "--backup", "skip"],
            0,
            &["up to date"],
        ),
        // ---- connections ----
        c("URL: not a URL", none, &["--db", "postgresql://[::1", "status"], 2, &["postgresql://[::1"]),
        c("URL: another scheme", none, &["--db", "mysql://root@localhost/app", "status"], 2, &["mysql"]),
        c("URL: port out of range", none, &["--db", "postgresql://postgres@127.0.0.1:99999/app", "status"], 2, &["99999"]),
        c("URL: bad sslmode", none, &["--db", "postgresql://postgres@127.0.0.1:{port}/app?sslmode=sometimes", "status"], 2, &["sslmode"]),
        c("nothing listens there", none, &["--db", "postgresql://postgres@127.0.0.1:1/app?sslmode=disable", "migrate"], 2, &["127.0.0.1", "onnection refused"]),
        c("unknown host", none, &["--db", "postgresql://postgres@no-such-host.invalid:5432/app?sslmode=disable", "migrate"], 2, &["no-such-host.invalid"]),
        c(
            "Supabase's transaction pooler (6543): refused before connecting",
            none,
            &["--db", "postgresql://postgres.abc:Pooled-pw-1@aws-0-eu-central-1.pooler.supabase.com:6543/postgres", "migrate"],
            2,
            &["transaction mode", "session mode (port 5432)"],
        ),
        c(
            "wrong password",
            none,
            &["--db", "postgresql://deployer:Wr0ng-pw-55@127.0.0.1:{port}/app?sslmode=disable", "migrate"],
            2,
            &["password authentication failed", "deployer"],
        ),
        c("no such database", none, &["--db", "postgresql:///nodb?host={sock}&port={port}&user=postgres", "migrate"], 2, &["nodb", "does not exist"]),
        c("no such role", none, &["--db", "postgresql:///app?host={sock}&port={port}&user=nobody", "migrate"], 2, &["nobody", "does not exist"]),
        c(
            "TLS required but not offered",
            none,
            &["--db", "postgresql://deployer@127.0.0.1:{port}/app?sslmode=require", "migrate"],
            2,
            &["TLS", "sslmode"],
        ),
        c(
            "verify-full with a missing root certificate",
            none,
            &["--db", "postgresql://deployer@127.0.0.1:{port}/app?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", "migrate"],
            2,
            &["/nonexistent/ca.pem"],
        ),
        c("no database given at all", none, &["migrate"], 2, &[]),
        // ---- pg_dump ----
        Case {
            name: "pg_dump missing, migrate with a backup",
            setup: |d| mig(d, "1_x.sql", "CREATE TABLE public.x (id int);"),
            args: &["--db", "{url}", "migrate"],
            env: &[("SAFEMIG_PG_BIN", "{dir}/emptybin")],
            db: None,
            code: 2,
            says: &["pg_dump {major} or newer is needed", "nothing was applied", "--backup skip"],
        },
        Case {
            name: "pg_dump too old",
            setup: |d| {
                write(d, "oldbin/pg_dump", "#!/bin/sh\necho 'pg_dump (PostgreSQL) 11.22'\n");
                std::fs::set_permissions(d.join("oldbin/pg_dump"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
            },
            args: &["--db", "{url}", "backup", "create"],
            env: &[("SAFEMIG_PG_BIN", "{dir}/oldbin")],
            db: None,
            code: 2,
            says: &["11.22", "postgresql-client-{major}"],
        },
        // ---- the history edited by hand ----
        Case {
            name: "history: a row with no file",
            setup: none,
            args: migrate,
            env: &[],
            db: Some("INSERT INTO supabase_migrations.schema_migrations (version, name, statements) VALUES ('5', 'ghost', '{}')"),
            code: 1,
            says: &["history has migrations with no file", "5 ghost"],
        },
        Case {
            name: "history: statements edited",
            setup: |d| mig(d, "1_x.sql", "CREATE TABLE public.x (id int);"),
            args: migrate,
            env: &[],
            db: Some("UPDATE supabase_migrations.schema_migrations SET statements = '{\"DROP TABLE public.base\"}' WHERE version = '0'"),
            code: 1,
            says: &["changed after they ran", "0 base"],
        },
        Case {
            name: "history: checksum edited",
            setup: |d| mig(d, "1_x.sql", "CREATE TABLE public.x (id int);"),
            args: migrate,
            env: &[],
            db: Some("UPDATE safemig.migrations SET checksum = 'deadbeef' WHERE version = '0'"),
            code: 1,
            says: &["changed after they ran", "never edit an applied migration"],
        },
        Case {
            name: "history: the table's columns replaced",
            setup: |d| mig(d, "1_x.sql", "CREATE TABLE public.x (id int);"),
            args: migrate,
            env: &[],
            db: Some(
                "ALTER TABLE supabase_migrations.schema_migrations DROP COLUMN statements; \
                 ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN statements int",
            ),
            code: 2,
            says: &["schema_migrations", "text[]", "edited by hand"],
        },
        Case {
            name: "history: a row with an empty version",
            setup: none,
            args: migrate,
            env: &[],
            db: Some("INSERT INTO supabase_migrations.schema_migrations (version) VALUES ('')"),
            code: 1,
            says: &["history has migrations with no file"],
        },
        // ---- backup folders ----
        c("backup: not a backup folder", |d| write(d, "notabackup/x", "x"), &["backup", "verify", "notabackup"], 2, &["notabackup", "not a safemig backup"]),
        c("backup: missing file", |d| backup_fixture(d, |b| std::fs::remove_file(b.join("data.sql")).unwrap()), &["backup", "verify", "bk"], 1, &["data.sql is missing"]),
        c("backup: extra file", |d| backup_fixture(d, |b| write(b, "tables/public.extra.csv", "id\n1\n")), &["backup", "verify", "bk"], 1, &["tables/public.extra.csv is not in the manifest"]),
        c(
            "backup: truncated file",
            |d| {
                backup_fixture(d, |b| {
                    let f = match b.join("complete.dir").is_dir() {
                        true => b.join("complete.dir/toc.dat"),
                        false => b.join("complete.dump"),
                    };
                    let bytes = std::fs::read(&f).unwrap();
                    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
                })
            },
            &["backup", "verify", "bk"],
            1,
            &["complete."],
        ),
        c(
            "backup: tampered CSV, restore refused",
            |d| {
                backup_fixture(d, |b| {
                    let f = b.join("tables/public.base.csv");
                    let text = std::fs::read_to_string(&f).unwrap().replace('2', "7");
                    std::fs::write(&f, text).unwrap();
                })
            },
            &["--db", "{url}", "restore", "bk", "--tables", "public.base"],
            1,
            &["fails verification"],
        ),
        c(
            "backup: manifest not JSON",
            |d| backup_fixture(d, |b| write(b, "manifest.json", "{not json")),
            &["backup", "verify", "bk"],
            1,
            &["manifest.json", "does not parse", "take a new one"],
        ),
        c(
            "backup: manifest names a file outside the backup",
            |d| {
                backup_fixture(d, |b| {
                    let f = b.join("manifest.json");
                    let text = std::fs::read_to_string(&f).unwrap().replace("\"path\": \"data.sql\"", "\"path\": \"../../../etc/hostname\"");
                    assert!(text.contains("etc/hostname"));
                    std::fs::write(&f, text).unwrap();
                })
            },
            &["backup", "verify", "bk"],
            1,
            &["outside the backup folder", "do not use it"],
        ),
    ]
}

/// Copies the shared backup (made once from the base) into `<case>/bk`, then damages it.
fn backup_fixture(dir: &Path, damage: fn(&Path)) {
    let source = std::env::var("BAD_INPUT_BACKUP").unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(&source)
        .arg(dir.join("bk"))
        .status()
        .unwrap();
    assert!(status.success());
    damage(&dir.join("bk"));
}

fn fingerprint(url: &str) -> String {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let mut out = String::new();
    for row in client
        .query(
            "SELECT format('%I.%I', n.nspname, c.relname) || ':' || c.relkind::text || ':' || coalesce(pg_relation_filenode(c.oid)::text, '-') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1",
            &[],
        )
        .unwrap()
    {
        out.push_str(&row.get::<_, String>(0));
        out.push('\n');
    }
    for table in [
        "public.base",
        "supabase_migrations.schema_migrations",
        WEIRD,
    ] {
        let n: i64 = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0);
        out.push_str(&format!("{table} {n}\n"));
    }
    out
}

fn run_case(p: &Project, i: usize, case: &Case) -> (Run, Option<String>) {
    let dir = p.path().join(format!("case-{i}"));
    std::fs::create_dir_all(dir.join("supabase/migrations")).unwrap();
    mig(&dir, "0_base.sql", BASE);
    (case.setup)(&dir);
    let url = match case.db {
        Some(sql) => {
            let name = format!("case_{i}");
            p.exec(&format!("CREATE DATABASE {name} TEMPLATE base_template"));
            let url = p.cluster.url(&name);
            postgres::Client::connect(&url, postgres::NoTls)
                .unwrap()
                .batch_execute(sql)
                .unwrap();
            url
        }
        None => p.url.clone(),
    };
    let fill = |s: &str| {
        s.replace("{url}", &url)
            .replace("{port}", &p.cluster.port().to_string())
            .replace("{sock}", p.cluster.socket_dir().to_str().unwrap())
            .replace("{dir}", dir.to_str().unwrap())
    };
    let before = fingerprint(&url);
    let args: Vec<String> = case.args.iter().map(|a| fill(a)).collect();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_safemig"));
    command
        .current_dir(&dir)
        .args(&args)
        .env("NO_COLOR", "1")
        .env("HOME", &dir);
    for (key, _) in std::env::vars() {
        // SAFEMIG_PG_BIN stays: it says which PostgreSQL major the suite runs against.
        if key.starts_with("PG")
            || key == "DATABASE_URL"
            || (key.starts_with("SAFEMIG_") && key != "SAFEMIG_PG_BIN")
        {
            command.env_remove(key);
        }
    }
    for (key, value) in case.env {
        command.env(key, fill(value));
    }
    let run = output(command.output().unwrap());
    let after = fingerprint(&url);
    (
        run,
        (after != before).then(|| format!("changed the database:\n{before}\n---\n{after}")),
    )
}

#[test]
fn every_bad_input_is_a_clear_error_with_the_right_exit_code_and_nothing_applied() {
    let p = Project::with_options(EphemeralOptions {
        tcp: true,
        password_auth: true,
        ..Default::default()
    });
    p.exec(&format!(
        "CREATE ROLE deployer LOGIN SUPERUSER PASSWORD '{PASSWORD}'"
    ));
    p.migration("0_base.sql", BASE);
    let run = p.safemig(&["migrate", "--backup", "skip"]);
    assert_eq!(run.code, 0, "{run:?}");
    // A backup of the base, for the damaged-backup cases.
    let run = p.safemig(&["backup", "create", "--tables", "public.base"]);
    assert_eq!(run.code, 0, "{run:?}");
    std::env::set_var(
        "BAD_INPUT_BACKUP",
        run.stdout.lines().last().unwrap().trim(),
    );
    p.exec("CREATE DATABASE base_template TEMPLATE app");

    let print = std::env::var_os("BAD_INPUT_PRINT").is_some();
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    let major = p.i64("SELECT current_setting('server_version_num')::int8 / 10000");
    for (i, case) in cases.iter().enumerate() {
        let (run, changed) = run_case(&p, i, case);
        if print {
            println!("==== {i} {}\n{run:?}", case.name);
        }
        let all = run.all();
        let mut wrong: Vec<String> = changed.into_iter().collect();
        if run.code != case.code {
            wrong.push(format!("exit {} (expected {})", run.code, case.code));
        }
        if all.contains("panicked")
            || all.contains("internal error")
            || all.contains("RUST_BACKTRACE")
        {
            wrong.push("panicked".into());
        }
        if all.trim().is_empty() {
            wrong.push("said nothing".into());
        }
        if all.contains(PASSWORD) || all.contains("Wr0ng-pw-55") {
            wrong.push("showed a password".into());
        }
        for needle in case.says {
            let needle = needle.replace("{major}", &major.to_string());
            if !all.contains(&needle) {
                wrong.push(format!("does not say {needle:?}"));
            }
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "case {i} {:?}: {}\n{run:?}",
                case.name,
                wrong.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
