//! `safemig verify`: after a migration, or any time. Required objects exist (and
//! triggers are enabled), protected tables kept their rows, and the SQL tests
//! pass, each run in a transaction that is always rolled back.

use std::path::{Path, PathBuf};

use postgres::{Client, SimpleQueryMessage};
use safemig_analyze::parse::TxBehaviour;
use safemig_project::Config;
use serde::Serialize;

use crate::backup::Backup;
use crate::{quote_literal, PgError};
use safemig_project::config::split_table_name;

/// One verification, passed or not.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `object`, `rows` or `test`.
    pub kind: &'static str,
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

fn check(kind: &'static str, name: &str, ok: bool, detail: String) -> Check {
    Check {
        kind,
        name: name.to_string(),
        ok,
        detail,
    }
}

/// Whether `sql` finds the object. A malformed `[verify]` entry (PostgreSQL
/// cannot read the name) is a configuration error, not a missing object.
fn exists(client: &mut Client, sql: &str, what: &str, form: &str) -> Result<bool, PgError> {
    client
        .query_one(sql, &[])
        .map(|r| r.get(0))
        .map_err(|e| match e.as_db_error() {
            Some(db) => PgError::Config(format!(
                "safemig.toml [verify]: cannot read {what}: {}\n  hint: write it as {form}",
                db.message()
            )),
            None => PgError::sql(&format!("looking for {what}"), &e),
        })
}

/// `name ON schema.table` → (name, schema.table).
fn on_table(spec: &str) -> Option<(String, String)> {
    let lower = spec.to_ascii_lowercase();
    let at = lower.rfind(" on ")?;
    Some((
        spec[..at].trim().to_string(),
        spec[at + 4..].trim().to_string(),
    ))
}

/// The required objects of `[verify]`.
pub fn required_objects(client: &mut Client, config: &Config) -> Result<Vec<Check>, PgError> {
    let v = &config.verify;
    let mut out = Vec::new();
    for f in &v.functions {
        // PostgreSQL 16 and later answer NULL, not an error, for a malformed
        // signature: check the form here, or a typo would read as "missing".
        let trimmed = f.trim();
        if !(trimmed.contains('(') && trimmed.ends_with(')')) {
            return Err(PgError::Config(format!(
                "safemig.toml [verify]: cannot read functions entry {f:?}: the argument types in parentheses are missing\n  \
                 hint: write it as schema.name(argument types), e.g. \"public.handle_new_user()\""
            )));
        }
        let ok = exists(
            client,
            &format!("SELECT to_regprocedure({}) IS NOT NULL", quote_literal(f)),
            &format!("functions entry {f:?}"),
            "schema.name(argument types), e.g. \"public.handle_new_user()\"",
        )?;
        out.push(check("object", &format!("function {f}"), ok, if ok { "exists".into() } else {
            format!("missing: no function {f} (with exactly these argument types); a migration that creates it has not run, or failed")
        }));
    }
    for t in &v.tables {
        let ok = exists(
            client,
            &format!("SELECT to_regclass({}) IS NOT NULL", quote_literal(t)),
            &format!("tables entry {t:?}"),
            "schema.table",
        )?;
        out.push(check(
            "object",
            &format!("table {t}"),
            ok,
            if ok {
                "exists".into()
            } else {
                format!("missing: no table {t}")
            },
        ));
    }
    for c in &v.columns {
        let (table, column) = match c.rsplit_once('.') {
            Some((t, col)) => (t.to_string(), col.to_string()),
            None => (c.clone(), String::new()),
        };
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass({}) AND attname = {} AND attnum > 0 AND NOT attisdropped)",
            quote_literal(&table),
            quote_literal(&column)
        );
        let ok = exists(
            client,
            &sql,
            &format!("columns entry {c:?}"),
            "schema.table.column",
        )?;
        out.push(check(
            "object",
            &format!("column {c}"),
            ok,
            if ok {
                "exists".into()
            } else {
                format!("missing: {table} has no column {column}")
            },
        ));
    }
    for spec in &v.triggers {
        let Some((name, table)) = on_table(spec) else {
            return Err(PgError::Config(format!(
                "safemig.toml [verify]: triggers entry {spec:?} names no table\n  hint: write it as \"trigger name ON schema.table\""
            )));
        };
        let row = client
            .query_opt(
                "SELECT t.tgenabled::text, p.oid::regprocedure::text FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid \
                 WHERE t.tgrelid = to_regclass($1) AND t.tgname = $2 AND NOT t.tgisinternal",
                &[&table, &name],
            )
            .map_err(|e| PgError::sql("looking for a trigger", &e))?;
        let (ok, detail) = match row {
            None => (false, format!(
                "missing: no trigger {name} on {table} — its function may exist without it (the seed's issue 1); \
                 attach it with CREATE TRIGGER {name} ... ON {table} FOR EACH ROW EXECUTE FUNCTION ...;"
            )),
            Some(r) if r.get::<_, String>(0) == "D" => (false, format!(
                "disabled: trigger {name} on {table} exists but does not fire; ALTER TABLE {table} ENABLE TRIGGER {name};"
            )),
            Some(r) => (true, format!("enabled, executes {}", r.get::<_, String>(1))),
        };
        out.push(check("object", &format!("trigger {spec}"), ok, detail));
    }
    for spec in &v.policies {
        let Some((name, table)) = on_table(spec) else {
            return Err(PgError::Config(format!(
                "safemig.toml [verify]: policies entry {spec:?} names no table\n  hint: write it as \"policy name ON schema.table\""
            )));
        };
        let ok = exists(
            client,
            &format!(
                "SELECT EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = to_regclass({}) AND polname = {})",
                quote_literal(&table),
                quote_literal(&name)
            ),
            &format!("policies entry {spec:?}"),
            "\"policy name ON schema.table\"",
        )?;
        out.push(check(
            "object",
            &format!("policy {spec}"),
            ok,
            if ok {
                "exists".into()
            } else {
                format!("missing: no policy \"{name}\" on {table}")
            },
        ));
    }
    for e in &v.extensions {
        let ok: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = $1)",
                &[e],
            )
            .map(|r| r.get(0))
            .map_err(|e| PgError::sql("looking for an extension", &e))?;
        out.push(check(
            "object",
            &format!("extension {e}"),
            ok,
            if ok {
                "installed".into()
            } else {
                format!("missing: CREATE EXTENSION IF NOT EXISTS {e};")
            },
        ));
    }
    Ok(out)
}

