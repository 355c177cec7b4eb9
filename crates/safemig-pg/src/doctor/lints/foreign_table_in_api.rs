//! `foreign-table-in-api` (splinter `0017_foreign_table_in_api`, WARN, security)
//!
//! **What it finds**: a foreign table (`postgres_fdw`, `wrappers`, ...) in an
//! exposed schema that `anon` or `authenticated` may select.
//!
//! **Why it matters**: foreign tables have no row level security: the remote rows
//! are readable through the API, with the credentials of the foreign server.
//!
//! **Fix**: `REVOKE SELECT ON public.remote_orders FROM anon, authenticated;`, or
//! move it to a schema the API does not expose.

use super::materialized_view_in_api::relations_in_api;
use super::{Category, Hit, Level, Lint, Scope};

pub(super) const LINT: Lint = Lint {
    name: "foreign-table-in-api",
    splinter: "0017_foreign_table_in_api",
    level: Level::Warn,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    relations_in_api(
        client,
        scope,
        'f',
        LINT.name,
        "foreign table",
        "has no row level security",
    )
}
