//! `index-without-concurrently`: an index built while writes to its table wait.

use pg_query::NodeEnum;

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct IndexWithoutConcurrently;

static DOC: RuleDoc = RuleDoc {
    name: "index-without-concurrently",
    severity: Severity::Review,
    summary: "CREATE INDEX without CONCURRENTLY blocks writes to the table while it builds",
    what_it_does: "Finds `CREATE INDEX` without `CONCURRENTLY` on a table that this migration did not create.",
    why_it_matters: "A plain `CREATE INDEX` holds a SHARE lock for the whole build: every INSERT, UPDATE and \
                     DELETE on the table waits, for seconds to hours on a large table.",
    example: "CREATE INDEX tracks_artist_idx ON public.library_tracks (artist);",
    use_instead: "CREATE INDEX CONCURRENTLY tracks_artist_idx ON public.library_tracks (artist);\n\
                  -- in a migration of its own: CONCURRENTLY cannot run inside a transaction, and safemig runs \
                  it on its own",
};

impl Rule for IndexWithoutConcurrently {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::IndexStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        let Some(relation) = stmt.relation.as_ref() else {
            return Vec::new();
        };
        let table = qualified(relation);
        if stmt.concurrent || ctx.file.created_here(&table) {
            return Vec::new();
        }
        vec![Hit::new(format!("builds an index on `{table}` without CONCURRENTLY: writes to the table wait until it is built"))
            .help("use CREATE INDEX CONCURRENTLY, in a migration of its own")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_on_an_existing_table() {
        assert!(fires(
            &IndexWithoutConcurrently,
            "CREATE INDEX i ON public.t (a);"
        ));
        assert!(fires(
            &IndexWithoutConcurrently,
            "CREATE UNIQUE INDEX IF NOT EXISTS i ON t (a);"
        ));
    }

    #[test]
    fn quiet_with_concurrently_or_on_a_table_created_in_the_file() {
        assert!(!fires(
            &IndexWithoutConcurrently,
            "CREATE INDEX CONCURRENTLY i ON t (a);"
        ));
        assert!(!fires(
            &IndexWithoutConcurrently,
            "CREATE TABLE t (a int);\nCREATE INDEX i ON public.t (a);"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &IndexWithoutConcurrently,
            "DO $$ BEGIN CREATE INDEX i ON t (a); END $$;"
        ));
    }
}
