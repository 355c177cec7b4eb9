//! `policy-exists-rls-disabled` (splinter `0007_policy_exists_rls_disabled`, ERROR, security)
//!
//! **What it finds**: a table with row level security policies while row level
//! security itself is off.
//!
//! **Why it matters**: the policies look like protection and do nothing: every
//! role with a grant on the table sees and changes every row.
//!
//! **Fix**: `ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;`

use super::{rows, Category, Hit, Level, Lint, Scope, NOT_EXTENSION_RELATION, USER_SCHEMA};

pub(super) const LINT: Lint = Lint {
    name: "policy-exists-rls-disabled",
    splinter: "0007_policy_exists_rls_disabled",
    level: Level::Error,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), \
                pg_catalog.string_agg(pg_catalog.quote_ident(p.polname), ', ' ORDER BY p.polname) \
         FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE NOT c.relrowsecurity AND c.relkind IN ('r', 'p') AND {USER_SCHEMA} AND {NOT_EXTENSION_RELATION} \
         GROUP BY 1 ORDER BY 1"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped])?
        .iter()
        .map(|r| {
            let (table, policies): (String, String) = (r.get(0), r.get(1));
            Hit {
                object: table.clone(),
                message: format!(
                    "table {table} has policies ({policies}) but row level security is off: they protect nothing"
                ),
                fix: format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;"),
            }
        })
        .collect())
}
