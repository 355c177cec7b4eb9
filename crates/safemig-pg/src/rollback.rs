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
use crate::undo::{self, Step};
use crate::PgError;

#[derive(Debug, Clone)]
pub struct RollbackOptions {
    pub dry_run: bool,
    /// Take back even when rows or values written since would go.
    pub allow_loss: bool,
    pub lock_timeout: Duration,
    /// Where the backups are (the config's backup dir): dropped columns' values
    /// come from the one taken before the migration.
    pub backup_root: Option<std::path::PathBuf>,
    /// Bring values back from the backup (false on a schema-only copy).
    pub data: bool,
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
    /// Values brought back from the backup.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<String>,
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

/// Takes back `version` (which must be the newest applied), everything after
/// `to`, or the newest migration, newest first, each in one transaction, under
/// safemig's advisory lock (the targets are read under it, so a migrate that
/// finished meanwhile is seen). `Ok(Err(..))`: bad input (no such version, not
/// the newest). A dry run changes nothing and locks nothing: it reads what each
/// rollback would run and would lose, in a read-only transaction; the proof that
/// it runs is the throwaway copy's (`safemig rollback --dry-run`).
pub fn run(
    client: &mut Client,
    version: Option<&str>,
    to: Option<&str>,
    options: &RollbackOptions,
) -> Result<Result<Vec<RolledBack>, String>, PgError> {
    if !options.dry_run {
        crate::history::ensure_tables(client)?;
    }
    // Never beside a migrate (or another rollback) of the same database.
    if let Err(holder) = crate::lock::acquire(client, Duration::from_secs(10))? {
        return Err(PgError::Tool(format!(
            "another safemig run holds this database ({holder}): try again when it is done"
        )));
    }
    let result = crate::history::read(client).map(|history| {
        targets(&history, version, to).map(|targets| run_locked(client, &targets, options))
    });
    let released = crate::lock::release(client);
    let report = result?;
    released?;
    Ok(report)
}

/// Each target in turn until one is refused or fails; an error becomes that
/// target's `failed` result, so what was already taken back is still reported.
fn run_locked(
    client: &mut Client,
    targets: &[(String, String)],
    options: &RollbackOptions,
) -> Vec<RolledBack> {
    let mut report = Vec::new();
    for (version, name) in targets {
        let done = if options.dry_run {
            client
                .build_transaction()
                .read_only(true)
                .start()
                .map_err(|e| PgError::sql("starting the dry run", &e))
                .and_then(|mut tx| {
                    let done = take_back(&mut tx, version, name, options, "dry-run");
                    tx.rollback()
                        .map_err(|e| PgError::sql("ending the dry run", &e))?;
                    done
                })
        } else {
            client
                .transaction()
                .map_err(|e| PgError::sql("starting the rollback's transaction", &e))
                .and_then(|mut tx| {
                    let done = take_back(&mut tx, version, name, options, "rolled-back")?;
                    if done.ok() {
                        tx.commit()
                            .map_err(|e| PgError::sql("committing the rollback", &e))?;
                    } else {
                        tx.rollback()
                            .map_err(|e| PgError::sql("ending the refused rollback", &e))?;
                    }
                    Ok(done)
                })
        };
        let done = done.unwrap_or_else(|e| RolledBack {
            version: version.clone(),
            name: name.clone(),
            result: "failed",
            reason: Some(format!("{e}; nothing of {version} was changed")),
            statements: Vec::new(),
            losses: Vec::new(),
            restored: Vec::new(),
        });
        let ok = done.ok();
        report.push(done);
        // A dry run of several: each is read against today's database, not
        // against the one the newer rollbacks would leave; stop at the first
        // that cannot go either way.
        if !ok {
            break; // an older one cannot be taken back before this one
        }
    }
    report
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
        restored: Vec::new(),
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
    // Also for a dry run (SET LOCAL is allowed read-only): it shows the names
    // as the rollback would write them.
    tx.batch_execute(&undo::session_sql(options.lock_timeout.as_millis()))
        .map_err(|e| PgError::sql("setting up the rollback's session", &e))?;
    let undo::Inverse {
        steps,
        losses,
        refusals,
    } = undo::inverse(tx, &recorded, !options.dry_run, options.data)?;
    done.statements = steps.iter().map(Step::shown).collect();
    done.losses = losses;
    if !refusals.is_empty() {
        done.reason = Some(format!(
            "{version} cannot be taken back exactly: {}",
            refusals.join("; ")
        ));
        return Ok(done);
    }
    if !done.losses.is_empty() && !options.allow_loss {
        done.reason = Some(format!(
            "taking {version} back would lose data written since: {}. Move or back it up first (safemig backup \
             create), then run rollback again with --allow-loss",
            done.losses.join("; ")
        ));
        return Ok(done);
    }
    // Values and rows only with the data (not on a throwaway copy, which has
    // none); a dropped table's definition always (on a copy, without its rows).
    let needs_values = steps.iter().any(|s| match s {
        Step::Values { .. } | Step::Rows(_) => options.data,
        Step::Table(_) => true,
        Step::Sql(_) => false,
    });
    let backup = if needs_values {
        // The tables whose data comes back from the backup.
        let tables: Vec<(String, String)> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Values { schema, table, .. } => Some((schema.clone(), table.clone())),
                Step::Rows(r) => Some((r.schema.clone(), r.table.clone())),
                Step::Table(t) => Some((t.schema.clone(), t.name.clone())),
                Step::Sql(_) => None,
            })
            .collect();
        let dropped: Vec<(String, String)> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Table(t) => Some((t.schema.clone(), t.name.clone())),
                _ => None,
            })
            .collect();
        match backup_before(tx, version, &tables, &dropped, options)? {
            Ok(b) => Some(b),
            Err(why) => {
                done.reason = Some(format!(
                    "{version} changed data (a column dropped, rows changed) that comes back only from the backup \
                     taken before it, and {why}"
                ));
                return Ok(done);
            }
        }
    } else {
        None
    };
    if options.dry_run {
        // Nothing runs on the real database; what the values would be is read
        // from the backup.
        if let Some(backup) = &backup {
            for step in &steps {
                if let Step::Values {
                    schema,
                    table,
                    column,
                    key,
                    ..
                } = step
                {
                    match undo::values_available(backup, schema, table, column, key)? {
                        Ok(summary) => done.restored.push(summary),
                        Err(why) => {
                            done.reason = Some(format!(
                                "the values of {schema}.{table}.{column} cannot come back: {why}"
                            ));
                            return Ok(done);
                        }
                    }
                }
                if let Step::Table(table) = step {
                    match undo::table::available(tx, backup, table)? {
                        Ok(summary) => done.restored.push(summary),
                        Err(why) => {
                            done.reason = Some(format!(
                                "{}.{} cannot come back: {why}",
                                table.schema, table.name
                            ));
                            return Ok(done);
                        }
                    }
                }
                if let Step::Rows(rows) = step {
                    match undo::rows_available(backup, rows)? {
                        Ok(summary) => done.restored.push(format!(
                            "{summary}; whether the rows missing now are the ones it deleted is checked when it runs"
                        )),
                        Err(why) => {
                            done.reason = Some(format!(
                                "the rows of {}.{} cannot come back: {why}",
                                rows.schema, rows.table
                            ));
                            return Ok(done);
                        }
                    }
                }
            }
        }
        done.result = success;
        return Ok(done);
    }
    // Before any step: the keys of the rows each migration wrote, while they
    // still carry its xmin (a later step may rewrite the table).
    if let Some(backup) = &backup {
        for (i, step) in steps.iter().enumerate() {
            if let Step::Rows(rows) = step {
                if let Err(why) = undo::prepare_rows(tx, backup, rows, i)? {
                    done.reason = Some(format!(
                        "the rows of {}.{} cannot come back: {why}; nothing was changed",
                        rows.schema, rows.table
                    ));
                    return Ok(done);
                }
            }
        }
    }
    for (i, step) in steps.iter().enumerate() {
        let failed = |e: &postgres::Error| {
            format!(
                "step {} of the rollback failed, so nothing was changed: {}\n  {}",
                i + 1,
                crate::redact::redact(&crate::describe_db_error(e)),
                step.shown().lines().next().unwrap_or_default()
            )
        };
        match step {
            Step::Sql(statement) => {
                if let Err(e) = tx.batch_execute(statement.as_str()) {
                    done.result = "failed";
                    done.reason = Some(failed(&e));
                    return Ok(done);
                }
            }
            Step::Values {
                schema,
                table,
                column,
                type_sql,
                key,
            } => {
                let Some(backup) = &backup else {
                    done.restored.push(format!(
                        "the values of {schema}.{table}.{column} are not brought back here (a copy without rows)"
                    ));
                    continue;
                };
                let result = undo::restore_values(tx, backup, schema, table, column, type_sql, key);
                if !settle(
                    &mut done,
                    i + 1,
                    &format!("the values of {schema}.{table}.{column}"),
                    result,
                ) {
                    return Ok(done);
                }
            }
            Step::Table(table) => {
                let Some(backup) = &backup else {
                    done.restored.push(format!(
                        "{}.{} is not brought back here (a copy without the backup)",
                        table.schema, table.name
                    ));
                    continue;
                };
                let result = undo::table::restore(tx, backup, table, options.data);
                if !settle(
                    &mut done,
                    i + 1,
                    &format!("{}.{}", table.schema, table.name),
                    result,
                ) {
                    return Ok(done);
                }
            }
            Step::Rows(rows) => {
                let Some(backup) = &backup else {
                    done.restored.push(format!(
                        "the rows of {}.{} are not brought back here (a copy without rows)",
                        rows.schema, rows.table
                    ));
                    continue;
                };
                let result = undo::restore_rows(tx, backup, rows, i);
                if !settle(
                    &mut done,
                    i + 1,
                    &format!("the rows of {}.{}", rows.schema, rows.table),
                    result,
                ) {
                    return Ok(done);
                }
            }
        }
    }
    undo::forget(tx, version)?;
    done.result = success;
    Ok(done)
}

