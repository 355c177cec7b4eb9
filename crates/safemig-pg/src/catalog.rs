//! Catalog snapshots for the guards: which protected tables exist, their columns,
//! their storage (relfilenode) and this transaction's delete counters.
//!
//! The guard's cost does not grow with table size. Taking a snapshot reads the
//! catalog and the per-transaction statistics only:
//!
//! * a dropped table disappears from `pg_class` (by oid, so a rename is not a loss);
//! * a dropped column disappears from `pg_attribute` (by attnum, so a rename is not a loss);
//! * deleted rows — by `DELETE`, by `ON DELETE CASCADE`, inside functions or `DO`
//!   blocks — show in `pg_stat_get_xact_tuples_deleted`. That counter can include
//!   earlier, not yet flushed transactions of the same session, so the guard uses
//!   the difference between BEGIN and COMMIT, never the value itself;
//! * `TRUNCATE` and rewrites give the table a new relfilenode (and `TRUNCATE`
//!   resets the transaction's counters). Only then are rows counted — after the
//!   statement, against an exact count taken at BEGIN for tables the migration
//!   truncates by name, or against the planner's estimate when the truncate was
//!   hidden in dynamic SQL.
//!
//! Rows are counted exactly, whatever the cost, only for tables the user names in
//! `safemig.toml` (`min_rows`, `exact_counts`).

use std::collections::{BTreeMap, BTreeSet};

use postgres::GenericClient;
use safemig_project::config::{split_table_name, GuardConfig};
use safemig_project::LossKind;
use serde::Serialize;

use crate::{quote_qualified, PgError};

/// Schemas whose tables are not protected unless named in `[guard] protect`:
/// PostgreSQL's own, those Supabase manages, and safemig's and the history's.
pub const UNPROTECTED_SCHEMAS: &[&str] = &[
    "information_schema",
    "auth",
    "storage",
    "extensions",
    "realtime",
    "_realtime",
    "graphql",
    "graphql_public",
    "vault",
    "pgsodium",
    "pgsodium_masks",
    "supabase_functions",
    "supabase_migrations",
    "net",
    "pgbouncer",
    "cron",
    "pgtle",
    "_analytics",
    "_supavisor",
    "safemig",
];

/// Which tables the guards protect and how hard.
#[derive(Debug, Clone, Default)]
pub struct Protection {
    pub protect: Vec<(String, String)>,
    pub unprotect: BTreeSet<(String, String)>,
    pub exact_counts: BTreeSet<(String, String)>,
    pub min_rows: BTreeMap<(String, String), u64>,
    /// The snapshot query, prepared once per run ([`Protection::prepare`]): two
    /// snapshots a migration then cost one round trip each, with no re-planning.
    pub statement: Option<postgres::Statement>,
}

impl Protection {
    /// Prepares the snapshot query on this connection.
    pub fn prepare(mut self, client: &mut impl GenericClient) -> Result<Protection, PgError> {
        self.statement = Some(
            client
                .prepare(SNAPSHOT_SQL)
                .map_err(|e| PgError::sql("preparing the guards' catalog query", &e))?,
        );
        Ok(self)
    }

    pub fn from_config(guard: &GuardConfig) -> Protection {
        let names = |list: &[String]| {
            list.iter()
                .filter_map(|t| split_table_name(t))
                .collect::<Vec<_>>()
        };
        Protection {
            protect: names(&guard.protect),
            unprotect: names(&guard.unprotect).into_iter().collect(),
            exact_counts: names(&guard.exact_counts).into_iter().collect(),
            min_rows: guard
                .min_rows
                .iter()
                .filter_map(|(t, n)| split_table_name(t).map(|k| (k, *n)))
                .collect(),
            statement: None,
        }
    }

    fn counts_exactly(&self, key: &(String, String)) -> bool {
        self.exact_counts.contains(key) || self.min_rows.contains_key(key)
    }
}

/// One protected table at one moment.
#[derive(Debug, Clone)]
pub struct TableState {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub filenode: Option<i64>,
    /// max(pg_class.reltuples, pg_stat live tuples): an estimate, never used as proof of safety alone.
    pub estimated_rows: i64,
    /// Bytes of the table's main storage: > 0 means it may hold rows, even when the
    /// planner has no statistics yet (never analysed).
    pub bytes: i64,
    pub xact_deleted: i64,
    pub columns: Vec<(i32, String)>,
    pub exact_rows: Option<i64>,
}

