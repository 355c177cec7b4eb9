//! `public-bucket-allows-listing` (splinter `0025_public_bucket_allows_listing`, WARN, security)
//!
//! **What it finds**: a public storage bucket and a permissive `SELECT` (or `ALL`)
//! policy on `storage.objects` for `anon`, `authenticated` or every role that lets
//! through every object of it: no condition, `true`, or only `bucket_id = '<it>'`.
//!
//! **Why it matters**: a public bucket serves its files by URL without any policy;
//! the policy adds the power to *list* them, so anyone can enumerate every file
//! name (and download those nobody was given the URL of).
//!
//! **Fix**: `DROP POLICY "public read" ON storage.objects;` (the URLs keep working).

use super::{rows, Category, Hit, Level, Lint, Scope};

pub(super) const LINT: Lint = Lint {
    name: "public-bucket-allows-listing",
    splinter: "0025_public_bucket_allows_listing",
    level: Level::Warn,
    category: Category::Security,
    find,
};

/// Does `qual` let through every object of bucket `id`?
fn lists_everything(qual: Option<&str>, id: &str) -> bool {
    let Some(qual) = qual else { return true };
    let compact: String = qual
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let compact = compact
        .trim_start_matches('(')
        .trim_end_matches(')')
        .to_string();
    if matches!(compact.as_str(), "true" | "1=1") {
        return true;
    }
    // bucket_id = 'id' (with or without a ::text cast), and nothing else.
    let literal = format!("'{}'", id.to_lowercase().replace('\'', "''"));
    let without_cast = compact.strip_suffix("::text").unwrap_or(&compact);
    without_cast == format!("bucket_id={literal}")
}

fn find(client: &mut postgres::Client, _scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let present: bool = client
        .query_one(
            "SELECT pg_catalog.to_regclass('storage.buckets') IS NOT NULL AND pg_catalog.to_regclass('storage.objects') IS NOT NULL \
             AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = pg_catalog.to_regclass('storage.buckets') AND attname = 'public')",
            &[],
        )
        .map_err(|e| crate::PgError::sql("lint public-bucket-allows-listing", &e))?
        .get(0);
    if !present {
        return Ok(Vec::new());
    }
    let buckets: Vec<(String, String)> = rows(
        client,
        LINT.name,
        "SELECT id::text, name::text FROM storage.buckets WHERE public ORDER BY 1",
        &[],
    )?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let policies = rows(
        client,
        LINT.name,
        "SELECT pg_catalog.quote_ident(p.polname), pg_catalog.pg_get_expr(p.polqual, p.polrelid) \
         FROM pg_catalog.pg_policy p WHERE p.polrelid = 'storage.objects'::pg_catalog.regclass \
           AND p.polpermissive AND p.polcmd IN ('r', '*') \
           AND (p.polroles = ARRAY[0::pg_catalog.oid] OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r \
                WHERE r.oid = ANY(p.polroles) AND r.rolname IN ('anon', 'authenticated'))) \
         ORDER BY 1",
        &[],
    )?;
    let mut hits = Vec::new();
    for (id, name) in &buckets {
        let open: Vec<String> = policies
            .iter()
            .filter(|p| lists_everything(p.get::<_, Option<String>>(1).as_deref(), id))
            .map(|p| p.get(0))
            .collect();
        if open.is_empty() {
            continue;
        }
        hits.push(Hit {
            object: format!("bucket {name}"),
            message: format!(
                "public bucket {name} has a SELECT policy on storage.objects that lets anyone list all its files \
                 ({}); a public bucket serves files by URL without one",
                open.join(", ")
            ),
            fix: open
                .iter()
                .map(|p| format!("DROP POLICY {p} ON storage.objects;"))
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_whole_bucket_condition_is_found_and_a_narrower_one_is_not() {
        assert!(super::lists_everything(None, "avatars"));
        assert!(super::lists_everything(Some("true"), "avatars"));
        assert!(super::lists_everything(
            Some("(bucket_id = 'avatars'::text)"),
            "avatars"
        ));
        assert!(!super::lists_everything(
            Some("(bucket_id = 'other'::text)"),
            "avatars"
        ));
        assert!(!super::lists_everything(
            Some("((bucket_id = 'avatars'::text) AND (owner = auth.uid()))"),
            "avatars"
        ));
    }
}
