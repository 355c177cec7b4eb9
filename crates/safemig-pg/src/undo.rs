//! What a migration changed, recorded in its own transaction (`safemig.undo`),
//! and `safemig rollback`, which brings the state before it back.
//!
//! Recording reads the catalog rows of just the objects the migration's
//! statements name ([`safemig_analyze::undo::plan`]): its cost follows the
//! migration, not the catalog. Definitions are read with `search_path =
//! pg_catalog`, so every name in them is qualified and they mean the same thing
//! whatever the search_path when they are run again.

use postgres::GenericClient;
use safemig_analyze::undo::{Kind, Touched, UndoPlan};
use serde::Serialize;

use crate::{quote_ident, quote_qualified, PgError};

/// The state of one object before a migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub seq: i32,
    pub kind: Kind,
    /// Resolved: never empty (an unqualified name is resolved as the migration
    /// resolved it, by its search_path at the time).
    pub schema: String,
    pub table: String,
    pub name: String,
    pub existed: bool,
    /// What brings it back (kind-specific: a definition, flags).
    pub before: Vec<String>,
}

/// `kind = 'irreversible'` rows hold why a migration cannot be taken back.
const IRREVERSIBLE: &str = "irreversible";

/// Separates a function's identity arguments from its definition in `before`.
const ARGS_SEP: char = '\u{1f}';

fn sql(what: &str) -> impl Fn(postgres::Error) -> PgError + '_ {
    move |e| PgError::sql(what, &e)
}

/// The schema an unqualified name resolves to now, as the migration will
/// resolve it: where it exists, else the creation schema.
fn resolve(client: &mut impl GenericClient, t: &Touched) -> Result<String, PgError> {
    if !t.schema.is_empty() {
        return Ok(t.schema.clone());
    }
    let on_table = !t.table.is_empty();
    let query = match t.kind {
        Kind::Schema | Kind::Extension => return Ok(String::new()),
        Kind::Function => {
            "SELECT coalesce((SELECT n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n \
             ON n.oid = p.pronamespace WHERE p.proname = $1 AND n.nspname = ANY (pg_catalog.current_schemas(false)) \
             ORDER BY pg_catalog.array_position(pg_catalog.current_schemas(false), n.nspname) LIMIT 1), \
             pg_catalog.current_schema())"
        }
        Kind::Type => {
            "SELECT coalesce((SELECT n.nspname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n \
             ON n.oid = t.typnamespace WHERE t.oid = pg_catalog.to_regtype(pg_catalog.quote_ident($1))), \
             pg_catalog.current_schema())"
        }
        _ => {
            "SELECT coalesce((SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
             ON n.oid = c.relnamespace WHERE c.oid = pg_catalog.to_regclass(pg_catalog.quote_ident($1))), \
             pg_catalog.current_schema())"
        }
    };
    let name = if on_table { &t.table } else { &t.name };
    let schema: Option<String> = client
        .query_one(query, &[name])
        .map_err(sql("resolving a name for the rollback record"))?
        .get(0);
    schema.ok_or_else(|| {
        PgError::Config("no schema to create objects in: the search_path is empty".into())
    })
}

/// Reads the state before the migration of everything `plan` touches. Runs in
/// the migration's transaction, before its first statement.
pub fn capture(client: &mut impl GenericClient, plan: &UndoPlan) -> Result<Vec<Record>, PgError> {
    if !plan.irreversible.is_empty() {
        return Ok(Vec::new()); // nothing to take back with: recorded as irreversible
    }
    let mut resolved = Vec::with_capacity(plan.touched.len());
    for t in &plan.touched {
        resolved.push((t, resolve(client, t)?));
    }
    let saved: String = client
        .query_one("SELECT pg_catalog.current_setting('search_path')", &[])
        .map_err(sql("reading the search_path"))?
        .get(0);
    client
        .batch_execute("SET LOCAL search_path = pg_catalog, pg_temp")
        .map_err(sql("setting the search_path"))?;
    let mut records = Vec::with_capacity(resolved.len());
    for (seq, (t, schema)) in resolved.into_iter().enumerate() {
        let (existed, before) = read_state(client, t.kind, &schema, &t.table, &t.name)?;
        records.push(Record {
            seq: seq as i32,
            kind: t.kind,
            schema,
            table: t.table.clone(),
            name: t.name.clone(),
            existed,
            before,
        });
    }
    client
        .execute(
            "SELECT pg_catalog.set_config('search_path', $1, true)",
            &[&saved],
        )
        .map_err(sql("restoring the search_path"))?;
    Ok(records)
}

