//! Security, end to end with the real binary: no password in any output, file,
//! manifest, audit row, history row or panic message — with the password in
//! `--db`, in `DATABASE_URL` and in `PGPASSWORD`, percent-encoded or not; backups and
//! the audit file private (0600 / 0700); `sslmode=verify-full` checks the chain and
//! the host name against a CA the test makes; throwaway clusters listen on a unix
//! socket, or on loopback only. (secrets.rs covers status/migrate/log, pgpass and
//! a wrong password; this file covers every other command and artefact.)

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Project, Run};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use safemig_pg::{EphemeralOptions, ServerTls};

/// Characters a URL must percent-encode, so both forms are checked.
const PASSWORD: &str = "S3c:ret/p@ss w%rd-7781";
const ENCODED: &str = "S3c%3Aret%2Fp%40ss%20w%25rd-7781";

fn leaks(text: &str) -> bool {
    text.contains(PASSWORD) || text.contains(ENCODED) || text.contains("S3c:ret")
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        out.push(path.clone());
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        }
    }
    out
}

#[test]
fn no_password_in_any_output_file_manifest_or_row_whatever_the_command() {
    let p = Project::with_options(EphemeralOptions {
        tcp: true,
        password_auth: true,
        ..Default::default()
    });
    p.exec(&format!(
        "CREATE ROLE deployer LOGIN SUPERUSER PASSWORD '{PASSWORD}'"
    ));
    p.exec("CREATE TABLE public.tracks (id int PRIMARY KEY, title text); INSERT INTO public.tracks SELECT n, 't' || n FROM generate_series(1, 59) n;");
    p.migration("1_a.sql", "CREATE TABLE public.a (id int);");
    p.migration("2_guarded.sql", "DELETE FROM public.tracks WHERE id > 50;");
    let port = p.cluster.port().to_string();
    let url = format!("postgresql://deployer:{ENCODED}@127.0.0.1:{port}/app?sslmode=disable");
    let env_url = [("DATABASE_URL", url.as_str())];
    let pg_env = [
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", "deployer"),
        ("PGDATABASE", "app"),
        ("PGPASSWORD", PASSWORD),
        ("PGSSLMODE", "disable"),
    ];
    let mut runs: Vec<(String, Run)> = Vec::new();
    let mut run = |label: &str, args: &[&str], env: &[(&str, &str)]| -> Run {
        let r = p.safemig_raw(args, env);
        runs.push((
            label.to_string(),
            Run {
                code: r.code,
                stdout: r.stdout.clone(),
                stderr: r.stderr.clone(),
            },
        ));
        r
    };
    // Every command that talks to the database, the URL from --db, DATABASE_URL or PG* variables.
    assert_eq!(run("status", &["--db", &url, "status"], &[]).code, 0);
    let m = run(
        "migrate (auto backup)",
        &["migrate", "--allow-risky", "--format", "json"],
        &env_url,
    );
    assert_eq!(m.code, 1, "migration 2 is rolled back by the guard: {m:?}");
    assert_eq!(
        m.results()[0],
        ("1".to_string(), "applied".to_string()),
        "{m:?}"
    );
    let b = run(
        "backup create",
        &["backup", "create", "--tables", "public.tracks"],
        &pg_env,
    );
    assert_eq!(b.code, 0, "{b:?}");
    let dir = b.stdout.lines().last().unwrap().trim().to_string();
    assert_eq!(
        run(
            "backup verify",
            &["backup", "verify", &dir, "--restore"],
            &env_url
        )
        .code,
        0
    );
    assert_eq!(
        run(
            "backup list",
            &["backup", "list", "--format", "json"],
            &env_url
        )
        .code,
        0
    );
    assert_eq!(
        run(
            "restore",
            &["--db", &url, "restore", &dir, "--tables", "public.tracks"],
            &[]
        )
        .code,
        0
    );
    assert_eq!(run("log", &["log"], &env_url).code, 0);
    assert_eq!(
        run("log json", &["log", "--format", "json"], &pg_env).code,
        0
    );
    assert!(run("check --db", &["--db", &url, "check"], &[]).code <= 1);
    // Failures carry the URL in their messages: still redacted.
    let bad_port = format!("postgresql://deployer:{ENCODED}@127.0.0.1:1/app?sslmode=disable");
    assert_eq!(
        run("unreachable", &["--db", &bad_port, "migrate"], &[]).code,
        2
    );
    let bad_db = format!("postgresql://deployer:{ENCODED}@127.0.0.1:{port}/nodb?sslmode=disable");
    assert_eq!(
        run("no database", &["--db", &bad_db, "status"], &[]).code,
        2
    );
    let bad_url = format!("postgresql://deployer:{ENCODED}@127.0.0.1:{port}/app?sslmode=bogus");
    assert_eq!(
        run("bad sslmode", &["--db", &bad_url, "status"], &[]).code,
        2
    );
    let bad_into = format!("postgresql://deployer:{ENCODED}@127.0.0.1:1/copy?sslmode=disable");
    assert_eq!(
        run(
            "restore --into unreachable",
            &["--db", &url, "restore", &dir, "--into", &bad_into],
            &[]
        )
        .code,
        2
    );
    // A URL pasted twice: the password ends up in the database name (found by the fuzzer).
    let twice = format!(
        "{url_plain}{url_plain}",
        url_plain = url
            .trim_end_matches("?sslmode=disable")
            .trim_end_matches("/app")
    );
    let twice = format!("{twice}/app?sslmode=disable");
    assert!(twice.matches(ENCODED).count() == 2, "{twice}");
    assert_eq!(
        run("pasted twice", &["--db", &twice, "migrate"], &[]).code,
        2
    );
    let base = url
        .trim_end_matches("?sslmode=disable")
        .trim_end_matches("app");
    let in_path = format!("{base}{base}app?sslmode=disable");
    assert!(in_path.matches(ENCODED).count() == 2, "{in_path}");
    assert_eq!(
        run("pasted twice, parses", &["--db", &in_path, "migrate"], &[]).code,
        2
    );

    for (label, r) in &runs {
        assert!(!leaks(&r.all()), "{label} showed the password:\n{r:?}");
        assert!(!r.all().contains("panicked"), "{label}: {r:?}");
    }
    assert!(
        runs.iter()
            .any(|(_, r)| r.all().contains("deployer@127.0.0.1")),
        "the redacted target is shown"
    );

    // Every file written: backups (dump, scripts, CSVs, manifests), the audit file.
    let files = walk(p.path());
    assert!(
        files.iter().any(|f| f.ends_with("manifest.json"))
            && files.iter().any(|f| f.ends_with("audit.jsonl"))
    );
    for f in &files {
        if f.is_file() {
            let bytes = std::fs::read(f).unwrap();
            assert!(
                !leaks(&String::from_utf8_lossy(&bytes)),
                "{} holds the password",
                f.display()
            );
        }
    }
    // Private: backups and the audit trail, files 0600 and folders 0700.
    for f in files
        .iter()
        .filter(|f| f.strip_prefix(p.path()).unwrap().starts_with(".safemig"))
    {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        let want = if f.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} has mode {mode:o}", f.display());
    }
    // Every row safemig wrote.
    for table in [
        "safemig.audit",
        "safemig.migrations",
        "supabase_migrations.schema_migrations",
    ] {
        let rows: Vec<String> = p
            .client()
            .query(&format!("SELECT row_to_json(t)::text FROM {table} t"), &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(!rows.is_empty(), "{table}");
        for row in rows {
            assert!(!leaks(&row), "{table} holds the password: {row}");
        }
    }
}

