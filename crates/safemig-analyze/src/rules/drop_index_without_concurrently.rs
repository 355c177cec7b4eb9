//! `drop-index-without-concurrently`: an index dropped while its table is locked.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use super::{dropped_objects, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DropIndexWithoutConcurrently;

static DOC: RuleDoc = RuleDoc {
    name: "drop-index-without-concurrently",
    severity: Severity::Review,
    summary: "DROP INDEX without CONCURRENTLY locks the index's table against reads and writes",
    what_it_does: "Finds `DROP INDEX` without `CONCURRENTLY`.",
    why_it_matters: "A plain `DROP INDEX` takes an ACCESS EXCLUSIVE lock on the table the index belongs to. The \
                     drop itself is quick, but the lock request waits behind every running query on the table, \
                     and every query that comes after waits behind the request: one slow report stalls all \
                     reads and writes. `DROP INDEX CONCURRENTLY` waits for those queries without blocking others.",
    example: "DROP INDEX public.orders_created_at_idx;",
    use_instead: "DROP INDEX CONCURRENTLY IF EXISTS public.orders_created_at_idx;\n\
                  -- in a migration of its own: CONCURRENTLY cannot run inside a transaction, and safemig runs \
                  it on its own",
};

impl Rule for DropIndexWithoutConcurrently {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::DropStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        if stmt.remove_type != ObjectType::ObjectIndex as i32 || stmt.concurrent {
            return Vec::new();
        }
        dropped_objects(stmt)
            .into_iter()
            .map(|parts| {
                Hit::new(format!(
                    "drops index `{}` without CONCURRENTLY: its table is locked against reads and writes",
                    parts.join(".")
                ))
                .help("use DROP INDEX CONCURRENTLY, in a migration of its own")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_without_concurrently() {
        let found = hits(
            &DropIndexWithoutConcurrently,
            "DROP INDEX IF EXISTS public.i, j;",
        );
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("`public.i`"));
    }

    #[test]
    fn quiet_with_concurrently_and_on_other_drops() {
        assert!(!fires(
            &DropIndexWithoutConcurrently,
            "DROP INDEX CONCURRENTLY IF EXISTS i;"
        ));
        assert!(!fires(&DropIndexWithoutConcurrently, "DROP TABLE i;"));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DropIndexWithoutConcurrently,
            "DO $$ BEGIN DROP INDEX i; END $$;"
        ));
    }
}
