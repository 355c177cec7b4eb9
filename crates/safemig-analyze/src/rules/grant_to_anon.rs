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
        let grantees = super::role_names(&g.grantees);
        let to_anon = grantees.iter().any(|r| r == "anon" || r == "public");
        let to_users = to_anon || grantees.iter().any(|r| r == "authenticated");
        let tables = g.objtype == ObjectType::ObjectTable as i32;
        let mut hits = Vec::new();
        // auth.users is the platform's: granted to the API's roles, every user's email is theirs to read.
        if tables && to_users {
            for o in &g.objects {
                if let Some(NodeEnum::RangeVar(r)) = o.node.as_ref() {
                    if r.schemaname == "auth" && r.relname == "users" {
                        hits.push(Hit::new(
                            "grants access to auth.users to the API's roles: every user's email, phone and metadata                              become readable through the API",
                        ));
                    }
                }
            }
        }
        if !to_anon {
            return hits;
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
            || (tables
                && (g.targtype == GrantTargetType::AclTargetObject as i32
                    || g.targtype == GrantTargetType::AclTargetAllInSchema as i32));
        if !relevant {
            return hits;
        }
        for o in &g.objects {
            let Some(schema) = schema_of(o) else { continue };
            if !ctx.file.exposed_schemas.iter().any(|e| *e == schema) {
                hits.push(Hit::new(format!(
                    "grants anon access in schema `{schema}`, which the API does not expose by default: its data                      becomes reachable with the public anon key"
                )));
                continue;
            }
            // In an exposed schema: tables that hold rows already (not made in this file).
            let existing = match o.node.as_ref() {
                Some(NodeEnum::RangeVar(r)) => !ctx.file.created_here(&super::qualified(r)),
                Some(NodeEnum::String(_)) => tables,
                _ => false,
            };
            if existing {
                hits.push(
                    Hit::new(format!(
                        "grants {} on existing tables of `{schema}` to anon: where row level security is off or a                          policy lets every row through, their rows become readable with the public anon key",
                        if g.targtype == GrantTargetType::AclTargetAllInSchema as i32 { "privileges" } else { "privileges" }
                    ))
                    .help("grant to authenticated, and let policies decide the rows"),
                );
            }
        }
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_on_private_schemas() {
        assert!(fires(
            &GrantToAnon,
            "GRANT USAGE ON SCHEMA private TO anon;"
        ));
        assert!(fires(
            &GrantToAnon,
            "GRANT SELECT ON ALL TABLES IN SCHEMA private TO anon;"
        ));
        assert!(fires(
            &GrantToAnon,
            "GRANT SELECT ON private.user_secrets TO PUBLIC;"
        ));
    }

    #[test]
    fn quiet_on_exposed_schemas_other_roles_and_revokes() {
        assert!(!fires(
            &GrantToAnon,
            "CREATE TABLE public.t (id int); GRANT SELECT ON public.t TO anon;"
        ));
        assert!(fires(&GrantToAnon, "GRANT SELECT ON public.t TO anon;"));
        assert!(fires(
            &GrantToAnon,
            "GRANT SELECT ON auth.users TO authenticated;"
        ));
        assert!(!fires(
            &GrantToAnon,
            "GRANT USAGE ON SCHEMA private TO authenticated;"
        ));
        assert!(!fires(
            &GrantToAnon,
            "REVOKE ALL ON SCHEMA private FROM anon;"
        ));
    }
}
