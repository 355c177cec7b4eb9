//! `rls-policy-always-true` (splinter `0024_rls_policy_always_true`, WARN, security)
//!
//! **What it finds**: a permissive policy for `anon`, `authenticated` or every role
//! (`PUBLIC`) that lets any row through where it matters: `USING (true)` on
//! `UPDATE`, `DELETE` or `ALL`, or `WITH CHECK (true)` (or none) on `INSERT`.
//! (`USING (true)` on `SELECT` is the usual way to publish a table, and is left alone.)
//!
//! **Why it matters**: row level security is on and looks in force, yet anyone
//! holding the public key may change or delete every row, or insert any.
//!
//! **Fix**: a condition on the row's owner:
//! `ALTER POLICY "edit" ON public.notes USING (user_id = (select auth.uid()));`

use super::{rows, Category, Hit, Level, Lint, Scope, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "rls-policy-always-true",
    splinter: "0024_rls_policy_always_true",
    level: Level::Warn,
    category: Category::Security,
    find,
};

/// An expression (as PostgreSQL prints it) that holds for every row.
fn always_true(expression: Option<&str>) -> bool {
    let Some(e) = expression else { return false };
    let e: String = e
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    matches!(e.as_str(), "true" | "(true)" | "1=1" | "(1=1)")
}

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.quote_ident(p.polname), \
                CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END, \
                pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), \
                CASE WHEN p.polroles = ARRAY[0::pg_catalog.oid] THEN 'public' \
                     ELSE (SELECT pg_catalog.string_agg(r.rolname::text, ', ' ORDER BY r.rolname) FROM pg_catalog.pg_roles r WHERE r.oid = ANY(p.polroles)) END \
         FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relrowsecurity AND p.polpermissive AND {USER_SCHEMA} \
           AND (p.polroles = ARRAY[0::pg_catalog.oid] OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r \
                WHERE r.oid = ANY(p.polroles) AND r.rolname IN ('anon', 'authenticated'))) \
         ORDER BY 1, 2"
    );
    let mut hits = Vec::new();
    for r in rows(client, LINT.name, &sql, &[&scope.skipped])? {
        let (table, policy, command, roles): (String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(5));
        let (using, check): (Option<String>, Option<String>) = (r.get(3), r.get(4));
        let open_using = matches!(command.as_str(), "UPDATE" | "DELETE" | "ALL")
            && always_true(using.as_deref());
        let open_check = always_true(check.as_deref())
            || (check.is_none() && command == "INSERT")
            || (check.is_none()
                && matches!(command.as_str(), "UPDATE" | "ALL")
                && always_true(using.as_deref()));
        if !open_using && !open_check {
            continue;
        }
        let which = match (open_using, open_check) {
            (true, true) => "USING and WITH CHECK are always true",
            (true, false) => "USING is always true",
            _ => "WITH CHECK is always true",
        };
        let mut fix = format!("ALTER POLICY {policy} ON {table}");
        if command != "INSERT" {
            fix.push_str(" USING (user_id = (select auth.uid()))");
        }
        if command != "DELETE" {
            fix.push_str(" WITH CHECK (user_id = (select auth.uid()))");
        }
        hits.push(Hit {
            object: format!("policy {policy} on {table}"),
            message: format!(
                "policy {policy} on {table} lets {roles} {command} any row ({which}): row level security is on \
                 but guards nothing there"
            ),
            fix: format!("-- replace user_id with the column that names the row's owner:\n{fix};"),
        });
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    #[test]
    fn always_true_forms() {
        assert!(super::always_true(Some("true")));
        assert!(super::always_true(Some("(1 = 1)")));
        assert!(!super::always_true(Some("(user_id = auth.uid())")));
        assert!(!super::always_true(None));
    }
}
