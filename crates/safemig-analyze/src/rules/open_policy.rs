//! `open-policy`: a policy that lets anyone (anon, or every role) read or write every row.

use pg_query::NodeEnum;

use super::{qualified, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct OpenPolicy;

static DOC: RuleDoc = RuleDoc {
    name: "open-policy",
    severity: Severity::Risky,
    summary: "CREATE POLICY ... USING (true) / WITH CHECK (true) for anon or every role",
    what_it_does: "Finds `CREATE POLICY` whose roles include `anon` or `public` (no `TO` clause means public) and \
                   whose `USING` or `WITH CHECK` is the constant `true`, and that lets them write or delete (`FOR \
                   ALL`, `INSERT`, `UPDATE`, `DELETE`). A `FOR SELECT` policy open to all is left to review \
                   (public profiles are often meant to be public).",
    why_it_matters: "Row level security is only as strong as its policies: `USING (true)` for anon makes every row \
                     readable with the public anon key, and `WITH CHECK (true)` for writes lets anyone on the \
                     internet change or delete them. It reads like a policy, so it passes review as one.",
    example: "CREATE POLICY \"allow all\" ON public.payments FOR ALL TO anon, authenticated USING (true) WITH CHECK (true);",
    use_instead: "CREATE POLICY \"owners manage their payments\" ON public.payments FOR ALL TO authenticated\n  \
                  USING ((SELECT auth.uid()) = user_id) WITH CHECK ((SELECT auth.uid()) = user_id);",
};

fn is_true(node: Option<&pg_query::protobuf::Node>) -> bool {
    match node.and_then(|n| n.node.as_ref()) {
        Some(NodeEnum::AConst(c)) => matches!(
            c.val.as_ref(),
            Some(pg_query::protobuf::a_const::Val::Boolval(b)) if b.boolval
        ),
        Some(NodeEnum::TypeCast(t)) => is_true(t.arg.as_deref()),
        _ => false,
    }
}

impl Rule for OpenPolicy {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        let NodeEnum::CreatePolicyStmt(p) = ctx.node else {
            return Vec::new();
        };
        let roles: Vec<String> = p
            .roles
            .iter()
            .filter_map(|r| match r.node.as_ref() {
                Some(NodeEnum::RoleSpec(spec)) if spec.roletype == pg_query::protobuf::RoleSpecType::RolespecPublic as i32 => {
                    Some("public".to_string())
                }
                Some(NodeEnum::RoleSpec(spec)) => Some(spec.rolename.to_ascii_lowercase()),
                _ => None,
            })
            .collect();
        let open_to_anyone = roles.is_empty() || roles.iter().any(|r| r == "anon" || r == "public");
        if !open_to_anyone || !(is_true(p.qual.as_deref()) || is_true(p.with_check.as_deref())) {
            return Vec::new();
        }
        let table = p.table.as_ref().map(qualified).map(|t| t.to_string()).unwrap_or_default();
        if p.cmd_name.eq_ignore_ascii_case("select") {
            // Readable by all can be the point (public profiles): not a refusal.
            return Vec::new();
        }
        let hit = Hit::new(format!(
            "policy `{}` on `{table}` lets {} read, change and delete every row with the public anon key",
            p.policy_name,
            if roles.is_empty() { "every role" } else { "anon" },
        ))
        .help("compare with auth.uid() or a column that says who may see the row");
        vec![hit]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_on_writes_open_to_anon() {
        assert!(fires(&OpenPolicy, "CREATE POLICY \"allow all\" ON public.payments FOR ALL TO anon, authenticated USING (true) WITH CHECK (true);"));
        assert!(fires(&OpenPolicy, "CREATE POLICY p ON public.t FOR DELETE USING (true);"));
    }

    #[test]
    fn quiet_on_owner_checks_and_authenticated_only() {
        assert!(!fires(&OpenPolicy, "CREATE POLICY p ON public.t FOR ALL TO authenticated USING (true);"));
        assert!(!fires(&OpenPolicy, "CREATE POLICY p ON public.t FOR ALL TO anon USING (auth.uid() = owner);"));
    }
}
