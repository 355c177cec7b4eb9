//! `anon-security-definer-function-executable` and
//! `authenticated-security-definer-function-executable` (splinter
//! `0028_anon_security_definer_function_executable`,
//! `0029_authenticated_security_definer_function_executable`, WARN, security)
//!
//! **What they find**: a `SECURITY DEFINER` function in an exposed schema that
//! `anon` (resp. `authenticated`) may execute. (Functions are executable by
//! `PUBLIC` unless revoked.) Trigger functions are left out: the API cannot call
//! them.
//!
//! **Why it matters**: it runs with its owner's rights, past row level security,
//! and the API publishes it as `/rest/v1/rpc/<name>`: whatever it reads or writes,
//! anyone holding the key (or anyone who signs up) can have it do.
//!
//! **Fix**: `REVOKE EXECUTE ON FUNCTION public.admin_reset(uuid) FROM PUBLIC, anon;`,
//! or `ALTER FUNCTION ... SECURITY INVOKER`, or move it out of the exposed schema.

use super::{rows, Category, Hit, Level, Lint, Scope, USER_SCHEMA};

pub(super) const ANON: Lint = Lint {
    name: "anon-security-definer-function-executable",
    splinter: "0028_anon_security_definer_function_executable",
    level: Level::Warn,
    category: Category::Security,
    find: find_anon,
};

pub(super) const AUTHENTICATED: Lint = Lint {
    name: "authenticated-security-definer-function-executable",
    splinter: "0029_authenticated_security_definer_function_executable",
    level: Level::Warn,
    category: Category::Security,
    find: find_authenticated,
};

fn find_anon(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    find(client, scope, "anon", ANON.name)
}

fn find_authenticated(
    client: &mut postgres::Client,
    scope: &Scope,
) -> Result<Vec<Hit>, crate::PgError> {
    find(client, scope, "authenticated", AUTHENTICATED.name)
}

fn find(
    client: &mut postgres::Client,
    scope: &Scope,
    role: &str,
    name: &str,
) -> Result<Vec<Hit>, crate::PgError> {
    if !scope.api_roles.iter().any(|r| r == role) {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, p.proname), pg_catalog.pg_get_function_identity_arguments(p.oid), \
                p.proname::text \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.prosecdef AND p.prokind = 'f' AND n.nspname = ANY($3::text[]) AND {USER_SCHEMA} \
           AND p.prorettype NOT IN ('pg_catalog.trigger'::pg_catalog.regtype, 'pg_catalog.event_trigger'::pg_catalog.regtype) \
           AND pg_catalog.has_function_privilege($2::name, p.oid, 'EXECUTE') \
         ORDER BY 1, 2"
    );
    let audience = if role == "anon" {
        "anyone holding the public anon key"
    } else {
        "every signed-in user"
    };
    Ok(rows(client, name, &sql, &[&scope.skipped, &role, &scope.exposed])?
        .iter()
        .map(|r| {
            let (function, args, plain): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            Hit {
                object: format!("{function}({args})"),
                message: format!(
                    "security definer function {function}({args}) runs with its owner's rights, past row level \
                     security, and {audience} may call it as /rest/v1/rpc/{plain}"
                ),
                fix: format!(
                    "-- if {audience} should not call it (EXECUTE is granted to PUBLIC by default):\n\
                     REVOKE EXECUTE ON FUNCTION {function}({args}) FROM PUBLIC, {role};\n\
                     -- or let it run with the caller's rights: ALTER FUNCTION {function}({args}) SECURITY INVOKER;"
                ),
            }
        })
        .collect())
}
