//! `set-unlogged`: an existing table is made `UNLOGGED`.

use pg_query::protobuf::AlterTableType;

use super::{alter_table_cmds, cmd_type, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct SetUnlogged;

static DOC: RuleDoc = RuleDoc {
    name: "set-unlogged",
    severity: Severity::Risky,
    summary: "ALTER TABLE ... SET UNLOGGED: the rows vanish at the next crash",
    what_it_does: "Finds `ALTER TABLE ... SET UNLOGGED` on a table this migration did not create.",
    why_it_matters: "An unlogged table is not written to the WAL: after a crash or a failover PostgreSQL empties \
                     it, and replicas and point-in-time recovery never see its rows. Nothing is lost the moment it \
                     runs, which is what makes it dangerous. The statement also rewrites the table under an \
                     ACCESS EXCLUSIVE lock. The guards roll it back on a table that holds rows.",
    example: "ALTER TABLE public.events SET UNLOGGED;",
    use_instead: "Keep tables that hold data logged; for scratch data, create a separate UNLOGGED table.",
};

impl Rule for SetUnlogged {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        alter_table_cmds(ctx.node)
            .into_iter()
            .filter(|(table, cmd)| {
                cmd_type(cmd) == AlterTableType::AtSetUnLogged && !ctx.file.created_here(table)
            })
            .map(|(table, _)| {
                Hit::new(format!(
                    "makes `{table}` UNLOGGED: its rows would be emptied by the next crash or failover"
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_on_an_existing_table_only() {
        assert!(fires(&SetUnlogged, "ALTER TABLE public.t SET UNLOGGED;"));
        assert!(!fires(
            &SetUnlogged,
            "CREATE TABLE public.t (id int); ALTER TABLE public.t SET UNLOGGED;"
        ));
        assert!(!fires(&SetUnlogged, "ALTER TABLE public.t SET LOGGED;"));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &SetUnlogged,
            "DO $$ BEGIN ALTER TABLE public.t SET UNLOGGED; END $$;"
        ));
    }
}
