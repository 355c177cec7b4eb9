//! The throwaway PostgreSQL every other database test stands on.

use safemig_pg::{Ephemeral, EphemeralOptions};

fn server_answers(socket_dir: &std::path::Path, port: u16) -> bool {
    let url = format!(
        "postgresql:///postgres?host={}&port={port}&user=postgres&sslmode=disable",
        socket_dir.display()
    );
    postgres::Client::connect(&url, postgres::NoTls).is_ok()
}

#[test]
fn starts_answers_and_is_gone_when_dropped() {
    let cluster = Ephemeral::start().unwrap();
    let (dir, port) = (cluster.socket_dir(), cluster.port());
    let mut client = cluster.connect("postgres").unwrap();
    let version: String = client.query_one("SHOW server_version", &[]).unwrap().get(0);
    assert!(!version.is_empty());
    // Unix socket only by default: nothing listens on TCP.
    let listen: String = client
        .query_one("SHOW listen_addresses", &[])
        .unwrap()
        .get(0);
    assert_eq!(listen, "");
    drop(client);
    assert!(dir.join("data/PG_VERSION").is_file());
    drop(cluster);
    assert!(!dir.exists(), "the cluster's folder is removed");
    assert!(!server_answers(&dir, port), "the server is stopped");
}

#[test]
fn is_removed_when_the_test_using_it_panics() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let cluster = Ephemeral::start().unwrap();
        tx.send((cluster.socket_dir(), cluster.port())).unwrap();
        panic!("a failing test");
    });
    assert!(result.is_err());
    let (dir, port) = rx.recv().unwrap();
    assert!(!dir.exists());
    assert!(!server_answers(&dir, port));
}

#[test]
fn clusters_are_independent_and_can_listen_on_loopback() {
    let a = Ephemeral::start().unwrap();
    let b = Ephemeral::start_with(EphemeralOptions {
        tcp: true,
        ..Default::default()
    })
    .unwrap();
    assert_ne!(a.port(), b.port());
    a.create_database("only_in_a").unwrap();
    let mut client =
        postgres::Client::connect(&b.tcp_url("postgres", "postgres"), postgres::NoTls).unwrap();
    let listen: String = client
        .query_one("SHOW listen_addresses", &[])
        .unwrap()
        .get(0);
    assert_eq!(listen, "127.0.0.1", "loopback only, never another address");
    let found: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = 'only_in_a'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(found, 0);
}

#[test]
fn an_immediate_stop_and_restart_keeps_committed_data() {
    let mut cluster = Ephemeral::start().unwrap();
    cluster
        .connect("postgres")
        .unwrap()
        .batch_execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)")
        .unwrap();
    cluster.stop_immediate().unwrap();
    assert!(cluster.connect("postgres").is_err());
    cluster.restart().unwrap();
    let n: i64 = cluster
        .connect("postgres")
        .unwrap()
        .query_one("SELECT count(*) FROM kept", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}
