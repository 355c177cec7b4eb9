//! Migration history, in two places:
//!
//! * `supabase_migrations.schema_migrations`, created and written exactly as the
//!   Supabase CLI does (same statements, same `lock_timeout`, one row per file with
//!   its statements), so `supabase migration list` agrees with safemig;
//! * `safemig.migrations` and `safemig.audit`, safemig's own records: checksum,
//!   who, when, how long, which backup, which tool version; and the audit trail.

use std::collections::BTreeMap;

use postgres::GenericClient;
use safemig_project::audit::AuditRecord;

use crate::PgError;

/// The Supabase CLI's own statements (pkg/migration/history.go), run as one batch,
/// which PostgreSQL executes as one implicit transaction.
pub const CREATE_SUPABASE_HISTORY: &str = "SET lock_timeout = '4s';\
CREATE SCHEMA IF NOT EXISTS supabase_migrations;\
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY);\
ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[];\
ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text";

/// The CLI's insert, with the same parameter types.
pub const INSERT_SUPABASE_HISTORY: &str =
    "INSERT INTO supabase_migrations.schema_migrations(version, name, statements) VALUES($1, $2, $3)";

pub const SAFEMIG_SCHEMA: &str = "safemig";

const CREATE_SAFEMIG_SCHEMA: &str = "SET lock_timeout = '4s';
CREATE SCHEMA IF NOT EXISTS safemig;
COMMENT ON SCHEMA safemig IS 'safemig: migration checksums, audit trail and backup copies. Managed by safemig.';
REVOKE ALL ON SCHEMA safemig FROM PUBLIC;
CREATE TABLE IF NOT EXISTS safemig.migrations (
    version      text PRIMARY KEY,
    name         text NOT NULL,
    checksum     text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    applied_by   text NOT NULL,
    db_user      text NOT NULL DEFAULT current_user,
    duration_ms  bigint NOT NULL,
    backup_id    text,
    tool_version text NOT NULL,
    statements   integer NOT NULL,
    ran_alone    integer NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS safemig.audit (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    db_user      text NOT NULL DEFAULT current_user,
    database     text,
    command      text NOT NULL,
    result       text NOT NULL,
    details      jsonb NOT NULL DEFAULT '{}',
    tool_version text NOT NULL
);
CREATE TABLE IF NOT EXISTS safemig.undo (
    version      text NOT NULL,
    seq          integer NOT NULL,
    kind         text NOT NULL,
    schema_name  text NOT NULL,
    table_name   text NOT NULL,
    name         text NOT NULL,
    existed      boolean NOT NULL,
    before       text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (version, seq)
);
COMMENT ON TABLE safemig.undo IS 'safemig: what each applied migration changed, as it was before (safemig rollback).';
RESET lock_timeout";

/// One row of `supabase_migrations.schema_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupabaseRow {
    pub version: String,
    pub name: Option<String>,
    pub statements: Option<Vec<String>>,
}

/// One row of `safemig.migrations`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SafemigRecord {
    pub version: String,
    pub name: String,
    pub checksum: String,
    pub applied_at: chrono::DateTime<chrono::Utc>,
    pub applied_by: String,
    pub db_user: String,
    pub duration_ms: i64,
    pub backup_id: Option<String>,
    pub tool_version: String,
}

/// What the database says has been applied.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub supabase: Vec<SupabaseRow>,
    pub safemig: BTreeMap<String, SafemigRecord>,
}

/// Creates the history and audit tables when something is missing. The check is
/// one catalog read, so a database that has them pays no DDL (and takes no lock on
/// the history table) on every run.
pub fn ensure_tables(client: &mut impl GenericClient) -> Result<(), PgError> {
    let complete: bool = client
        .query_one(
            "SELECT (SELECT count(*) FROM pg_attribute \
                     WHERE attrelid = to_regclass('supabase_migrations.schema_migrations') \
                       AND attname IN ('version', 'statements', 'name') AND NOT attisdropped) = 3 \
                AND to_regclass('safemig.migrations') IS NOT NULL \
                AND to_regclass('safemig.audit') IS NOT NULL \
                AND to_regclass('safemig.undo') IS NOT NULL",
            &[],
        )
        .map_err(|e| PgError::sql("reading the catalog", &e))?
        .get(0);
    if complete {
        return Ok(());
    }
    client
        .batch_execute(CREATE_SUPABASE_HISTORY)
        .map_err(|e| PgError::sql("creating supabase_migrations.schema_migrations", &e))?;
    client
        .batch_execute(CREATE_SAFEMIG_SCHEMA)
        .map_err(|e| PgError::sql("creating safemig's schema", &e))?;
    Ok(())
}

