//! `view-bypasses-rls`: a view or materialized view the API can read that shows
//! the rows of existing tables with its owner's rights.

use pg_query::{NodeEnum, NodeRef};

use super::{alter_table_cmds, cmd_type, qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct ViewBypassesRls;

static DOC: RuleDoc = RuleDoc {
    name: "view-bypasses-rls",
    severity: Severity::Risky,
    summary: "a view without security_invoker (or a materialized view) in an exposed schema over existing tables",
    what_it_does: "Finds `CREATE [OR REPLACE] VIEW` in an exposed schema that is not `WITH (security_invoker = \
                   true)` and reads a table this migration did not create; `CREATE MATERIALIZED VIEW` there over \
                   such tables; and `ALTER VIEW ... SET (security_invoker = false)` or `RESET (security_invoker)`. \
                   `CREATE OR REPLACE VIEW` without the option turns it off on a view that had it.",
    why_it_matters: "A view runs with its owner's rights unless it is `security_invoker`, and a materialized view \
                     has no row level security at all: the policies of the tables they read do not apply. On \
                     Supabase the API's roles may select every view of an exposed schema by default, so every row \
                     the view shows becomes readable with the public anon key (Supabase's linter: \
                     `security_definer_view`, `materialized_view_in_api`).",
    example: "CREATE VIEW public.order_summaries AS SELECT id, user_id, total FROM public.orders;",
    use_instead: "CREATE VIEW public.order_summaries WITH (security_invoker = true) AS\n  SELECT id, user_id, total FROM public.orders;",
};

fn invoker_on(options: &[pg_query::protobuf::Node]) -> bool {
    options.iter().any(|o| match o.node.as_ref() {
        Some(NodeEnum::DefElem(d)) => {
            d.defname.eq_ignore_ascii_case("security_invoker") && super::option_on(d)
        }
        _ => false,
    })
}

/// The tables a query reads that this file did not create (PostgreSQL's own left out).
fn existing_tables(ctx: &Ctx<'_>, query: &NodeEnum) -> Vec<String> {
    let mut out = Vec::new();
    for (node, ..) in query.nodes() {
        if let NodeRef::RangeVar(r) = node {
            let name = qualified(r);
            let schema = super::effective_schema(&name);
            if schema == "pg_catalog"
                || schema == "information_schema"
                || ctx.file.created_here(&name)
            {
                continue;
            }
            let shown = name.to_string();
            if !out.contains(&shown) {
                out.push(shown);
            }
        }
    }
    out
}

impl Rule for ViewBypassesRls {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        match ctx.node {
            NodeEnum::ViewStmt(v) => {
                let Some(view) = v.view.as_ref().map(qualified) else {
                    return Vec::new();
                };
                if !ctx.file.is_exposed(&view) || invoker_on(&v.options) {
                    return Vec::new();
                }
                let Some(query) = v.query.as_deref().and_then(|q| q.node.as_ref()) else {
                    return Vec::new();
                };
                let tables = existing_tables(ctx, query);
                if tables.is_empty() {
                    return Vec::new();
                }
                vec![Hit::new(format!(
                    "view `{view}` reads {} with its owner's rights, in a schema the API exposes: their rows are \
                     shown whatever their row level security says{}",
                    tables.join(", "),
                    if v.replace { " (CREATE OR REPLACE without the option turns security_invoker off)" } else { "" }
                ))]
            }
            NodeEnum::CreateTableAsStmt(c)
                if c.objtype == pg_query::protobuf::ObjectType::ObjectMatview as i32 =>
            {
                let Some(view) = c.into.as_ref().and_then(|i| i.rel.as_ref()).map(qualified) else {
                    return Vec::new();
                };
                let Some(query) = c.query.as_deref().and_then(|q| q.node.as_ref()) else {
                    return Vec::new();
                };
                let tables = existing_tables(ctx, query);
                if !ctx.file.is_exposed(&view) || tables.is_empty() {
                    return Vec::new();
                }
                vec![Hit::new(format!(
                    "materialized view `{view}` copies rows of {} into a relation without row level security, in a \
                     schema the API exposes",
                    tables.join(", ")
                ))
                .help("create it in a schema the API does not expose, or revoke SELECT on it from anon and authenticated")]
            }
            NodeEnum::AlterTableStmt(s)
                if s.objtype == pg_query::protobuf::ObjectType::ObjectView as i32 =>
            {
                let view = s
                    .relation
                    .as_ref()
                    .map(qualified)
                    .map(|q| q.to_string())
                    .unwrap_or_default();
                s.cmds
                    .iter()
                    .filter_map(|c| match c.node.as_ref() {
                        Some(NodeEnum::AlterTableCmd(cmd)) => Some(cmd),
                        _ => None,
                    })
                    .filter(|cmd| {
                        let options: Vec<pg_query::protobuf::Node> = match cmd.def.as_ref().and_then(|d| d.node.as_ref()) {
                            Some(NodeEnum::List(l)) => l.items.clone(),
                            _ => Vec::new(),
                        };
                        let names_invoker = options.iter().any(|o| matches!(o.node.as_ref(),
                            Some(NodeEnum::DefElem(d)) if d.defname.eq_ignore_ascii_case("security_invoker")));
                        match cmd_type(cmd) {
                            pg_query::protobuf::AlterTableType::AtSetRelOptions => names_invoker && !invoker_on(&options),
                            pg_query::protobuf::AlterTableType::AtResetRelOptions => names_invoker,
                            _ => false,
                        }
                    })
                    .map(|_| Hit::new(format!("turns security_invoker off on view `{view}`: it shows rows with its owner's rights")))
                    .collect()
            }
            _ => {
                let _ = alter_table_cmds;
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn owner_rights_views_over_existing_tables_fire() {
        assert!(fires(
            &ViewBypassesRls,
            "CREATE VIEW public.v AS SELECT id FROM public.orders;"
        ));
        assert!(fires(
            &ViewBypassesRls,
            "CREATE OR REPLACE VIEW public.v AS SELECT id FROM public.orders;"
        ));
        assert!(fires(
            &ViewBypassesRls,
            "CREATE MATERIALIZED VIEW public.m AS SELECT count(*) FROM public.orders;"
        ));
        assert!(fires(
            &ViewBypassesRls,
            "ALTER VIEW public.v SET (security_invoker = false);"
        ));
        assert!(fires(
            &ViewBypassesRls,
            "ALTER VIEW public.v RESET (security_invoker);"
        ));
        assert!(!fires(
            &ViewBypassesRls,
            "CREATE VIEW public.v WITH (security_invoker = true) AS SELECT id FROM public.orders;"
        ));
        assert!(!fires(
            &ViewBypassesRls,
            "CREATE VIEW private.v AS SELECT id FROM public.orders;"
        ));
        assert!(!fires(
            &ViewBypassesRls,
            "CREATE TABLE public.n (id int); CREATE VIEW public.v AS SELECT id FROM public.n;"
        ));
        assert!(!fires(
            &ViewBypassesRls,
            "ALTER VIEW public.v SET (security_invoker = true);"
        ));
    }
}
