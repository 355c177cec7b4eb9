//! `safemig rollback`: takes back the newest applied migration(s), newest
//! first, each in one transaction: what they created is dropped, what they
//! changed gets its recorded definition back, and their history rows go (both
//! tables), so `supabase migration list` and `safemig status` show them pending.
//! Data they would take along (rows in a table they created, values in a
//! column they added, written since) is refused unless allowed.

use std::time::Duration;

use postgres::{Client, Transaction};
use serde::Serialize;

use crate::history::History;
use crate::undo;
use crate::PgError;

#[derive(Debug, Clone)]
pub struct RollbackOptions {
    pub dry_run: bool,
    /// Take back even when rows or values written since would go.
    pub allow_loss: bool,
    pub lock_timeout: Duration,
}

/// One migration taken back (or not).
#[derive(Debug, Clone, Serialize)]
pub struct RolledBack {
    pub version: String,
    pub name: String,
    /// `rolled-back`, `dry-run`, `refused` or `failed`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What runs (or ran), in order.
    pub statements: Vec<String>,
    /// Data the rollback would take along.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub losses: Vec<String>,
}

impl RolledBack {
    pub fn ok(&self) -> bool {
        matches!(self.result, "rolled-back" | "dry-run")
    }
}

/// The applied migrations, oldest first: (version, name).
pub fn applied(history: &History) -> Vec<(String, String)> {
    let mut all: std::collections::BTreeMap<String, String> = history
        .supabase
        .iter()
        .map(|r| (r.version.clone(), r.name.clone().unwrap_or_default()))
        .collect();
    for (v, r) in &history.safemig {
        all.entry(v.clone()).or_insert_with(|| r.name.clone());
    }
    all.into_iter().collect()
}

/// Which migrations to take back, newest first: `version` (which must be the
/// newest applied), everything after `to`, or the newest one.
pub fn targets(
    history: &History,
    version: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<(String, String)>, String> {
    let applied = applied(history);
    let Some(newest) = applied.last() else {
        return Err(
            "no migration is applied to this database: there is nothing to take back".into(),
        );
    };
    if let Some(to) = to {
        if !applied.iter().any(|(v, _)| v == to) {
            return Err(format!(
                "--to {to}: no applied migration has this version; `safemig status` lists them"
            ));
        }
        let after: Vec<_> = applied
            .iter()
            .filter(|(v, _)| v.as_str() > to)
            .rev()
            .cloned()
            .collect();
        if after.is_empty() {
            return Err(format!(
                "--to {to}: it is the newest applied migration; nothing comes after it"
            ));
        }
        return Ok(after);
    }
    match version {
        Some(v) if v == newest.0 => Ok(vec![newest.clone()]),
        Some(v) if applied.iter().any(|(a, _)| a == v) => Err(format!(
            "{v} is not the newest applied migration ({} is): migrations are taken back newest first; \
             `safemig rollback --to {v}` takes back everything after {v}",
            newest.0
        )),
        Some(v) => Err(format!(
            "{v}: no applied migration has this version; `safemig status` lists them"
        )),
        None => Ok(vec![newest.clone()]),
    }
}

/// Takes back `targets` (newest first). A dry run does it all in one
/// transaction that is rolled back: it shows what would run, and whether it runs.
pub fn run(
    client: &mut Client,
    targets: &[(String, String)],
    options: &RollbackOptions,
) -> Result<Vec<RolledBack>, PgError> {
    crate::history::ensure_tables(client)?;
    // Never beside a migrate (or another rollback) of the same database.
    if let Err(holder) = crate::lock::acquire(client, Duration::from_secs(10))? {
        return Err(PgError::Tool(format!(
            "another safemig run holds this database ({holder}): try again when it is done"
        )));
    }
    let result = run_locked(client, targets, options);
    let released = crate::lock::release(client);
    let report = result?;
    released?;
    Ok(report)
}

fn run_locked(
    client: &mut Client,
    targets: &[(String, String)],
    options: &RollbackOptions,
) -> Result<Vec<RolledBack>, PgError> {
    let mut report = Vec::new();
    if options.dry_run {
        let mut tx = client
            .transaction()
            .map_err(|e| PgError::sql("starting the rollback's transaction", &e))?;
        for (version, name) in targets {
            let done = take_back(&mut tx, version, name, options, "dry-run")?;
            let ok = done.ok();
            report.push(done);
            if !ok {
                break;
            }
        }
        tx.rollback()
            .map_err(|e| PgError::sql("ending the dry run", &e))?;
        return Ok(report);
    }
    for (version, name) in targets {
        let mut tx = client
            .transaction()
            .map_err(|e| PgError::sql("starting the rollback's transaction", &e))?;
        let done = take_back(&mut tx, version, name, options, "rolled-back")?;
        if done.ok() {
            tx.commit()
                .map_err(|e| PgError::sql("committing the rollback", &e))?;
        } else {
            tx.rollback()
                .map_err(|e| PgError::sql("ending the refused rollback", &e))?;
        }
        let ok = done.ok();
        report.push(done);
        if !ok {
            break; // an older one cannot be taken back before this one
        }
    }
    Ok(report)
}

fn take_back(
    tx: &mut Transaction,
    version: &str,
    name: &str,
    options: &RollbackOptions,
    success: &'static str,
) -> Result<RolledBack, PgError> {
    let mut done = RolledBack {
        version: version.to_string(),
        name: name.to_string(),
        result: "refused",
        reason: None,
        statements: Vec::new(),
        losses: Vec::new(),
    };
    let recorded = undo::read(tx, version)?;
    if recorded.missing {
        done.reason = Some(format!(
            "there is no record of what {version} changed: it was applied by another tool (the Supabase CLI) or \
             by a safemig without rollback records. Bring the database back from the backup taken before it \
             (safemig backup list; safemig restore PATH --into URL), or write the reverse migration by hand"
        ));
        return Ok(done);
    }
    if !recorded.irreversible.is_empty() {
        done.reason = Some(format!(
            "{version} cannot be taken back mechanically: {}. Restore what it changed from the backup taken \
             before it (safemig restore PATH --tables ...), or write the reverse migration by hand",
            recorded.irreversible.join("; ")
        ));
        return Ok(done);
    }
    tx.batch_execute(&undo::session_sql(options.lock_timeout.as_millis()))
        .map_err(|e| PgError::sql("setting up the rollback's session", &e))?;
    let (statements, losses) = undo::inverse(tx, &recorded.records)?;
    done.statements = statements;
    done.losses = losses;
    if !done.losses.is_empty() && !options.allow_loss {
        done.reason = Some(format!(
            "taking {version} back would lose data written since: {}. Move or back it up first (safemig backup \
             create), then run rollback again with --allow-loss",
            done.losses.join("; ")
        ));
        return Ok(done);
    }
    for (i, statement) in done.statements.iter().enumerate() {
        if let Err(e) = tx.batch_execute(statement) {
            done.result = "failed";
            done.reason = Some(format!(
                "statement {} of the rollback failed, so nothing was changed: {}\n  {}",
                i + 1,
                crate::redact::redact(&crate::describe_db_error(&e)),
                statement.lines().next().unwrap_or_default()
            ));
            return Ok(done);
        }
    }
    undo::forget(tx, version)?;
    done.result = success;
    Ok(done)
}

/// How long the rollback waits for a lock before it gives up (and changes nothing).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);