/// Protected tables still hold at least their recorded rows: `[guard.min_rows]`,
/// and the critical tables of the newest backup of this database (taken before
/// the migration), unless the table is unprotected or an allowance lets it lose rows.
pub fn protected_rows(
    client: &mut Client,
    config: &Config,
    newest: Option<&Backup>,
) -> Result<Vec<Check>, PgError> {
    let mut floors: Vec<(String, String, i64, String)> = Vec::new();
    for (table, rows) in &config.guard.min_rows {
        if let Some((schema, name)) = split_table_name(table) {
            floors.push((
                schema,
                name,
                *rows as i64,
                "[guard.min_rows] in safemig.toml".into(),
            ));
        }
    }
    if let Some(b) = newest {
        let unprotected: Vec<(String, String)> = config
            .guard
            .unprotect
            .iter()
            .filter_map(|t| split_table_name(t))
            .collect();
        // An allowance excuses fewer rows only when it is for a migration applied
        // since this backup, and for a loss of rows or of the table.
        let applied_since: Vec<String> = crate::backup::applied_versions(client)?
            .into_iter()
            .filter(|v| !b.manifest.applied_migrations.contains(v))
            .collect();
        let for_a_migration_since = |migration: &str| {
            let version = migration.split('_').next().unwrap_or(migration);
            applied_since.iter().any(|v| v == migration || v == version)
        };
        for t in b
            .manifest
            .tables
            .iter()
            .filter(|t| t.checksum.is_some() && t.rows > 0)
        {
            let key = (t.schema.clone(), t.name.clone());
            let allowed = config.allow.iter().any(|a| {
                (a.table == "*" || split_table_name(&a.table).as_ref() == Some(&key))
                    && a.loss.iter().any(|l| {
                        matches!(
                            l,
                            safemig_project::LossKind::Rows | safemig_project::LossKind::Table
                        )
                    })
                    && for_a_migration_since(&a.migration)
            });
            if unprotected.contains(&key)
                || allowed
                || floors.iter().any(|f| {
                    (f.0.as_str(), f.1.as_str()) == (t.schema.as_str(), t.name.as_str())
                        && f.2 >= t.rows
                })
            {
                continue;
            }
            floors.push((
                t.schema.clone(),
                t.name.clone(),
                t.rows,
                format!("backup {}", b.manifest.id),
            ));
        }
    }
    let mut out = Vec::new();
    for (schema, name, floor, source) in floors {
        let label = crate::catalog::display_table(&schema, &name);
        let exists: bool = client
            .query_one(
                "SELECT to_regclass(format('%I.%I', $1::text, $2::text)) IS NOT NULL",
                &[&schema, &name],
            )
            .map(|r| r.get(0))
            .map_err(|e| PgError::sql("looking for a table", &e))?;
        if !exists {
            out.push(check(
                "rows",
                &label,
                false,
                format!("the table is gone; {source} recorded {floor} rows"),
            ));
            continue;
        }
        let rows: i64 = client
            .query_one(
                &format!(
                    "SELECT count(*) FROM {}",
                    crate::quote_qualified(&schema, &name)
                ),
                &[],
            )
            .map(|r| r.get(0))
            .map_err(|e| PgError::sql(&format!("counting {label}"), &e))?;
        let ok = rows >= floor;
        let detail = if ok {
            format!("{rows} rows (at least {floor}, from {source})")
        } else {
            format!(
                "{rows} rows, but {source} recorded {floor}: {} fewer; if they were lost by mistake, `safemig restore BACKUP --tables {label}` brings the table back",
                floor - rows
            )
        };
        out.push(check("rows", &label, ok, detail));
    }
    Ok(out)
}

