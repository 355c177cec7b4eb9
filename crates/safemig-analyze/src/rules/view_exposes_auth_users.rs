//! `view-exposes-auth-users`: a view in an exposed schema reads `auth.users`
//! with its owner's rights.

use pg_query::{NodeEnum, NodeRef};

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct ViewExposesAuthUsers;

static DOC: RuleDoc = RuleDoc {
    name: "view-exposes-auth-users",
    severity: Severity::Risky,
    summary: "a view in an exposed schema reads auth.users without security_invoker",
    what_it_does: "Finds `CREATE VIEW` in an exposed schema (`[check] exposed_schemas`) that reads `auth.users` and \
                   is not `WITH (security_invoker = true)`.",
    why_it_matters: "A view runs with its owner's rights unless it is `security_invoker`: row level security of the \
                     tables it reads does not apply to the caller. In the API's schema, it hands every user's \
                     email, phone and metadata to anyone with the public anon key (Supabase's linter calls it \
                     `auth_users_exposed`).",
    example: "CREATE VIEW public.profile_directory AS\n  SELECT p.id, u.email FROM public.profiles p JOIN auth.users u ON u.id = p.id;",
    use_instead: "Keep what the API needs in a table of your own (filled by a trigger), behind row level security; \
                  or put the view in a schema the API does not expose.",
};

impl Rule for ViewExposesAuthUsers {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::ViewStmt(v) = ctx.node else {
            return Vec::new();
        };
        let Some(view) = v.view.as_ref().map(qualified) else {
            return Vec::new();
        };
        let invoker = v.options.iter().any(|o| match o.node.as_ref() {
            Some(NodeEnum::DefElem(d)) => d.defname.eq_ignore_ascii_case("security_invoker"),
            _ => false,
        });
        if invoker || !ctx.file.is_exposed(&view) {
            return Vec::new();
        }
        let reads_users = v
            .query
            .as_deref()
            .and_then(|q| q.node.as_ref())
            .is_some_and(|q| {
                q.nodes().into_iter().any(|(n, ..)| {
                matches!(n, NodeRef::RangeVar(r) if r.schemaname == "auth" && r.relname == "users")
            })
            });
        if !reads_users {
            return Vec::new();
        }
        vec![Hit::new(format!(
            "view `{view}` reads auth.users with its owner's rights, in a schema the API exposes: every user's \
             email and metadata become readable with the anon key"
        ))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_on_a_definer_view_of_auth_users() {
        assert!(fires(
            &ViewExposesAuthUsers,
            "CREATE VIEW public.d AS SELECT p.id, u.email FROM public.profiles p JOIN auth.users u ON u.id = p.id;"
        ));
    }

    #[test]
    fn quiet_with_security_invoker_or_elsewhere() {
        assert!(!fires(
            &ViewExposesAuthUsers,
            "CREATE VIEW public.d WITH (security_invoker = true) AS SELECT email FROM auth.users;"
        ));
        assert!(!fires(
            &ViewExposesAuthUsers,
            "CREATE VIEW private.d AS SELECT email FROM auth.users;"
        ));
        assert!(!fires(
            &ViewExposesAuthUsers,
            "CREATE VIEW public.d AS SELECT 1 AS x;"
        ));
    }
}
