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

use crate::queries::Queries;
use crate::{quote_ident, quote_qualified, PgError};

pub mod table;
pub use table::TableStep;

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
/// Every recorded migration has this row, even when it touched nothing.
const RECORDED: &str = "recorded";
const RECORDED_SEQ: i32 = i32::MIN;

/// Separates a function's identity arguments from its definition in `before`.
const ARGS_SEP: char = '\u{1f}';

fn sql(what: &str) -> impl Fn(postgres::Error) -> PgError + '_ {
    move |e| PgError::sql(what, &e)
}

/// The schema an unqualified name resolves to now, as the migration will
/// resolve it: where it exists, else the creation schema.
fn resolve(
    client: &mut impl GenericClient,
    queries: &Queries,
    t: &Touched,
) -> Result<String, PgError> {
    if !t.schema.is_empty() {
        return Ok(t.schema.clone());
    }
    let on_table = !t.table.is_empty();
    if t.creating && !matches!(t.kind, Kind::Schema | Kind::Extension) {
        // CREATE puts it in the first schema of the search_path, whatever an
        // object of that name further down the path.
        let schema: Option<String> = queries
            .query_one(client, "SELECT pg_catalog.current_schema()", &[])
            .map_err(sql("resolving a name for the rollback record"))?
            .get(0);
        return schema.ok_or_else(|| {
            PgError::Config("no schema to create objects in: the search_path is empty".into())
        });
    }
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
    let schema: Option<String> = queries
        .query_one(client, query, &[name])
        .map_err(sql("resolving a name for the rollback record"))?
        .get(0);
    schema.ok_or_else(|| {
        PgError::Config("no schema to create objects in: the search_path is empty".into())
    })
}

/// The schemas the touched objects resolve to, as the migration will resolve
/// them: run with the migration's search_path, before its first statement.
pub fn resolve_all(
    client: &mut impl GenericClient,
    queries: &Queries,
    plan: &UndoPlan,
) -> Result<Vec<(Touched, String)>, PgError> {
    if !plan.irreversible.is_empty() {
        return Ok(Vec::new()); // nothing to take back with: recorded as irreversible
    }
    plan.touched
        .iter()
        .map(|t| Ok((t.clone(), resolve(client, queries, t)?)))
        .collect()
}

/// The state before the migration of each resolved object. Run with
/// `search_path = pg_catalog` (the guard's), so that every definition read
/// names its objects with their schema.
pub fn read_all(
    client: &mut impl GenericClient,
    queries: &Queries,
    resolved: &[(Touched, String)],
) -> Result<Vec<Record>, PgError> {
    let mut records = Vec::with_capacity(resolved.len());
    for (seq, (t, schema)) in resolved.iter().enumerate() {
        let (existed, before) = read_state(client, queries, t.kind, schema, &t.table, &t.name)?;
        records.push(Record {
            seq: seq as i32,
            kind: t.kind,
            schema: schema.clone(),
            table: t.table.clone(),
            name: t.name.clone(),
            existed,
            before,
        });
    }
    Ok(records)
}

