//! No password in any output, error, audit row or file — over a real password-
//! authenticated (scram-sha-256) connection to a throwaway PostgreSQL.

mod common;

use common::{Project, Run};
use safemig_pg::EphemeralOptions;

const PASSWORD: &str = "Pw-s3cret_xyzzy-42";

fn project() -> Project {
    let p = Project::with_options(EphemeralOptions {
        tcp: true,
        password_auth: true,
        ..Default::default()
    });
    p.exec(&format!(
        "CREATE ROLE deployer LOGIN SUPERUSER PASSWORD '{PASSWORD}'"
    ));
    p
}

fn assert_clean(run: &Run) {
    assert!(
        !run.all().contains(PASSWORD),
        "the password leaked:\n{run:?}"
    );
}

/// Every file the runs wrote in the project folder.
fn assert_no_file_holds_the_password(p: &Project) {
    for entry in walk(p.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "{} holds the password",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn password_in_the_url_never_shows() {
    let p = project();
    let url = format!(
        "postgresql://deployer:{PASSWORD}@127.0.0.1:{}/app?sslmode=disable",
        p.cluster.port()
    );
    // A row in public.a, so that dropping it is a loss the guards refuse.
    p.migration(
        "1_a.sql",
        "CREATE TABLE public.a (id int); INSERT INTO public.a VALUES (1);",
    );
    p.migration("2_fails.sql", "DROP TABLE public.a;");
    for args in [
        vec!["status"],
        vec!["migrate"],
        vec!["migrate", "--format", "json"],
        vec!["log"],
        vec!["status", "--format", "json"],
    ] {
        let mut full = vec!["--db", url.as_str()];
        full.extend(args);
        let run = p.safemig_raw(&full, &[]);
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        assert_clean(&run);
        assert!(
            run.all().contains("deployer@127.0.0.1"),
            "the redacted target is shown: {run:?}"
        );
    }
    // DATABASE_URL and PGPASSWORD too.
    let run = p.safemig_raw(&["status"], &[("DATABASE_URL", url.as_str())]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("pending       2"), "{run:?}");
    assert_clean(&run);
    let run = p.safemig_raw(
        &["migrate"],
        &[
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", &p.cluster.port().to_string()),
            ("PGUSER", "deployer"),
            ("PGDATABASE", "app"),
            ("PGPASSWORD", PASSWORD),
            ("PGSSLMODE", "disable"),
        ],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert_clean(&run);

    let audit: Vec<String> = p
        .client()
        .query("SELECT concat_ws(' ', actor, db_user, database, command, result, details::text) FROM safemig.audit", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(audit.len() >= 3, "{audit:?}");
    assert!(audit.iter().all(|row| !row.contains(PASSWORD)), "{audit:?}");
    assert_no_file_holds_the_password(&p);
}

#[test]
fn a_wrong_password_is_a_clear_error_without_the_password() {
    let p = project();
    p.migration("1_a.sql", "CREATE TABLE public.a (id int);");
    let wrong = "Wr0ng-pass_word-77";
    let url = format!(
        "postgresql://deployer:{wrong}@127.0.0.1:{}/app?sslmode=disable",
        p.cluster.port()
    );
    let run = p.safemig_raw(&["--db", &url, "migrate"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(!run.all().contains(wrong), "{run:?}");
    assert!(
        run.stderr.contains("password authentication failed"),
        "{run:?}"
    );
    assert!(!p.bool("SELECT to_regclass('public.a') IS NOT NULL"));
    let files = walk(p.path());
    for f in files {
        assert!(
            !std::fs::read_to_string(&f)
                .unwrap_or_default()
                .contains(wrong),
            "{}",
            f.display()
        );
    }
}

#[test]
fn pgpass_supplies_the_password() {
    let p = project();
    p.migration("1_a.sql", "CREATE TABLE public.a (id int);");
    let pgpass = p.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!("127.0.0.1:{}:app:deployer:{PASSWORD}\n", p.cluster.port()),
    )
    .unwrap();
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let url = format!(
        "postgresql://deployer@127.0.0.1:{}/app?sslmode=disable",
        p.cluster.port()
    );
    let run = p.safemig_raw(
        &["--db", &url, "migrate"],
        &[("PGPASSFILE", pgpass.to_str().unwrap())],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(p.bool("SELECT to_regclass('public.a') IS NOT NULL"));
    assert_clean(&run);
}

#[test]
fn a_password_with_an_unescaped_at_is_refused_without_a_fragment_of_it() {
    let p = project();
    for url in [
        "postgresql://postgres:x9Qz@Rk7@localhost:5432/postgres",
        "postgres://deployer:Ab3@cd@9Zz@db.example.com/app?sslmode=require",
    ] {
        for args in [vec!["status"], vec!["migrate"], vec!["check", "--db", url]] {
            let mut full = vec!["--db", url];
            full.extend(args.iter().copied());
            let run = p.safemig_raw(&full, &[]);
            assert_eq!(run.code, 2, "{run:?}");
            assert!(run.all().contains("%40"), "the fix is named: {run:?}");
            for fragment in ["x9Qz", "Rk7", "Ab3", "cd@9", "9Zz"] {
                assert!(!run.all().contains(fragment), "{fragment} shown: {run:?}");
            }
        }
    }
    // Percent-encoded, a password with `@` connects (and is never shown).
    p.exec("CREATE ROLE atuser LOGIN SUPERUSER PASSWORD 'p@ss-Zq9'");
    let url = format!(
        "postgresql://atuser:p%40ss-Zq9@127.0.0.1:{}/app?sslmode=disable",
        p.cluster.port()
    );
    let run = p.safemig_raw(&["--db", &url, "status"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.all().contains("ss-Zq9"), "{run:?}");
}
