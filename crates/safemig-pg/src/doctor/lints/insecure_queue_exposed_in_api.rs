//! `insecure-queue-exposed-in-api` (splinter `0019_insecure_queue_exposed_in_api`, ERROR, security)
//!
//! **What it finds**: a Supabase Queues (`pgmq`) queue table without row level
//! security that `anon` or `authenticated` may select, while the API exposes
//! `pgmq_public` (the schema through which clients send and read messages).
//!
//! **Why it matters**: every message of the queue, and the power to read and
//! delete them, is then open to every holder of the public key.
//!
//! **Fix**: `ALTER TABLE pgmq.q_jobs ENABLE ROW LEVEL SECURITY;` and policies for
//! those who may use it (or stop exposing `pgmq_public`).

use super::{rows, Category, Hit, Level, Lint, Scope, API_CAN_SELECT, API_SELECTORS};

pub(super) const LINT: Lint = Lint {
    name: "insecure-queue-exposed-in-api",
    splinter: "0019_insecure_queue_exposed_in_api",
    level: Level::Error,
    category: Category::Security,
    find,
};

fn find(client: &mut postgres::Client, scope: &Scope) -> Result<Vec<Hit>, crate::PgError> {
    if scope.api_roles.is_empty() || !scope.exposed.iter().any(|s| s == "pgmq_public") {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), {API_SELECTORS} \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'pgmq' AND c.relname LIKE 'q\\_%' AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity \
           AND NOT (n.nspname = ANY($1::text[])) AND {API_CAN_SELECT} ORDER BY 1"
    );
    Ok(rows(client, LINT.name, &sql, &[&scope.skipped, &scope.api_roles])?
        .iter()
        .map(|r| {
            let (queue, roles): (String, String) = (r.get(0), r.get(1));
            Hit {
                object: queue.clone(),
                message: format!(
                    "queue table {queue} has row level security off, {roles} may select it, and the API exposes \
                     pgmq_public: its messages can be read and removed by every holder of the key"
                ),
                fix: format!(
                    "ALTER TABLE {queue} ENABLE ROW LEVEL SECURITY;\n\
                     -- then the policies for those who may use the queue, e.g.:\n\
                     -- CREATE POLICY \"workers\" ON {queue} FOR ALL TO service_role USING (true);"
                ),
            }
        })
        .collect())
}