/// Whether the object exists, and what brings it back as it is now.
fn read_state(
    client: &mut impl GenericClient,
    kind: Kind,
    schema: &str,
    table: &str,
    name: &str,
) -> Result<(bool, Vec<String>), PgError> {
    let relation = quote_qualified(schema, if table.is_empty() { name } else { table });
    let read = sql("recording what the migration changes");
    let rows = |client: &mut _, query: &str, params: &[&(dyn postgres::types::ToSql + Sync)]| {
        GenericClient::query(client, query, params)
            .map_err(sql("recording what the migration changes"))
    };
    Ok(match kind {
        Kind::Schema => {
            let found = rows(
                client,
                "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                &[&name],
            )?;
            (!found.is_empty(), Vec::new())
        }
        Kind::Extension => {
            let found = rows(
                client,
                "SELECT 1 FROM pg_extension WHERE extname = $1",
                &[&name],
            )?;
            (!found.is_empty(), Vec::new())
        }
        Kind::Type => {
            let found = rows(
                client,
                "SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE n.nspname = $1 AND t.typname = $2",
                &[&schema, &name],
            )?;
            (!found.is_empty(), Vec::new())
        }
        Kind::Table | Kind::Sequence => {
            let found = rows(
                client,
                "SELECT 1 FROM pg_class WHERE oid = to_regclass($1)",
                &[&relation],
            )?;
            (!found.is_empty(), Vec::new())
        }
        Kind::View => {
            // The definition, its columns (CREATE OR REPLACE cannot remove
            // any: then it is dropped and made again), its owner and grants.
            let found = rows(
                client,
                "SELECT format('CREATE OR REPLACE VIEW %s%s AS %s', $1::text, \
                   CASE WHEN c.reloptions IS NULL THEN '' ELSE ' WITH (' || array_to_string(c.reloptions, ', ') || ')' END, \
                   pg_get_viewdef(c.oid)), \
                 (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY a.attnum) FROM pg_attribute a \
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), \
                 format('ALTER VIEW %s OWNER TO %I', $1::text, pg_get_userbyid(c.relowner)), \
                 coalesce((SELECT array_agg(format('GRANT %s ON %s TO %s', g.privilege_type, $1::text, \
                     CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END) \
                     ORDER BY g.grantee, g.privilege_type) \
                   FROM aclexplode(c.relacl) g WHERE g.grantee <> c.relowner), '{}') \
                 FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relkind = 'v'",
                &[&relation],
            )?;
            let before = found
                .first()
                .map(|r| {
                    let mut b = vec![
                        r.get::<_, String>(0),
                        r.get::<_, Option<String>>(1).unwrap_or_default(),
                        r.get(2),
                    ];
                    b.extend(r.get::<_, Vec<String>>(3));
                    b
                })
                .unwrap_or_default();
            (!found.is_empty(), before)
        }
        Kind::Index => {
            let index = quote_qualified(schema, name);
            let found = rows(
                client,
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indexrelid = to_regclass($1)",
                &[&index],
            )?;
            (!found.is_empty(), found.iter().map(|r| r.get(0)).collect())
        }
        Kind::Column | Kind::ColumnDefault | Kind::ColumnNotNull => {
            let found = rows(
                client,
                "SELECT pg_get_expr(d.adbin, d.adrelid), a.attnotnull::text FROM pg_attribute a \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
                &[&relation, &name],
            )?;
            let before = match (kind, found.first()) {
                (Kind::ColumnDefault, Some(r)) => {
                    r.get::<_, Option<String>>(0).into_iter().collect()
                }
                (Kind::ColumnNotNull, Some(r)) => vec![r.get(1)],
                _ => Vec::new(),
            };
            (!found.is_empty(), before)
        }
        Kind::Constraint => {
            let found = rows(
                client,
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2",
                &[&relation, &name],
            )?;
            (!found.is_empty(), found.iter().map(|r| r.get(0)).collect())
        }
        Kind::Function => {
            let found = rows(
                client,
                "SELECT pg_get_function_identity_arguments(p.oid) || chr(31) || pg_get_functiondef(p.oid) \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = $1 AND p.proname = $2 AND p.prokind IN ('f', 'p') ORDER BY 1",
                &[&schema, &name],
            )?;
            (!found.is_empty(), found.iter().map(|r| r.get(0)).collect())
        }
        Kind::Trigger => {
            let found = rows(
                client,
                "SELECT pg_get_triggerdef(oid), tgenabled::text FROM pg_trigger \
                 WHERE tgrelid = to_regclass($1) AND tgname = $2 AND NOT tgisinternal",
                &[&relation, &name],
            )?;
            let before = found
                .first()
                .map(|r| vec![r.get(0), r.get(1)])
                .unwrap_or_default();
            (!found.is_empty(), before)
        }
        Kind::Policy => {
            let found = rows(
                client,
                "SELECT format('CREATE POLICY %I ON %s AS %s FOR %s TO %s%s%s', p.polname, $1::text, \
                   CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END, \
                   CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' \
                     WHEN 'd' THEN 'DELETE' ELSE 'ALL' END, \
                   CASE WHEN p.polroles = '{0}' THEN 'PUBLIC' ELSE \
                     (SELECT string_agg(quote_ident(r.rolname), ', ' ORDER BY r.rolname) FROM pg_roles r \
                      WHERE r.oid = ANY (p.polroles)) END, \
                   CASE WHEN p.polqual IS NULL THEN '' ELSE ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')' END, \
                   CASE WHEN p.polwithcheck IS NULL THEN '' \
                     ELSE ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')' END) \
                 FROM pg_policy p WHERE p.polrelid = to_regclass($1) AND p.polname = $2",
                &[&relation, &name],
            )?;
            (!found.is_empty(), found.iter().map(|r| r.get(0)).collect())
        }
        Kind::RowSecurity => {
            let found = client
                .query(
                    "SELECT relrowsecurity::text, relforcerowsecurity::text FROM pg_class WHERE oid = to_regclass($1)",
                    &[&relation],
                )
                .map_err(read)?;
            let before = found
                .first()
                .map(|r| vec![r.get(0), r.get(1)])
                .unwrap_or_default();
            (!found.is_empty(), before)
        }
    })
}

