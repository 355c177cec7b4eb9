//! `sslmode` through rustls, against a throwaway PostgreSQL serving a certificate
//! signed by a CA this test makes.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use safemig_pg::{Ephemeral, EphemeralOptions, ServerTls, Target};

struct Pki {
    ca_pem: String,
    server: ServerTls,
}

/// A CA, and a server certificate it signed for the name `localhost` only.
fn make_pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "safemig test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca).unwrap();
    Pki {
        ca_pem: ca.pem(),
        server: ServerTls {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        },
    }
}

fn tls_cluster(pki: &Pki) -> Ephemeral {
    Ephemeral::start_with(EphemeralOptions {
        tcp: true,
        tls: Some(pki.server.clone()),
        ..Default::default()
    })
    .unwrap()
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Whether the session behind `client` is encrypted, as the server sees it.
fn encrypted(client: &mut postgres::Client) -> bool {
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn require_and_prefer_encrypt_disable_does_not() {
    let pki = make_pki();
    let cluster = tls_cluster(&pki);
    let port = cluster.port();
    for (mode, expect) in [("require", true), ("prefer", true), ("disable", false)] {
        let url = format!("postgresql://postgres@127.0.0.1:{port}/postgres?sslmode={mode}");
        let mut client = Target::resolve_with(Some(&url), &no_env)
            .unwrap()
            .connect()
            .unwrap();
        assert_eq!(encrypted(&mut client), expect, "sslmode={mode}");
    }
}

#[test]
fn verify_full_checks_the_chain_and_the_host_name() {
    let pki = make_pki();
    let cluster = tls_cluster(&pki);
    let port = cluster.port();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();

    let good = format!(
        "postgresql://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={}",
        ca.display()
    );
    let mut client = Target::resolve_with(Some(&good), &no_env)
        .unwrap()
        .connect()
        .unwrap();
    assert!(encrypted(&mut client));

    // The certificate names localhost, not 127.0.0.1: verify-full must refuse.
    let wrong_host = format!(
        "postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={}",
        ca.display()
    );
    let err = Target::resolve_with(Some(&wrong_host), &no_env)
        .unwrap()
        .connect()
        .err()
        .expect("the connection is refused")
        .to_string();
    assert!(
        err.contains("certificate") && err.contains("sslrootcert"),
        "{err}"
    );

    // A CA that did not sign the server's certificate: refused too.
    let other = make_pki();
    std::fs::write(&ca, &other.ca_pem).unwrap();
    let err = Target::resolve_with(Some(&good), &no_env)
        .unwrap()
        .connect()
        .err()
        .expect("the connection is refused")
        .to_string();
    assert!(err.contains("certificate"), "{err}");

    // Without sslrootcert, verify-full uses the public web roots, which did not sign it either.
    let url = format!("postgresql://postgres@localhost:{port}/postgres?sslmode=verify-full");
    assert!(Target::resolve_with(Some(&url), &no_env)
        .unwrap()
        .connect()
        .is_err());
}

#[test]
fn require_against_a_server_without_tls_is_a_clear_error() {
    let cluster = Ephemeral::start_with(EphemeralOptions {
        tcp: true,
        ..Default::default()
    })
    .unwrap();
    let url = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=require",
        cluster.port()
    );
    let err = Target::resolve_with(Some(&url), &no_env)
        .unwrap()
        .connect()
        .err()
        .expect("the connection is refused")
        .to_string();
    assert!(err.contains("does not offer TLS"), "{err}");
}
