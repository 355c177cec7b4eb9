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
        if let NodeEnum::AlterPolicyStmt(p) = ctx.node {
            // Rewritten to let every row through, for whoever it applies to.
            if is_true(p.qual.as_deref()) || is_true(p.with_check.as_deref()) {
                let table = p
                    .table
                    .as_ref()
                    .map(qualified)
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                return vec![Hit::new(format!(
                    "policy `{}` on `{table}` now lets every row through for the roles it applies to",
                    p.policy_name
                ))
                .help("keep a condition that says whose rows these are, e.g. user_id = (select auth.uid())")];
            }
            return Vec::new();
        }
        let NodeEnum::CreatePolicyStmt(p) = ctx.node else {
            return Vec::new();
        };
        let roles = super::role_names(&p.roles);
        let open_to_anyone = roles.is_empty() || roles.iter().any(|r| r == "anon" || r == "public");
        // Sign-up is open on most projects: every signed-in user is anyone with an email.
        let open_to_users = open_to_anyone || roles.iter().any(|r| r == "authenticated");
        let Some(table_name) = p.table.as_ref().map(qualified) else {
            return Vec::new();
        };
        let table = table_name.to_string();
        let existing = !ctx.file.created_here(&table_name);
        let always = is_true(p.qual.as_deref()) || is_true(p.with_check.as_deref());
        // storage.objects: a policy whose only condition is the bucket opens the whole bucket.
        let whole_bucket = super::effective_schema(&table_name) == "storage"
            && table_name.name == "objects"
            && only_bucket(p.qual.as_deref());
        // On a table that holds rows, a policy that lets every row through exposes them all at once.
        if existing && open_to_users && (always || whole_bucket) {
            return vec![Hit::new(format!(
                "policy `{}` lets {} {} every row of `{table}`{}, which holds rows already",
                p.policy_name,
                if open_to_anyone { "anyone with the public anon key" } else { "every signed-in user" },
                if p.cmd_name.eq_ignore_ascii_case("select") { "read".to_string() } else { p.cmd_name.to_lowercase() },
                if whole_bucket { " in that bucket" } else { "" }
            ))
            .help("compare with auth.uid() or a column that says who may see the row; keep public data in a table of its own")];
        }
        if p.cmd_name.eq_ignore_ascii_case("select") {
            // A new table readable by all can be the point (public reference data).
            return Vec::new();
        }
        if !open_to_anyone || !always {
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

/// `bucket_id = '...'` (or an OR of those), and nothing else.
fn only_bucket(node: Option<&pg_query::protobuf::Node>) -> bool {
    match node.and_then(|n| n.node.as_ref()) {
        Some(NodeEnum::AExpr(e)) => {
            let column = |n: Option<&pg_query::protobuf::Node>| {
                matches!(n.and_then(|x| x.node.as_ref()), Some(NodeEnum::ColumnRef(c))
                    if c.fields.last().is_some_and(|f| matches!(f.node.as_ref(), Some(NodeEnum::String(s)) if s.sval == "bucket_id")))
            };
            let constant =
                |n: Option<&pg_query::protobuf::Node>| match n.and_then(|x| x.node.as_ref()) {
                    Some(NodeEnum::AConst(_)) => true,
                    Some(NodeEnum::TypeCast(t)) => matches!(
                        t.arg.as_deref().and_then(|a| a.node.as_ref()),
                        Some(NodeEnum::AConst(_))
                    ),
                    _ => false,
                };
            (column(e.lexpr.as_deref()) && constant(e.rexpr.as_deref()))
                || (constant(e.lexpr.as_deref()) && column(e.rexpr.as_deref()))
        }
        Some(NodeEnum::BoolExpr(b))
            if b.boolop == pg_query::protobuf::BoolExprType::OrExpr as i32 =>
        {
            b.args.iter().all(|a| only_bucket(Some(a)))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn fires_on_writes_open_to_anon() {
        assert!(fires(&OpenPolicy, "CREATE POLICY \"allow all\" ON public.payments FOR ALL TO anon, authenticated USING (true) WITH CHECK (true);"));
        assert!(fires(
            &OpenPolicy,
            "CREATE POLICY p ON public.t FOR DELETE USING (true);"
        ));
    }

    #[test]
    fn quiet_on_owner_checks_and_authenticated_only() {
        assert!(fires(
            &OpenPolicy,
            "CREATE POLICY p ON public.t FOR ALL TO authenticated USING (true);"
        ));
        assert!(!fires(&OpenPolicy, "CREATE TABLE public.t (id int); CREATE POLICY p ON public.t FOR ALL TO authenticated USING (true);"));
        assert!(fires(
            &OpenPolicy,
            "CREATE POLICY p ON public.profiles FOR SELECT TO anon USING (true);"
        ));
        assert!(fires(
            &OpenPolicy,
            "CREATE POLICY p ON storage.objects FOR SELECT USING (bucket_id = 'avatars');"
        ));
        assert!(!fires(&OpenPolicy, "CREATE POLICY p ON storage.objects FOR SELECT TO authenticated USING (bucket_id = 'avatars' AND owner = auth.uid());"));
        assert!(fires(
            &OpenPolicy,
            "ALTER POLICY p ON public.orders USING (true);"
        ));
        assert!(!fires(
            &OpenPolicy,
            "CREATE POLICY p ON public.t FOR ALL TO anon USING (auth.uid() = owner);"
        ));
    }
}
