//! `vacuum-full`: VACUUM FULL rewrites tables under an ACCESS EXCLUSIVE lock.

use pg_query::NodeEnum;

use super::{option_on, options_named, qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct VacuumFull;

static DOC: RuleDoc = RuleDoc {
    name: "vacuum-full",
    severity: Severity::Review,
    summary: "VACUUM FULL rewrites the table while reads and writes wait",
    what_it_does: "Finds `VACUUM FULL` and `VACUUM (FULL)`, of named tables or of the whole database.",
    why_it_matters: "VACUUM FULL copies the table into a new file and rebuilds every index while it holds an \
                     ACCESS EXCLUSIVE lock: nothing can read or write the table until it is done, and it needs \
                     free disk space for a full copy. It also cannot run inside a transaction block, so a \
                     migration tool that wraps each file in one fails on it.",
    example: "VACUUM FULL public.events;",
    use_instead: "Plain `VACUUM` (or autovacuum) to make dead space reusable; to give space back to the operating \
                  system without the lock, use the `pg_repack` extension, outside migrations.",
};

impl Rule for VacuumFull {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::VacuumStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        if !stmt.is_vacuumcmd || !options_named(&stmt.options, "full").any(option_on) {
            return Vec::new();
        }
        let tables: Vec<_> = stmt
            .rels
            .iter()
            .filter_map(|r| match r.node.as_ref() {
                Some(NodeEnum::VacuumRelation(v)) => v.relation.as_ref().map(qualified),
                _ => None,
            })
            .collect();
        if tables.is_empty() {
            return vec![Hit::new(
                "VACUUM FULL rewrites every table of the database, locking each against reads and writes",
            )
            .help("use plain VACUUM, or pg_repack outside migrations")];
        }
        tables
            .into_iter()
            .filter(|t| !ctx.file.created_here(t))
            .map(|t| {
                Hit::new(format!(
                    "VACUUM FULL rewrites `{t}` while reads and writes wait"
                ))
                .help("use plain VACUUM, or pg_repack outside migrations")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_vacuum_full() {
        assert!(hits(&VacuumFull, "VACUUM FULL public.t;")[0]
            .message
            .contains("`public.t`"));
        assert_eq!(hits(&VacuumFull, "VACUUM (FULL, ANALYZE) a, b;").len(), 2);
        assert!(hits(&VacuumFull, "VACUUM (FULL true);")[0]
            .message
            .contains("every table"));
    }

    #[test]
    fn quiet_on_plain_vacuum_and_on_tables_created_in_the_file() {
        assert!(!fires(
            &VacuumFull,
            "VACUUM t; VACUUM ANALYZE t; VACUUM (FULL false) t; ANALYZE t;"
        ));
        assert!(!fires(
            &VacuumFull,
            "CREATE TABLE t (a int);\nVACUUM FULL t;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(&VacuumFull, "DO $$ BEGIN VACUUM FULL t; END $$;"));
    }
}