/// Whether a table (or other relation) exists, by its qualified name.
pub fn relation_exists(client: &mut impl GenericClient, name: &str) -> Result<bool, PgError> {
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .map_err(|e| PgError::sql("reading the catalog", &e))?;
    Ok(row.get(0))
}

/// Reads both histories; tables that do not exist yet read as empty.
pub fn read(client: &mut impl GenericClient) -> Result<History, PgError> {
    let mut history = History::default();
    if relation_exists(client, "supabase_migrations.schema_migrations")? {
        let has = |client: &mut _, column: &str| -> Result<bool, PgError> {
            column_exists(client, "supabase_migrations", "schema_migrations", column)
        };
        // Cast: a table edited by hand into other column types is an error that says so, not a panic.
        let statements = if has(client, "statements")? {
            "statements::text[]"
        } else {
            "NULL::text[]"
        };
        let name = if has(client, "name")? {
            "name::text"
        } else {
            "NULL::text"
        };
        let rows = client
            .query(
                &format!("SELECT version::text, {name}, {statements} FROM supabase_migrations.schema_migrations ORDER BY version"),
                &[],
            )
            .map_err(|e| {
                let PgError::Sql { context, message, sqlstate } = PgError::sql("reading supabase_migrations.schema_migrations", &e) else {
                    unreachable!()
                };
                // The hint only where the table's shape is the likely cause (a type or
                // a column), not for a lost connection or a missing privilege.
                let shape = matches!(sqlstate.as_deref(), Some("42846" | "42804" | "22P02" | "42703"));
                let message = if shape {
                    format!(
                        "{message}\n  hint: the table does not have the columns the Supabase CLI gives it \
                         (version text, name text, statements text[]); was it edited by hand?"
                    )
                } else {
                    message
                };
                PgError::Sql { context, message, sqlstate }
            })?;
        history.supabase = rows
            .iter()
            .map(|r| SupabaseRow {
                version: r.get(0),
                name: r.get(1),
                statements: r.get(2),
            })
            .collect();
    }
    if relation_exists(client, "safemig.migrations")? {
        let rows = client
            .query(
                "SELECT version, name, checksum, applied_at, applied_by, db_user, duration_ms, backup_id, tool_version \
                 FROM safemig.migrations",
                &[],
            )
            .map_err(|e| PgError::sql("reading safemig.migrations", &e))?;
        for r in rows {
            let shape = |e: postgres::Error| {
                PgError::Tool(format!(
                    "safemig.migrations does not have the columns safemig gives it: {e}\n  \
                     hint: was it edited by hand? Restore it from a backup, or drop the schema safemig only \
                     if you can re-create its records"
                ))
            };
            let record = SafemigRecord {
                version: r.try_get(0).map_err(shape)?,
                name: r.try_get(1).map_err(shape)?,
                checksum: r.try_get(2).map_err(shape)?,
                applied_at: r.try_get(3).map_err(shape)?,
                applied_by: r.try_get(4).map_err(shape)?,
                db_user: r.try_get(5).map_err(shape)?,
                duration_ms: r.try_get(6).map_err(shape)?,
                backup_id: r.try_get(7).map_err(shape)?,
                tool_version: r.try_get(8).map_err(shape)?,
            };
            history.safemig.insert(record.version.clone(), record);
        }
    }
    Ok(history)
}

fn column_exists(
    client: &mut impl GenericClient,
    schema: &str,
    table: &str,
    column: &str,
) -> Result<bool, PgError> {
    // pg_attribute, not information_schema.columns: the view costs milliseconds.
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped)",
            &[&schema, &table, &column],
        )
        .map_err(|e| PgError::sql("reading the catalog", &e))?;
    Ok(row.get(0))
}

