//! `grant-to-anon`: privileges granted to `anon` (or PUBLIC) outside the exposed schemas.

use pg_query::protobuf::{GrantTargetType, ObjectType};
use pg_query::NodeEnum;

use super::{Ctx, Hit, Rule, RuleDoc, Severity};

pub struct GrantToAnon;

static DOC: RuleDoc = RuleDoc {
    name: "grant-to-anon",
    severity: Severity::Risky,
    summary: "GRANT to anon or PUBLIC on a schema or its tables that the API does not expose by default",
    what_it_does: "Finds `GRANT` of schema usage or table privileges to `anon` or `PUBLIC` on a schema that is not \
                   in `[check] exposed_schemas` (default `public`): a private schema opened to the public key.",
    why_it_matters: "Supabase keeps private data in schemas the API does not reach and anon has no rights on. A \
                     grant to anon there is the first half of publishing it: once the schema is exposed, or \
                     through a function or view, every row is readable with the key every client ships.",
    example: "GRANT USAGE ON SCHEMA private TO anon;\nGRANT SELECT ON ALL TABLES IN SCHEMA private TO anon;",
    use_instead: "Grant to authenticated (or a role of your own) and keep row level security and policies on the \
                  tables; expose data through a view with security_invoker = true.",
};

impl Rule for GrantToAnon {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::GrantStmt(g) = ctx.node else {
            return Vec::new();
        };
        if !g.is_grant {
            return Vec::new();
        }
        let to_anon = g.grantees.iter().any(|r| match r.node.as_ref() {
            Some(NodeEnum::RoleSpec(spec)) => {
                spec.roletype == pg_query::protobuf::RoleSpecType::RolespecPublic as i32
                    || spec.rolename.eq_ignore_ascii_case("anon")
            }
            _ => false,
        });
        if !to_anon {
            return Vec::new();
        }
        let schema_of = |n: &pg_query::protobuf::Node| -> Option<String> {
            match n.node.as_ref() {
                // GRANT ... ON SCHEMA s / ON ALL TABLES IN SCHEMA s
                Some(NodeEnum::String(s)) => Some(s.sval.clone()),
                // GRANT ... ON TABLE s.t
                Some(NodeEnum::RangeVar(r)) => Some(if r.schemaname.is_empty() {
                    "public".to_string()
                } else {
                    r.schemaname.clone()
                }),
                _ => None,
            }
        };
        let relevant = g.objtype == ObjectType::ObjectSchema as i32
            || (g.objtype == ObjectType::ObjectTable as i32
                && (g.targtype == GrantTargetType::AclTargetObject as i32
                    || g.targtype == GrantTargetType::AclTargetAllInSchema as i32));
        if !relevant {
            return Vec::new();
        }
        g.objects
            .iter()
            .filter_map(schema_of)
            .filter(|schema| !ctx.file.exposed_schemas.iter().any(|e| e == schema))
            .map(|schema| {
                Hit::new(format!(
                    "grants anon access in schema `{schema}`, which the API does not expose by default: its data \
                     becomes reachable with the public anon key"
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
    fn fires_on_private_schemas() {
        assert!(fires(&GrantToAnon, "GRANT USAGE ON SCHEMA private TO anon;"));
        assert!(fires(&GrantToAnon, "GRANT SELECT ON ALL TABLES IN SCHEMA private TO anon;"));
        assert!(fires(&GrantToAnon, "GRANT SELECT ON private.user_secrets TO PUBLIC;"));
    }

    #[test]
    fn quiet_on_exposed_schemas_other_roles_and_revokes() {
        assert!(!fires(&GrantToAnon, "GRANT SELECT ON public.t TO anon;"));
        assert!(!fires(&GrantToAnon, "GRANT USAGE ON SCHEMA private TO authenticated;"));
        assert!(!fires(&GrantToAnon, "REVOKE ALL ON SCHEMA private FROM anon;"));
    }
}
