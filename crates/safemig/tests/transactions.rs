//! Which statements cannot run inside a transaction block, asked of PostgreSQL
//! itself: each statement is sent inside `BEGIN ... ROLLBACK` on a real server, and
//! the analyzer must say "must run alone" exactly for those PostgreSQL refuses
//! there (SQLSTATE 25001). A statement safemig sent inside its transaction would
//! fail the migration; one it ran alone without need would lose the rollback.

mod common;

use common::Project;
use safemig_analyze::TxBehaviour;

const SETUP: &str = "
CREATE SCHEMA app;
CREATE TABLE public.t (id int PRIMARY KEY, a int, b int);
CREATE INDEX t_b ON public.t (b);
CREATE TABLE public.p (id int) PARTITION BY RANGE (id);
CREATE TABLE public.p1 PARTITION OF public.p FOR VALUES FROM (0) TO (10);
CREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS n;
CREATE TYPE public.mood AS ENUM ('ok');
";

/// (statement, PostgreSQL refuses it in a transaction block).
const CASES: &[(&str, bool)] = &[
    ("CREATE INDEX CONCURRENTLY ci ON public.t (a)", true),
    ("DROP INDEX CONCURRENTLY public.t_b", true),
    ("REINDEX TABLE CONCURRENTLY public.t", true),
    ("REINDEX INDEX CONCURRENTLY public.t_b", true),
    ("REINDEX SCHEMA app", true),
    ("REINDEX SCHEMA CONCURRENTLY app", true),
    ("REINDEX DATABASE app", true),
    ("REINDEX SYSTEM app", true),
    ("VACUUM public.t", true),
    ("VACUUM (FULL) public.t", true),
    ("CLUSTER", true),
    ("CREATE DATABASE never_made", true),
    ("DROP DATABASE IF EXISTS never_made", true),
    ("ALTER SYSTEM SET work_mem = '4MB'", true),
    ("ALTER TABLE public.p DETACH PARTITION public.p1 CONCURRENTLY", true),
    ("DISCARD ALL", true),
    ("CREATE SUBSCRIPTION s1 CONNECTION 'host=nowhere.invalid' PUBLICATION pub", true),
    ("CREATE TABLESPACE ts LOCATION '/nonexistent'", true),
    // These run inside one.
    ("CREATE INDEX i2 ON public.t (a)", false),
    ("REINDEX TABLE public.t", false),
    ("REINDEX INDEX public.t_b", false),
    ("REFRESH MATERIALIZED VIEW public.mv", false),
    ("ANALYZE public.t", false),
    ("CLUSTER public.t USING t_pkey", false),
    ("ALTER TABLE public.p DETACH PARTITION public.p1", false),
    ("DISCARD TEMP", false),
    ("CREATE SUBSCRIPTION s2 CONNECTION 'host=nowhere.invalid' PUBLICATION pub WITH (connect = false)", false),
    ("ALTER TYPE public.mood ADD VALUE 'meh'", false),
    ("LOCK TABLE public.t IN SHARE MODE", false),
];

#[test]
fn the_analyzer_runs_alone_exactly_what_postgresql_refuses_in_a_transaction() {
    let p = Project::new();
    p.exec(SETUP);
    let mut client = p.client();
    let mut wrong = Vec::new();
    for (sql, expected) in CASES {
        client.batch_execute("BEGIN").unwrap();
        let refused = match client.batch_execute(sql) {
            Ok(()) => false,
            Err(e) => e.code().map(|c| c.code()) == Some("25001"),
        };
        client.batch_execute("ROLLBACK").unwrap();
        assert_eq!(
            refused, *expected,
            "PostgreSQL and this test disagree on {sql}"
        );
        let statements = safemig_analyze::split(&format!("{sql};")).unwrap();
        let alone = matches!(statements[0].transaction, TxBehaviour::MustRunAlone(_));
        if alone != refused {
            wrong.push(format!("{sql}: PostgreSQL refuses it in a transaction: {refused}; safemig runs it alone: {alone}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
