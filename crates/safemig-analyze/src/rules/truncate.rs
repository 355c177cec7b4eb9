//! `truncate`: every row of a table is deleted at once.

use pg_query::protobuf::DropBehavior;
use pg_query::NodeEnum;

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct Truncate;

static DOC: RuleDoc = RuleDoc {
    name: "truncate",
    severity: Severity::Risky,
    summary: "TRUNCATE deletes every row of a table",
    what_it_does: "Finds `TRUNCATE`, once per table it names.",
    why_it_matters: "Every row is gone once the migration commits, and TRUNCATE takes an ACCESS EXCLUSIVE lock, \
                     so reads of the table wait too. With CASCADE it also empties every table that has a foreign \
                     key to the truncated one, and the tables referencing those, which the statement does not \
                     name. ON DELETE triggers do not fire.",
    example: "TRUNCATE public.orders CASCADE;",
    use_instead: "Delete the rows you mean to delete with a `DELETE ... WHERE`, or move them aside first \
                  (`CREATE TABLE orders_archive AS TABLE orders;`). If the loss is intended, allow it for this \
                  migration in safemig.toml (`[[allow]] loss = [\"rows\"]`).",
};

impl Rule for Truncate {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::TruncateStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        let cascade = stmt.behavior == DropBehavior::DropCascade as i32;
        stmt.relations
            .iter()
            .filter_map(|r| match r.node.as_ref() {
                Some(NodeEnum::RangeVar(r)) => Some(qualified(r)),
                _ => None,
            })
            // Made in this file: it holds only what this file put there.
            .filter(|table| !ctx.file.created_here(table))
            .map(|table| {
                if cascade {
                    Hit::new(format!(
                        "deletes every row of `{table}`, and with CASCADE every row of each table that references it"
                    ))
                } else {
                    Hit::new(format!("deletes every row of `{table}`"))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_once_per_table() {
        let found = hits(&Truncate, "TRUNCATE public.a, b;");
        assert_eq!(found.len(), 2);
        assert!(found[0].message.contains("`public.a`") && !found[0].message.contains("CASCADE"));
        assert!(
            hits(&Truncate, "TRUNCATE TABLE a RESTART IDENTITY CASCADE;")[0]
                .message
                .contains("CASCADE")
        );
    }

    #[test]
    fn quiet_on_delete() {
        assert!(!fires(&Truncate, "DELETE FROM a WHERE id = 1;"));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(&Truncate, "DO $$ BEGIN TRUNCATE a; END $$;"));
    }
}
