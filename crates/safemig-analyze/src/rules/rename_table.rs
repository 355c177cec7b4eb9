//! `rename-table`: an existing table gets a new name.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct RenameTable;

static DOC: RuleDoc = RuleDoc {
    name: "rename-table",
    severity: Severity::Review,
    summary: "ALTER TABLE ... RENAME TO breaks every query that still uses the old name",
    what_it_does: "Finds `ALTER TABLE ... RENAME TO` on a table that this migration did not create.",
    why_it_matters: "The rename is instant, but the application that is running while the migration commits still \
                     uses the old name, and every query of it fails (`relation ... does not exist`) until the new \
                     code is deployed; with the Supabase API, so do the clients' `.from('old_name')` calls. Views, \
                     policies and foreign keys follow the rename, but function bodies do not.",
    example: "ALTER TABLE public.library_tracks RENAME TO tracks;",
    use_instead: "Create the new name as a view on the old table (or the other way round) for the transition, \
                  deploy code that uses the new name, then rename and drop the view in a later migration:\n\
                  CREATE VIEW public.tracks AS SELECT * FROM public.library_tracks;",
};

impl Rule for RenameTable {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::RenameStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        if stmt.rename_type != ObjectType::ObjectTable as i32 {
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
            "renames table `{table}` to `{}`: running code that uses `{}` fails until it is deployed anew",
            stmt.newname, table.name
        ))
        .help("keep the old name working with a view during the transition")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_an_existing_table() {
        assert!(hits(&RenameTable, "ALTER TABLE public.a RENAME TO b;")[0]
            .message
            .contains("`public.a` to `b`"));
        assert!(fires(&RenameTable, "ALTER TABLE IF EXISTS a RENAME TO b;"));
    }

    #[test]
    fn quiet_on_a_table_created_in_the_file_and_on_other_renames() {
        assert!(!fires(
            &RenameTable,
            "CREATE TABLE a (id int);\nALTER TABLE a RENAME TO b;"
        ));
        assert!(!fires(
            &RenameTable,
            "ALTER TABLE a RENAME COLUMN x TO y; ALTER VIEW v RENAME TO w; ALTER INDEX i RENAME TO j;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &RenameTable,
            "DO $$ BEGIN ALTER TABLE a RENAME TO b; END $$;"
        ));
    }
}
