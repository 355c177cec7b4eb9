//! `unguarded-drop`: a DROP that fails when the object is already gone.

use pg_query::protobuf::{AlterTableType, ObjectType};
use pg_query::NodeEnum;

use super::{alter_table_cmds, cmd_type, dropped_objects, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct UnguardedDrop;

static DOC: RuleDoc = RuleDoc {
    name: "unguarded-drop",
    severity: Severity::Hint,
    summary: "DROP without IF EXISTS fails when the object is already gone",
    what_it_does: "Finds `DROP` statements of any kind, and `ALTER TABLE ... DROP COLUMN` / `DROP CONSTRAINT`, \
                   without `IF EXISTS`, unless they sit inside a `DO` block's catalog test.",
    why_it_matters: "A migration that is run a second time, or against a database where the object was already \
                     removed by hand, stops at the first `does not exist` error, and everything after it in the \
                     file does not run. `IF EXISTS` makes the statement idempotent (it does not make it safe: \
                     what it drops is still gone).",
    example: "DROP TRIGGER on_auth_user_created ON auth.users;",
    use_instead: "DROP TRIGGER IF EXISTS on_auth_user_created ON auth.users;",
};

impl Rule for UnguardedDrop {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        if ctx.guarded_by_catalog_test {
            return Vec::new();
        }
        match ctx.node {
            NodeEnum::DropStmt(stmt) if !stmt.missing_ok => {
                let kind = ObjectType::try_from(stmt.remove_type).unwrap_or(ObjectType::Undefined);
                let names: Vec<String> = dropped_objects(stmt)
                    .into_iter()
                    .filter(|parts| !parts.is_empty())
                    .map(|parts| format!(" {}", display(kind, &parts)))
                    .collect();
                vec![Hit::new(format!(
                    "DROP {}{} fails if it does not exist: add IF EXISTS",
                    keyword(kind),
                    names.join(",")
                ))]
            }
            NodeEnum::DropdbStmt(stmt) if !stmt.missing_ok => {
                vec![Hit::new(format!("DROP DATABASE `{}` fails if it does not exist: add IF EXISTS", stmt.dbname))]
            }
            NodeEnum::AlterTableStmt(_) => alter_table_cmds(ctx.node)
                .into_iter()
                .filter(|(_, cmd)| !cmd.missing_ok)
                .filter_map(|(table, cmd)| {
                    let what = match cmd_type(cmd) {
                        AlterTableType::AtDropColumn => "COLUMN",
                        AlterTableType::AtDropConstraint => "CONSTRAINT",
                        _ => return None,
                    };
                    Some(Hit::new(format!(
                        "ALTER TABLE `{table}` DROP {what} `{}` fails if it does not exist: add IF EXISTS",
                        cmd.name
                    )))
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The SQL keyword of an object type: `OBJECT_FOREIGN_TABLE` -> `FOREIGN TABLE`.
fn keyword(kind: ObjectType) -> String {
    match kind {
        ObjectType::ObjectMatview => "MATERIALIZED VIEW".into(),
        ObjectType::ObjectFdw => "FOREIGN DATA WRAPPER".into(),
        ObjectType::ObjectForeignServer => "SERVER".into(),
        ObjectType::ObjectOpclass => "OPERATOR CLASS".into(),
        ObjectType::ObjectOpfamily => "OPERATOR FAMILY".into(),
        ObjectType::ObjectStatisticExt => "STATISTICS".into(),
        ObjectType::ObjectTsconfiguration => "TEXT SEARCH CONFIGURATION".into(),
        ObjectType::ObjectTsdictionary => "TEXT SEARCH DICTIONARY".into(),
        ObjectType::ObjectTsparser => "TEXT SEARCH PARSER".into(),
        ObjectType::ObjectTstemplate => "TEXT SEARCH TEMPLATE".into(),
        _ => kind
            .as_str_name()
            .trim_start_matches("OBJECT_")
            .replace('_', " "),
    }
}

/// `` `name` `` or, for objects that belong to a table, `` `name` ON `table` ``.
fn display(kind: ObjectType, parts: &[String]) -> String {
    match (kind, parts) {
        (
            ObjectType::ObjectTrigger | ObjectType::ObjectPolicy | ObjectType::ObjectRule,
            [table @ .., name],
        ) if !table.is_empty() => {
            format!("`{name}` ON `{}`", table.join("."))
        }
        _ => format!("`{}`", parts.join(".")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_unguarded_drops() {
        assert!(hits(&UnguardedDrop, "DROP TABLE public.a, b;")[0]
            .message
            .contains("DROP TABLE `public.a`, `b`"));
        assert!(hits(&UnguardedDrop, "DROP TRIGGER trg ON auth.users;")[0]
            .message
            .contains("DROP TRIGGER `trg` ON `auth.users`"));
        assert!(hits(&UnguardedDrop, "DROP MATERIALIZED VIEW m;")[0]
            .message
            .contains("MATERIALIZED VIEW `m`"));
        assert!(hits(&UnguardedDrop, "DROP FUNCTION f(int);")[0]
            .message
            .contains("FUNCTION `f`"));
        assert!(hits(&UnguardedDrop, "ALTER TABLE t DROP COLUMN a;")[0]
            .message
            .contains("DROP COLUMN `a`"));
        assert!(fires(&UnguardedDrop, "DROP DATABASE d;"));
        assert!(fires(&UnguardedDrop, "DROP POLICY p ON t;"));
    }

    #[test]
    fn quiet_with_if_exists() {
        assert!(!fires(
            &UnguardedDrop,
            "DROP TABLE IF EXISTS a; DROP TRIGGER IF EXISTS t ON u; DROP DATABASE IF EXISTS d; \
             ALTER TABLE t DROP COLUMN IF EXISTS a, DROP CONSTRAINT IF EXISTS k; ALTER TABLE t ADD COLUMN b int;"
        ));
    }

    #[test]
    fn quiet_under_a_catalog_test_in_a_do_block() {
        assert!(!fires(
            &UnguardedDrop,
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'a') THEN DROP TABLE a; END IF; END $$;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block_without_a_catalog_test() {
        assert!(fires(&UnguardedDrop, "DO $$ BEGIN DROP TABLE a; END $$;"));
    }
}