/// Stores the records (or why the migration cannot be taken back) beside its
/// history row, in the migration's transaction: one round trip, since the
/// migration's locks are held until it commits.
pub fn store(
    client: &mut impl GenericClient,
    version: &str,
    records: &[Record],
    irreversible: &[String],
) -> Result<(), PgError> {
    let mut rows: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "seq": r.seq, "kind": r.kind.as_str(), "schema_name": r.schema, "table_name": r.table,
                "name": r.name, "existed": r.existed, "before": r.before,
            })
        })
        .collect();
    rows.extend(irreversible.iter().enumerate().map(|(i, why)| {
        serde_json::json!({
            "seq": -1 - i as i32, "kind": IRREVERSIBLE, "schema_name": "", "table_name": "",
            "name": why, "existed": false, "before": [],
        })
    }));
    let rows = serde_json::Value::Array(rows);
    // Rows of an earlier record of this version (a history row deleted by hand,
    // the file applied again) that this one does not overwrite go.
    client
        .execute(
            "WITH fresh AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(seq integer, kind text, \
               schema_name text, table_name text, name text, existed boolean, before text[])), \
             stale AS (DELETE FROM safemig.undo u WHERE u.version = $1 \
               AND u.seq NOT IN (SELECT seq FROM fresh)) \
             INSERT INTO safemig.undo (version, seq, kind, schema_name, table_name, name, existed, before) \
             SELECT $1, seq, kind, schema_name, table_name, name, existed, coalesce(before, '{}') FROM fresh \
             ON CONFLICT (version, seq) DO UPDATE SET kind = EXCLUDED.kind, schema_name = EXCLUDED.schema_name, \
               table_name = EXCLUDED.table_name, name = EXCLUDED.name, existed = EXCLUDED.existed, \
               before = EXCLUDED.before",
            &[&version, &rows],
        )
        .map_err(sql("recording what the migration changed (safemig.undo)"))?;
    Ok(())
}

