//! `missing-lock-timeout`: a blocking lock requested with no lock_timeout set.

use pg_query::protobuf::{AlterTableType, ConstrType, ObjectType};
use pg_query::NodeEnum;

use super::{
    alter_table_cmds, cmd_type, constr_type, constraint_def, dropped_objects, qualified, Ctx, Hit,
    Place, Rule, RuleDoc, Severity,
};
use crate::parse::QualifiedName;

pub struct MissingLockTimeout;

const ACCESS_EXCLUSIVE: &str = "ACCESS EXCLUSIVE";
const SHARE_ROW_EXCLUSIVE: &str = "SHARE ROW EXCLUSIVE";

static DOC: RuleDoc = RuleDoc {
    name: "missing-lock-timeout",
    severity: Severity::Hint,
    summary: "a statement that locks an existing table runs before any SET lock_timeout",
    what_it_does: "Finds statements of the migration (top level or inside a `DO` block) that take a lock \
                   blocking writes, and usually reads, on a table this migration did not create (`ALTER TABLE`, \
                   `ALTER TABLE ... RENAME`, `CREATE INDEX` without `CONCURRENTLY`, `DROP TABLE`, `DROP INDEX`, \
                   `TRUNCATE`, `CREATE TRIGGER`, `DROP TRIGGER`) when the file has not set `lock_timeout` before \
                   them. Each such statement before the first `SET lock_timeout` gets the hint.",
    why_it_matters: "A lock request waits behind every transaction that holds a conflicting lock on the table, even \
                     a long-running report or an idle-in-transaction session, and while it waits, every new query \
                     that conflicts with it queues behind it: for an ACCESS EXCLUSIVE lock, every query on the \
                     table. A migration that would take milliseconds can stall the whole application for minutes. \
                     With `lock_timeout` set, the statement gives up after a few seconds and the migration can be \
                     retried. `safemig migrate` sets `lock_timeout` itself; `supabase db push`, \
                     `supabase migration up` and psql do not.",
    example: "ALTER TABLE public.orders ADD COLUMN note text;",
    use_instead: "SET lock_timeout = '5s';\nALTER TABLE public.orders ADD COLUMN note text;",
};

impl Rule for MissingLockTimeout {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        if ctx.place == Place::FunctionBody
            || matches!(ctx.file.first_lock_timeout, Some(i) if i < ctx.index)
        {
            return Vec::new();
        }
        let Some((lock, tables)) = blocking_lock(ctx.node) else {
            return Vec::new();
        };
        let Some(table) = tables.iter().find(|t| !ctx.file.created_here(t)) else {
            return Vec::new();
        };
        let on = if table.name.is_empty() {
            "its table".to_string()
        } else {
            format!("`{table}`")
        };
        let blocked = if lock == ACCESS_EXCLUSIVE {
            "every query"
        } else {
            "every write"
        };
        vec![Hit::new(format!(
            "takes {} {lock} lock on {on} with no lock_timeout set: if it has to wait, {blocked} on the table \
             queues behind it (reported for each such statement before the first SET lock_timeout)",
            if lock == ACCESS_EXCLUSIVE { "an" } else { "a" }
        ))
        .help("start the file with SET lock_timeout = '5s';")]
    }
}

/// The lock a statement takes that blocks writes, and the tables it takes it on
/// (a nameless entry when the table is not in the statement, as for `DROP INDEX`).
fn blocking_lock(node: &NodeEnum) -> Option<(&'static str, Vec<QualifiedName>)> {
    let unknown = || {
        vec![QualifiedName {
            schema: String::new(),
            name: String::new(),
        }]
    };
    match node {
        NodeEnum::AlterTableStmt(stmt) => {
            let table = qualified(stmt.relation.as_ref()?);
            let mut strongest = None;
            for (_, cmd) in alter_table_cmds(node) {
                match cmd_type(cmd) {
                    // SHARE UPDATE EXCLUSIVE: reads and writes go on.
                    AlterTableType::AtValidateConstraint
                    | AlterTableType::AtSetStatistics
                    | AlterTableType::AtClusterOn
                    | AlterTableType::AtDropCluster => {}
                    AlterTableType::AtAddConstraint
                        if constraint_def(cmd)
                            .is_some_and(|c| constr_type(c) == ConstrType::ConstrForeign) =>
                    {
                        strongest.get_or_insert(SHARE_ROW_EXCLUSIVE);
                    }
                    AlterTableType::AtEnableTrig
                    | AlterTableType::AtDisableTrig
                    | AlterTableType::AtEnableTrigAll
                    | AlterTableType::AtDisableTrigAll
                    | AlterTableType::AtEnableTrigUser
                    | AlterTableType::AtDisableTrigUser => {
                        strongest.get_or_insert(SHARE_ROW_EXCLUSIVE);
                    }
                    _ => strongest = Some(ACCESS_EXCLUSIVE),
                }
            }
            strongest.map(|lock| (lock, vec![table]))
        }
        NodeEnum::RenameStmt(stmt)
            if stmt.rename_type == ObjectType::ObjectTable as i32
                || (stmt.rename_type == ObjectType::ObjectColumn as i32
                    && stmt.relation_type == ObjectType::ObjectTable as i32) =>
        {
            Some((ACCESS_EXCLUSIVE, vec![qualified(stmt.relation.as_ref()?)]))
        }
        NodeEnum::IndexStmt(stmt) if !stmt.concurrent => {
            Some(("SHARE", vec![qualified(stmt.relation.as_ref()?)]))
        }
        NodeEnum::CreateTrigStmt(stmt) => Some((
            SHARE_ROW_EXCLUSIVE,
            vec![qualified(stmt.relation.as_ref()?)],
        )),
        NodeEnum::TruncateStmt(stmt) => Some((
            ACCESS_EXCLUSIVE,
            stmt.relations
                .iter()
                .filter_map(|r| match r.node.as_ref() {
                    Some(NodeEnum::RangeVar(r)) => Some(qualified(r)),
                    _ => None,
                })
                .collect(),
        )),
        NodeEnum::DropStmt(stmt) => match ObjectType::try_from(stmt.remove_type).ok()? {
            ObjectType::ObjectTable => Some((
                ACCESS_EXCLUSIVE,
                dropped_objects(stmt).iter().map(|p| name_of(p)).collect(),
            )),
            ObjectType::ObjectTrigger => Some((
                ACCESS_EXCLUSIVE,
                dropped_objects(stmt)
                    .iter()
                    .map(|p| name_of(&p[..p.len().saturating_sub(1)]))
                    .collect(),
            )),
            ObjectType::ObjectIndex if !stmt.concurrent => Some((ACCESS_EXCLUSIVE, unknown())),
            _ => None,
        },
        _ => None,
    }
}