/// Whether the object exists, and what brings it back as it is now.
fn read_state(
    client: &mut impl GenericClient,
    queries: &Queries,
    kind: Kind,
    schema: &str,
    table: &str,
    name: &str,
) -> Result<(bool, Vec<String>), PgError> {
    let relation = quote_qualified(schema, if table.is_empty() { name } else { table });
    let read = sql("recording what the migration changes");
    let rows = |client: &mut _, query: &str, params: &[&(dyn postgres::types::ToSql + Sync)]| {
        queries
            .query(client, query, params)
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
        Kind::DroppedTable => {
            // Its oid, kind, whether it has partitions or children (they go with
            // it), and the oids of what depends on it (its constraints, indexes,
            // triggers, policies, defaults, owned sequences): the backup's
            // archive entries to bring back are chosen by them.
            // Only what belongs to it (deptype auto or internal): another
            // table's foreign key into it, or a view on it, is not its own.
            // Its privileges: a restore into a database with default
            // privileges gets those too, and must not keep them.
            let found = rows(
                client,
                &format!(
                    "SELECT c.oid::int8::text, c.relkind::text, c.relhassubclass::text, quote_ident(c.relname), \
                       ({ACL_SQL}), '', '', \
                       coalesce((SELECT array_agg(DISTINCT d.objid::int8::text) FROM pg_depend d \
                         WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid \
                           AND d.deptype IN ('a', 'i')), '{{}}') \
                     FROM pg_class c WHERE c.oid = to_regclass($1)"
                ),
                &[&relation],
            )?;
            let before = found
                .first()
                .map(|r| {
                    let mut b: Vec<String> = (0..DROPPED_RECORDED)
                        .map(|i| r.get::<_, String>(i))
                        .collect();
                    b.extend(r.get::<_, Vec<String>>(DROPPED_RECORDED));
                    b
                })
                .unwrap_or_default();
            (!found.is_empty(), before)
        }
        Kind::Rows => {
            // Its oid (a table renamed or made again since is not this one),
            // this transaction's id (what `xmin` the rows it writes carry), its
            // key, its kind; the counts of what it wrote are added after the
            // statements ([`store_counts`]).
            // The transaction's counters now (the session's earlier transactions
            // may still be in them), its filenode (a rewrite gives every row
            // the migration's xmin), whether it has child tables.
            let found = rows(
                client,
                &format!(
                    "SELECT c.oid::int8::text, pg_catalog.pg_current_xact_id()::text, coalesce(({KEY_SQL}), ''), \
                       c.relkind::text, pg_stat_get_xact_tuples_inserted(c.oid)::text, \
                       pg_stat_get_xact_tuples_updated(c.oid)::text, pg_stat_get_xact_tuples_deleted(c.oid)::text, \
                       coalesce(pg_relation_filenode(c.oid)::text, ''), c.relhassubclass::text \
                     FROM pg_class c WHERE c.oid = to_regclass($1)"
                ),
                &[&relation],
            )?;
            let before = found
                .first()
                .map(|r| (0..ROWS_RECORDED).map(|i| r.get::<_, String>(i)).collect())
                .unwrap_or_default();
            (!found.is_empty(), before)
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
        Kind::DroppedColumn => {
            // Its definition, and the key its values are matched back by.
            let found = rows(
                client,
                "SELECT format_type(a.atttypid, a.atttypmod), \
                   CASE WHEN a.attcollation IN (0, t.typcollation) THEN '' ELSE \
                     (SELECT format('%I.%I', n.nspname, c.collname) FROM pg_collation c \
                      JOIN pg_namespace n ON n.oid = c.collnamespace WHERE c.oid = a.attcollation) END, \
                   coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attnotnull::text, \
                   (SELECT string_agg(k.attname, chr(31) ORDER BY x.ord) FROM pg_index i \
                      CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS x(attnum, ord) \
                      JOIN pg_attribute k ON k.attrelid = i.indrelid AND k.attnum = x.attnum \
                    WHERE i.indexrelid = (SELECT i2.indexrelid FROM pg_index i2 WHERE i2.indrelid = a.attrelid \
                      AND NOT (a.attnum = ANY (i2.indkey::int2[])) \
                      AND (i2.indisprimary OR (i2.indisunique AND i2.indpred IS NULL AND i2.indexprs IS NULL \
                        AND NOT EXISTS (SELECT 1 FROM pg_attribute n2 WHERE n2.attrelid = i2.indrelid \
                          AND n2.attnum = ANY (i2.indkey::int2[]) AND NOT n2.attnotnull))) \
                      AND i2.indisvalid ORDER BY i2.indisprimary DESC, i2.indexrelid LIMIT 1)), \
                 a.attidentity::text || a.attgenerated::text \
                 , coalesce((SELECT array_agg(x.sql ORDER BY x.sql) FROM ( \
                     SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', $1::text, c.conname, pg_get_constraintdef(c.oid)) AS sql \
                     FROM pg_constraint c WHERE c.conrelid = a.attrelid AND a.attnum = ANY (c.conkey) \
                     UNION ALL \
                     SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = a.attrelid \
                       AND (a.attnum = ANY (i.indkey::int2[]) \
                         OR pg_get_expr(i.indexprs, i.indrelid) ~ ('\\m' || a.attname || '\\M') \
                         OR pg_get_expr(i.indpred, i.indrelid) ~ ('\\m' || a.attname || '\\M')) \
                       AND NOT EXISTS (SELECT 1 FROM pg_constraint c2 WHERE c2.conindid = i.indexrelid \
                         AND c2.conrelid = i.indrelid)) x), '{}') \
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
                &[&relation, &name],
            )?;
            // Its type, collation, default, NOT NULL, key, identity/generated
            // flags; then the indexes and constraints that go with it.
            let before = found
                .first()
                .map(|r| {
                    let mut b = vec![
                        r.get::<_, String>(0),
                        r.get(1),
                        r.get(2),
                        r.get(3),
                        r.get::<_, Option<String>>(4).unwrap_or_default(),
                        r.get(5),
                    ];
                    b.extend(r.get::<_, Vec<String>>(6));
                    b
                })
                .unwrap_or_default();
            (!found.is_empty(), before)
        }
        Kind::ColumnType => {
            let found = rows(
                client,
                "SELECT format_type(a.atttypid, a.atttypmod), \
                   CASE WHEN a.attcollation IN (0, t.typcollation) THEN '' ELSE \
                     (SELECT format('%I.%I', n.nspname, c.collname) FROM pg_collation c \
                      JOIN pg_namespace n ON n.oid = c.collnamespace WHERE c.oid = a.attcollation) END, \
                   coalesce(pg_get_expr(d.adbin, d.adrelid), '') \
                 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                 LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                 WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped",
                &[&relation, &name],
            )?;
            let before = found
                .first()
                .map(|r| vec![r.get(0), r.get(1), r.get(2)])
                .unwrap_or_default();
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
            let found = queries
                .query(
                    client,
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
    queries: &Queries,
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
    // Always one row: a migration that touched nothing is still known as recorded.
    rows.push(serde_json::json!({
        "seq": RECORDED_SEQ, "kind": RECORDED, "schema_name": "", "table_name": "", "name": "",
        "existed": false, "before": [],
    }));
    let rows = serde_json::Value::Array(rows);
    // Rows of an earlier record of this version (a history row deleted by hand,
    // the file applied again) that this one does not overwrite go.
    queries
        .execute(
            client,
            "WITH fresh AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(seq integer, kind text, \
               schema_name text, table_name text, name text, existed boolean, before text[])), \
             stale AS (DELETE FROM safemig.undo u WHERE u.version = $1 \
               AND u.seq NOT IN (SELECT seq FROM fresh)) \
             INSERT INTO safemig.undo (version, seq, kind, schema_name, table_name, name, existed, before) \
             SELECT $1, seq, kind, schema_name, table_name, name, existed, \
               CASE WHEN kind = 'recorded' THEN ARRAY[pg_current_xact_id()::text] ELSE coalesce(before, '{}') END \
             FROM fresh \
             ON CONFLICT (version, seq) DO UPDATE SET kind = EXCLUDED.kind, schema_name = EXCLUDED.schema_name, \
               table_name = EXCLUDED.table_name, name = EXCLUDED.name, existed = EXCLUDED.existed, \
               before = EXCLUDED.before",
            &[&version, &rows],
        )
        .map_err(sql("recording what the migration changed (safemig.undo)"))?;
    Ok(())
}

/// The privileges of table `c` and of its columns, as text.
/// The table's part (its ACL, the owner's default when it has none, items
/// sorted), then [`ARGS_SEP`], then its columns' (`name=acl` each).
pub(crate) const ACL_SQL: &str = "(SELECT string_agg(x, ',' ORDER BY x) FROM unnest(coalesce(c.relacl, \
     acldefault('r', c.relowner))::text[]) x) || chr(31) || coalesce((SELECT string_agg(a.attname || '=' || \
     a.attacl::text, ' ' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL), '')";

/// The key rows of table `c` are matched by: its primary key, else a unique
/// index without predicate or expression on NOT NULL columns; names joined by
/// [`ARGS_SEP`], in the index's order. NULL when it has none.
const KEY_SQL: &str = "SELECT string_agg(k.attname, chr(31) ORDER BY x.ord) FROM pg_index i \
     CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS x(attnum, ord) \
     JOIN pg_attribute k ON k.attrelid = i.indrelid AND k.attnum = x.attnum \
     WHERE i.indexrelid = (SELECT i2.indexrelid FROM pg_index i2 WHERE i2.indrelid = c.oid \
       AND (i2.indisprimary OR (i2.indisunique AND i2.indpred IS NULL AND i2.indexprs IS NULL \
         AND NOT EXISTS (SELECT 1 FROM pg_attribute n2 WHERE n2.attrelid = i2.indrelid \
           AND n2.attnum = ANY (i2.indkey::int2[]) AND NOT n2.attnotnull))) \
       AND i2.indisvalid ORDER BY i2.indisprimary DESC, i2.indexrelid LIMIT 1)";

/// Rows written after the run's backup and before the migration (their
/// `xmin` is not older than the backup snapshot's xmin): the backup holds an
/// older version of them, or none. Read before the statements, one scan of each
/// table concerned (outside the statements' locks).
///
/// - A table whose rows the migration changes in place: the keys of such rows
///   are kept (up to [`GAP_LIMIT`]); rollback refuses if the migration wrote or
///   deleted one of them.
/// - A table it drops: its row count and whether any row is that new; rollback
///   refuses unless the backup's table is the one dropped, row for row.
///
/// The window is modular (32-bit `xmin`), from the snapshot's xmin (the
/// snapshot's in-progress transactions and their subtransactions included) to
/// now; a snapshot two billion transactions old makes every row count.
pub fn written_since_backup(
    client: &mut impl GenericClient,
    records: &mut [Record],
    snapshot: Option<&str>,
) -> Result<(), PgError> {
    const NEWER: &str = "CASE WHEN pg_snapshot_xmax(pg_current_snapshot())::text::int8 - $1 >= 2147483648 THEN true \
         ELSE ((xmin::text::int8 - ($1 & 4294967295)) & 4294967295) \
              < pg_snapshot_xmax(pg_current_snapshot())::text::int8 - $1 END";
    let since = snapshot.and_then(snapshot_xmin);
    for r in records.iter_mut().filter(|r| r.existed) {
        let relation = quote_qualified(&r.schema, &r.name);
        match r.kind {
            Kind::Rows if r.before.len() == ROWS_RECORDED => {
                let gap = match since {
                    None => GAP_UNKNOWN.to_string(),
                    Some(xmin) => {
                        let key: Vec<String> = r.before[2]
                            .split(ARGS_SEP)
                            .filter(|k| !k.is_empty())
                            .map(quote_ident)
                            .collect();
                        if key.is_empty() {
                            String::new()
                        } else {
                            let rows = client
                                .query(
                                    &format!(
                                        "SELECT ROW({})::text FROM ONLY {relation} WHERE {NEWER} LIMIT {}",
                                        key.join(", "),
                                        GAP_LIMIT + 1
                                    ),
                                    &[&xmin],
                                )
                                .map_err(sql("reading the rows written since the backup"))?;
                            if rows.len() > GAP_LIMIT {
                                GAP_TOO_MANY.to_string()
                            } else if rows.is_empty() {
                                String::new()
                            } else {
                                let keys: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
                                serde_json::to_string(&keys).unwrap_or_default()
                            }
                        }
                    }
                };
                r.before.push(gap);
            }
            Kind::DroppedTable if r.before.len() >= DROPPED_RECORDED => {
                let (count, newer) = match since {
                    None => (String::new(), GAP_UNKNOWN.to_string()),
                    Some(xmin) => {
                        let row = client
                            .query_one(
                                &format!(
                                    "SELECT count(*)::text, (count(*) FILTER (WHERE {NEWER}))::text FROM ONLY {relation}"
                                ),
                                &[&xmin],
                            )
                            .map_err(sql("reading the rows written since the backup"))?;
                        (row.get(0), row.get(1))
                    }
                };
                r.before[5] = count;
                r.before[6] = newer;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The xmin of a `pg_current_snapshot()` text (`xmin:xmax:xip,...`).
fn snapshot_xmin(text: &str) -> Option<i64> {
    text.split(':').next()?.parse().ok()
}

/// How many keys of rows written since the backup a record keeps.
const GAP_LIMIT: usize = 10_000;
const GAP_TOO_MANY: &str = "*";
const GAP_UNKNOWN: &str = "?";
/// Elements of a dropped table's record before its dependents: oid, relkind,
/// whether it has child tables, its name as pg_dump tags it, its privileges,
/// its row count and how many rows are newer than the backup (both set by
/// [`written_since_backup`]).
const DROPPED_RECORDED: usize = 7;
/// Elements of a rows record before the statements: oid, xid, key, relkind,
/// the three counters, filenode, whether it has child tables.
const ROWS_RECORDED: usize = 9;
// ... then the gap ([`written_since_backup`]); after the statements the
// counters become what the migration wrote, and the filenode then is added.

/// After the migration's statements, before COMMIT: how many rows it inserted,
/// updated and deleted in each table whose rows it changed in place (the
/// transaction's counters now less those before its statements). One round
/// trip, for migrations that change rows in place only.
pub fn store_counts(
    client: &mut impl GenericClient,
    queries: &Queries,
    version: &str,
) -> Result<(), PgError> {
    queries
        .execute(
            client,
            "UPDATE safemig.undo SET before = before[1:4] || ARRAY[ \
               (pg_stat_get_xact_tuples_inserted(before[1]::oid) - before[5]::int8)::text, \
               (pg_stat_get_xact_tuples_updated(before[1]::oid) - before[6]::int8)::text, \
               (pg_stat_get_xact_tuples_deleted(before[1]::oid) - before[7]::int8)::text] \
               || before[8:10] || ARRAY[coalesce(pg_relation_filenode(before[1]::oid)::text, '')] \
             WHERE version = $1 AND kind = 'rows' AND existed AND cardinality(before) = 10",
            &[&version],
        )
        .map_err(sql("recording the rows the migration wrote (safemig.undo)"))?;
    Ok(())
}

/// Of the tables the migration wrote rows of (`written`: its locks and
/// counters, read by the guard before COMMIT), those no record covers: a
/// trigger, a cascade or a rule of the tables it names wrote them. A table it
/// made, changed rows of in place, or added or retyped columns of is covered.
pub fn uncovered(records: &[Record], written: &[(String, String)]) -> Vec<String> {
    let covered = |schema: &str, name: &str| {
        records.iter().any(|r| {
            r.schema == schema
                && match r.kind {
                    Kind::Rows => r.name == name,
                    Kind::Table => !r.existed && r.name == name,
                    Kind::Column => !r.existed && r.table == name,
                    Kind::ColumnType => r.table == name,
                    _ => false,
                }
        })
    };
    written
        .iter()
        .filter(|(schema, name)| !covered(schema, name))
        .map(|(schema, name)| {
            let table = format!("{schema}.{name}");
            format!(
                "it also wrote rows of {table} (a trigger, a cascade or a rule of the tables it names), which \
                 its record does not cover: restore them from the backup taken before it (safemig restore PATH \
                 --tables {table})"
            )
        })
        .collect()
}

/// The tables written without a record, when the guard did not read the
/// transaction's locks (an unscoped run): read here.
pub fn written_tables(
    client: &mut impl GenericClient,
    queries: &Queries,
) -> Result<Vec<(String, String)>, PgError> {
    Ok(queries
        .query(
            client,
            "SELECT n.nspname::text, c.relname::text \
             FROM (SELECT DISTINCT relation FROM pg_locks WHERE locktype = 'relation' AND granted \
                     AND pid = pg_backend_pid() \
                     AND mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock') \
                     AND database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())) l \
             JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' \
               AND n.nspname NOT IN ('safemig', 'supabase_migrations', 'pg_catalog', 'pg_toast') \
               AND pg_stat_get_xact_tuples_inserted(c.oid) + pg_stat_get_xact_tuples_updated(c.oid) \
                   + pg_stat_get_xact_tuples_deleted(c.oid) > 0",
            &[],
        )
        .map_err(sql("reading what the migration wrote"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}

/// Records why the migration cannot be taken back, found as it ran.
pub fn store_irreversible(
    client: &mut impl GenericClient,
    queries: &Queries,
    version: &str,
    why: &[String],
) -> Result<(), PgError> {
    if why.is_empty() {
        return Ok(());
    }
    queries
        .execute(
            client,
            "INSERT INTO safemig.undo (version, seq, kind, schema_name, table_name, name, existed, before) \
             SELECT $1, -100000 - w.i::int, 'irreversible', '', '', w.why, false, '{}' \
             FROM unnest($2::text[]) WITH ORDINALITY AS w(why, i) \
             ON CONFLICT (version, seq) DO UPDATE SET name = EXCLUDED.name",
            &[&version, &why],
        )
        .map_err(sql("recording the rows the migration wrote (safemig.undo)"))?;
    Ok(())
}

/// What `safemig.undo` holds for a migration.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// No row at all: applied before safemig recorded changes, or by another tool.
    pub missing: bool,
    pub records: Vec<Record>,
    pub irreversible: Vec<String>,
    /// The migration's transaction id (64 bits): the rows it wrote carry it as
    /// their `xmin` (recorded since safemig wrote it with the record).
    pub xid: Option<i64>,
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
        if kind == RECORDED {
            recorded.xid = row
                .get::<_, Vec<String>>(6)
                .first()
                .and_then(|x| x.parse().ok());
            continue;
        }
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

/// One step of a rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Sql(String),
    /// The values of a dropped column, from the content copy of its table in
    /// the backup taken before the migration, matched by the table's key.
    Values {
        schema: String,
        table: String,
        column: String,
        /// The column's type, as `format_type` writes it.
        type_sql: String,
        key: Vec<String>,
    },
    /// Rows of a table that existed, as they were before the migration: the
    /// ones it wrote (still carrying its `xmin`) put back or, if it inserted
    /// them, deleted; the ones it deleted inserted again; from the content copy
    /// of the backup taken before it, matched by the table's key.
    Rows(RowsStep),
    /// A dropped table, from the backup's archive.
    Table(TableStep),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsStep {
    pub schema: String,
    pub table: String,
    pub key: Vec<String>,
    /// The migration's transaction id, as `xmin` shows it (32 bits).
    pub xid: u32,
    pub inserted: i64,
    pub updated: i64,
    pub deleted: i64,
    /// Keys (`ROW(key)::text`) of rows written after the backup and before the
    /// migration: none of them may be among the rows it wrote or deleted.
    pub written_after_backup: Vec<String>,
    /// Columns the same migration added to the table: not in the backup's copy.
    pub added: Vec<String>,
}

impl Step {
    /// As the report shows it.
    pub fn shown(&self) -> String {
        match self {
            Step::Sql(sql) => sql.clone(),
            Step::Values {
                schema,
                table,
                column,
                key,
                ..
            } => format!(
                "-- the values of {schema}.{table}.{column}, from the backup taken before the migration (matched by {})",
                key.join(", ")
            ),
            Step::Table(t) => format!(
                "-- {}.{} as it was, with its rows, from the backup taken before the migration",
                t.schema, t.name
            ),
            Step::Rows(r) => format!(
                "-- the rows of {}.{} the migration wrote ({} inserted, {} updated) and deleted ({}), as they were, \
                 from the backup taken before it (matched by {})",
                r.schema,
                r.table,
                r.inserted,
                r.updated,
                r.deleted,
                r.key.join(", ")
            ),
        }
    }
}

/// The statements that bring back the state before the migration, newest
/// change first, and the data they would lose (rows in tables the migration
/// created, values in columns it added). Reads the live catalog (the functions'
/// overloads now, the rows now): run it in the rollback's transaction.
pub fn inverse(
    client: &mut impl GenericClient,
    recorded: &Recorded,
    lock: bool,
    data: bool,
) -> Result<Inverse, PgError> {
    let records = &recorded.records;
    let read = sql("reading what the rollback takes back");
    // Rows still carrying the migration's xmin are its own writes (a seed row of
    // a table it made, a backfill of a column it added), not data written
    // since: never counted as a loss. Not once the id may have been reused.
    let next_xid: i64 = client
        .query_one(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8",
            &[],
        )
        .map_err(&read)?
        .get(0);
    let not_its_own = match recorded.xid {
        Some(xid) if (0..1 << 31).contains(&(next_xid - xid)) => {
            format!(" AND xmin <> '{}'::xid", xid & 0xffff_ffff)
        }
        _ => String::new(),
    };
    let made_tables: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r.kind == Kind::Table && !r.existed)
        .map(|r| (r.schema.as_str(), r.name.as_str()))
        .collect();
    // What lives on a table the migration made goes with it: dropped if still
    // there (IF EXISTS), never counted as a loss of its own. Plain reverse
    // order: what was made later (a trigger, a column of a new type) goes
    // before what it uses.
    let on_made_table = |r: &Record| {
        !r.table.is_empty() && made_tables.contains(&(r.schema.as_str(), r.table.as_str()))
    };
    // A table that existed and was dropped comes back as it was before the
    // migration, with its rows: what the migration did to it before comes back with it.
    let dropped_tables: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r.kind == Kind::DroppedTable && r.existed)
        .map(|r| (r.schema.as_str(), r.name.as_str()))
        .collect();
    let on_dropped_table = |r: &Record| {
        let table = if r.table.is_empty() && r.kind == Kind::Rows {
            &r.name
        } else {
            &r.table
        };
        r.kind != Kind::DroppedTable
            && !table.is_empty()
            && dropped_tables.contains(&(r.schema.as_str(), table.as_str()))
    };
    let mut ordered: Vec<&Record> = records.iter().collect();
    ordered.sort_by_key(|r| std::cmp::Reverse(r.seq));
    let mut refusals = Vec::new();
    // Rows and values are counted under the lock the rollback takes anyway:
    // nothing can be written between the count and the drop.
    let mut locked: std::collections::BTreeSet<String> = Default::default();
    let mut lock_table = |client: &mut _, relation: &str| -> Result<(), PgError> {
        if lock && locked.insert(relation.to_string()) {
            GenericClient::batch_execute(
                client,
                &format!("LOCK TABLE {relation} IN ACCESS EXCLUSIVE MODE"),
            )
            .map_err(sql("locking a table the rollback changes"))?;
        }
        Ok(())
    };

    let mut statements = Steps(Vec::new());
    let mut losses = Vec::new();
    for r in ordered.into_iter().filter(|r| !on_dropped_table(r)) {
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
        if on_made_table(r) {
            match r.kind {
                Kind::Column => statements.push(format!(
                    "ALTER TABLE IF EXISTS {relation} DROP COLUMN IF EXISTS {name}"
                )),
                Kind::Constraint => statements.push(format!(
                    "ALTER TABLE IF EXISTS {relation} DROP CONSTRAINT IF EXISTS {name}"
                )),
                Kind::Index => statements.push(format!("DROP INDEX IF EXISTS {object}")),
                Kind::Trigger => {
                    statements.push(format!("DROP TRIGGER IF EXISTS {name} ON {relation}"))
                }
                Kind::Policy => {
                    statements.push(format!("DROP POLICY IF EXISTS {name} ON {relation}"))
                }
                _ => {}
            }
            continue;
        }
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
                    lock_table(client, &object)?;
                    let n: i64 = client
                        .query_one(
                            &format!("SELECT count(*) FROM {object} WHERE true{not_its_own}"),
                            &[],
                        )
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
                let extras: bool = client
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1)) \
                         OR EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = to_regclass($1) AND rulename <> '_RETURN') \
                         OR obj_description(to_regclass($1), 'pg_class') IS NOT NULL",
                        &[&object],
                    )
                    .map_err(&read)?
                    .get(0);
                if extends {
                    statements.push(definition.clone());
                } else if extras {
                    refusals.push(format!(
                        "view {}.{} lost columns since, so it would be dropped and made again, which would lose its \
                         triggers, rules or comment",
                        r.schema, r.name
                    ));
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
                lock_table(client, &relation)?;
                // Values other than the column's default were written since
                // (compared as text: json, xml and point have no equality).
                let default: Option<String> = row.get(0);
                // A default that calls a function (nextval, now) is not evaluated
                // again: it may have effects, and its values differ anyway.
                let condition = match default.as_deref().filter(|d| !d.contains('(')) {
                    Some(d) => format!("{column}::text IS DISTINCT FROM ({d})::text"),
                    None => format!("{column} IS NOT NULL"),
                };
                let n: i64 = client
                    .query_one(
                        &format!("SELECT count(*) FROM {relation} WHERE {condition}{not_its_own}"),
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
            Kind::DroppedColumn if r.existed => {
                let flags = r.before.get(5).map(String::as_str).unwrap_or_default();
                if !flags.trim().is_empty() {
                    refusals.push(format!(
                        "{}.{}.{} was an identity or generated column: it cannot be added back with its values",
                        r.schema, r.table, r.name
                    ));
                } else if r.before.get(4).is_none_or(|k| k.is_empty()) {
                    refusals.push(format!(
                        "{}.{} has no primary or unique key (without {}) to match the backup's rows by",
                        r.schema, r.table, r.name
                    ));
                } else {
                    statements.0.extend(dropped_column(r, &relation));
                }
            }
            Kind::ColumnType if r.existed => {
                let [old_type, collation, default] = r.before.as_slice() else {
                    continue;
                };
                let column = quote_ident(&r.name);
                let now = client
                    .query(
                        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($1) \
                         AND attname = $2 AND NOT attisdropped",
                        &[&relation, &r.name],
                    )
                    .map_err(&read)?;
                let Some(new_type) = now.first().map(|row| row.get::<_, String>(0)) else {
                    continue;
                };
                if &new_type == old_type {
                    continue;
                }
                lock_table(client, &relation)?;
                // Values written since that the old type cannot hold as they are.
                let changed: i64 = client
                    .query_one(
                        &format!(
                            "SELECT count(*) FROM {relation} WHERE (({column})::{old_type})::{new_type} IS DISTINCT FROM {column}"
                        ),
                        &[],
                    )
                    .map_err(sql("testing the values against the old type"))?
                    .get(0);
                if changed > 0 {
                    losses.push(format!(
                        "{}.{}.{} holds {changed} value(s) that would change when converted back to {old_type}",
                        r.schema, r.table, r.name
                    ));
                }
                let collate = if collation.is_empty() {
                    String::new()
                } else {
                    format!(" COLLATE {collation}")
                };
                // A default of the new type may not convert by itself.
                statements.push(format!(
                    "ALTER TABLE {relation} ALTER COLUMN {column} DROP DEFAULT"
                ));
                statements.push(format!(
                    "ALTER TABLE {relation} ALTER COLUMN {column} TYPE {old_type}{collate} USING {column}::{old_type}"
                ));
                if !default.is_empty() {
                    statements.push(format!(
                        "ALTER TABLE {relation} ALTER COLUMN {column} SET DEFAULT {default}"
                    ));
                }
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
                // On a partitioned table, made again on every partition.
                statements.extend(
                    r.before
                        .iter()
                        .filter(|_| r.existed)
                        .map(|d| d.replacen(" ON ONLY ", " ON ", 1)),
                );
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
            Kind::DroppedTable if r.existed => {
                let [oid, relkind, children, tag, acl, count, newer, dependents @ ..] =
                    r.before.as_slice()
                else {
                    refusals.push(format!(
                        "the record of {}.{} is incomplete",
                        r.schema, r.name
                    ));
                    continue;
                };
                if data && newer != "0" {
                    refusals.push(format!(
                        "{}.{} had {} written after the backup was taken and before the migration dropped it: the \
                         backup's copy is older; restore it into a new database (safemig restore PATH --into URL) \
                         and copy what is needed",
                        r.schema,
                        r.name,
                        if newer == GAP_UNKNOWN {
                            "rows that may have been".to_string()
                        } else {
                            format!("{newer} row(s)")
                        }
                    ));
                    continue;
                }
                if relkind != "r" || children == "true" {
                    refusals.push(format!(
                        "{}.{} was partitioned or had child tables: restore it into a new database (safemig \
                         restore PATH --into URL) and copy it from there",
                        r.schema, r.name
                    ));
                    continue;
                }
                let exists: bool = client
                    .query_one("SELECT to_regclass($1) IS NOT NULL", &[&relation])
                    .map_err(&read)?
                    .get(0);
                if exists {
                    refusals.push(format!(
                        "a table {}.{} exists again (made since the migration dropped it, or by the migration \
                         itself): it is not taken back; move what it holds and rename it, then run rollback again",
                        r.schema, r.name
                    ));
                    continue;
                }
                statements.0.push(Step::Table(TableStep {
                    schema: r.schema.clone(),
                    name: r.name.clone(),
                    tag: tag.clone(),
                    oid: oid.parse().unwrap_or(0),
                    dependents: dependents.iter().filter_map(|d| d.parse().ok()).collect(),
                    acl: acl.clone(),
                    rows: count.parse().ok(),
                }));
            }
            Kind::Rows if r.existed => {
                lock_table(client, &relation)?;
                match rows_step(client, r, &relation, data, next_xid)? {
                    Ok(Some(mut step)) => {
                        step.added = records
                            .iter()
                            .filter(|c| {
                                c.kind == Kind::Column
                                    && !c.existed
                                    && c.schema == r.schema
                                    && c.table == r.name
                            })
                            .map(|c| c.name.clone())
                            .collect();
                        statements.0.push(Step::Rows(step))
                    }
                    Ok(None) => {}
                    Err(why) => refusals.push(why),
                }
            }
            // Existed before and only created "IF NOT EXISTS": nothing changed.
            _ => {}
        }
    }
    Ok(Inverse {
        steps: statements.0,
        losses,
        refusals,
    })
}

/// What takes a migration back, what it would lose, and why it cannot.
pub struct Inverse {
    pub steps: Vec<Step>,
    pub losses: Vec<String>,
    /// Found only now (in the live catalog): the rollback is refused.
    pub refusals: Vec<String>,
}

/// The rows step of a table the migration changed in place, checked: its
/// table is the one recorded, and every row the migration wrote still carries
/// its `xmin` (none was changed or deleted since). Without `data` (a throwaway
/// copy, where the rows are not the real ones) there is nothing to check.
fn rows_step(
    client: &mut impl GenericClient,
    r: &Record,
    relation: &str,
    data: bool,
    next_xid: i64,
) -> Result<Result<Option<RowsStep>, String>, PgError> {
    if !data {
        return Ok(Ok(None));
    }
    let table = format!("{}.{}", r.schema, r.name);
    let restore = format!(
        "restore the table from the backup taken before the migration (safemig restore PATH --tables {table}), \
         which also takes back what was written to it since"
    );
    let [oid, xid8, key, relkind, inserted, updated, deleted, filenode, children, gap, filenode_after] =
        r.before.as_slice()
    else {
        return Ok(Err(format!(
            "the counts of the rows of {table} the migration wrote were not recorded: {restore}"
        )));
    };
    let counts: Vec<i64> = [inserted, updated, deleted]
        .iter()
        .filter_map(|c| c.parse().ok())
        .collect();
    let [inserted, updated, deleted] = counts.as_slice() else {
        return Ok(Err(format!(
            "the counts of the rows of {table} the migration wrote were not recorded: {restore}"
        )));
    };
    if relkind != "r" || children == "true" {
        return Ok(Err(format!(
            "{table} is {}: the rows the migration changed come back only with a restore: {restore}",
            if relkind == "p" {
                "partitioned"
            } else if children == "true" {
                "a parent of other tables (its statements reach their rows too)"
            } else {
                "not a plain table"
            }
        )));
    }
    if filenode != filenode_after {
        return Ok(Err(format!(
            "the migration rewrote {table} (every row carries its transaction id since), so the rows it wrote \
             cannot be told apart: {restore}"
        )));
    }
    let written_after_backup: Vec<String> = match gap.as_str() {
        "" => Vec::new(),
        GAP_UNKNOWN => {
            return Ok(Err(format!(
                "the backup does not say when it was taken (a backup by an older safemig), so rows of {table} \
                 written after it and before the migration cannot be told: {restore}"
            )))
        }
        GAP_TOO_MANY => {
            return Ok(Err(format!(
                "more than {GAP_LIMIT} rows of {table} were written after the backup and before the migration: \
                 the backup's copy is older than what the migration changed: {restore}"
            )))
        }
        keys => serde_json::from_str(keys).unwrap_or_default(),
    };
    if key.is_empty() {
        return Ok(Err(format!(
            "{table} has no primary key or unique key to match the backup's rows by: {restore}"
        )));
    }
    let read = sql("reading the rows the migration wrote");
    let now_oid: String = client
        .query_one(
            "SELECT coalesce(to_regclass($1)::oid::int8, 0)::text",
            &[&relation],
        )
        .map_err(&read)?
        .get(0);
    if now_oid != *oid {
        return Ok(Err(format!(
            "{table} is not the table the migration wrote: it was dropped, renamed or made again since"
        )));
    }
    let Ok(xid8) = xid8.parse::<i64>() else {
        return Ok(Err(format!(
            "the record of the rows of {table} is incomplete: {restore}"
        )));
    };
    // Two billion transactions later, a row's 32-bit xmin may be another's.
    if next_xid - xid8 >= 1 << 31 {
        return Ok(Err(format!(
            "the migration's transaction is too old to tell its rows of {table} by (two billion transactions \
             since): {restore}"
        )));
    }
    let xid = (xid8 & 0xffff_ffff) as u32;
    let written: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM ONLY {relation} WHERE xmin = $1::text::xid"),
            &[&xid.to_string()],
        )
        .map_err(&read)?
        .get(0);
    if written != inserted + updated {
        return Ok(Err(format!(
            "{} of the {} row(s) of {table} the migration wrote were changed or deleted since (or written twice \
             by it), and what was written since cannot be told from what it wrote: {restore}",
            inserted + updated - written,
            inserted + updated
        )));
    }
    Ok(Ok(Some(RowsStep {
        schema: r.schema.clone(),
        table: r.name.clone(),
        key: key
            .split(ARGS_SEP)
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect(),
        xid,
        inserted: *inserted,
        updated: *updated,
        deleted: *deleted,
        written_after_backup,
        added: Vec::new(),
    })))
}

/// Collects SQL statements (and other steps) in order.
struct Steps(Vec<Step>);

impl Steps {
    fn push(&mut self, sql: String) {
        self.0.push(Step::Sql(sql));
    }

    fn extend(&mut self, sql: impl IntoIterator<Item = String>) {
        self.0.extend(sql.into_iter().map(Step::Sql));
    }
}

/// The rollback of a dropped column: added back as it was (nullable while its
/// values come back), its values, then its default and NOT NULL.
fn dropped_column(r: &Record, relation: &str) -> Vec<Step> {
    let [type_sql, collation, default, not_null, key, _flags, dependents @ ..] =
        r.before.as_slice()
    else {
        return Vec::new();
    };
    let column = quote_ident(&r.name);
    let collate = if collation.is_empty() {
        String::new()
    } else {
        format!(" COLLATE {collation}")
    };
    // With its default: rows written since the drop get what they would have got.
    let default_sql = if default.is_empty() {
        String::new()
    } else {
        format!(" DEFAULT {default}")
    };
    let mut steps = vec![Step::Sql(format!(
        "ALTER TABLE {relation} ADD COLUMN {column} {type_sql}{collate}{default_sql}"
    ))];
    steps.push(Step::Values {
        schema: r.schema.clone(),
        table: r.table.clone(),
        column: r.name.clone(),
        type_sql: type_sql.clone(),
        key: key
            .split(ARGS_SEP)
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect(),
    });
    if not_null == "true" {
        steps.push(Step::Sql(format!(
            "ALTER TABLE {relation} ALTER COLUMN {column} SET NOT NULL"
        )));
    }
    steps.extend(dependents.iter().cloned().map(Step::Sql));
    steps
}

/// The content copy of `schema.table` in `backup` that can bring back the
/// values of `column` by `key`: its file, CSV header and row count; `Err` says
/// why it cannot.
struct ContentCopy {
    file: std::path::PathBuf,
    header: Vec<String>,
    rows: i64,
}

fn content_copy(
    backup: &crate::backup::Backup,
    schema: &str,
    table: &str,
    column: &str,
    key: &[String],
) -> Result<Result<ContentCopy, String>, PgError> {
    let Some(entry) = backup
        .manifest
        .tables
        .iter()
        .chain(&backup.manifest.platform_tables)
        .find(|t| t.schema == schema && t.name == table && t.file.is_some())
    else {
        return Ok(Err(format!(
            "backup {} holds no content copy of {schema}.{table} (it was not a critical table): restore it into a \
             new database (safemig restore PATH --into URL) and copy the column from there",
            backup.manifest.id
        )));
    };
    if key.is_empty() {
        return Ok(Err(format!(
            "{schema}.{table} has no primary key or unique key to match the backup's rows by"
        )));
    }
    let file = backup.dir.join(entry.file.as_deref().unwrap_or_default());
    let header = crate::backup::csv_header(&file)?;
    if let Some(missing) = std::iter::once(column)
        .chain(key.iter().map(String::as_str))
        .find(|c| !header.iter().any(|h| h == c))
    {
        return Ok(Err(format!(
            "backup {}'s copy of {schema}.{table} has no column {missing}",
            backup.manifest.id
        )));
    }
    Ok(Ok(ContentCopy {
        file,
        header,
        rows: entry.rows,
    }))
}

/// Whether `backup` can bring back the values of a dropped column (it holds a
/// content copy of the table with the column and the key), and how many rows.
pub fn values_available(
    backup: &crate::backup::Backup,
    schema: &str,
    table: &str,
    column: &str,
    key: &[String],
) -> Result<Result<String, String>, PgError> {
    Ok(content_copy(backup, schema, table, column, key)?.map(|copy| {
        format!(
            "the values of {schema}.{table}.{column} would come back from backup {} ({} row(s) in its copy, \
             matched by {})",
            backup.manifest.id,
            copy.rows,
            key.join(", ")
        )
    }))
}

/// Brings back the values of a dropped column from `backup`'s content copy of
/// its table, matched by `key`. `Err` says why they cannot come back from it.
#[allow(clippy::too_many_arguments)]
pub fn restore_values(
    tx: &mut postgres::Transaction<'_>,
    backup: &crate::backup::Backup,
    schema: &str,
    table: &str,
    column: &str,
    type_sql: &str,
    key: &[String],
) -> Result<Result<String, String>, PgError> {
    let ContentCopy { file, header, .. } = match content_copy(backup, schema, table, column, key)? {
        Ok(copy) => copy,
        Err(why) => return Ok(Err(why)),
    };
    let relation = quote_qualified(schema, table);
    let load = sql("loading the backup's values");
    load_copy(
        tx,
        &file,
        &header,
        "safemig_rollback_values",
        "loading the backup's values",
    )?;
    let types = key_types(tx, &relation, key)?;
    let matched = key_match(&types, "t", "v", true);
    let c = quote_ident(column);
    // The rows' own triggers (updated_at, audit) must not fire for values that
    // are only coming back; row security must not hide rows from the update.
    let role: String = tx
        .query_one("SELECT current_setting('session_replication_role')", &[])
        .map_err(&load)?
        .get(0);
    let row_security: String = tx
        .query_one("SELECT current_setting('row_security')", &[])
        .map_err(&load)?
        .get(0);
    tx.batch_execute("SET LOCAL session_replication_role = replica; SET LOCAL row_security = off")
        .map_err(sql("preparing to bring values back (session_replication_role needs a superuser or Supabase's postgres role)"))?;
    let restored = tx
        .execute(
            &format!(
                "UPDATE {relation} AS t SET {c} = v.{c}::{type_sql} FROM safemig_rollback_values v \
                 WHERE {matched}"
            ),
            &[],
        )
        .map_err(sql("bringing the values back"))?;
    let held: i64 = tx
        .query_one("SELECT count(*) FROM safemig_rollback_values", &[])
        .map_err(&load)?
        .get(0);
    tx.execute(
        "SELECT set_config('session_replication_role', $1, true), set_config('row_security', $2, true)",
        &[&role, &row_security],
    )
    .map_err(&load)?;
    tx.batch_execute("DROP TABLE safemig_rollback_values")
        .map_err(&load)?;
    let gone = held - restored as i64;
    Ok(Ok(format!(
        "{restored} value(s) of {schema}.{table}.{column} brought back from backup {}{}",
        backup.manifest.id,
        if gone > 0 {
            format!("; {gone} belonged to rows deleted since")
        } else {
            String::new()
        }
    )))
}

/// Whether `backup` holds a content copy of the table of `step` with its key.
pub fn rows_available(
    backup: &crate::backup::Backup,
    step: &RowsStep,
) -> Result<Result<String, String>, PgError> {
    let RowsStep {
        schema, table, key, ..
    } = step;
    Ok(content_copy(backup, schema, table, &key[0], key)?.map(|copy| {
        format!(
            "the rows of {schema}.{table} the migration wrote ({} inserted, {} updated) and deleted ({}) would come \
             back from backup {} ({} row(s) in its copy, matched by {})",
            step.inserted,
            step.updated,
            step.deleted,
            backup.manifest.id,
            copy.rows,
            key.join(", ")
        )
    }))
}

fn copy_table(n: usize) -> String {
    format!("pg_temp.safemig_rollback_copy_{n}")
}

fn written_table(n: usize) -> String {
    format!("pg_temp.safemig_rollback_written_{n}")
}

/// The key's columns, quoted, each with its type as `format_type` writes it.
fn key_types(
    tx: &mut postgres::Transaction<'_>,
    relation: &str,
    key: &[String],
) -> Result<Vec<(String, String)>, PgError> {
    let mut out = Vec::new();
    for k in key {
        let ty: String = tx
            .query_one(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($1) \
                 AND attname = $2 AND NOT attisdropped",
                &[&relation, k],
            )
            .map_err(sql("reading the table's key"))?
            .get(0);
        out.push((quote_ident(k), ty));
    }
    Ok(out)
}

/// The key's columns of `alias` ([`key_types`]), cast to the key's types when
/// `alias` is a text copy.
fn key_columns(types: &[(String, String)], alias: &str, cast: bool) -> Vec<String> {
    types
        .iter()
        .map(|(k, ty)| {
            if cast {
                format!("{alias}.{k}::{ty}")
            } else {
                format!("{alias}.{k}")
            }
        })
        .collect()
}

/// `a.k1 = b.k1 AND ...` for the key, `b` cast when it is a text copy.
fn key_match(types: &[(String, String)], a: &str, b: &str, cast: bool) -> String {
    key_columns(types, a, false)
        .iter()
        .zip(key_columns(types, b, cast))
        .map(|(a, b)| format!("{a} = {b}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Creates temporary table `temp` with `header`'s columns as text (gone at
/// COMMIT) and loads a content copy (CSV with header) into it.
fn load_copy(
    tx: &mut postgres::Transaction<'_>,
    file: &std::path::Path,
    header: &[String],
    temp: &str,
    what: &str,
) -> Result<(), PgError> {
    let load = sql(what);
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE {temp} ({}) ON COMMIT DROP",
        header
            .iter()
            .map(|h| format!("{} text", quote_ident(h)))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .map_err(&load)?;
    let mut input = std::fs::File::open(file)
        .map_err(|e| PgError::Tool(format!("cannot read {}: {e}", file.display())))?;
    let mut writer = tx
        .copy_in(&format!("COPY {temp} FROM STDIN WITH (FORMAT csv, HEADER)"))
        .map_err(&load)?;
    std::io::copy(&mut input, &mut writer)
        .map_err(|e| PgError::Tool(format!("cannot load {}: {e}", file.display())))?;
    writer.finish().map_err(&load)?;
    Ok(())
}

/// Before any step of the rollback runs (a later one may rewrite the table,
/// and with it every row's `xmin`): loads the backup's copy of the table,
/// keeps the keys of the rows the migration wrote, and checks that the rows
/// of the copy missing from the table are exactly the ones the migration
/// deleted. `Err` says why the rows cannot come back from it.
pub fn prepare_rows(
    tx: &mut postgres::Transaction<'_>,
    backup: &crate::backup::Backup,
    step: &RowsStep,
    n: usize,
) -> Result<Result<(), String>, PgError> {
    let RowsStep {
        schema, table, key, ..
    } = step;
    let ContentCopy { file, header, .. } = match content_copy(backup, schema, table, &key[0], key)?
    {
        Ok(copy) => copy,
        Err(why) => return Ok(Err(why)),
    };
    let relation = quote_qualified(schema, table);
    let load = sql("loading the backup's rows");
    let (copy, written) = (copy_table(n), written_table(n));
    tx.batch_execute("SET LOCAL row_security = off")
        .map_err(&load)?;
    load_copy(tx, &file, &header, &copy, "loading the backup's rows")?;
    let columns = key
        .iter()
        .map(|k| quote_ident(k))
        .collect::<Vec<_>>()
        .join(", ");
    tx.batch_execute(&format!(
        "CREATE TEMP TABLE {written} ON COMMIT DROP AS SELECT {columns} FROM ONLY {relation} \
         WHERE xmin = '{}'::xid; ANALYZE {copy}; ANALYZE {written}",
        step.xid
    ))
    .map_err(&load)?;
    let types = key_types(tx, &relation, key)?;
    let in_copy = key_match(&types, "w", "v", true);
    let in_table = key_match(&types, "t", "v", true);
    let row = tx
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM {written} w WHERE NOT EXISTS (SELECT 1 FROM {copy} v WHERE {in_copy})), \
                        (SELECT count(*) FROM {copy} v WHERE NOT EXISTS (SELECT 1 FROM ONLY {relation} t WHERE {in_table}))"
            ),
            &[],
        )
        .map_err(&load)?;
    let (written_new, missing): (i64, i64) = (row.get(0), row.get(1));
    // Rows it deleted, and the old keys of rows whose key it changed.
    let expected = step.deleted + (written_new - step.inserted);
    let id = &backup.manifest.id;
    if missing > expected {
        return Ok(Err(format!(
            "{} row(s) of backup {id}'s copy of {schema}.{table} were deleted since the migration, not by it, and \
             cannot be told from the ones it deleted: restore the table (safemig restore PATH --tables \
             {schema}.{table}), which also takes back what was written since",
            missing - expected
        )));
    }
    // Rows written after the backup and before the migration: the backup holds
    // an older version of them than the one the migration wrote or deleted.
    if !step.written_after_backup.is_empty() {
        let key_text = |alias: &str, cast: bool| -> String {
            format!("ROW({})::text", key_columns(&types, alias, cast).join(", "))
        };
        let (w_key, v_key) = (key_text("w", false), key_text("v", true));
        let overlap: i64 = tx
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM {written} w WHERE {w_key} = ANY($1)) \
                          + (SELECT count(*) FROM {copy} v WHERE {v_key} = ANY($1) \
                             AND NOT EXISTS (SELECT 1 FROM ONLY {relation} t WHERE {in_table}))"
                ),
                &[&step.written_after_backup],
            )
            .map_err(&load)?
            .get(0);
        if overlap > 0 {
            return Ok(Err(format!(
                "{overlap} row(s) of {schema}.{table} that the migration wrote or deleted had been written after \
                 backup {id} was taken: its copy holds an older version of them than the migration changed. \
                 Restore the table (safemig restore PATH --tables {schema}.{table}) or take them back by hand"
            )));
        }
    }
    if missing < expected {
        return Ok(Err(format!(
            "{} row(s) of {schema}.{table} that the migration deleted were written again since (the same key): \
             restore the table (safemig restore PATH --tables {schema}.{table}), which also takes back what was \
             written since",
            expected - missing
        )));
    }
    Ok(Ok(()))
}

/// Puts the rows of `step`'s table back as the backup's copy has them (loaded
/// by [`prepare_rows`]): the rows the migration wrote and the copy holds get
/// its values, those it holds not (the migration inserted them) are deleted,
/// the copy's rows missing from the table (the migration deleted them) come
/// back. The table's own triggers do not fire (these are not new writes); its
/// foreign keys are checked, and a delete that would cascade to rows is refused.
pub fn restore_rows(
    tx: &mut postgres::Transaction<'_>,
    backup: &crate::backup::Backup,
    step: &RowsStep,
    n: usize,
) -> Result<Result<String, String>, PgError> {
    let RowsStep {
        schema, table, key, ..
    } = step;
    let relation = quote_qualified(schema, table);
    let (copy, written) = (copy_table(n), written_table(n));
    let put = sql("putting the rows back");
    // Row security must not hide rows from these statements (a step before may
    // have set it back).
    tx.batch_execute("SET LOCAL row_security = off")
        .map_err(&put)?;
    // A column the table has and the copy has not, that the migration did not
    // add itself (an earlier migration sharing the backup did): its values
    // cannot be put back.
    let uncopied: Vec<String> = tx
        .query(
            "SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 \
               AND NOT a.attisdropped AND a.attgenerated = '' AND a.attname NOT IN (SELECT c.attname \
                 FROM pg_attribute c WHERE c.attrelid = to_regclass($2) AND c.attnum > 0) \
               AND NOT a.attname = ANY($3) ORDER BY a.attnum",
            &[&relation, &copy, &step.added],
        )
        .map_err(&put)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !uncopied.is_empty() {
        return Ok(Err(format!(
            "backup {}'s copy of {schema}.{table} has no column {}: it was taken before the column was added",
            backup.manifest.id,
            uncopied.join(", ")
        )));
    }
    // The columns both have, but generated ones (PostgreSQL computes them).
    let columns: Vec<(String, String, bool)> = tx
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attidentity = 'a' \
             FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
               AND a.attgenerated = '' AND a.attname IN (SELECT c.attname FROM pg_attribute c \
                 WHERE c.attrelid = to_regclass($2) AND c.attnum > 0) ORDER BY a.attnum",
            &[&relation, &copy],
        )
        .map_err(&put)?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let types = key_types(tx, &relation, key)?;
    let gone_match = key_match(&types, "w", "v", true);
    let t_w = key_match(&types, "t", "w", false);
    let t_v = key_match(&types, "t", "v", true);
    // Rows of other tables that a delete would take with it (ON DELETE CASCADE,
    // SET NULL, SET DEFAULT): rows written since, never the rollback's to change.
    let cascades = tx
        .query(
            "SELECT c.conrelid::regclass::text, \
               (SELECT string_agg(format('r.%I = t.%I', fa.attname, pa.attname), ' AND ' ORDER BY x.i) \
                FROM unnest(c.conkey, c.confkey) WITH ORDINALITY AS x(f, p, i) \
                JOIN pg_attribute fa ON fa.attrelid = c.conrelid AND fa.attnum = x.f \
                JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = x.p) \
             FROM pg_constraint c WHERE c.contype = 'f' AND c.confrelid = to_regclass($1) \
               AND c.confdeltype IN ('c', 'n', 'd')",
            &[&relation],
        )
        .map_err(&put)?;
    // Rows of other tables that an update of the columns they refer to would
    // change (ON UPDATE CASCADE, SET NULL, SET DEFAULT).
    let update_cascades = tx
        .query(
            "SELECT c.conrelid::regclass::text, \
               (SELECT string_agg(format('r.%I = t.%I', fa.attname, pa.attname), ' AND ' ORDER BY x.i) \
                FROM unnest(c.conkey, c.confkey) WITH ORDINALITY AS x(f, p, i) \
                JOIN pg_attribute fa ON fa.attrelid = c.conrelid AND fa.attnum = x.f \
                JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = x.p), \
               (SELECT string_agg(format('t.%I IS DISTINCT FROM v.%I::%s', pa.attname, pa.attname, \
                  format_type(pa.atttypid, pa.atttypmod)), ' OR ') \
                FROM unnest(c.confkey) AS x(p) JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = x.p) \
             FROM pg_constraint c WHERE c.contype = 'f' AND c.confrelid = to_regclass($1) \
               AND c.confupdtype IN ('c', 'n', 'd')",
            &[&relation],
        )
        .map_err(&put)?;
    for c in update_cascades {
        let (child, on, differs): (String, String, String) = (c.get(0), c.get(1), c.get(2));
        let referring: i64 = tx
            .query_one(
                &format!(
                    "SELECT count(*) FROM {child} r JOIN ONLY {relation} t ON {on} JOIN {written} w ON {t_w} \
                     JOIN {copy} v ON {gone_match} WHERE {differs}"
                ),
                &[],
            )
            .map_err(&put)?
            .get(0);
        if referring > 0 {
            return Ok(Err(format!(
                "putting the rows of {schema}.{table} back would also change {referring} row(s) of {child} that \
                 refer to them (ON UPDATE)"
            )));
        }
    }
    for c in cascades {
        let (child, on): (String, String) = (c.get(0), c.get(1));
        let referring: i64 = tx
            .query_one(
                &format!(
                    "SELECT count(*) FROM {child} r JOIN ONLY {relation} t ON {on} JOIN {written} w ON {t_w} \
                     WHERE NOT EXISTS (SELECT 1 FROM {copy} v WHERE {gone_match})"
                ),
                &[],
            )
            .map_err(&put)?
            .get(0);
        if referring > 0 {
            return Ok(Err(format!(
                "deleting the rows of {schema}.{table} the migration inserted would also delete or change \
                 {referring} row(s) of {child} written since that refer to them"
            )));
        }
    }
    // Its own triggers stay quiet (updated_at, audit): enabled ones are
    // disabled for these statements and enabled again as they were.
    let triggers: Vec<(String, String)> = tx
        .query(
            "SELECT tgname::text, tgenabled::text FROM pg_trigger WHERE tgrelid = to_regclass($1) \
             AND NOT tgisinternal AND tgenabled IN ('O', 'A')",
            &[&relation],
        )
        .map_err(&put)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (name, _) in &triggers {
        tx.batch_execute(&format!(
            "ALTER TABLE {relation} DISABLE TRIGGER {}",
            quote_ident(name)
        ))
        .map_err(&put)?;
    }
    // What the statements must affect: a rule or a policy that changes them
    // must not go unnoticed.
    let row = tx
        .query_one(
            &format!(
                "SELECT (SELECT count(*) FROM {written} w WHERE NOT EXISTS (SELECT 1 FROM {copy} v WHERE {gone_match})), \
                        (SELECT count(*) FROM {written}), \
                        (SELECT count(*) FROM {copy} v WHERE NOT EXISTS (SELECT 1 FROM ONLY {relation} t WHERE {t_v}))"
            ),
            &[],
        )
        .map_err(&put)?;
    let (to_delete, written_count, to_insert): (i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2));
    let deleted = tx
        .execute(
            &format!(
                "DELETE FROM ONLY {relation} t USING {written} w WHERE {t_w} \
                 AND NOT EXISTS (SELECT 1 FROM {copy} v WHERE {gone_match})"
            ),
            &[],
        )
        .map_err(&put)?;
    let set: Vec<String> = columns
        .iter()
        .filter(|(c, _, always)| !key.contains(c) && !always)
        .map(|(c, ty, _)| format!("{0} = v.{0}::{ty}", quote_ident(c)))
        .collect();
    let updated = if set.is_empty() {
        0
    } else {
        tx.execute(
            &format!(
                "UPDATE ONLY {relation} t SET {} FROM {written} w, {copy} v WHERE {t_w} AND {gone_match}",
                set.join(", ")
            ),
            &[],
        )
        .map_err(&put)?
    };
    let names: Vec<String> = columns.iter().map(|(c, ..)| quote_ident(c)).collect();
    let values: Vec<String> = columns
        .iter()
        .map(|(c, ty, _)| format!("v.{}::{ty}", quote_ident(c)))
        .collect();
    let overriding = if columns.iter().any(|(.., always)| *always) {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    let inserted = tx
        .execute(
            &format!(
                "INSERT INTO {relation} ({}){overriding} SELECT {} FROM {copy} v \
                 WHERE NOT EXISTS (SELECT 1 FROM ONLY {relation} t WHERE {t_v})",
                names.join(", "),
                values.join(", ")
            ),
            &[],
        )
        .map_err(&put)?;
    let expected_updated = if set.is_empty() {
        0
    } else {
        written_count - to_delete
    };
    if (deleted as i64, updated as i64, inserted as i64) != (to_delete, expected_updated, to_insert)
    {
        return Ok(Err(format!(
            "the statements putting {schema}.{table} back affected {deleted} / {updated} / {inserted} row(s) \
             (deleted / updated / inserted), not {to_delete} / {expected_updated} / {to_insert}: a rule or policy \
             of the table changed them"
        )));
    }
    for (name, enabled) in &triggers {
        tx.batch_execute(&format!(
            "ALTER TABLE {relation} ENABLE {}TRIGGER {}",
            if enabled == "A" { "ALWAYS " } else { "" },
            quote_ident(name)
        ))
        .map_err(&put)?;
    }
    Ok(Ok(format!(
        "{updated} row(s) of {schema}.{table} put back as they were, {deleted} the migration inserted deleted, \
         {inserted} it deleted inserted again, from backup {}",
        backup.manifest.id
    )))
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
