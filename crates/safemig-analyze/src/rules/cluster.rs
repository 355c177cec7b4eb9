//! `cluster`: CLUSTER rewrites a table under an ACCESS EXCLUSIVE lock.

use pg_query::NodeEnum;

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct Cluster;

static DOC: RuleDoc = RuleDoc {
    name: "cluster",
    severity: Severity::Review,
    summary: "CLUSTER rewrites the table in index order while reads and writes wait",
    what_it_does: "Finds `CLUSTER`, of a named table or of every table clustered before.",
    why_it_matters: "CLUSTER copies the whole table in the order of an index and rebuilds every index while it \
                     holds an ACCESS EXCLUSIVE lock: nothing can read or write the table until it is done, and \
                     it needs free disk space for a full copy. The order is not kept for rows written later, so \
                     the benefit fades while the cost is paid in full each time.",
    example: "CLUSTER public.events USING events_created_at_idx;",
    use_instead: "An index on the sort column is usually enough. If the table must be reordered, use the \
                  `pg_repack` extension, outside migrations.",
};

impl Rule for Cluster {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::ClusterStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        let Some(relation) = stmt.relation.as_ref() else {
            return vec![Hit::new(
                "CLUSTER rewrites every previously clustered table, locking each against reads and writes",
            )
            .help("use pg_repack outside migrations")];
        };
        let table = qualified(relation);
        if ctx.file.created_here(&table) {
            return Vec::new();
        }
        vec![Hit::new(format!(
            "CLUSTER rewrites `{table}` while reads and writes wait"
        ))
        .help("use pg_repack outside migrations")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_cluster() {
        assert!(hits(&Cluster, "CLUSTER public.t USING i;")[0]
            .message
            .contains("`public.t`"));
        assert!(hits(&Cluster, "CLUSTER;")[0]
            .message
            .contains("every previously clustered table"));
    }

    #[test]
    fn quiet_on_a_table_created_in_the_file_and_on_other_statements() {
        assert!(!fires(
            &Cluster,
            "CREATE TABLE t (a int);\nCLUSTER t USING i;"
        ));
        assert!(!fires(&Cluster, "ALTER TABLE t CLUSTER ON i;"));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(&Cluster, "DO $$ BEGIN CLUSTER t USING i; END $$;"));
    }
}