/// The `.sql` files under `dir`, sorted, recursively (Supabase keeps them in
/// `supabase/tests/database/`).
pub fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "sql") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Runs one SQL test file in a transaction that is always rolled back. It passes
/// when nothing raises and no TAP line says `not ok` (pgTAP tests print TAP).
pub fn run_test(client: &mut Client, path: &Path, label: &str) -> Check {
    let sql = match std::fs::read_to_string(path) {
        Ok(sql) => sql,
        Err(e) => {
            return check(
                "test",
                label,
                false,
                format!("cannot read {}: {e}", path.display()),
            )
        }
    };
    let statements = match safemig_analyze::split(&sql) {
        Ok(s) => s,
        Err(e) => {
            return check(
                "test",
                label,
                false,
                format!(
                    "syntax error at {}:{}:{}: {}",
                    path.display(),
                    e.line,
                    e.column,
                    e.message
                ),
            )
        }
    };
    let uses_pgtap = safemig_analyze::calls_function(&sql, &["plan", "no_plan"]);
    if client
        // A test waits at most 5 s for a lock: it must never queue an ACCESS
        // EXCLUSIVE request that stalls a production table behind it for long.
        .batch_execute("BEGIN; SET LOCAL statement_timeout = '60s'; SET LOCAL lock_timeout = '5s'")
        .is_err()
    {
        return check(
            "test",
            label,
            false,
            "cannot start the test's transaction".into(),
        );
    }
    let result = (|| -> Result<(Vec<String>, Vec<String>), String> {
        let mut notes = Vec::new();
        if uses_pgtap {
            let row = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgtap'), \
                            EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgtap')",
                    &[],
                )
                .map_err(|e| e.to_string())?;
            let (installed, available): (bool, bool) = (row.get(0), row.get(1));
            if !installed && !available {
                return Err("the test uses pgTAP, which this server does not have: install it (Debian: postgresql-15-pgtap; \
                            Supabase: enable the pgtap extension), or write the test as plain SQL that raises on failure"
                    .into());
            }
            if !installed {
                // Inside the test's transaction: rolled back with it, nothing stays.
                client
                    .batch_execute("CREATE EXTENSION pgtap")
                    .map_err(|e| e.to_string())?;
                notes.push("pgTAP installed for the test only (rolled back)".into());
            }
        }
        let mut tap = Vec::new();
        for s in &statements {
            if s.kind.is_none() {
                continue;
            }
            if matches!(
                s.transaction,
                TxBehaviour::FileTransactionControl(_) | TxBehaviour::Forbidden(_)
            ) {
                notes.push(format!(
                    "line {}: {} not sent: tests always roll back",
                    s.code_line,
                    s.text.trim()
                ));
                continue;
            }
            let messages = client
                .simple_query(&s.text)
                .map_err(|e| format!("line {}: {}", s.code_line, crate::describe_db_error(&e)))?;
            for m in messages {
                if let SimpleQueryMessage::Row(row) = m {
                    if let Some(text) = row.get(0) {
                        for line in text.lines() {
                            let line = line.trim();
                            if line.starts_with("ok ")
                                || line.starts_with("not ok ")
                                || line.starts_with("# Looks like")
                                || line.starts_with("1..")
                            {
                                tap.push(line.to_string());
                            }
                        }
                    }
                }
            }
        }
        Ok((tap, notes))
    })();
    let _ = client.batch_execute("ROLLBACK");
    // What a rollback does not undo: prepared statements, session advisory
    // locks, LISTEN, the session's temporary tables. The next test starts clean.
    let _ = client.batch_execute("DISCARD ALL");
    match result {
        Err(message) => check("test", label, false, message),
        Ok((tap, notes)) => {
            let failed: Vec<&String> = tap
                .iter()
                .filter(|l| l.starts_with("not ok") || l.starts_with("# Looks like"))
                .collect();
            let passed = tap.iter().filter(|l| l.starts_with("ok ")).count();
            let mut detail = if !failed.is_empty() {
                failed
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            } else if passed > 0 {
                format!("{passed} TAP assertions passed")
            } else {
                "ran without error".into()
            };
            if !notes.is_empty() {
                detail.push_str(&format!(" ({})", notes.join("; ")));
            }
            check("test", label, failed.is_empty(), detail)
        }
    }
}
