//! `auth-rls-initplan` (splinter `0003_auth_rls_initplan`, WARN, performance)
//!
//! **What it finds**: a policy on a table with row level security on that calls
//! `auth.uid()`, `auth.jwt()`, `auth.role()`, `auth.email()` or `current_setting()`
//! directly instead of through a sub-select.
//!
//! **Why it matters**: called directly, the function runs once per row; wrapped in
//! `(select auth.uid())`, PostgreSQL runs it once per query (an init plan). On a
//! table of a million rows that is the difference between milliseconds and seconds.
//!
//! **Fix**: `ALTER POLICY "own rows" ON public.notes USING (user_id = (select auth.uid()));`

use super::{rows, Category, Hit, Level, Lint, Scope, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "auth-rls-initplan",
    splinter: "0003_auth_rls_initplan",
    level: Level::Warn,
    category: Category::Performance,
    find,
};

const CALLS: &[&str] = &["auth.uid()", "auth.jwt()", "auth.role()", "auth.email()"];

/// Does `expression` (as PostgreSQL prints it) call a per-request function per row?
fn per_row(expression: &str) -> bool {
    let lower = expression.to_lowercase();
    let direct =
        |call: &str| lower.matches(call).count() > lower.matches(&format!("select {call}")).count();
    CALLS.iter().any(|call| direct(call)) || direct("current_setting(")
}

/// `expression` with each direct call wrapped in a sub-select.
fn wrapped(expression: &str) -> String {
    let mut out = expression.to_string();
    for call in CALLS {
        out = out.replace(&format!("( SELECT {call}"), "\u{0}");
        out = out.replace(call, &format!("(select {call})"));
        out = out.replace('\u{0}', &format!("( SELECT {call}"));
    }
    out
}

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.quote_ident(p.polname), \
                pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) \
         FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relrowsecurity AND {USER_SCHEMA} ORDER BY 1, 2"
    );
    let mut hits = Vec::new();
    for r in rows(client, LINT.name, &sql, &[&scope.skipped])? {
        let (table, policy): (String, String) = (r.get(0), r.get(1));
        let (using, check): (Option<String>, Option<String>) = (r.get(2), r.get(3));
        if !using.as_deref().is_some_and(per_row) && !check.as_deref().is_some_and(per_row) {
            continue;
        }
        let mut fix = format!("ALTER POLICY {policy} ON {table}");
        if let Some(u) = &using {
            fix.push_str(&format!(" USING ({})", wrapped(u)));
        }
        if let Some(c) = &check {
            fix.push_str(&format!(" WITH CHECK ({})", wrapped(c)));
        }
        fix.push(';');
        hits.push(Hit {
            object: format!("policy {policy} on {table}"),
            message: format!(
                "policy {policy} on {table} calls auth.<function>() or current_setting() for every row it checks; \
                 wrapped in a sub-select it runs once per query"
            ),
            fix,
        });
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_calls_are_per_row_and_wrapped_ones_are_not() {
        assert!(per_row("(user_id = auth.uid())"));
        assert!(!per_row("(user_id = ( SELECT auth.uid() AS uid))"));
        assert!(per_row("((auth.jwt() ->> 'role'::text) = 'admin'::text)"));
        assert!(!per_row("(owner = CURRENT_USER)"));
        assert!(per_row(
            "((a = ( SELECT auth.uid() AS uid)) OR (b = auth.uid()))"
        ));
        assert_eq!(
            wrapped("(user_id = auth.uid())"),
            "(user_id = (select auth.uid()))"
        );
        assert_eq!(
            wrapped("(a = ( SELECT auth.uid() AS uid)) OR (b = auth.uid())"),
            "(a = ( SELECT auth.uid() AS uid)) OR (b = (select auth.uid()))"
        );
    }
}
