//! `concurrently-in-transaction`: a CONCURRENTLY operation where PostgreSQL rejects it.

use pg_query::NodeEnum;

use super::{option_on, options_named, qualified, Ctx, Hit, Place, Rule, RuleDoc, Severity};

pub struct ConcurrentlyInTransaction;

static DOC: RuleDoc = RuleDoc {
    name: "concurrently-in-transaction",
    severity: Severity::Risky,
    summary: "CREATE/DROP INDEX CONCURRENTLY or REINDEX CONCURRENTLY inside a transaction block fails",
    what_it_does: "Finds `CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY` and `REINDEX ... CONCURRENTLY` in a \
                   file that opens its own transaction with `BEGIN`, inside a `DO` block, or inside a function \
                   body.",
    why_it_matters: "A concurrent index build commits several transactions of its own while it waits for other \
                     sessions, so PostgreSQL refuses to run it inside a transaction block \
                     (`CREATE INDEX CONCURRENTLY cannot run inside a transaction block`). A `DO` block and a \
                     function always run inside one. The migration fails at that statement.",
    example: "BEGIN;\nCREATE INDEX CONCURRENTLY orders_customer_idx ON public.orders (customer_id);\nCOMMIT;",
    use_instead: "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_idx ON public.orders (customer_id);\n\
                  -- alone in its own migration file, without BEGIN/COMMIT; safemig runs it outside a transaction",
};

impl Rule for ConcurrentlyInTransaction {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let what = match ctx.node {
            NodeEnum::IndexStmt(s) if s.concurrent => {
                let table = s
                    .relation
                    .as_ref()
                    .map(qualified)
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                format!("CREATE INDEX CONCURRENTLY on `{table}`")
            }
            NodeEnum::DropStmt(s) if s.concurrent => "DROP INDEX CONCURRENTLY".to_string(),
            NodeEnum::ReindexStmt(s) if options_named(&s.params, "concurrently").any(option_on) => {
                "REINDEX CONCURRENTLY".to_string()
            }
            _ => return Vec::new(),
        };
        let place = match ctx.place {
            Place::DoBlock => "inside a DO block, which always runs in a transaction",
            Place::FunctionBody => {
                "inside a function, which always runs in its caller's transaction"
            }
            Place::TopLevel if ctx.file.has_own_transaction => {
                "in a file that opens its own transaction with BEGIN"
            }
            Place::TopLevel => return Vec::new(),
        };
        vec![Hit::new(format!(
            "{what} cannot run inside a transaction block, and this one is {place}"
        ))
        .help("move it, alone, to a migration of its own without BEGIN/COMMIT")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_in_a_file_with_its_own_transaction() {
        assert!(hits(
            &ConcurrentlyInTransaction,
            "BEGIN;\nCREATE INDEX CONCURRENTLY i ON public.t (a);\nCOMMIT;"
        )[0]
        .message
        .contains("`public.t`"));
        assert!(fires(
            &ConcurrentlyInTransaction,
            "BEGIN;\nDROP INDEX CONCURRENTLY i;\nCOMMIT;"
        ));
        assert!(fires(
            &ConcurrentlyInTransaction,
            "START TRANSACTION;\nREINDEX (CONCURRENTLY) TABLE t;\nCOMMIT;"
        ));
        assert!(fires(
            &ConcurrentlyInTransaction,
            "BEGIN;\nREINDEX INDEX CONCURRENTLY i;\nCOMMIT;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block_or_function() {
        assert!(fires(
            &ConcurrentlyInTransaction,
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'i') THEN CREATE INDEX CONCURRENTLY i ON t (a); END IF; END $$;"
        ));
        assert!(fires(
            &ConcurrentlyInTransaction,
            "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DROP INDEX CONCURRENTLY i; END $$;"
        ));
    }

    #[test]
    fn quiet_at_top_level_without_begin_and_without_concurrently() {
        assert!(!fires(
            &ConcurrentlyInTransaction,
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);"
        ));
        assert!(!fires(
            &ConcurrentlyInTransaction,
            "BEGIN;\nCREATE INDEX i ON t (a);\nDROP INDEX j;\nREINDEX TABLE t;\nCOMMIT;"
        ));
    }
}
