//! `disable-rls`: row level security turned off on an existing table in an
//! exposed schema.

use pg_query::protobuf::AlterTableType;

use super::{alter_table_cmds, cmd_type, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DisableRls;

static DOC: RuleDoc = RuleDoc {
    name: "disable-rls",
    severity: Severity::Risky,
    summary: "ALTER TABLE ... DISABLE ROW LEVEL SECURITY on a table the Supabase API exposes",
    what_it_does: "Finds `ALTER TABLE ... DISABLE ROW LEVEL SECURITY` on a table of an exposed schema (`[check] \
                   exposed_schemas`, default `public`) that this migration did not create.",
    why_it_matters: "On Supabase every table of an exposed schema is reachable through the API with the public anon \
                     key; row level security is the only wall. Turned off, every row is readable (and writable, \
                     with the default grants) by anyone who has the key, which ships in every client. Nothing is \
                     lost, so no data guard would notice: `safemig migrate` rolls it back as an exposure when the \
                     table holds rows that `anon` may now read.",
    example: "ALTER TABLE public.docs DISABLE ROW LEVEL SECURITY;",
    use_instead: "Keep row level security on and change the policies:\n\
                  CREATE POLICY \"read published docs\" ON public.docs FOR SELECT USING (published);",
};

impl Rule for DisableRls {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        alter_table_cmds(ctx.node)
            .into_iter()
            .filter(|(table, cmd)| {
                cmd_type(cmd) == AlterTableType::AtDisableRowSecurity
                    && !ctx.file.created_here(table)
                    && (ctx.file.is_exposed(table) || super::effective_schema(table) == "storage")
            })
            .map(|(table, _)| {
                Hit::new(format!(
                    "turns row level security off on `{table}`: its rows become readable with the public anon key"
                ))
                .help("keep row level security on; change the policies instead")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_on_an_exposed_existing_table() {
        assert!(fires(
            &DisableRls,
            "ALTER TABLE public.docs DISABLE ROW LEVEL SECURITY;"
        ));
        assert!(fires(
            &DisableRls,
            "ALTER TABLE docs DISABLE ROW LEVEL SECURITY;"
        ));
    }

    #[test]
    fn quiet_on_private_schemas_new_tables_and_enabling() {
        assert!(!fires(
            &DisableRls,
            "ALTER TABLE private.docs DISABLE ROW LEVEL SECURITY;"
        ));
        assert!(!fires(
            &DisableRls,
            "CREATE TABLE public.t (id int); ALTER TABLE public.t DISABLE ROW LEVEL SECURITY;"
        ));
        assert!(!fires(
            &DisableRls,
            "ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;"
        ));
    }

    #[test]
    fn fires_inside_a_do_block() {
        assert!(fires(
            &DisableRls,
            "DO $$ BEGIN ALTER TABLE public.docs DISABLE ROW LEVEL SECURITY; END $$;"
        ));
    }
}