/// What a data step came to: its summary (brought back), why it cannot be
/// (refused), or the error (failed). False when the rollback stops here.
fn settle(
    done: &mut RolledBack,
    step: usize,
    what: &str,
    result: Result<Result<String, String>, PgError>,
) -> bool {
    match result {
        Ok(Ok(summary)) => {
            done.restored.push(summary);
            true
        }
        Ok(Err(why)) => {
            done.reason = Some(format!(
                "{what} cannot come back: {why}; nothing was changed"
            ));
            false
        }
        Err(e) => {
            done.result = "failed";
            done.reason = Some(format!(
                "step {step} of the rollback failed, so nothing was changed: {e}"
            ));
            false
        }
    }
}

/// The backup taken before `version` (its history row's), verified, of this
/// database, and not also the backup of an older migration of the same run
/// that changed data in place in one of `tables` (or did what safemig could
/// not record): their values would be older than `version`'s.
fn backup_before(
    tx: &mut Transaction,
    version: &str,
    tables: &[(String, String)],
    dropped: &[(String, String)],
    options: &RollbackOptions,
) -> Result<Result<crate::backup::Backup, String>, PgError> {
    let read = |e: postgres::Error| PgError::sql("reading the migration's backup", &e);
    let id: Option<String> = tx
        .query_opt(
            "SELECT backup_id FROM safemig.migrations WHERE version = $1",
            &[&version],
        )
        .map_err(read)?
        .and_then(|r| r.get(0));
    let Some(id) = id else {
        return Ok(Err(
            "it was applied without a backup (--backup skip): restore the column from another backup by hand".into(),
        ));
    };
    let Some(root) = &options.backup_root else {
        return Ok(Err(format!(
            "backup {id} cannot be looked for: no backup folder is configured"
        )));
    };
    let backup = match crate::backup::Backup::open(&root.join(&id)) {
        Ok(b) => b,
        Err(e) => {
            return Ok(Err(format!(
                "backup {id} is not there ({e}); it was in {}",
                root.display()
            )))
        }
    };
    // On a throwaway copy (no data) only a dropped table's definition is read
    // from it: the copy is not the backup's database, and no values are.
    if !options.data {
        return Ok(Ok(backup));
    }
    let problems = crate::backup::quick_check(&backup);
    if !problems.is_empty() {
        return Ok(Err(format!(
            "backup {id} no longer verifies: {}",
            problems.join("; ")
        )));
    }
    let row = tx
        .query_one(
            "SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database()::text",
            &[],
        )
        .map_err(read)?;
    let (system, database): (String, String) = (row.get(0), row.get(1));
    if system != backup.manifest.system_identifier || database != backup.manifest.database {
        return Ok(Err(format!(
            "backup {id} is of another database ({})",
            backup.manifest.database
        )));
    }
    let (schemas, names): (Vec<String>, Vec<String>) = tables.iter().cloned().unzip();
    // A dropped table comes back as the backup has it: anything an older
    // migration sharing the backup did to it (a column, an index) would be lost.
    let (dropped_schemas, dropped_names): (Vec<String>, Vec<String>) =
        dropped.iter().cloned().unzip();
    let earlier: Option<String> = tx
        .query_opt(
            "SELECT m.version FROM safemig.migrations m WHERE m.backup_id = $1 AND m.version < $2 \
             AND EXISTS (SELECT 1 FROM safemig.undo u WHERE u.version = m.version AND (u.kind = 'irreversible' \
               OR (u.kind IN ('rows', 'dropped-table') AND (u.schema_name, u.name) IN (SELECT * FROM unnest($3::text[], $4::text[]))) \
               OR (u.kind = 'dropped-column' AND (u.schema_name, u.table_name) IN (SELECT * FROM unnest($3::text[], $4::text[]))) \
               OR ((u.schema_name, u.table_name) IN (SELECT * FROM unnest($5::text[], $6::text[])) \
                   OR (u.schema_name, u.name) IN (SELECT * FROM unnest($5::text[], $6::text[]))))) \
             ORDER BY m.version LIMIT 1",
            &[&id, &version, &schemas, &names, &dropped_schemas, &dropped_names],
        )
        .map_err(read)?
        .map(|r| r.get(0));
    if let Some(earlier) = earlier {
        return Ok(Err(format!(
            "backup {id} was taken before {earlier} too, which changed the same tables (or what safemig could \
             not record): the backup holds them as they were before {earlier}, not before {version}. Take both \
             back with the backup (safemig restore PATH --tables ...)"
        )));
    }
    Ok(Ok(backup))
}

/// How long the rollback waits for a lock before it gives up (and changes nothing).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);
