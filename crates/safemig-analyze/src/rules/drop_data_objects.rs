//! `drop-data-objects`: objects that hold data of their own dropped: a sequence
//! (its counter), an extension that keeps tables (pg_cron's jobs, the Vault's
//! secrets), everything a role owns.

use pg_query::protobuf::ObjectType;
use pg_query::NodeEnum;

use super::{dropped_objects, Ctx, Hit, Rule, RuleDoc, Severity};

pub struct DropDataObjects;

static DOC: RuleDoc = RuleDoc {
    name: "drop-data-objects",
    severity: Severity::Risky,
    summary: "DROP SEQUENCE, DROP EXTENSION of an extension with tables, DROP OWNED BY",
    what_it_does: "Finds `DROP SEQUENCE` of a sequence this migration did not create, `DROP EXTENSION` of an \
                   extension that keeps data in tables of its own (`pg_cron`, `pgmq`, `pg_net`, `supabase_vault`, \
                   `pgsodium`, `postgis`, `timescaledb`, ...), and `DROP OWNED BY`.",
    why_it_matters: "A sequence's current value is data: recreated, it starts over and issues numbers (ids, \
                     invoice numbers) that exist already. An extension's own tables (scheduled jobs, queued \
                     messages, encrypted secrets) go with it. `DROP OWNED BY` drops every table and object the \
                     role owns, named nowhere in the migration.",
    example: "DROP EXTENSION IF EXISTS pg_cron;",
    use_instead: "Keep the sequence (or setval the new one from the data); export an extension's data before \
                  dropping it; `REASSIGN OWNED BY old TO new` before `DROP OWNED BY`.",
};

/// Extensions that keep the project's data in tables of their own.
const DATA_EXTENSIONS: &[&str] = &[
    "pg_cron",
    "pgmq",
    "pg_net",
    "supabase_vault",
    "pgsodium",
    "postgis",
    "postgis_topology",
    "postgis_tiger_geocoder",
    "timescaledb",
    "pg_partman",
    "pgaudit",
    "pg_graphql",
];

impl Rule for DropDataObjects {
    fn doc(&self) -> &'static RuleDoc {
        &DOC
    }

    fn check(&self, ctx: &Ctx<'_>) -> Vec<Hit> {
        match ctx.node {
            NodeEnum::DropOwnedStmt(d) => {
                let roles: Vec<String> = d
                    .roles
                    .iter()
                    .filter_map(|r| match r.node.as_ref() {
                        Some(NodeEnum::RoleSpec(s)) => Some(s.rolename.clone()),
                        _ => None,
                    })
                    .collect();
                vec![Hit::new(format!(
                    "drops every table and object owned by {}, with their data, none of them named",
                    roles.join(", ")
                ))
                .help("REASSIGN OWNED BY the role TO another first, then drop what you name")]
            }
            NodeEnum::DropStmt(stmt) => match ObjectType::try_from(stmt.remove_type) {
                Ok(ObjectType::ObjectSequence) => dropped_objects(stmt)
                    .into_iter()
                    .filter(|parts| {
                        let name = match parts.as_slice() {
                            [s, n] => crate::parse::QualifiedName { schema: s.clone(), name: n.clone() },
                            _ => crate::parse::QualifiedName { schema: String::new(), name: parts.join(".") },
                        };
                        !ctx.file.creates_sequence(&name)
                    })
                    .map(|parts| {
                        Hit::new(format!(
                            "drops sequence `{}` and its current value: a new one would issue numbers that exist already",
                            parts.join(".")
                        ))
                    })
                    .collect(),
                Ok(ObjectType::ObjectExtension) => dropped_objects(stmt)
                    .into_iter()
                    .map(|parts| parts.join("."))
                    .filter(|name| DATA_EXTENSIONS.contains(&name.to_ascii_lowercase().as_str()))
                    .map(|name| {
                        Hit::new(format!("drops extension `{name}` and the data it keeps in its own tables"))
                            .help("export what it holds first (scheduled jobs, queued messages, secrets)")
                    })
                    .collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::fires;

    #[test]
    fn data_holding_drops_fire() {
        assert!(fires(
            &DropDataObjects,
            "DROP SEQUENCE public.invoice_number_seq;"
        ));
        assert!(fires(&DropDataObjects, "DROP EXTENSION IF EXISTS pg_cron;"));
        assert!(fires(&DropDataObjects, "DROP OWNED BY legacy_admin;"));
        assert!(!fires(
            &DropDataObjects,
            "DROP EXTENSION IF EXISTS \"uuid-ossp\";"
        ));
        assert!(!fires(
            &DropDataObjects,
            "CREATE SEQUENCE public.s; DROP SEQUENCE public.s;"
        ));
    }
}
