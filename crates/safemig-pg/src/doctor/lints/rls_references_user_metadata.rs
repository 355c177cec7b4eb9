//! `rls-references-user-metadata` (splinter `0015_rls_references_user_metadata`, ERROR, security)
//!
//! **What it finds**: a policy that reads `user_metadata` from the request's JWT
//! (`auth.jwt() -> 'user_metadata'`, or the `request.jwt.claims` setting).
//!
//! **Why it matters**: `user_metadata` is written by the user themself
//! (`supabase.auth.updateUser({ data: ... })`): a policy that trusts it lets any
//! user grant themself what it guards, `{"role": "admin"}` included.
//!
//! **Fix**: read `app_metadata` instead, which only the server can write:
//! `USING ((select auth.jwt()) -> 'app_metadata' ->> 'role' = 'admin')`.

use super::{rows, Category, Hit, Level, Lint, Scope, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "rls-references-user-metadata",
    splinter: "0015_rls_references_user_metadata",
    level: Level::Error,
    category: Category::Security,
    find,
};

fn trusts_user_metadata(expression: &str) -> bool {
    let lower = expression.to_lowercase();
    lower.contains("user_metadata")
        && (lower.contains("auth.jwt()") || lower.contains("request.jwt.claim"))
}

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.quote_ident(p.polname), \
                coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '') || ' ' || \
                coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '') \
         FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE {USER_SCHEMA} ORDER BY 1, 2"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped])?
        .iter()
        .filter(|r| trusts_user_metadata(&r.get::<_, String>(2)))
        .map(|r| {
            let (table, policy): (String, String) = (r.get(0), r.get(1));
            Hit {
                object: format!("policy {policy} on {table}"),
                message: format!(
                    "policy {policy} on {table} trusts user_metadata from the JWT, which every user can write for \
                     themself: they can grant themself what it guards"
                ),
                fix: format!(
                    "-- read app_metadata (only the server writes it) instead of user_metadata, e.g.:\n\
                     ALTER POLICY {policy} ON {table} USING (((select auth.jwt()) -> 'app_metadata' ->> 'role') = 'admin');"
                ),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_metadata_from_the_jwt_is_found() {
        assert!(super::trusts_user_metadata(
            "((auth.jwt() -> 'user_metadata'::text) ->> 'role'::text) = 'admin'::text"
        ));
        assert!(!super::trusts_user_metadata(
            "((auth.jwt() -> 'app_metadata'::text) ->> 'role'::text) = 'admin'::text"
        ));
    }
}
