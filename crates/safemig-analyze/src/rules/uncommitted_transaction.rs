//! `uncommitted-transaction`: a file that opens a transaction and never commits it.

use pg_query::protobuf::TransactionStmtKind;
use pg_query::NodeEnum;

use super::{Ctx, Hit, Rule, RuleDoc, Severity};

pub struct UncommittedTransaction;

static DOC: RuleDoc = RuleDoc {
    name: "uncommitted-transaction",
    severity: Severity::Review,
    summary: "BEGIN without a matching COMMIT",
    what_it_does: "Finds a file that starts its own transaction with `BEGIN` (or `START TRANSACTION`) and has no \
                   `COMMIT` (or `END`) after it.",
    why_it_matters: "Run with psql, the open transaction is rolled back when the session ends: nothing the file did \
                     stays, silently. safemig runs every migration in its own transaction and commits it, so the \
                     file behaves differently depending on the tool.",
    example: "BEGIN;\nALTER TABLE public.tracks ADD COLUMN bpm int;",
    use_instead: "Leave transaction control to the migration tool (no BEGIN), or end the file with COMMIT;",
};

impl Rule for UncommittedTransaction {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::TransactionStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        let begins = matches!(
            TransactionStmtKind::try_from(stmt.kind),
            Ok(TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart)
        );
        if !begins || ctx.file.commits_after(ctx.index) {
            return Vec::new();
        }
        vec![Hit::new("opens a transaction that the file never commits: psql rolls it back at the end")
            .help("remove the BEGIN (safemig runs each migration in a transaction), or end the file with COMMIT")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_without_commit() {
        assert!(fires(
            &UncommittedTransaction,
            "BEGIN;\nCREATE TABLE t (a int);"
        ));
        assert!(fires(
            &UncommittedTransaction,
            "START TRANSACTION;\nCREATE TABLE t (a int);"
        ));
    }

    #[test]
    fn quiet_with_commit_or_without_begin() {
        assert!(!fires(
            &UncommittedTransaction,
            "BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;"
        ));
        assert!(!fires(
            &UncommittedTransaction,
            "BEGIN;\nCREATE TABLE t (a int);\nEND;"
        ));
        assert!(!fires(&UncommittedTransaction, "CREATE TABLE t (a int);"));
    }
}
