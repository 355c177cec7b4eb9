//! The advisory lock that keeps two `safemig migrate` runs from interleaving.

use std::time::{Duration, Instant};

use postgres::Client;

use crate::PgError;

/// A fixed key: the same for every safemig run against a database.
/// (`hashtext('safemig migrate')` would do too; a constant is easier to look up in `pg_locks`.)
pub const MIGRATE_LOCK_KEY: i64 = 0x5AFE_3167;

/// Who holds the lock, for the message when we give up waiting.
fn holder(client: &mut Client) -> String {
    let row = client.query_opt(
        "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), a.backend_start \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objid = ($1::bigint & 4294967295)::oid \
           AND l.classid = ($1::bigint >> 32)::oid LIMIT 1",
        &[&MIGRATE_LOCK_KEY],
    );
    match row {
        Ok(Some(r)) => {
            let pid: i32 = r.get(0);
            let app: String = r.get(1);
            let user: String = r.get(2);
            let since: chrono::DateTime<chrono::Utc> = r.get(3);
            format!(
                "held by backend pid {pid} ({app}, user {user}, connected since {})",
                since.format("%Y-%m-%d %H:%M:%S UTC")
            )
        }
        _ => "held by another session".to_string(),
    }
}

/// Other sessions holding locks on user tables, oldest transaction first: what a
/// statement that gave up waiting (lock_timeout, pg_dump's lock wait) waited for.
/// `exclusive_only`: only ACCESS EXCLUSIVE locks (all that blocks a reader such as
/// pg_dump). Each line names the session (pid, application, user, state, since
/// when its transaction runs) and the tables it holds, never its query text
/// (which may hold data).
pub fn table_lock_holders(
    client: &mut impl postgres::GenericClient,
    exclusive_only: bool,
) -> Vec<String> {
    let rows = client.query(
        "SELECT a.pid, coalesce(nullif(a.application_name, ''), 'no application name'), \
                coalesce(a.usename::text, '?'), coalesce(a.state, '?'), \
                coalesce(pg_catalog.to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC', '?'), \
                pg_catalog.string_agg(DISTINCT pg_catalog.format('%I.%I', n.nspname, c.relname) || ' (' || l.mode || ')', ', ') \
         FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
         JOIN pg_catalog.pg_class c ON c.oid = l.relation JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_catalog.pg_backend_pid() \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' \
           AND (NOT $1 OR l.mode = 'AccessExclusiveLock') \
         GROUP BY 1, 2, 3, 4, 5, a.xact_start ORDER BY a.xact_start NULLS LAST LIMIT 5",
        &[&exclusive_only],
    );
    rows.map(|rows| {
        rows.iter()
            .map(|r| {
                let pid: i32 = r.get(0);
                let (app, user, state, since, tables): (String, String, String, String, String) =
                    (r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
                format!(
                    "pid {pid} ({app}, user {user}, {state}, transaction since {since}) holds {tables}; \
                     end it with SELECT pg_terminate_backend({pid}); if it is safe to"
                )
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Takes the session-level advisory lock, waiting at most `wait` with growing pauses.
/// Returns `Ok(false)` when another run still holds it after `wait`, with a description.
pub fn acquire(client: &mut Client, wait: Duration) -> Result<Result<(), String>, PgError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&MIGRATE_LOCK_KEY])
            .map_err(|e| PgError::sql("taking safemig's advisory lock", &e))?
            .get(0);
        if got {
            return Ok(Ok(()));
        }
        let elapsed = started.elapsed();
        if elapsed >= wait {
            return Ok(Err(holder(client)));
        }
        std::thread::sleep(pause.min(wait - elapsed));
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

pub fn release(client: &mut Client) -> Result<(), PgError> {
    client
        .query_one("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK_KEY])
        .map_err(|e| PgError::sql("releasing safemig's advisory lock", &e))?;
    Ok(())
}
