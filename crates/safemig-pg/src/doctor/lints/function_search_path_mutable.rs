//! `function-search-path-mutable` (splinter `0011_function_search_path_mutable`, WARN, security)
//!
//! **What it finds**: a function or procedure of the project (not `SECURITY
//! DEFINER`: those are `security-definer-without-search-path`) without a
//! `search_path` setting of its own.
//!
//! **Why it matters**: the names in its body resolve through the caller's
//! `search_path`: a caller (or a trigger's session) that puts its own schema first
//! makes it call another `users` table or another `now()`.
//!
//! **Fix**: `ALTER FUNCTION public.touch() SET search_path = '';` and names in the
//! body schema-qualified.

use super::{rows, Category, Hit, Level, Lint, Scope, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "function-search-path-mutable",
    splinter: "0011_function_search_path_mutable",
    level: Level::Warn,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, p.proname), pg_catalog.pg_get_function_identity_arguments(p.oid), p.prokind::text \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE p.prokind IN ('f', 'p') AND NOT p.prosecdef AND {USER_SCHEMA} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass \
                           AND d.objid = p.oid AND d.deptype = 'e') \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(coalesce(p.proconfig, '{{}}'::text[])) s WHERE s LIKE 'search\\_path=%') \
         ORDER BY 1, 2"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped])?
        .iter()
        .map(|r| {
            let (function, args, kind): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            let keyword = if kind == "p" { "PROCEDURE" } else { "FUNCTION" };
            Hit {
                object: format!("{function}({args})"),
                message: format!(
                    "{} {function}({args}) has no search_path of its own: the names in its body resolve through \
                     the caller's",
                    keyword.to_lowercase()
                ),
                fix: format!(
                    "ALTER {keyword} {function}({args}) SET search_path = '';\n\
                     -- then every name in its body must be schema-qualified (public.users, pg_catalog.now())"
                ),
            }
        })
        .collect())
}