impl TableState {
    /// `schema.table` as safemig.toml takes it: parts quoted when they need it
    /// (capitals, dots, spaces), so the `[[allow]]` a violation suggests matches.
    pub fn display_name(&self) -> String {
        format!(
            "{}.{}",
            config_ident(&self.schema),
            config_ident(&self.name)
        )
    }
}

/// `schema.table` as safemig.toml takes it (see [`TableState::display_name`]).
pub fn display_table(schema: &str, name: &str) -> String {
    format!("{}.{}", config_ident(schema), config_ident(name))
}

fn config_ident(part: &str) -> String {
    let plain = part
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        part.to_string()
    } else {
        format!("\"{}\"", part.replace('"', "\"\""))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub tables: BTreeMap<u32, TableState>,
}

/// A protected table that lost something.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Violation {
    pub table: String,
    pub loss: LossKind,
    pub message: String,
    /// Whether `[[allow]]` can permit it (a `min_rows` floor cannot be allowed away).
    #[serde(skip)]
    pub allowable: bool,
}

const SNAPSHOT_SQL: &str = "
SELECT c.oid, n.nspname::text, c.relname::text,
       pg_relation_filenode(c.oid)::int8,
       pg_relation_size(c.oid)::int8,
       greatest(c.reltuples::int8, pg_stat_get_live_tuples(c.oid), 0)::int8,
       pg_stat_get_xact_tuples_deleted(c.oid)::int8,
       coalesce((SELECT array_agg(a.attnum::int4 ORDER BY a.attnum) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
       coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
  AND ($4::oid[] IS NULL OR c.oid = ANY($4))
  AND ((n.nspname <> ALL($1) AND n.nspname NOT LIKE 'pg\\_%')
       OR EXISTS (SELECT 1 FROM unnest($2::text[], $3::text[]) AS p(s, t) WHERE p.s = n.nspname AND p.t = c.relname))";

fn read_tables(
    client: &mut impl GenericClient,
    protection: &Protection,
    only: Option<Vec<u32>>,
) -> Result<BTreeMap<u32, TableState>, PgError> {
    let excluded: Vec<&str> = UNPROTECTED_SCHEMAS.to_vec();
    let schemas: Vec<&str> = protection.protect.iter().map(|(s, _)| s.as_str()).collect();
    let names: Vec<&str> = protection.protect.iter().map(|(_, t)| t.as_str()).collect();
    let params: [&(dyn postgres::types::ToSql + Sync); 4] = [&excluded, &schemas, &names, &only];
    let rows = match &protection.statement {
        Some(statement) => client.query(statement, &params),
        None => client.query(SNAPSHOT_SQL, &params),
    }
    .map_err(|e| PgError::sql("reading the catalog for the guards", &e))?;
    let mut tables = BTreeMap::new();
    for r in rows {
        let schema: String = r.get(1);
        let name: String = r.get(2);
        if protection
            .unprotect
            .contains(&(schema.clone(), name.clone()))
        {
            continue;
        }
        let attnums: Vec<i32> = r.get(7);
        let attnames: Vec<String> = r.get(8);
        let state = TableState {
            oid: r.get(0),
            schema,
            name,
            filenode: r.get(3),
            bytes: r.get(4),
            estimated_rows: r.get(5),
            xact_deleted: r.get(6),
            columns: attnums.into_iter().zip(attnames).collect(),
            exact_rows: None,
        };
        tables.insert(state.oid, state);
    }
    Ok(tables)
}

fn count_rows(client: &mut impl GenericClient, table: &TableState) -> Result<i64, PgError> {
    let sql = format!(
        "SELECT count(*) FROM {}",
        quote_qualified(&table.schema, &table.name)
    );
    let row = client.query_one(&sql, &[]).map_err(|e| {
        PgError::sql(
            &format!("counting the rows of {}", table.display_name()),
            &e,
        )
    })?;
    Ok(row.get(0))
}

/// Tables a `TRUNCATE` names, resolved as the migration would resolve them (search_path),
/// plus, for `TRUNCATE ... CASCADE`, every table that references them by foreign key.
pub fn resolve_truncate_targets(
    client: &mut impl GenericClient,
    names: &[safemig_analyze::QualifiedName],
    cascade: bool,
) -> Result<BTreeSet<u32>, PgError> {
    let mut oids = BTreeSet::new();
    for name in names {
        let text = if name.schema.is_empty() {
            crate::quote_ident(&name.name)
        } else {
            quote_qualified(&name.schema, &name.name)
        };
        let row = client
            .query_one("SELECT to_regclass($1)::oid", &[&text])
            .map_err(|e| PgError::sql("resolving a table name", &e))?;
        if let Some(oid) = row.get::<_, Option<u32>>(0) {
            oids.insert(oid);
        }
    }
    if cascade && !oids.is_empty() {
        let start: Vec<u32> = oids.iter().copied().collect();
        let rows = client
            .query(
                "WITH RECURSIVE refs(oid) AS (SELECT unnest($1::oid[]) UNION \
                 SELECT c.conrelid FROM pg_constraint c JOIN refs ON c.confrelid = refs.oid WHERE c.contype = 'f') \
                 SELECT oid FROM refs",
                &[&start],
            )
            .map_err(|e| PgError::sql("following foreign keys of a TRUNCATE ... CASCADE", &e))?;
        oids.extend(rows.iter().map(|r| r.get::<_, u32>(0)));
    }
    Ok(oids)
}

/// The state at BEGIN. `count_first` lists tables that will be emptied by name:
/// they are counted exactly now so that the count after can be compared.
pub fn snapshot_before(
    client: &mut impl GenericClient,
    protection: &Protection,
    count_first: &BTreeSet<u32>,
) -> Result<Snapshot, PgError> {
    let mut tables = read_tables(client, protection, None)?;
    for table in tables.values_mut() {
        let key = (table.schema.clone(), table.name.clone());
        if protection.counts_exactly(&key) || count_first.contains(&table.oid) {
            table.exact_rows = Some(count_rows(client, table)?);
        }
    }
    Ok(Snapshot { tables })
}

/// The state before COMMIT, of the tables in `before`, with rows counted where needed.
pub fn snapshot_after(
    client: &mut impl GenericClient,
    protection: &Protection,
    before: &Snapshot,
) -> Result<Snapshot, PgError> {
    let oids: Vec<u32> = before.tables.keys().copied().collect();
    let mut tables = read_tables(client, protection, Some(oids))?;
    for table in tables.values_mut() {
        let key = (table.schema.clone(), table.name.clone());
        let rewritten = before
            .tables
            .get(&table.oid)
            .is_some_and(|b| b.filenode != table.filenode);
        if protection.counts_exactly(&key) || rewritten {
            table.exact_rows = Some(count_rows(client, table)?);
        }
    }
    Ok(Snapshot { tables })
}

/// Everything a protected table lost between `before` and `after`.
pub fn evaluate(before: &Snapshot, after: &Snapshot, protection: &Protection) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (oid, old) in &before.tables {
        let table = old.display_name();
        let Some(new) = after.tables.get(oid) else {
            violations.push(Violation {
                table,
                loss: LossKind::Table,
                message: format!(
                    "the table was dropped (it held about {} rows)",
                    old.exact_rows.unwrap_or(old.estimated_rows)
                ),
                allowable: true,
            });
            continue;
        };
        let lost: Vec<&str> = old
            .columns
            .iter()
            .filter(|(attnum, _)| !new.columns.iter().any(|(n, _)| n == attnum))
            .map(|(_, name)| name.as_str())
            .collect();
        if !lost.is_empty() {
            violations.push(Violation {
                table: table.clone(),
                loss: LossKind::Columns,
                message: format!(
                    "lost column{} {}",
                    if lost.len() == 1 { "" } else { "s" },
                    lost.iter()
                        .map(|c| format!("\"{c}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                allowable: true,
            });
        }
        let rewritten = old.filenode != new.filenode;
        let deleted = new.xact_deleted - old.xact_deleted;
        // Deletes first: the counter is exact, and a rewrite keeps it (only TRUNCATE
        // resets it), so deletes before or after a rewrite still show here.
        if deleted > 0 {
            violations.push(Violation {
                table: table.clone(),
                loss: LossKind::Rows,
                message: format!(
                    "{deleted} row{} deleted (by DELETE, a cascading foreign key, or a function)",
                    if deleted == 1 { "" } else { "s" }
                ),
                allowable: true,
            });
        } else if rewritten {
            let after_rows = new.exact_rows.unwrap_or(0);
            let loss = match old.exact_rows {
                Some(before_rows) if after_rows < before_rows => Some(format!(
                    "emptied or rewritten (TRUNCATE or a table rewrite): {before_rows} rows before, {after_rows} after"
                )),
                Some(_) => None,
                None if after_rows < old.estimated_rows => Some(format!(
                    "rewritten or truncated by a statement safemig could not see into (dynamic SQL): \
                     about {} rows before (planner statistics), {after_rows} after",
                    old.estimated_rows
                )),
                // No statistics yet (never analysed), but the table had storage and now has no row.
                None if after_rows == 0 && old.bytes > 0 => Some(format!(
                    "emptied by a statement safemig could not see into (dynamic SQL): it held data \
                     ({} bytes) before, 0 rows after",
                    old.bytes
                )),
                None => None,
            };
            if let Some(message) = loss {
                violations.push(Violation {
                    table: table.clone(),
                    loss: LossKind::Rows,
                    message,
                    allowable: true,
                });
            }
        }
        let key = (new.schema.clone(), new.name.clone());
        if let (Some(min), Some(rows)) = (protection.min_rows.get(&key), new.exact_rows) {
            if (rows as u64) < *min {
                violations.push(Violation {
                    table: table.clone(),
                    loss: LossKind::Rows,
                    message: format!("holds {rows} rows; safemig.toml requires at least {min}"),
                    allowable: false,
                });
            }
        }
    }
    violations
}

/// What a live database already has, for `check --db`: relations, functions,
/// types, schemas, extensions, indexes, triggers and policies, and the
/// functions its triggers execute. PostgreSQL's own schemas are left out:
/// no migration creates objects there.
pub fn live_objects(
    client: &mut impl GenericClient,
) -> Result<safemig_analyze::order::Live, PgError> {
    use safemig_analyze::objects::{ObjectId, ObjectKind};
    let mut live = safemig_analyze::order::Live::default();
    let not_system = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_temp%'";
    let queries: [(ObjectKind, String); 6] = [
        (ObjectKind::Relation, format!("SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','S','f') AND {not_system}")),
        (ObjectKind::Index, format!("SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('i','I') AND {not_system}")),
        (ObjectKind::Function, format!("SELECT n.nspname::text, p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {not_system}")),
        (ObjectKind::Type, format!("SELECT n.nspname::text, t.typname::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype IN ('e','c','d','r') AND {not_system}")),
        (ObjectKind::Schema, "SELECT '', nspname::text FROM pg_namespace".to_string()),
        (ObjectKind::Extension, "SELECT '', extname::text FROM pg_extension".to_string()),
    ];
    for (kind, sql) in queries {
        let rows = client
            .query(sql.as_str(), &[])
            .map_err(|e| PgError::sql("reading the catalog", &e))?;
        for r in rows {
            live.objects.insert(ObjectId::new(
                kind,
                &r.get::<_, String>(0),
                &r.get::<_, String>(1),
            ));
        }
    }
    let triggers = client
        .query(
            "SELECT tn.nspname::text, c.relname::text, t.tgname::text, fn.nspname::text, p.proname::text \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace tn ON tn.oid = c.relnamespace \
             JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace fn ON fn.oid = p.pronamespace WHERE NOT t.tgisinternal",
            &[],
        )
        .map_err(|e| PgError::sql("reading the triggers", &e))?;
    for r in triggers {
        let (schema, table, name): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        live.objects.insert(ObjectId::on_table(
            ObjectKind::Trigger,
            &schema,
            &table,
            &name,
        ));
        live.trigger_functions.insert(ObjectId::new(
            ObjectKind::Function,
            &r.get::<_, String>(3),
            &r.get::<_, String>(4),
        ));
    }
    // Trigger functions with no trigger (the seed's handle_new_user); extensions' own are left out.
    let unattached = client
        .query(
            "SELECT n.nspname::text, p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE p.prorettype = 'trigger'::regtype AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgfoid = p.oid) \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') \
             ORDER BY 1, 2",
            &[],
        )
        .map_err(|e| PgError::sql("reading the trigger functions", &e))?;
    for r in unattached {
        live.unattached_trigger_functions.push(ObjectId::new(
            ObjectKind::Function,
            &r.get::<_, String>(0),
            &r.get::<_, String>(1),
        ));
    }
    let policies = client
        .query(
            "SELECT schemaname::text, tablename::text, policyname::text FROM pg_policies",
            &[],
        )
        .map_err(|e| PgError::sql("reading the policies", &e))?;
    for r in policies {
        live.objects.insert(ObjectId::on_table(
            ObjectKind::Policy,
            &r.get::<_, String>(0),
            &r.get::<_, String>(1),
            &r.get::<_, String>(2),
        ));
    }
    Ok(live)
}
