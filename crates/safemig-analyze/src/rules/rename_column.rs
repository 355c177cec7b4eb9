//! `rename-column`: a column of an existing table gets a new name.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct RenameColumn;

static DOC: RuleDoc = RuleDoc {
    name: "rename-column",
    severity: Severity::Review,
    summary: "ALTER TABLE ... RENAME COLUMN breaks every query that still uses the old name",
    what_it_does: "Finds `ALTER TABLE ... RENAME COLUMN` on a table that this migration did not create.",
    why_it_matters: "The rename is instant, but the application that is running while the migration commits still \
                     selects, inserts and filters on the old column name, and those queries fail \
                     (`column ... does not exist`) until the new code is deployed. `SELECT *` readers silently \
                     get a different key. Views and indexes follow the rename; function bodies do not.",
    example: "ALTER TABLE public.profiles RENAME COLUMN name TO display_name;",
    use_instead: "Add the new column, write both from the application, backfill, switch reads, then drop the old \
                  column in a later migration:\n\
                  ALTER TABLE public.profiles ADD COLUMN display_name text;",
};

impl Rule for RenameColumn {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::RenameStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        if stmt.rename_type != ObjectType::ObjectColumn as i32
            || stmt.relation_type != ObjectType::ObjectTable as i32
        {
            return Vec::new();
        }
        let Some(relation) = stmt.relation.as_ref() else {
            return Vec::new();
        };
        let table = qualified(relation);
        if ctx.file.created_here(&table) {
            return Vec::new();
        }
        vec![Hit::new(format!(
            "renames column `{}` of `{table}` to `{}`: running code that uses the old name fails",
            stmt.subname, stmt.newname
        ))
        .help("add the new column and migrate to it in steps")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_an_existing_table() {
        assert!(
            hits(&RenameColumn, "ALTER TABLE public.a RENAME COLUMN x TO y;")[0]
                .message
                .contains("`x` of `public.a` to `y`")
        );
        assert!(fires(
            &RenameColumn,
            "ALTER TABLE IF EXISTS a RENAME x TO y;"
        ));
    }

    #[test]
    fn quiet_on_a_table_created_in_the_file_and_on_other_renames() {
        assert!(!fires(
            &RenameColumn,
            "CREATE TABLE a (x int);\nALTER TABLE a RENAME COLUMN x TO y;"
        ));
        assert!(!fires(
            &RenameColumn,
            "ALTER TABLE a RENAME TO b; ALTER VIEW v RENAME COLUMN x TO y;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &RenameColumn,
            "DO $$ BEGIN ALTER TABLE a RENAME COLUMN x TO y; END $$;"
        ));
    }
}