#[test]
fn a_panic_message_never_shows_a_secret() {
    let p = Project::new();
    let message =
        format!("connecting to postgresql://deployer:{ENCODED}@db.example.com/app failed");
    let run = p.safemig_raw(&["status"], &[("SAFEMIG_TEST_PANIC", message.as_str())]);
    assert_eq!(run.code, 101, "{run:?}");
    assert!(
        run.stderr.contains("internal error") && run.stderr.contains("db.example.com"),
        "{run:?}"
    );
    assert!(!leaks(&run.all()), "{run:?}");
}

/// A CA, and a server certificate it signed for the name `localhost` only.
fn make_pki() -> (String, ServerTls) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "safemig security test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca).unwrap();
    (
        ca.pem(),
        ServerTls {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        },
    )
}

#[test]
fn verify_full_through_the_binary_checks_the_chain_and_the_host_name() {
    let (ca_pem, server) = make_pki();
    let p = Project::with_options(EphemeralOptions {
        tcp: true,
        tls: Some(server),
        ..Default::default()
    });
    p.migration("1_a.sql", "CREATE TABLE public.a (id int);");
    let ca = p.path().join("ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();
    let port = p.cluster.port();
    let url = |host: &str| {
        format!(
            "postgresql://postgres@{host}:{port}/app?sslmode=verify-full&sslrootcert={}",
            ca.display()
        )
    };

    // The certificate names localhost, not 127.0.0.1.
    let run = p.safemig_raw(
        &["--db", &url("127.0.0.1"), "migrate", "--backup", "skip"],
        &[],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("certificate"), "{run:?}");
    // A CA that did not sign it.
    let (other_ca, _) = make_pki();
    std::fs::write(&ca, &other_ca).unwrap();
    let run = p.safemig_raw(
        &["--db", &url("localhost"), "migrate", "--backup", "skip"],
        &[],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("certificate"), "{run:?}");
    assert!(
        !p.bool("SELECT to_regclass('public.a') IS NOT NULL"),
        "nothing applied over an unverified connection"
    );
    // The right CA and name: it connects, encrypted.
    std::fs::write(&ca, &ca_pem).unwrap();
    let run = p.safemig_raw(
        &["--db", &url("localhost"), "migrate", "--backup", "skip"],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(p.bool("SELECT to_regclass('public.a') IS NOT NULL"));
}

#[test]
fn throwaway_clusters_listen_on_a_unix_socket_or_loopback_only() {
    // `safemig demo`, rehearsals and full backup verification use the default options.
    assert!(!EphemeralOptions::default().tcp);
    let p = Project::new();
    let listen: String = p
        .client()
        .query_one("SHOW listen_addresses", &[])
        .unwrap()
        .get(0);
    assert_eq!(listen, "", "no TCP at all by default");
    let p = Project::with_options(EphemeralOptions {
        tcp: true,
        ..Default::default()
    });
    let listen: String = p
        .client()
        .query_one("SHOW listen_addresses", &[])
        .unwrap()
        .get(0);
    assert_eq!(listen, "127.0.0.1", "loopback only");
    // The socket folder is private to the server's user.
    let mode = std::fs::metadata(p.cluster.socket_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode & 0o077, 0, "socket folder mode {mode:o}");
}
