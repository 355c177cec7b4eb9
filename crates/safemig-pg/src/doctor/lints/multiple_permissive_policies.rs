//! `multiple-permissive-policies` (splinter `0006_multiple_permissive_policies`, WARN, performance)
//!
//! **What it finds**: two or more permissive policies on one table that apply to
//! the same role for the same command.
//!
//! **Why it matters**: PostgreSQL evaluates every one of them for every row (they
//! are OR-ed): one policy whose condition is the OR of theirs does the same work once.
//!
//! **Fix**: one policy for that role and command, `USING ((a) OR (b))`, and the
//! role or command taken out of the others.

use super::{rows, Category, Hit, Level, Lint, Scope, NOT_EXTENSION_RELATION, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "multiple-permissive-policies",
    splinter: "0006_multiple_permissive_policies",
    level: Level::Warn,
    category: Category::Performance,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    // A policy TO PUBLIC (role 0) applies to every role that does not bypass RLS.
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), r.rolname::text, a.cmd, \
                pg_catalog.string_agg(pg_catalog.quote_ident(p.polname), ', ' ORDER BY p.polname), \
                pg_catalog.string_agg('(' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'true') || ')', ' OR ' ORDER BY p.polname) \
         FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_roles r ON r.oid = ANY(p.polroles) OR p.polroles = ARRAY[0::pg_catalog.oid] \
         CROSS JOIN LATERAL pg_catalog.unnest(CASE p.polcmd WHEN 'r' THEN ARRAY['SELECT'] WHEN 'a' THEN ARRAY['INSERT'] \
              WHEN 'w' THEN ARRAY['UPDATE'] WHEN 'd' THEN ARRAY['DELETE'] ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] END) a(cmd) \
         WHERE p.polpermissive AND c.relkind IN ('r', 'p') AND {USER_SCHEMA} AND {NOT_EXTENSION_RELATION} \
           AND NOT r.rolbypassrls AND NOT r.rolsuper AND r.rolname NOT LIKE 'pg\\_%' AND r.rolname NOT LIKE 'supabase%admin' \
         GROUP BY 1, 2, 3 HAVING pg_catalog.count(*) > 1 ORDER BY 1, 2, 3"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped])?
        .iter()
        .map(|r| {
            let (table, role, command, policies, using): (String, String, String, String, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
            Hit {
                object: format!("{table} ({role}, {command})"),
                message: format!(
                    "table {table} has several permissive policies for role {role} on {command} ({policies}): each \
                     is evaluated for every row; one policy with their conditions OR-ed does the work once"
                ),
                fix: format!(
                    "-- one policy for {role} on {command} (WITH CHECK likewise for INSERT and UPDATE):\n\
                     CREATE POLICY \"{role} {cmd}\" ON {table} FOR {command} TO {role} USING ({using});\n\
                     -- then take {role} (or {command}) out of {policies} with ALTER POLICY ... TO ... or DROP POLICY",
                    cmd = command.to_lowercase()
                ),
            }
        })
        .collect())
}
