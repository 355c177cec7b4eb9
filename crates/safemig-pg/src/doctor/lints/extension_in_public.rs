//! `extension-in-public` (splinter `0014_extension_in_public`, WARN, security)
//!
//! **What it finds**: an extension (other than `plpgsql`) installed in schema `public`.
//!
//! **Why it matters**: its functions and types land in the schema the API exposes
//! and every role can use: they show up as API endpoints, and a name of theirs can
//! shadow or be shadowed by the project's.
//!
//! **Fix**: `ALTER EXTENSION citext SET SCHEMA extensions;` (for an extension that
//! cannot move: drop it and create it again `WITH SCHEMA extensions`).

use super::{rows, Category, Hit, Level, Lint, Scope};

pub(super) const LINT: Lint = Lint {
    name: "extension-in-public",
    splinter: "0014_extension_in_public",
    level: Level::Warn,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, _scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    let sql = "SELECT pg_catalog.quote_ident(e.extname), e.extrelocatable FROM pg_catalog.pg_extension e \
               JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
               WHERE n.nspname = 'public' AND e.extname <> 'plpgsql' ORDER BY 1";
    Ok(rows(client, LINT.name, sql, &[])?
        .iter()
        .map(|r| {
            let (name, relocatable): (String, bool) = (r.get(0), r.get(1));
            Hit {
                object: format!("extension {name}"),
                message: format!(
                    "extension {name} is installed in schema public: its functions and types are in the schema the \
                     API exposes and every role uses"
                ),
                fix: if relocatable {
                    format!("CREATE SCHEMA IF NOT EXISTS extensions;\nALTER EXTENSION {name} SET SCHEMA extensions;")
                } else {
                    format!(
                        "-- {name} cannot be moved: recreate it in schema extensions (objects using it must be recreated too)\n\
                         -- DROP EXTENSION {name}; CREATE EXTENSION {name} WITH SCHEMA extensions;"
                    )
                },
            }
        })
        .collect())
}