/// What `safemig.undo` holds for a migration.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// No row at all: applied before safemig recorded changes, or by another tool.
    pub missing: bool,
    pub records: Vec<Record>,
    pub irreversible: Vec<String>,
}

pub fn read(client: &mut impl GenericClient, version: &str) -> Result<Recorded, PgError> {
    if !crate::history::relation_exists(client, "safemig.undo")? {
        return Ok(Recorded {
            missing: true,
            ..Default::default()
        });
    }
    let rows = client
        .query(
            "SELECT seq, kind, schema_name, table_name, name, existed, before FROM safemig.undo \
             WHERE version = $1 ORDER BY seq",
            &[&version],
        )
        .map_err(sql("reading safemig.undo"))?;
    let mut recorded = Recorded {
        missing: rows.is_empty(),
        ..Default::default()
    };
    for row in rows {
        let kind: String = row.get(1);
        if kind == IRREVERSIBLE {
            recorded.irreversible.push(row.get(4));
            continue;
        }
        let Some(kind) = Kind::parse(&kind) else {
            recorded.irreversible.push(format!(
                "safemig.undo names an object kind this safemig does not know: {kind}"
            ));
            continue;
        };
        recorded.records.push(Record {
            seq: row.get(0),
            kind,
            schema: row.get(2),
            table: row.get(3),
            name: row.get(4),
            existed: row.get(5),
            before: row.get(6),
        });
    }
    Ok(recorded)
}

