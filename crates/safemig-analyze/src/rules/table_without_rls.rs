//! `table-without-rls`: a table the Supabase API exposes, with row level security off.

use pg_query::NodeEnum;

use super::{effective_schema, qualified, Ctx, Hit, Place, Rule, RuleDoc, Severity};

pub struct TableWithoutRls;

static DOC: RuleDoc = RuleDoc {
    name: "table-without-rls",
    severity: Severity::Review,
    summary: "a table in an exposed schema is created without enabling row level security",
    what_it_does: "Finds `CREATE TABLE` in a schema the Supabase API exposes (`public` unless safemig.toml says \
                   otherwise) when the same migration never runs `ALTER TABLE ... ENABLE ROW LEVEL SECURITY` on \
                   it. Temporary tables are left alone.",
    why_it_matters: "The Data API (PostgREST) serves every table in an exposed schema to anyone holding the \
                     project's public `anon` key, which ships in the client. Without row level security, the \
                     default grants let anyone read, insert, update and delete every row. Supabase's security \
                     advisor reports these tables as `rls_disabled_in_public`.",
    example: "CREATE TABLE public.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);",
    use_instead: "CREATE TABLE public.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text);\n\
                  ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;\n\
                  CREATE POLICY \"owners read their notes\" ON public.notes FOR SELECT USING (auth.uid() = owner_id);",
};

impl Rule for TableWithoutRls {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        if ctx.place != Place::TopLevel {
            return Vec::new();
        }
        let NodeEnum::CreateStmt(stmt) = ctx.node else {
            return Vec::new();
        };
        let Some(relation) = stmt.relation.as_ref() else {
            return Vec::new();
        };
        let table = qualified(relation);
        if relation.relpersistence == "t" || !ctx.file.is_exposed(&table) {
            return Vec::new();
        }
        let enabled = ctx
            .file
            .rls_enabled
            .iter()
            .any(|t| t.name == table.name && effective_schema(t) == effective_schema(&table));
        if enabled {
            return Vec::new();
        }
        vec![Hit::new(format!(
            "table `{table}` is exposed through the Supabase API and this migration does not enable row level \
             security on it: anyone with the anon key can read and write it"
        ))
        .help(format!("add ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; and the policies it needs"))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{fires, hits};

    #[test]
    fn fires_on_exposed_tables_without_rls() {
        assert!(
            hits(&TableWithoutRls, "CREATE TABLE public.notes (id int);")[0]
                .message
                .contains("`public.notes`")
        );
        assert!(fires(
            &TableWithoutRls,
            "CREATE TABLE IF NOT EXISTS notes (id int);\nALTER TABLE other ENABLE ROW LEVEL SECURITY;"
        ));
        assert!(fires(
            &TableWithoutRls,
            "CREATE TABLE notes (id int);\nALTER TABLE private.notes ENABLE ROW LEVEL SECURITY;"
        ));
    }

    #[test]
    fn quiet_with_rls_enabled_or_outside_exposed_schemas() {
        assert!(!fires(
            &TableWithoutRls,
            "CREATE TABLE notes (id int);\nALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;"
        ));
        assert!(!fires(
            &TableWithoutRls,
            "CREATE TABLE public.notes (id int);\nALTER TABLE notes ENABLE ROW LEVEL SECURITY;"
        ));
        assert!(!fires(
            &TableWithoutRls,
            "CREATE TABLE private.notes (id int);"
        ));
        assert!(!fires(
            &TableWithoutRls,
            "CREATE TEMP TABLE scratch (id int);"
        ));
    }

    #[test]
    fn quiet_inside_a_do_block() {
        assert!(!fires(
            &TableWithoutRls,
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'notes') THEN CREATE TABLE notes (id int); END IF; END $$;"
        ));
    }
}
