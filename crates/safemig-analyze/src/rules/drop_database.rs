//! `drop-database`: a database is dropped.

use pg_query::NodeEnum;

use super::{Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DropDatabase;

static DOC: RuleDoc = RuleDoc {
    name: "drop-database",
    severity: Severity::Risky,
    summary: "DROP DATABASE deletes a whole database",
    what_it_does: "Finds `DROP DATABASE` (with or without `IF EXISTS` or `WITH (FORCE)`).",
    why_it_matters: "Every schema, table and row of the database is deleted, with no way back but a backup. A \
                     migration never needs it; it usually comes from a setup script or a `pg_dump --clean` that \
                     ended up among the migrations. It cannot run inside a transaction block either, so the \
                     migration fails where migrations run in one.",
    example: "DROP DATABASE IF EXISTS app_staging;",
    use_instead: "Remove the statement from the migration; drop databases by hand, on purpose.",
};

impl Rule for DropDatabase {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::DropdbStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        vec![Hit::new(format!(
            "drops database `{}` and everything in it",
            stmt.dbname
        ))
        .help("remove it from the migration")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_drop_database_guarded_or_not() {
        assert!(hits(&DropDatabase, "DROP DATABASE app;")[0]
            .message
            .contains("`app`"));
        assert!(fires(
            &DropDatabase,
            "DROP DATABASE IF EXISTS app WITH (FORCE);"
        ));
    }

    #[test]
    fn quiet_on_other_statements() {
        assert!(!fires(&DropDatabase, "DROP SCHEMA s; CREATE DATABASE d;"));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DropDatabase,
            "DO $$ BEGIN DROP DATABASE app; END $$;"
        ));
    }
}
