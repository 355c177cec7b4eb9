//! Property test: no input makes the analyzer panic. Inputs are built from SQL
//! fragments that stress the parser boundaries (dollar quotes, comments, psql
//! lines, DO blocks, unicode, NUL bytes) shuffled together, plus arbitrary text.

use std::collections::BTreeSet;

use proptest::prelude::*;
use safemig_analyze::{lint_file, order, parse_file, LintOptions};

const FRAGMENTS: &[&str] = &[
    "CREATE TABLE ",
    "public.t",
    " (id int",
    ")",
    ";",
    "\n",
    " ",
    "DROP TABLE ",
    "IF EXISTS ",
    "ALTER TABLE ",
    "ADD COLUMN c text",
    "DROP COLUMN c",
    "DO $$ BEGIN ",
    " END $$",
    "$$",
    "$tag$",
    "'",
    "''",
    "\"",
    "--",
    "/*",
    "*/",
    "\\connect x\n",
    "COPY t FROM stdin;\n",
    "\\.\n",
    "EXECUTE 'DROP TABLE x'",
    "IF EXISTS (SELECT 1 FROM pg_class) THEN ",
    "END IF;",
    "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS ",
    "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "CREATE INDEX CONCURRENTLY i ON t (a)",
    "é",
    "日本",
    "\u{0}",
    "\r\n",
    "TRUNCATE t CASCADE",
    "-- safemig:ignore drop-table because\n",
    "SELECT $a$ ; $a$",
    "E'\\''",
    "CREATE VIEW v AS SELECT * FROM t",
];

fn sql() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40)
            .prop_map(|parts| parts.concat()),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn never_panics(a in sql(), b in sql()) {
        let _ = parse_file(&a);
        let lint_a = lint_file(&a, &LintOptions::default());
        let lint_b = lint_file(&b, &LintOptions::default());
        for f in lint_a.all_findings() {
            prop_assert!(f.line >= 1 && f.column >= 1);
        }
        let migrations = [
            order::Migration { version: "1", label: "1_a.sql", sql: &a, statements: &lint_a.parsed.statements },
            order::Migration { version: "2", label: "2_b.sql", sql: &b, statements: &lint_b.parsed.statements },
        ];
        let _ = order::analyze(&migrations, &BTreeSet::new());
    }
}
