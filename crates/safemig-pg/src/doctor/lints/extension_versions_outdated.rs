//! `extension-versions-outdated` (splinter `0022_extension_versions_outdated`, WARN, security)
//!
//! **What it finds**: an installed extension whose version is not the one the
//! server now ships as its default.
//!
//! **Why it matters**: extension updates carry security and correctness fixes; an
//! old version keeps the old bugs after the server itself was upgraded.
//!
//! **Fix**: `ALTER EXTENSION pg_trgm UPDATE;` (test it first: an update can change
//! functions the project uses).

use super::{rows, Category, Hit, Level, Lint, Scope};

pub(super) const LINT: Lint = Lint {
    name: "extension-versions-outdated",
    splinter: "0022_extension_versions_outdated",
    level: Level::Warn,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, _scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    // Only versions the server can update to: an installed version with no update
    // path (left over by pg_upgrade) is not listed by pg_available_extension_versions.
    let sql =
        "SELECT pg_catalog.quote_ident(a.name::text), a.installed_version, a.default_version \
               FROM pg_catalog.pg_available_extensions a \
               WHERE a.installed_version IS NOT NULL AND a.default_version IS NOT NULL \
                 AND a.installed_version <> a.default_version \
                 AND EXISTS (SELECT 1 FROM pg_catalog.pg_available_extension_versions v \
                             WHERE v.name = a.name AND v.version = a.default_version) \
               ORDER BY 1";
    Ok(rows(client, LINT.name, sql, &[])?
        .iter()
        .map(|r| {
            let (name, installed, default): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            Hit {
                object: format!("extension {name}"),
                message: format!(
                    "extension {name} is at version {installed}; the server ships {default}, with the fixes since"
                ),
                fix: format!(
                    "-- test it on a copy first (safemig plan --rehearse): an update can change functions in use\n\
                     ALTER EXTENSION {name} UPDATE;"
                ),
            }
        })
        .collect())
}