fn name_of(parts: &[String]) -> QualifiedName {
    match parts {
        [.., schema, name] => QualifiedName {
            schema: schema.clone(),
            name: name.clone(),
        },
        [name] => QualifiedName {
            schema: String::new(),
            name: name.clone(),
        },
        [] => QualifiedName {
            schema: String::new(),
            name: String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_before_any_lock_timeout() {
        let found = hits(
            &MissingLockTimeout,
            "ALTER TABLE public.t ADD COLUMN a int;",
        );
        assert!(
            found[0]
                .message
                .contains("an ACCESS EXCLUSIVE lock on `public.t`")
                && found[0].message.contains("every query")
        );
        assert!(hits(&MissingLockTimeout, "CREATE INDEX i ON t (a);")[0]
            .message
            .contains("a SHARE lock on `t`"));
        assert!(hits(
            &MissingLockTimeout,
            "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id) NOT VALID;"
        )[0]
        .message
        .contains("SHARE ROW EXCLUSIVE"));
        for sql in [
            "DROP TABLE t;",
            "TRUNCATE t;",
            "DROP INDEX i;",
            "ALTER TABLE t RENAME TO u;",
            "CREATE TRIGGER trg AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION f();",
            "DROP TRIGGER IF EXISTS trg ON auth.users;",
        ] {
            assert!(fires(&MissingLockTimeout, sql), "{sql}");
        }
        let sql = "ALTER TABLE a ADD COLUMN x int;\nALTER TABLE b ADD COLUMN x int;\nSET lock_timeout = '5s';\n\
                   ALTER TABLE c ADD COLUMN x int;";
        assert_eq!(hits(&MissingLockTimeout, sql).len(), 2);
    }

    #[test]
    fn quiet_after_set_lock_timeout_and_on_harmless_statements() {
        assert!(!fires(
            &MissingLockTimeout,
            "SET lock_timeout = '5s';\nALTER TABLE t ADD COLUMN a int;"
        ));
        assert!(!fires(
            &MissingLockTimeout,
            "BEGIN;\nSET LOCAL lock_timeout TO 1000;\nDROP TABLE t;\nCOMMIT;"
        ));
        assert!(!fires(
            &MissingLockTimeout,
            "CREATE TABLE t (a int);\nCREATE INDEX i ON t (a);\nALTER TABLE t ADD COLUMN b int;"
        ));
        assert!(!fires(
            &MissingLockTimeout,
            "CREATE INDEX CONCURRENTLY i ON t (a);"
        ));
        assert!(!fires(
            &MissingLockTimeout,
            "ALTER TABLE t VALIDATE CONSTRAINT k;"
        ));
        assert!(!fires(
            &MissingLockTimeout,
            "SELECT 1; INSERT INTO t VALUES (1);"
        ));
    }

    #[test]
    fn fires_inside_a_do_block_but_not_in_a_function_body() {
        assert!(fires(
            &MissingLockTimeout,
            "DO $$ BEGIN ALTER TABLE t ADD COLUMN a int; END $$;"
        ));
        assert!(!fires(
            &MissingLockTimeout,
            "SET lock_timeout = '5s';\nDO $$ BEGIN ALTER TABLE t ADD COLUMN a int; END $$;"
        ));
        assert!(!fires(
            &MissingLockTimeout,
            "CREATE OR REPLACE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN TRUNCATE t; END $$;"
        ));
    }
}