/// The statements that bring back the state before the migration, newest
/// change first, and the data they would lose (rows in tables the migration
/// created, values in columns it added). Reads the live catalog (the functions'
/// overloads now, the rows now): run it in the rollback's transaction.
pub fn inverse(
    client: &mut impl GenericClient,
    records: &[Record],
) -> Result<(Vec<String>, Vec<String>), PgError> {
    let read = sql("reading what the rollback takes back");
    let made_tables: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r.kind == Kind::Table && !r.existed)
        .map(|r| (r.schema.as_str(), r.name.as_str()))
        .collect();
    let on_made_table = |r: &Record| {
        !r.table.is_empty() && made_tables.contains(&(r.schema.as_str(), r.table.as_str()))
    };
    // A table the migration made is dropped where its last object was touched:
    // what was made on it later (a trigger using a new function) goes with it
    // before what it uses.
    let position = |r: &Record| -> i32 {
        if r.kind == Kind::Table && !r.existed {
            records
                .iter()
                .filter(|o| o.schema == r.schema && o.table == r.name)
                .map(|o| o.seq)
                .chain([r.seq])
                .max()
                .unwrap_or(r.seq)
        } else {
            r.seq
        }
    };
    let mut ordered: Vec<&Record> = records.iter().filter(|r| !on_made_table(r)).collect();
    ordered.sort_by_key(|r| std::cmp::Reverse(position(r)));

    let mut statements = Vec::new();
    let mut losses = Vec::new();
    for r in ordered {
        let relation = quote_qualified(
            &r.schema,
            if r.table.is_empty() {
                &r.name
            } else {
                &r.table
            },
        );
        let object = quote_qualified(&r.schema, &r.name);
        let name = quote_ident(&r.name);
        match r.kind {
            Kind::Schema if !r.existed => statements.push(format!("DROP SCHEMA IF EXISTS {name}")),
            Kind::Extension if !r.existed => {
                statements.push(format!("DROP EXTENSION IF EXISTS {name}"))
            }
            Kind::Type if !r.existed => statements.push(format!("DROP TYPE IF EXISTS {object}")),
            Kind::Sequence if !r.existed => {
                statements.push(format!("DROP SEQUENCE IF EXISTS {object}"))
            }
            Kind::Table if !r.existed => {
                let exists: bool = client
                    .query_one("SELECT to_regclass($1) IS NOT NULL", &[&object])
                    .map_err(&read)?
                    .get(0);
                if exists {
                    let n: i64 = client
                        .query_one(&format!("SELECT count(*) FROM {object}"), &[])
                        .map_err(&read)?
                        .get(0);
                    if n > 0 {
                        losses.push(format!(
                            "{}.{} holds {n} row(s) written since the migration created it",
                            r.schema, r.name
                        ));
                    }
                    statements.push(format!("DROP TABLE {object}"));
                }
            }
            Kind::View if !r.existed => statements.push(format!("DROP VIEW IF EXISTS {object}")),
            Kind::View => {
                let [definition, columns, owner, grants @ ..] = r.before.as_slice() else {
                    continue;
                };
                let now: Option<String> = client
                    .query(
                        "SELECT (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY a.attnum) FROM pg_attribute a \
                         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) \
                         FROM pg_class c WHERE c.oid = to_regclass($1)",
                        &[&object],
                    )
                    .map_err(&read)?
                    .first()
                    .and_then(|row| row.get(0));
                // CREATE OR REPLACE keeps grants and dependents, and can only add
                // columns at the end: when the view lost some since, or is gone,
                // it is made again, with its owner and grants.
                let extends = now
                    .as_deref()
                    .is_some_and(|n| columns == n || columns.starts_with(&format!("{n},")));
                if extends {
                    statements.push(definition.clone());
                } else {
                    statements.push(format!("DROP VIEW IF EXISTS {object}"));
                    statements.push(definition.replacen(
                        "CREATE OR REPLACE VIEW",
                        "CREATE VIEW",
                        1,
                    ));
                    statements.push(owner.clone());
                    statements.extend(grants.iter().cloned());
                }
            }
            Kind::Column if !r.existed => {
                let column = quote_ident(&r.name);
                let found = client
                    .query(
                        "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a \
                         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                         WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
                        &[&relation, &r.name],
                    )
                    .map_err(&read)?;
                let Some(row) = found.first() else { continue };
                // Values other than the column's default were written since.
                let default: Option<String> = row.get(0);
                let condition = match &default {
                    Some(d) => format!("{column} IS DISTINCT FROM ({d})"),
                    None => format!("{column} IS NOT NULL"),
                };
                let n: i64 = client
                    .query_one(
                        &format!("SELECT count(*) FROM {relation} WHERE {condition}"),
                        &[],
                    )
                    .map_err(&read)?
                    .get(0);
                if n > 0 {
                    losses.push(format!(
                        "{}.{}.{} holds {n} value(s) other than its default, written since the migration added it",
                        r.schema, r.table, r.name
                    ));
                }
                statements.push(format!("ALTER TABLE {relation} DROP COLUMN {column}"));
            }
            Kind::ColumnDefault if r.existed => {
                let column = quote_ident(&r.name);
                statements.push(match r.before.first() {
                    Some(d) => {
                        format!("ALTER TABLE {relation} ALTER COLUMN {column} SET DEFAULT {d}")
                    }
                    None => format!("ALTER TABLE {relation} ALTER COLUMN {column} DROP DEFAULT"),
                });
            }
            Kind::ColumnNotNull if r.existed => {
                let column = quote_ident(&r.name);
                let set = if r.before.first().map(String::as_str) == Some("true") {
                    "SET"
                } else {
                    "DROP"
                };
                statements.push(format!(
                    "ALTER TABLE {relation} ALTER COLUMN {column} {set} NOT NULL"
                ));
            }
            Kind::Constraint => {
                statements.push(format!(
                    "ALTER TABLE {relation} DROP CONSTRAINT IF EXISTS {name}"
                ));
                if let Some(def) = r.before.first().filter(|_| r.existed) {
                    statements.push(format!(
                        "ALTER TABLE {relation} ADD CONSTRAINT {name} {def}"
                    ));
                }
            }
            Kind::Index => {
                statements.push(format!("DROP INDEX IF EXISTS {object}"));
                statements.extend(r.before.iter().filter(|_| r.existed).cloned());
            }
            Kind::Function => {
                let before: Vec<(&str, &str)> = r
                    .before
                    .iter()
                    .filter_map(|b| b.split_once(ARGS_SEP))
                    .collect();
                let now = client
                    .query(
                        "SELECT p.oid::regprocedure::text, pg_get_function_identity_arguments(p.oid), \
                         CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END \
                         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                         WHERE n.nspname = $1 AND p.proname = $2 AND p.prokind IN ('f', 'p')",
                        &[&r.schema, &r.name],
                    )
                    .map_err(&read)?;
                for row in &now {
                    let args: String = row.get(1);
                    if !before.iter().any(|(a, _)| *a == args) {
                        let what: String = row.get(2);
                        let signature: String = row.get(0);
                        statements.push(format!("DROP {what} {signature}"));
                    }
                }
                statements.extend(before.iter().map(|(_, def)| def.to_string()));
            }
            Kind::Trigger => {
                statements.push(format!("DROP TRIGGER IF EXISTS {name} ON {relation}"));
                if r.existed {
                    if let Some(def) = r.before.first() {
                        statements.push(def.clone());
                    }
                    match r.before.get(1).map(String::as_str) {
                        Some("D") => statements
                            .push(format!("ALTER TABLE {relation} DISABLE TRIGGER {name}")),
                        Some("R") => statements.push(format!(
                            "ALTER TABLE {relation} ENABLE REPLICA TRIGGER {name}"
                        )),
                        Some("A") => statements.push(format!(
                            "ALTER TABLE {relation} ENABLE ALWAYS TRIGGER {name}"
                        )),
                        _ => {}
                    }
                }
            }
            Kind::Policy => {
                statements.push(format!("DROP POLICY IF EXISTS {name} ON {relation}"));
                statements.extend(r.before.iter().filter(|_| r.existed).cloned());
            }
            Kind::RowSecurity if r.existed => {
                let on = |i: usize| r.before.get(i).map(String::as_str) == Some("true");
                statements.push(format!(
                    "ALTER TABLE {relation} {} ROW LEVEL SECURITY",
                    if on(0) { "ENABLE" } else { "DISABLE" }
                ));
                statements.push(format!(
                    "ALTER TABLE {relation} {} ROW LEVEL SECURITY",
                    if on(1) { "FORCE" } else { "NO FORCE" }
                ));
            }
            // Existed before and only created "IF NOT EXISTS": nothing changed.
            _ => {}
        }
    }
    Ok((statements, losses))
}

/// Deletes a migration's history rows (both tables) and its undo rows.
pub fn forget(client: &mut impl GenericClient, version: &str) -> Result<(), PgError> {
    for (table, what) in [
        (
            "supabase_migrations.schema_migrations",
            "the Supabase CLI's history row",
        ),
        ("safemig.migrations", "safemig's history row"),
        ("safemig.undo", "the rollback record"),
    ] {
        if crate::history::relation_exists(client, table)? {
            client
                .execute(
                    &format!("DELETE FROM {table} WHERE version = $1"),
                    &[&version],
                )
                .map_err(|e| PgError::sql(&format!("deleting {what}"), &e))?;
        }
    }
    Ok(())
}

/// The session settings a rollback runs under: qualified names only, function
/// bodies not checked against it (pg_dump does the same), no lock waited for long.
pub fn session_sql(lock_timeout_ms: u128) -> String {
    format!(
        "SET LOCAL search_path = pg_catalog, pg_temp; SET LOCAL check_function_bodies = off; \
         SET LOCAL lock_timeout = '{lock_timeout_ms}ms'"
    )
}
