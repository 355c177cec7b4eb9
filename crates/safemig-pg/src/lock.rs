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
