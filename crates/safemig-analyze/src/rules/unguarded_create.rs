//! `unguarded-create`: a CREATE that fails when the object already exists.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use super::{dotted, qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct UnguardedCreate;

static DOC: RuleDoc = RuleDoc {
    name: "unguarded-create",
    severity: Severity::Hint,
    summary: "CREATE without IF NOT EXISTS or OR REPLACE fails when the object already exists",
    what_it_does: "Finds `CREATE TABLE`, `INDEX`, `SCHEMA`, `SEQUENCE`, `EXTENSION`, `TABLE ... AS` and \
                   `MATERIALIZED VIEW` without `IF NOT EXISTS`, and `CREATE FUNCTION`, `PROCEDURE`, `VIEW` and \
                   `TRIGGER` without `OR REPLACE`, unless they sit inside a `DO` block's catalog test.",
    why_it_matters: "A migration that is run a second time, or against a database where someone already created the \
                     object by hand (through the Supabase dashboard, or a `remote_schema.sql` applied on top), stops \
                     at the first `already exists` error. A guarded statement makes the migration idempotent, so \
                     re-running it after a partial failure is safe. An unnamed `CREATE INDEX` is worse: it cannot \
                     take `IF NOT EXISTS` and builds a duplicate index on every run.",
    example: "CREATE TABLE public.profiles (id uuid PRIMARY KEY);\n\
              CREATE FUNCTION public.handle_new_user() RETURNS trigger ...;",
    use_instead: "CREATE TABLE IF NOT EXISTS public.profiles (id uuid PRIMARY KEY);\n\
                  CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger ...;",
};

impl Rule for UnguardedCreate {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        if ctx.guarded_by_catalog_test {
            return Vec::new();
        }
        const INE: &str = "IF NOT EXISTS";
        const OR: &str = "OR REPLACE";
        let (what, name, guard) = match ctx.node {
            NodeEnum::CreateStmt(s) if !s.if_not_exists => (
                "TABLE",
                s.relation.as_ref().map(|r| qualified(r).to_string()),
                INE,
            ),
            NodeEnum::IndexStmt(s) if !s.if_not_exists => {
                if s.idxname.is_empty() {
                    let table = s
                        .relation
                        .as_ref()
                        .map(|r| qualified(r).to_string())
                        .unwrap_or_default();
                    return vec![Hit::new(format!(
                        "CREATE INDEX on `{table}` has no name: every run builds another copy of the index"
                    ))
                    .help("name the index and add IF NOT EXISTS")];
                }
                ("INDEX", Some(s.idxname.clone()), INE)
            }
            NodeEnum::CreateSchemaStmt(s) if !s.if_not_exists => (
                "SCHEMA",
                Some(s.schemaname.clone()).filter(|n| !n.is_empty()),
                INE,
            ),
            NodeEnum::CreateSeqStmt(s) if !s.if_not_exists => (
                "SEQUENCE",
                s.sequence.as_ref().map(|r| qualified(r).to_string()),
                INE,
            ),
            NodeEnum::CreateExtensionStmt(s) if !s.if_not_exists => {
                ("EXTENSION", Some(s.extname.clone()), INE)
            }
            NodeEnum::CreateTableAsStmt(s) if !s.if_not_exists => {
                let what = if s.objtype == ObjectType::ObjectMatview as i32 {
                    "MATERIALIZED VIEW"
                } else {
                    "TABLE"
                };
                (
                    what,
                    s.into
                        .as_ref()
                        .and_then(|i| i.rel.as_ref())
                        .map(|r| qualified(r).to_string()),
                    INE,
                )
            }
            NodeEnum::CreateFunctionStmt(s) if !s.replace => (
                if s.is_procedure {
                    "PROCEDURE"
                } else {
                    "FUNCTION"
                },
                Some(dotted(&s.funcname)),
                OR,
            ),
            NodeEnum::ViewStmt(s) if !s.replace => (
                "VIEW",
                s.view.as_ref().map(|r| qualified(r).to_string()),
                OR,
            ),
            NodeEnum::CreateTrigStmt(s)
                if !s.replace
                    && !s.isconstraint
                    && !s.relation.as_ref().is_some_and(|r| {
                        ctx.file.drops_trigger_if_exists(&qualified(r), &s.trigname)
                    }) =>
            {
                let table = s
                    .relation
                    .as_ref()
                    .map(|r| qualified(r).to_string())
                    .unwrap_or_default();
                return vec![Hit::new(format!(
                    "CREATE TRIGGER `{}` on `{table}` fails if it already exists: add OR REPLACE (PostgreSQL 14+), \
                     or DROP TRIGGER IF EXISTS just before it",
                    s.trigname
                ))];
            }
            _ => return Vec::new(),
        };
        let name = name.map(|n| format!(" `{n}`")).unwrap_or_default();
        vec![Hit::new(format!(
            "CREATE {what}{name} fails if it already exists: add {guard}"
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_unguarded_creates() {
        assert!(hits(&UnguardedCreate, "CREATE TABLE public.t (a int);")[0]
            .message
            .contains("CREATE TABLE `public.t`"));
        assert!(hits(
            &UnguardedCreate,
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1';"
        )[0]
        .message
        .contains("OR REPLACE"));
        assert!(hits(&UnguardedCreate, "CREATE INDEX ON t (a);")[0]
            .message
            .contains("no name"));
        for sql in [
            "CREATE INDEX i ON t (a);",
            "CREATE SCHEMA s;",
            "CREATE SEQUENCE s;",
            "CREATE EXTENSION pgcrypto;",
            "CREATE VIEW v AS SELECT 1;",
            "CREATE MATERIALIZED VIEW m AS SELECT 1;",
        ] {
            assert!(fires(&UnguardedCreate, sql), "{sql}");
        }
        assert!(hits(
            &UnguardedCreate,
            "CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();"
        )[0]
        .message
        .contains("`trg` on `t`"));
    }

    #[test]
    fn quiet_when_guarded() {
        for sql in [
            "CREATE TABLE IF NOT EXISTS t (a int);",
            "CREATE INDEX IF NOT EXISTS i ON t (a);",
            "CREATE SCHEMA IF NOT EXISTS s;",
            "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA extensions;",
            "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1';",
            "CREATE OR REPLACE VIEW v AS SELECT 1;",
            "CREATE OR REPLACE TRIGGER trg AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();",
            "CREATE MATERIALIZED VIEW IF NOT EXISTS m AS SELECT 1;",
            // The drop-and-recreate idiom (the seed's trigger migration).
            "DROP TRIGGER IF EXISTS trg ON public.t;\nCREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();",
        ] {
            assert!(!fires(&UnguardedCreate, sql), "{sql}");
        }
    }

    #[test]
    fn quiet_under_a_catalog_test_in_a_do_block() {
        assert!(!fires(
            &UnguardedCreate,
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 't') THEN CREATE TABLE t (a int); END IF; END $$;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block_without_a_catalog_test() {
        assert!(fires(
            &UnguardedCreate,
            "DO $$ BEGIN CREATE TABLE t (a int); END $$;"
        ));
    }
}