const INSERT_SAFEMIG_HISTORY: &str = "INSERT INTO safemig.migrations \
    (version, name, checksum, applied_by, duration_ms, backup_id, tool_version, statements, ran_alone) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The two history inserts, prepared once per run in the guard's cache (so
/// that `Queries::tampered` vouches for them).
#[derive(Debug, Clone)]
pub struct Inserts {
    queries: crate::queries::Queries,
}

impl Inserts {
    pub fn prepare(
        client: &mut impl GenericClient,
        queries: &crate::queries::Queries,
    ) -> Result<Inserts, PgError> {
        for sql in [INSERT_SUPABASE_HISTORY, INSERT_SAFEMIG_HISTORY] {
            queries
                .statement(client, sql)
                .map_err(|e| PgError::sql("preparing the history inserts", &e))?;
        }
        Ok(Inserts {
            queries: queries.clone(),
        })
    }
}

/// Records one applied migration in both histories (inside its transaction).
pub fn record_applied(
    client: &mut impl GenericClient,
    inserts: Option<&Inserts>,
    version: &str,
    name: &str,
    statements: &[String],
    safemig: &SafemigRecordInput,
) -> Result<(), PgError> {
    let execute = |client: &mut _, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]| match inserts {
        Some(i) => i.queries.execute(client, sql, params),
        None => GenericClient::execute(client, sql, params),
    };
    let supabase_params: [&(dyn postgres::types::ToSql + Sync); 3] = [&version, &name, &statements];
    execute(client, INSERT_SUPABASE_HISTORY, &supabase_params).map_err(|e| {
        PgError::sql(
            "recording the migration in supabase_migrations.schema_migrations",
            &e,
        )
    })?;
    let params: [&(dyn postgres::types::ToSql + Sync); 9] = [
        &version,
        &name,
        &safemig.checksum,
        &safemig.applied_by,
        &safemig.duration_ms,
        &safemig.backup_id,
        &env!("CARGO_PKG_VERSION"),
        &(statements.len() as i32),
        &(safemig.ran_alone as i32),
    ];
    execute(client, INSERT_SAFEMIG_HISTORY, &params)
        .map_err(|e| PgError::sql("recording the migration in safemig.migrations", &e))?;
    Ok(())
}

pub struct SafemigRecordInput {
    pub checksum: String,
    pub applied_by: String,
    pub duration_ms: i64,
    pub backup_id: Option<String>,
    pub ran_alone: usize,
}

/// Appends an audit row. The record's texts are already redacted by the caller.
pub fn insert_audit(client: &mut impl GenericClient, record: &AuditRecord) -> Result<(), PgError> {
    client
        .execute(
            "INSERT INTO safemig.audit (at, actor, database, command, result, details, tool_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &record.at,
                &record.actor,
                &record.database,
                &record.command,
                &record.result,
                &record.details,
                &record.tool_version,
            ],
        )
        .map_err(|e| PgError::sql("writing the audit trail (safemig.audit)", &e))?;
    Ok(())
}

/// The audit rows in the database, oldest first (empty when safemig never wrote any).
pub fn read_audit(
    client: &mut impl GenericClient,
    limit: i64,
) -> Result<Vec<AuditRecord>, PgError> {
    if !relation_exists(client, "safemig.audit")? {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "SELECT at, actor, db_user, database, command, result, details, tool_version FROM \
             (SELECT * FROM safemig.audit ORDER BY id DESC LIMIT $1) newest ORDER BY id",
            &[&limit],
        )
        .map_err(|e| PgError::sql("reading safemig.audit", &e))?;
    Ok(rows
        .iter()
        .map(|r| AuditRecord {
            at: r.get(0),
            actor: r.get(1),
            db_user: Some(r.get(2)),
            database: r.get(3),
            command: r.get(4),
            result: r.get(5),
            details: r.get(6),
            tool_version: r.get(7),
        })
        .collect())
}
