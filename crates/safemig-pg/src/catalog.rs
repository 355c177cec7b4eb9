//! Catalog snapshots for the guards, and the rule they enforce: **a migration may
//! not lose rows or non-null values that existed when it began.**
//!
//! The normal path reads the catalog and the per-transaction statistics only, so
//! the guard's cost does not grow with table size:
//!
//! * a dropped table disappears from `pg_class` (by oid, so a rename, or a move to
//!   another schema, is not a loss);
//! * a dropped column disappears from `pg_attribute` (by attnum, so a rename is not a loss);
//! * deleted rows (by `DELETE`, `ON DELETE CASCADE`, inside functions or `DO` blocks)
//!   show in `pg_stat_get_xact_tuples_deleted`, updated rows in `..._updated`. Those
//!   counters can include earlier, not yet flushed transactions of the same session,
//!   so the guard uses the difference between BEGIN and COMMIT, never the value itself;
//! * `TRUNCATE` and rewrites give the table a new relfilenode (`TRUNCATE` resets
//!   the transaction's counters); `SET UNLOGGED` changes `relpersistence`.
//!
//! Whether something was *lost* depends on what the table held when the migration
//! began: dropping an empty table or a column with no value loses nothing. Those
//! facts cost a scan, so they are read only where a decision needs them ([`Need`]):
//! for tables the migration updates or truncates by name, on the first run; for
//! anything else (dynamic SQL, a function's body), the first run shows what the
//! migration touched, it is rolled back, and a second run reads the facts first.
//! Facts are read under a SHARE lock (writes wait, reads go on), so no other
//! session can add rows between the count and the migration's own change.
//!
//! Every query here is written for `search_path = pg_catalog, pg_temp` (set by the
//! engine before it runs them), so objects a migration creates cannot shadow them.

use std::collections::{BTreeMap, BTreeSet};

use postgres::GenericClient;
use safemig_project::config::{split_table_name, GuardConfig};
use safemig_project::LossKind;
use serde::Serialize;

use crate::queries::Queries;
use crate::{quote_ident, quote_qualified, PgError};

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
    // Copies safemig keeps (in-database backups, rows a restore replaced).
    "safemig_backup",
];

/// Which tables the guards protect and how hard.
#[derive(Debug, Clone, Default)]
pub struct Protection {
    pub protect: Vec<(String, String)>,
    pub unprotect: BTreeSet<(String, String)>,
    pub exact_counts: BTreeSet<(String, String)>,
    pub min_rows: BTreeMap<(String, String), u64>,
    /// Whether the snapshot queries are prepared in `queries` ([`Protection::prepare`]):
    /// two snapshots a migration then cost one round trip each, with no re-planning.
    pub snapshots_prepared: bool,
    /// Schemas the Supabase API exposes (`[check] exposed_schemas`).
    pub exposed: Vec<String>,
    /// The database has Supabase's `anon` role: the exposure guard applies.
    pub anon: bool,
    /// The guard's other queries, each prepared on first use: parsed and planned
    /// once per run instead of once per migration.
    pub queries: Queries,
}

impl Protection {
    /// Prepares the snapshot query on this connection.
    pub fn prepare(mut self, client: &mut impl GenericClient) -> Result<Protection, PgError> {
        self.anon = client
            .query_one("SELECT pg_catalog.to_regrole('anon') IS NOT NULL", &[])
            .map_err(|e| PgError::sql("reading the roles", &e))?
            .get(0);
        // Prepared under the search_path they run under: PostgreSQL analyses a
        // statement again whenever the search_path differs from its own. The
        // guard's other queries too: preparing one inside a migration would hold
        // its locks longer.
        let what = "preparing the guards' catalog queries";
        client
            .batch_execute("BEGIN; SET LOCAL search_path = pg_catalog, pg_temp")
            .map_err(|e| PgError::sql(what, &e))?;
        // The transaction ends whatever happens: a failed prepare must not
        // leave the session in an aborted transaction.
        let prepared = (|| -> Result<(), postgres::Error> {
            // In the cache, so that `Queries::tampered` vouches for them too.
            for read in [Read::Protected, Read::Candidates(&[]), Read::Follow(&[])] {
                self.queries.statement(client, &snapshot_sql(read))?;
            }
            self.snapshots_prepared = true;
            for sql in [
                REACH_SQL,
                LOCKS_SQL,
                HISTORY_STATE_SQL,
                HISTORY_HOOKS_SQL,
                HISTORY_AFTER_SQL,
                NEW_EXPOSURES_SQL,
                NEW_EXPOSURES_LOCKED_SQL,
                AUTH_USERS_EXPOSERS_SQL,
                AUTH_USERS_EXPOSERS_NEW_SQL,
            ] {
                self.prepared(client, sql)?;
            }
            Ok(())
        })();
        if let Err(e) = prepared {
            let _ = client.batch_execute("ROLLBACK");
            return Err(PgError::sql(what, &e));
        }
        client
            .batch_execute("COMMIT")
            .map_err(|e| PgError::sql(what, &e))?;
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
            snapshots_prepared: false,
            exposed: Vec::new(),
            anon: false,
            queries: Queries::new(),
        }
    }

    /// `sql` prepared on this connection, once per run. The guard runs its
    /// queries under `pg_catalog` only; PostgreSQL analyses a prepared statement
    /// again whenever the search_path differs from the one it was prepared under.
    fn prepared(
        &self,
        client: &mut impl GenericClient,
        sql: &'static str,
    ) -> Result<postgres::Statement, postgres::Error> {
        self.queries.statement(client, sql)
    }

    fn query(
        &self,
        client: &mut impl GenericClient,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        what: &str,
    ) -> Result<Vec<postgres::Row>, PgError> {
        let statement = self
            .prepared(client, sql)
            .map_err(|e| PgError::sql(what, &e))?;
        client
            .query(&statement, params)
            .map_err(|e| PgError::sql(what, &e))
    }

    fn query_one(
        &self,
        client: &mut impl GenericClient,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        what: &str,
    ) -> Result<postgres::Row, PgError> {
        let statement = self
            .prepared(client, sql)
            .map_err(|e| PgError::sql(what, &e))?;
        client
            .query_one(&statement, params)
            .map_err(|e| PgError::sql(what, &e))
    }

    fn counts_exactly(&self, key: &(String, String)) -> bool {
        self.exact_counts.contains(key) || self.min_rows.contains_key(key)
    }
}

/// What the guard must know of a table's data at BEGIN to decide about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Need {
    /// Rows and non-null values per column, counted exactly (one scan).
    pub census: bool,
    /// Whether the table holds any row.
    pub presence: bool,
    /// Whether these columns (attnum) hold any non-null value.
    pub columns: BTreeSet<i32>,
}

impl Need {
    /// Rows and non-null values per column, counted.
    pub fn census() -> Need {
        Need {
            census: true,
            ..Need::default()
        }
    }

    /// Whether the table holds any row.
    pub fn presence() -> Need {
        Need {
            presence: true,
            ..Need::default()
        }
    }

    /// Whether these columns hold any non-null value.
    pub fn columns(columns: BTreeSet<i32>) -> Need {
        Need {
            columns,
            ..Need::default()
        }
    }

    pub fn merge(&mut self, other: &Need) {
        self.census |= other.census;
        self.presence |= other.presence;
        self.columns.extend(other.columns.iter().copied());
    }
}

/// Needs by table oid.
pub type Needs = BTreeMap<u32, Need>;

/// A table's rows and non-null values, counted exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    pub rows: i64,
    /// attnum -> rows holding a non-null value.
    pub non_null: BTreeMap<i32, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub attnum: i32,
    pub name: String,
    /// `atttypid` and `atttypmod`: a change is a type change.
    pub type_id: (u32, i32),
}

/// One protected table at one moment.
#[derive(Debug, Clone)]
pub struct TableState {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    pub filenode: Option<i64>,
    /// max(pg_class.reltuples, pg_stat live tuples): an estimate, for messages only.
    pub estimated_rows: i64,
    /// Bytes of the table's main storage.
    pub bytes: i64,
    pub persistence: String,
    /// `r` (a table) or `p` (partitioned: no rows of its own, its partitions hold them).
    pub relkind: String,
    /// Row level security enabled (`relrowsecurity`).
    pub rls: bool,
    /// Supabase's `anon` role may SELECT from it.
    pub anon_select: bool,
    /// A permissive policy lets `anon` (or every role) read every row:
    /// `FOR SELECT` or `FOR ALL`, `USING (true)` or no condition.
    pub anon_open_policy: bool,
    pub xact_inserted: i64,
    pub xact_updated: i64,
    pub xact_deleted: i64,
    pub columns: Vec<Column>,
    /// `count(*)`, for tables emptied by name and those with a `min_rows` floor.
    pub exact_rows: Option<i64>,
    pub census: Option<Census>,
    pub has_rows: Option<bool>,
    /// attnum -> whether the column holds a non-null value.
    pub column_has_values: BTreeMap<i32, bool>,
}

impl TableState {
    /// `schema.table` as safemig.toml takes it: parts quoted when they need it
    /// (capitals, dots, spaces), so the `[[allow]]` a violation suggests matches.
    pub fn display_name(&self) -> String {
        display_table(&self.schema, &self.name)
    }

    /// Whether the table held no row, when known exactly, from counts taken under
    /// a lock (an unlocked count could miss rows committed right after it).
    fn empty(&self) -> Option<bool> {
        self.census
            .as_ref()
            .map(|c| c.rows == 0)
            .or(self.has_rows.map(|has| !has))
    }

    /// The rows of this table itself: `ONLY`, so that rows of inheritance children
    /// (whose counters are their own) cannot stand in for rows deleted here. A
    /// partitioned table holds no row of its own: its partitions are read.
    fn rows_of(&self) -> String {
        let name = quote_qualified(&self.schema, &self.name);
        if self.relkind == "p" {
            name
        } else {
            format!("ONLY {name}")
        }
    }

    /// Whether a column held a non-null value, when known exactly.
    fn column_had_values(&self, attnum: i32) -> Option<bool> {
        if self.empty() == Some(true) {
            return Some(false);
        }
        self.census
            .as_ref()
            .and_then(|c| c.non_null.get(&attnum).map(|n| *n > 0))
            .or(self.column_has_values.get(&attnum).copied())
    }

    fn column(&self, attnum: i32) -> Option<&Column> {
        self.columns.iter().find(|c| c.attnum == attnum)
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
    /// The views and functions that showed `auth.users` to the API roles at BEGIN
    /// ([`auth_users_exposers`]), read on Supabase databases only.
    pub auth_exposers: BTreeSet<String>,
    /// Set when the snapshot read only the tables the migration names.
    pub reach: Option<Reach>,
}

/// A protected table that lost something.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Violation {
    pub table: String,
    pub loss: LossKind,
    pub message: String,
    /// Whether `[[allow]]` can permit it (a `min_rows` floor and history cannot be allowed away).
    #[serde(skip)]
    pub allowable: bool,
    /// Set when the loss was judged without knowing what the table held at BEGIN:
    /// what to read first so that a second run decides exactly.
    #[serde(skip)]
    pub undecided: Option<(u32, Need)>,
}

impl Violation {
    fn new(table: &str, loss: LossKind, message: String) -> Violation {
        Violation {
            table: table.to_string(),
            loss,
            message,
            allowable: true,
            undecided: None,
        }
    }

    fn undecided(mut self, oid: u32, need: Need) -> Violation {
        self.undecided = Some((oid, need));
        self
    }
}

/// What the guards decided about one migration.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub violations: Vec<Violation>,
    /// What changed without losing data: an empty table or a column with no value
    /// dropped, rows updated, a table moved out of the protected schemas.
    pub changes: Vec<String>,
}

/// Which tables a snapshot query reads.
#[derive(Debug, Clone, Copy)]
enum Read<'a> {
    /// Every protected table of the database.
    Protected,
    /// The protected tables among these oids.
    Candidates(&'a [u32]),
    /// These tables wherever they are now (after the migration: a table moved
    /// out of the protected schemas is followed there).
    Follow(&'a [u32]),
}

/// Which tables the guard reads at BEGIN.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every protected table of the database.
    All,
    /// The tables the migration names (resolved at BEGIN) and these: what else it
    /// touched shows in its locks afterwards ([`unexplained`]).
    Tables(BTreeSet<u32>),
}

/// What a snapshot of [`Scope::Tables`] knows about the database at BEGIN, to tell
/// afterwards whether the migration touched anything outside it.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Relations whose fate the snapshot explains: the tables read, their
    /// inheritance children, and what belongs to them (indexes, TOAST tables,
    /// owned sequences), which a drop of the table drops and locks too.
    pub known: BTreeSet<u32>,
    /// Of those, what belongs to the tables (never a table itself).
    pub belongs: BTreeSet<u32>,
    /// The highest relation oid at BEGIN: a relation above it was created since.
    pub max_oid: u32,
    /// `catalog_changes_sql!` at BEGIN. The statistics functions named `xact`
    /// also count what earlier transactions of the session did until the
    /// backend flushes them (at most once a second): only differences count.
    pub catalog_changes: [i64; 5],
}

fn snapshot_sql(read: Read) -> String {
    // Parameters: $1 the anon role exists; then per read, see `read_tables`.
    let columns = r"
SELECT c.oid, n.nspname::text, c.relname::text,
       pg_relation_filenode(c.oid)::int8,
       pg_relation_size(c.oid)::int8,
       greatest(c.reltuples::int8, pg_stat_get_live_tuples(c.oid), 0)::int8,
       pg_stat_get_xact_tuples_deleted(c.oid)::int8,
       coalesce((SELECT array_agg(a.attnum::int4 ORDER BY a.attnum) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
       coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
       coalesce((SELECT array_agg(a.atttypid::oid ORDER BY a.attnum) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
       coalesce((SELECT array_agg(a.atttypmod::int4 ORDER BY a.attnum) FROM pg_attribute a
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'),
       c.relpersistence::text,
       pg_stat_get_xact_tuples_inserted(c.oid)::int8,
       pg_stat_get_xact_tuples_updated(c.oid)::int8,
       c.relkind::text,
       c.relrowsecurity,
       CASE WHEN $1 THEN has_table_privilege('anon', c.oid, 'SELECT') ELSE false END,
       CASE WHEN $1 THEN EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polpermissive
            AND p.polcmd IN ('r', '*')
            AND (p.polroles = ARRAY[0::oid] OR (SELECT r.oid FROM pg_roles r WHERE r.rolname = 'anon') = ANY(p.polroles))
            AND (p.polqual IS NULL OR lower(regexp_replace(pg_get_expr(p.polqual, p.polrelid), '\s', '', 'g'))
                 IN ('true', '(true)', '1=1', '(1=1)'))) ELSE false END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'";
    // Protected: not in the excluded schemas ($2) nor pg_*, or named ($3, $4).
    let protected = r"((n.nspname <> ALL($2) AND n.nspname NOT LIKE 'pg\_%')
           OR EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[]) AS p(s, t) WHERE p.s = n.nspname AND p.t = c.relname))";
    match read {
        Read::Protected => format!("{columns} AND {protected}"),
        // By oid first, so the plan is an index scan whatever the catalog's size.
        Read::Candidates(_) => format!("{columns} AND c.oid = ANY($5::oid[]) AND {protected}"),
        Read::Follow(_) => format!("{columns} AND c.oid = ANY($2::oid[])"),
    }
}

fn read_tables(
    client: &mut impl GenericClient,
    protection: &Protection,
    read: Read,
) -> Result<BTreeMap<u32, TableState>, PgError> {
    let excluded: Vec<&str> = UNPROTECTED_SCHEMAS.to_vec();
    let schemas: Vec<&str> = protection.protect.iter().map(|(s, _)| s.as_str()).collect();
    let names: Vec<&str> = protection.protect.iter().map(|(_, t)| t.as_str()).collect();
    type Param<'p> = &'p (dyn postgres::types::ToSql + Sync);
    let oids = match read {
        Read::Protected => None,
        Read::Candidates(oids) | Read::Follow(oids) => Some(oids.to_vec()),
    };
    let params: Vec<Param> = match read {
        Read::Protected => vec![&protection.anon, &excluded, &schemas, &names],
        Read::Candidates(_) => vec![&protection.anon, &excluded, &schemas, &names, &oids],
        Read::Follow(_) => vec![&protection.anon, &oids],
    };
    let sql = snapshot_sql(read);
    let rows = if protection.snapshots_prepared {
        protection.queries.query(client, &sql, &params)
    } else {
        client.query(sql.as_str(), &params)
    }
    .map_err(|e| PgError::sql("reading the catalog for the guards", &e))?;
    let follow = matches!(read, Read::Follow(_));
    let mut tables = BTreeMap::new();
    for r in rows {
        let schema: String = r.get(1);
        let name: String = r.get(2);
        // Followed by oid (after the migration), a table is kept wherever it went.
        if !follow
            && protection
                .unprotect
                .contains(&(schema.clone(), name.clone()))
        {
            continue;
        }
        let attnums: Vec<i32> = r.get(7);
        let attnames: Vec<String> = r.get(8);
        let types: Vec<u32> = r.get(9);
        let typmods: Vec<i32> = r.get(10);
        let columns = attnums
            .into_iter()
            .zip(attnames)
            .zip(types.into_iter().zip(typmods))
            .map(|((attnum, name), type_id)| Column {
                attnum,
                name,
                type_id,
            })
            .collect();
        let state = TableState {
            oid: r.get(0),
            schema,
            name,
            filenode: r.get(3),
            bytes: r.get(4),
            estimated_rows: r.get(5),
            xact_deleted: r.get(6),
            columns,
            persistence: r.get(11),
            relkind: r.get(14),
            rls: r.get(15),
            anon_select: r.get(16),
            anon_open_policy: r.get(17),
            xact_inserted: r.get(12),
            xact_updated: r.get(13),
            exact_rows: None,
            census: None,
            has_rows: None,
            column_has_values: BTreeMap::new(),
        };
        tables.insert(state.oid, state);
    }
    Ok(tables)
}

fn count_rows(client: &mut impl GenericClient, table: &TableState) -> Result<i64, PgError> {
    let sql = format!("SELECT pg_catalog.count(*) FROM {}", table.rows_of());
    let row = client.query_one(&sql, &[]).map_err(|e| {
        PgError::sql(
            &format!("counting the rows of {}", table.display_name()),
            &e,
        )
    })?;
    Ok(row.get(0))
}

/// Rows and non-null values per column, in one scan.
fn take_census(client: &mut impl GenericClient, table: &TableState) -> Result<Census, PgError> {
    let mut sql = String::from("SELECT pg_catalog.count(*)");
    for c in &table.columns {
        sql.push_str(&format!(", pg_catalog.count({})", quote_ident(&c.name)));
    }
    sql.push_str(&format!(" FROM {}", table.rows_of()));
    let row = client.query_one(&sql, &[]).map_err(|e| {
        PgError::sql(
            &format!("counting the values of {}", table.display_name()),
            &e,
        )
    })?;
    Ok(Census {
        rows: row.get(0),
        non_null: table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.attnum, row.get(i + 1)))
            .collect(),
    })
}

/// Tables a `TRUNCATE` names, resolved as the migration would resolve them (search_path),
/// plus, for `TRUNCATE ... CASCADE`, every table that references them by foreign key.
pub fn resolve_truncate_targets(
    client: &mut impl GenericClient,
    queries: &Queries,
    names: &[safemig_analyze::QualifiedName],
    cascade: bool,
) -> Result<BTreeSet<u32>, PgError> {
    let mut oids = resolve(client, queries, names)?;
    if cascade && !oids.is_empty() {
        let start: Vec<u32> = oids.iter().copied().collect();
        let rows = queries
            .query(
                client,
                "WITH RECURSIVE refs(oid) AS (SELECT pg_catalog.unnest($1::pg_catalog.oid[]) UNION \
                 SELECT c.conrelid FROM pg_catalog.pg_constraint c JOIN refs ON c.confrelid OPERATOR(pg_catalog.=) refs.oid \
                 WHERE c.contype OPERATOR(pg_catalog.=) 'f') \
                 SELECT oid FROM refs",
                &[&start],
            )
            .map_err(|e| PgError::sql("following foreign keys of a TRUNCATE ... CASCADE", &e))?;
        oids.extend(rows.iter().map(|r| r.get::<_, u32>(0)));
    }
    Ok(oids)
}

/// Table names as the migration would resolve them (its search_path); names
/// that do not exist (yet) are left out.
pub fn resolve(
    client: &mut impl GenericClient,
    queries: &Queries,
    names: &[safemig_analyze::QualifiedName],
) -> Result<BTreeSet<u32>, PgError> {
    if names.is_empty() {
        return Ok(BTreeSet::new());
    }
    let texts: Vec<String> = names
        .iter()
        .map(|name| {
            if name.schema.is_empty() {
                quote_ident(&name.name)
            } else {
                quote_qualified(&name.schema, &name.name)
            }
        })
        .collect();
    // One round trip for all of them; qualified, since the migration's search_path applies.
    let rows = queries
        .query(
            client,
            "SELECT pg_catalog.to_regclass(n)::pg_catalog.oid FROM pg_catalog.unnest($1::pg_catalog.text[]) AS n",
            &[&texts],
        )
        .map_err(|e| PgError::sql("resolving a table name", &e))?;
    let oids: BTreeSet<u32> = rows
        .iter()
        .filter_map(|r| r.get::<_, Option<u32>>(0))
        .collect();
    Ok(oids)
}

/// The state at BEGIN, with the facts `needs` asks for, each read after a SHARE
/// lock on its table: from then on no other session can change what was counted.
pub fn snapshot_before(
    client: &mut impl GenericClient,
    protection: &Protection,
    needs: &Needs,
    scope: &Scope,
) -> Result<Snapshot, PgError> {
    let (mut tables, reach) = match scope {
        Scope::All => (read_tables(client, protection, Read::Protected)?, None),
        Scope::Tables(oids) => {
            let start: Vec<u32> = oids.iter().chain(needs.keys()).copied().collect();
            let row = protection.query_one(
                client,
                REACH_SQL,
                &[&start],
                "reading what the migration's tables hold",
            )?;
            let candidates: Vec<u32> = row.get(0);
            let family: Vec<u32> = row.get(1);
            let reach = Reach {
                known: start
                    .iter()
                    .chain(&candidates)
                    .chain(&family)
                    .copied()
                    .collect(),
                belongs: family
                    .iter()
                    .filter(|oid| !candidates.contains(oid))
                    .copied()
                    .collect(),
                max_oid: row.get(2),
                catalog_changes: [3, 4, 5, 6, 7].map(|i| row.get(i)),
            };
            (
                read_tables(client, protection, Read::Candidates(&candidates))?,
                Some(reach),
            )
        }
    };
    for table in tables.values_mut() {
        let key = (table.schema.clone(), table.name.clone());
        let need = needs.get(&table.oid);
        if need.is_some() {
            client
                .batch_execute(&format!(
                    "LOCK TABLE {} IN SHARE MODE",
                    quote_qualified(&table.schema, &table.name)
                ))
                .map_err(|e| {
                    PgError::sql(
                        &format!("locking {} to count what it holds", table.display_name()),
                        &e,
                    )
                })?;
        }
        if need.is_some_and(|n| n.census) {
            let census = take_census(client, table)?;
            table.exact_rows = Some(census.rows);
            table.census = Some(census);
        } else if protection.counts_exactly(&key) {
            table.exact_rows = Some(count_rows(client, table)?);
        }
        if let Some(need) = need.filter(|n| n.census || n.presence || !n.columns.is_empty()) {
            if table.census.is_none() {
                let relation = table.rows_of();
                if need.presence {
                    let row = client
                        .query_one(&format!("SELECT EXISTS (SELECT FROM {relation})"), &[])
                        .map_err(|e| PgError::sql("reading whether a table holds rows", &e))?;
                    table.has_rows = Some(row.get(0));
                }
                for attnum in &need.columns {
                    let Some(column) = table.column(*attnum).cloned() else {
                        continue;
                    };
                    let row = client
                        .query_one(
                            &format!(
                                "SELECT EXISTS (SELECT FROM {relation} WHERE pg_catalog.num_nonnulls({}) > 0)",
                                quote_ident(&column.name)
                            ),
                            &[],
                        )
                        .map_err(|e| PgError::sql("reading whether a column holds values", &e))?;
                    table.column_has_values.insert(*attnum, row.get(0));
                }
            }
        }
    }
    // Scoped, what shows auth.users after the migration is compared with what it
    // changed instead ([`auth_users_exposures`]): nothing to read now.
    let auth_exposers = match &reach {
        Some(_) => BTreeSet::new(),
        None => auth_users_exposers(client, protection, false, (true, true), 0)?
            .into_iter()
            .map(|(name, _, _)| name)
            .collect(),
    };
    Ok(Snapshot {
        tables,
        auth_exposers,
        reach,
    })
}

macro_rules! catalog_changes_sql {
    () => {
        "
SELECT pg_stat_get_xact_tuples_updated('pg_class'::regclass)::int8,
       pg_stat_get_xact_tuples_updated('pg_namespace'::regclass)::int8,
       (pg_stat_get_xact_tuples_inserted('pg_auth_members'::regclass)
        + pg_stat_get_xact_tuples_updated('pg_auth_members'::regclass)
        + pg_stat_get_xact_tuples_deleted('pg_auth_members'::regclass)
        + pg_stat_get_xact_tuples_updated('pg_authid'::regclass))::int8,
       (SELECT sum(pg_stat_get_xact_tuples_inserted(r) + pg_stat_get_xact_tuples_updated(r)
                   + pg_stat_get_xact_tuples_deleted(r))
        FROM unnest(ARRAY['pg_class'::regclass, 'pg_rewrite'::regclass]) AS r)::int8,
       (pg_stat_get_xact_tuples_inserted('pg_proc'::regclass) + pg_stat_get_xact_tuples_updated('pg_proc'::regclass)
        + pg_stat_get_xact_tuples_deleted('pg_proc'::regclass))::int8"
    };
}

/// From the relations named: their inheritance children and partitions (tables
/// whose columns and rows an ALTER or DELETE of the parent reaches), then what
/// belongs to all of them in `pg_class` (indexes, also those of constraints,
/// TOAST tables, owned sequences), and the highest relation oid. Index scans only.
const REACH_SQL: &str = concat!("
WITH RECURSIVE tables(oid) AS (
    SELECT unnest($1::oid[])
    UNION SELECT i.inhrelid FROM pg_inherits i JOIN tables t ON i.inhparent = t.oid),
  family(classid, oid) AS (
    SELECT 'pg_class'::regclass::oid, oid FROM tables
    UNION SELECT d.classid, d.objid FROM pg_depend d JOIN family f ON d.refclassid = f.classid AND d.refobjid = f.oid
          WHERE d.classid IN ('pg_class'::regclass, 'pg_constraint'::regclass))
SELECT coalesce((SELECT array_agg(oid) FROM tables), '{}'),
       coalesce((SELECT array_agg(oid) FROM family WHERE classid = 'pg_class'::regclass), '{}'),
       (SELECT max(oid) FROM pg_class), changes.*
FROM (", catalog_changes_sql!(), ") AS changes");

/// The state before COMMIT of the tables in `before` (followed by oid), counted
/// again where they were counted at BEGIN or rewritten.
pub fn snapshot_after(
    client: &mut impl GenericClient,
    protection: &Protection,
    before: &Snapshot,
) -> Result<Snapshot, PgError> {
    let oids: Vec<u32> = before.tables.keys().copied().collect();
    let mut tables = read_tables(client, protection, Read::Follow(&oids))?;
    for table in tables.values_mut() {
        let key = (table.schema.clone(), table.name.clone());
        let old = before.tables.get(&table.oid);
        let rewritten = old.is_some_and(|b| b.filenode != table.filenode);
        if old.is_some_and(|b| b.census.is_some()) {
            let census = take_census(client, table)?;
            table.exact_rows = Some(census.rows);
            table.census = Some(census);
        } else if protection.counts_exactly(&key) || rewritten {
            table.exact_rows = Some(count_rows(client, table)?);
        }
    }
    Ok(Snapshot {
        tables,
        auth_exposers: BTreeSet::new(),
        reach: None,
    })
}

/// What the migration touched that a snapshot of [`Scope::Tables`] did not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unexplained {
    /// Nothing: the snapshot read every table that could have lost something.
    Nothing,
    /// These relations existed at BEGIN and may have lost something: read them too.
    Tables(BTreeSet<u32>),
    /// A change that reaches tables without locking them: read every table.
    Everything(&'static str),
}

/// The relations the transaction holds locks on, what they are now, and what it did to them.
/// With the catalog's change counters in front and, when `pg_class` rows were
/// updated on a database with the exposure guard ($3), how many of them are rows
/// of relations already accounted for ($1: read or known at BEGIN, or locked;
/// $2: the highest oid at BEGIN; $4: `pg_class` updates at BEGIN). One round
/// trip, one row at least; `pg_locks` is read once.
const LOCKS_SQL: &str = concat!("
WITH l AS MATERIALIZED (
  SELECT relation, bool_or(mode IN ('AccessExclusiveLock', 'ExclusiveLock')) AS strong,
         bool_or(mode IN ('RowExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')) AS writes
  FROM pg_locks
  WHERE locktype = 'relation' AND pid = pg_backend_pid() AND granted
    AND database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
  GROUP BY relation)
SELECT changes.*, locks.*,
       CASE WHEN $3 AND pg_stat_get_xact_tuples_updated('pg_class'::regclass) > $4 THEN
         (SELECT count(*) FROM pg_class c LEFT JOIN pg_type t ON t.oid = c.reltype
          WHERE c.oid IN (SELECT unnest($1::oid[]) UNION SELECT relation FROM l) AND age(c.xmin) <= 0
            AND (c.oid <= $2 OR (age(t.xmin) <= 0 AND c.cmin::text::int8 > t.cmin::text::int8)))
       END
FROM (", catalog_changes_sql!(), ") AS changes
LEFT JOIN (
  SELECT l.relation, l.strong, c.oid IS NOT NULL, coalesce(c.relkind::text, ''),
         coalesce(c.relpersistence::text, ''), coalesce(n.nspname::text, ''), coalesce(c.relname::text, ''),
         coalesce(age(c.xmin) <= 0, false),
         pg_stat_get_xact_tuples_deleted(l.relation)::int8, pg_stat_get_xact_tuples_updated(l.relation)::int8,
         pg_stat_get_xact_tuples_inserted(l.relation)::int8, l.writes
  FROM l
  LEFT JOIN pg_class c ON c.oid = l.relation
  LEFT JOIN pg_namespace n ON n.oid = c.relnamespace) AS locks ON true");

/// Catalog rows the transaction changed that move or expose tables without a
/// lock on them: `pg_class` updates (a GRANT or REVOKE), `pg_namespace` updates
/// (a schema renamed, its tables with it), role memberships granted or revoked,
/// roles altered (`ALTER ROLE anon SUPERUSER` shows every table to the anon key).
/// The fourth value counts every change to relations and rules, the fifth to
/// functions: what could make a view or a function show `auth.users`
/// ([`auth_users_exposures`]).

/// After the migration ran, before COMMIT: whether a snapshot of [`Scope::Tables`]
/// saw everything it needed to. Any table a migration can lose rows, columns or
/// itself from is locked by its transaction (DELETE and UPDATE take ROW EXCLUSIVE,
/// DROP, TRUNCATE and ALTER ACCESS EXCLUSIVE, and a cascade locks what it reaches),
/// so the transaction's own locks name every table it touched, however it
/// reached them (dynamic SQL, functions, triggers, cascades). A locked table the
/// snapshot did not read is harmless when the migration only read it or inserted
/// into it, did not change its catalog row, and the table was not protected;
/// otherwise it is returned, to be read at BEGIN of a second run. GRANT and REVOKE
/// change a table without locking it: on Supabase databases (where the exposure
/// guard applies) `pg_class` rows the transaction changed are found too.
pub fn unexplained(
    client: &mut impl GenericClient,
    protection: &Protection,
    before: &Snapshot,
) -> Result<Touched, PgError> {
    let Some(reach) = &before.reach else {
        return Ok(Touched::default());
    };
    let guard_exposure = protection.anon && !protection.exposed.is_empty();
    let known: Vec<u32> = reach
        .known
        .iter()
        .chain(before.tables.keys())
        .copied()
        .collect();
    let rows = protection.query(
        client,
        LOCKS_SQL,
        &[&known, &reach.max_oid, &guard_exposure, &reach.catalog_changes[0]],
        "reading the migration's locks",
    )?;
    let now: [i64; 5] = rows
        .first()
        .map_or([0; 5], |r| [0, 1, 2, 3, 4].map(|i| r.get(i)));
    let mut touched = Touched {
        catalog_changes: Some(now),
        ..Touched::default()
    };
    // Counted by LOCKS_SQL when `pg_class` rows were updated under the exposure guard.
    let counted: Option<i64> = rows.first().and_then(|r| r.get(17));
    let [class_updates, schema_updates, memberships, _, _] =
        [0, 1, 2, 3, 4].map(|i| now[i] - reach.catalog_changes[i]);
    if schema_updates > 0 {
        touched.unexplained = Unexplained::Everything("a schema was renamed or altered");
        return Ok(touched);
    }
    if memberships > 0 && protection.anon {
        touched.unexplained = Unexplained::Everything("a role was granted, revoked or altered");
        return Ok(touched);
    }
    let mut tables = BTreeSet::new();
    let mut locked = BTreeSet::new();
    let mut exposed_tables = BTreeSet::new();
    let mut written = Vec::new();
    for r in rows {
        let Some(oid) = r.get::<_, Option<u32>>(5) else {
            continue;
        };
        locked.insert(oid);
        if r.get::<_, bool>(7)
            && matches!(r.get::<_, &str>(8), "r" | "p")
            && r.get::<_, &str>(9) != "t"
            && protection.exposed.iter().any(|s| s == r.get::<_, &str>(10))
        {
            exposed_tables.insert(oid);
        }
        {
            let (exists, relkind, persistence, schema, name): (
                bool,
                String,
                String,
                String,
                String,
            ) = (r.get(7), r.get(8), r.get(9), r.get(10), r.get(11));
            let changed: i64 = r.get::<_, i64>(13) + r.get::<_, i64>(14) + r.get::<_, i64>(15);
            if exists
                && r.get::<_, bool>(16)
                && changed > 0
                && matches!(relkind.as_str(), "r" | "p")
                && persistence != "t"
                && !["safemig", "supabase_migrations", "pg_catalog", "pg_toast"]
                    .contains(&schema.as_str())
            {
                written.push((schema, name));
            }
        }
        if reach.known.contains(&oid) || before.tables.contains_key(&oid) {
            continue;
        }
        let (strong, exists, relkind, persistence): (bool, bool, String, String) =
            (r.get(6), r.get(7), r.get(8), r.get(9));
        let (schema, name, ours, deleted, updated): (String, String, bool, i64, i64) =
            (r.get(10), r.get(11), r.get(12), r.get(13), r.get(14));
        let created = oid > reach.max_oid;
        if !exists {
            // Dropped: harmless only if the migration created it.
            if !created {
                tables.insert(oid);
            }
            continue;
        }
        // Only tables hold rows. A relation that is not a table now was not one at
        // BEGIN either, unless the migration changed its catalog row (PostgreSQL 15
        // turns an emptied table into a view with CREATE RULE "_RETURN").
        if !matches!(relkind.as_str(), "r" | "p") || persistence == "t" {
            if ours && !created && relkind != "i" && relkind != "I" {
                tables.insert(oid);
            }
            continue;
        }
        if created && ours {
            continue;
        }
        // Its catalog row unchanged, its schema and name are those of BEGIN.
        if !ours && read_protected(protection, &schema, &name).is_none() {
            continue;
        }
        // The counters may include earlier transactions of the session (see
        // `Reach::catalog_changes`): a count from one of those costs a second run, never a miss.
        if !ours && !strong && deleted == 0 && updated == 0 {
            continue; // read, inserted into, referenced by a new foreign key
        }
        tables.insert(oid);
    }
    if guard_exposure && class_updates > 0 {
        // Read here only if LOCKS_SQL did not count them (it counts under this condition).
        let seen: Vec<u32> = known.iter().chain(&locked).copied().collect();
        let accounted: i64 = match counted {
            Some(n) => n,
            None => protection
                .queries
                .query_one(
                    client,
                    "SELECT count(*) FROM pg_class c LEFT JOIN pg_type t ON t.oid = c.reltype \
                     WHERE c.oid = ANY($1::oid[]) AND age(c.xmin) <= 0 \
                       AND (c.oid <= $2 OR (age(t.xmin) <= 0 AND c.cmin::text::int8 > t.cmin::text::int8))",
                    &[&seen, &reach.max_oid],
                )
                .map_err(|e| PgError::sql("reading what the migration granted", &e))?
                .get(0),
        };
        if class_updates > accounted {
            let rows = protection
                .queries
                .query(
                    client,
                    "SELECT c.oid, n.nspname::text, c.relname::text FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE age(c.xmin) <= 0 AND c.relkind IN ('r', 'p') \
                       AND c.oid <> ALL($1::oid[]) AND n.nspname = ANY($2)",
                    &[&seen, &protection.exposed],
                )
                .map_err(|e| PgError::sql("reading what the migration granted", &e))?;
            for r in rows {
                let (oid, schema, name): (u32, String, String) = (r.get(0), r.get(1), r.get(2));
                if read_protected(protection, &schema, &name).is_some() {
                    tables.insert(oid);
                }
            }
        }
    }
    if !tables.is_empty() {
        touched.unexplained = Unexplained::Tables(tables);
    }
    touched.locked = locked;
    touched.exposed_tables = exposed_tables;
    touched.written = Some(written);
    Ok(touched)
}

/// What [`unexplained`] found.
#[derive(Debug, Clone)]
pub struct Touched {
    pub unexplained: Unexplained,
    /// Every relation the transaction locked.
    pub locked: BTreeSet<u32>,
    /// Those of them that are tables in a schema the API exposes, as they are
    /// now: the only relations that can be new exposed tables.
    pub exposed_tables: BTreeSet<u32>,
    /// `catalog_changes_sql!` after the migration.
    pub catalog_changes: Option<[i64; 5]>,
    /// Tables (schema, name) the transaction locked for writing and wrote rows
    /// of (its counters, flushed between migrations), outside safemig's and the
    /// history's schemas; None when the locks were not read (an unscoped snapshot).
    pub written: Option<Vec<(String, String)>>,
}

impl Default for Touched {
    fn default() -> Touched {
        Touched {
            unexplained: Unexplained::Nothing,
            locked: BTreeSet::new(),
            exposed_tables: BTreeSet::new(),
            catalog_changes: None,
            written: None,
        }
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Columns whose type change was tested before it ran ([`value_probe`]), with
/// the type they were changed to: another change after it is not covered.
pub type Probed = BTreeMap<(u32, i32), (u32, i32)>;

/// Everything a protected table lost between `before` and `after`, and what
/// changed without a loss.
pub fn evaluate(
    before: &Snapshot,
    after: &Snapshot,
    protection: &Protection,
    probed: &Probed,
    updates_probed: &BTreeMap<u32, Option<i64>>,
) -> Verdict {
    let mut verdict = Verdict::default();
    for (oid, old) in &before.tables {
        let table = old.display_name();
        let Some(new) = after.tables.get(oid) else {
            match old.empty() {
                Some(true) => verdict.changes.push(format!(
                    "{table}: dropped; it held no row, so no data was lost"
                )),
                Some(false) => verdict.violations.push(Violation::new(
                    &table,
                    LossKind::Table,
                    format!(
                        "the table was dropped; it held {}",
                        match old.exact_rows {
                            Some(n) => plural(n, "row", "rows"),
                            // Statistics lag behind new tables: an estimate of 0
                            // says nothing when the table is known to hold rows.
                            None if old.estimated_rows > 0 => format!(
                                "rows (about {} by the planner's statistics)",
                                old.estimated_rows
                            ),
                            None => "rows".to_string(),
                        }
                    ),
                )),
                None => verdict.violations.push(
                    Violation::new(
                        &table,
                        LossKind::Table,
                        format!(
                            "the table was dropped (it held about {} rows)",
                            old.estimated_rows
                        ),
                    )
                    .undecided(*oid, Need::presence()),
                ),
            }
            continue;
        };
        let moved_to = display_table(&new.schema, &new.name);
        if (new.schema != old.schema || new.name != old.name)
            && read_protected(protection, &new.schema, &new.name).is_none()
        {
            // Out of the guards' reach, a later migration could drop it unseen: only
            // a place safemig.toml unprotects by name is a deliberate move.
            let named = protection
                .unprotect
                .contains(&(new.schema.clone(), new.name.clone()));
            match (named, old.empty()) {
                (true, _) | (_, Some(true)) => verdict.changes.push(format!(
                    "{table}: moved to {moved_to}, where the guards no longer protect it"
                )),
                (false, known) => {
                    let v = Violation::new(
                        &table,
                        LossKind::Table,
                        format!(
                            "moved to {moved_to}, out of the guards' protection (a schema Supabase manages \
                             or safemig's), with its rows; name {moved_to} in [guard] unprotect if that is meant"
                        ),
                    );
                    verdict.violations.push(match known {
                        Some(_) => v,
                        None => v.undecided(*oid, Need::presence()),
                    });
                }
            }
        }

        // Columns: a dropped column that held a value is a loss; one with no value is not.
        let mut lost = Vec::new();
        let mut unknown = BTreeSet::new();
        for column in &old.columns {
            if new.columns.iter().any(|c| c.attnum == column.attnum) {
                continue;
            }
            match old.column_had_values(column.attnum) {
                Some(false) => verdict.changes.push(format!(
                    "{table}: column \"{}\" dropped; it held no value, so no data was lost",
                    column.name
                )),
                Some(true) => lost.push(column.name.clone()),
                None => {
                    lost.push(column.name.clone());
                    unknown.insert(column.attnum);
                }
            }
        }
        if !lost.is_empty() {
            let mut v = Violation::new(
                &table,
                LossKind::Columns,
                format!(
                    "lost column{} {} (with {} values)",
                    if lost.len() == 1 { "" } else { "s" },
                    lost.iter()
                        .map(|c| format!("\"{c}\""))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if lost.len() == 1 { "its" } else { "their" }
                ),
            );
            if !unknown.is_empty() {
                v = v.undecided(*oid, Need::columns(unknown));
            }
            verdict.violations.push(v);
        }

        // Exposure: rows newly readable with the public anon key.
        let exposed = |t: &TableState| {
            protection.anon
                && protection.exposed.contains(&t.schema)
                && t.anon_select
                && (!t.rls || t.anon_open_policy)
        };
        if exposed(new) && !exposed(old) {
            let relation = quote_qualified(&new.schema, &new.name);
            let (how, fix) = if old.rls && !new.rls {
                (
                    "row level security was turned off",
                    format!("keep row level security on and add policies (ALTER TABLE {relation} ENABLE ROW LEVEL SECURITY)"),
                )
            } else if !old.anon_select && new.rls {
                (
                    "SELECT was granted to anon on a table whose policies let anon read every row",
                    format!("grant anon only what its policies should show, or give the open policy a condition (REVOKE SELECT ON {relation} FROM anon)"),
                )
            } else if !old.anon_select {
                (
                    "SELECT was granted to anon on a table without row level security",
                    format!("keep row level security on and add policies (ALTER TABLE {relation} ENABLE ROW LEVEL SECURITY)"),
                )
            } else {
                (
                    "a policy now lets anon read every row (USING (true), or no condition)",
                    "give the policy the condition that says whose rows these are, e.g. USING (owner = (select auth.uid())), \
                     or name it TO authenticated"
                        .to_string(),
                )
            };
            match old.empty() {
                Some(true) => verdict.changes.push(format!(
                    "{table}: {how}; it holds no row yet, but every row added will be readable with the anon key"
                )),
                known => {
                    let v = Violation::new(
                        &table,
                        LossKind::Exposure,
                        format!(
                            "{how}: its rows are now readable by anyone with the project's public anon key; {fix}"
                        ),
                    );
                    verdict.violations.push(match known {
                        Some(_) => v,
                        None => v.undecided(
                            *oid,
                            Need::presence(),
                        ),
                    });
                }
            }
        }

        // Durability: UNLOGGED tables are emptied by crash recovery.
        if old.persistence == "p" && new.persistence == "u" && old.empty() != Some(true) {
            let v = Violation::new(
                &table,
                LossKind::Durability,
                "made UNLOGGED: its rows would vanish at the next crash or failover, and replicas never get them".into(),
            );
            verdict.violations.push(match old.empty() {
                Some(_) => v,
                None => v.undecided(*oid, Need::presence()),
            });
        }

        // Types changed where no probe could test the values (dynamic SQL).
        let mut unverified = Vec::new();
        let mut unverified_attnums = BTreeSet::new();
        for column in &old.columns {
            let Some(now) = new.column(column.attnum) else {
                continue;
            };
            // Type changes safemig saw were tested before they ran ([`value_probe`]).
            if now.type_id != column.type_id
                && probed.get(&(*oid, column.attnum)) != Some(&now.type_id)
                && old.column_had_values(column.attnum) != Some(false)
            {
                unverified.push(column.name.clone());
                unverified_attnums.insert(column.attnum);
            }
        }

        let rewritten = old.filenode != new.filenode;
        let deleted = new.xact_deleted - old.xact_deleted;
        let inserted = new.xact_inserted - old.xact_inserted;
        let counted = old.census.as_ref().zip(new.census.as_ref());
        // Deletes first: the counter is exact, and a rewrite keeps it (only TRUNCATE
        // resets it), so deletes before or after a rewrite still show here.
        if deleted > 0 {
            match counted {
                // Counted at both ends under a lock: deletes undone by a rolled-back
                // subtransaction do not count as lost. Rows the migration inserted and
                // deleted again cannot be told from old ones: they count (the safe side).
                Some((b, a)) => {
                    let lost = deleted.min(b.rows - a.rows + inserted).max(0);
                    if lost > 0 {
                        verdict.violations.push(Violation::new(
                            &table,
                            LossKind::Rows,
                            format!(
                                "{} deleted (by DELETE, a cascading foreign key, or a function): {} before, {} after",
                                plural(lost, "row", "rows"),
                                b.rows,
                                a.rows
                            ),
                        ));
                    }
                }
                None => verdict.violations.push(
                    Violation::new(
                        &table,
                        LossKind::Rows,
                        format!(
                            "{} deleted (by DELETE, a cascading foreign key, or a function)",
                            plural(deleted, "row", "rows")
                        ),
                    )
                    .undecided(*oid, Need::census()),
                ),
            }
        } else if rewritten {
            let after_rows = new.exact_rows.unwrap_or(0);
            match counted {
                Some((b, a)) if a.rows < b.rows => verdict.violations.push(Violation::new(
                    &table,
                    LossKind::Rows,
                    format!(
                        "emptied or rewritten (TRUNCATE or a table rewrite): {} rows before, {} after",
                        b.rows, a.rows
                    ),
                )),
                Some(_) => {}
                None if old.empty() == Some(true) => {}
                None => verdict.violations.push(
                    Violation::new(
                        &table,
                        LossKind::Rows,
                        format!(
                            "rewritten or emptied by a statement safemig could not see into (dynamic SQL or a \
                             function): {after_rows} rows after"
                        ),
                    )
                    .undecided(
                        *oid,
                        Need::census(),
                    ),
                ),
            }
        }

        // Values: non-null values gone from a column whose rows are all still there
        // (an UPDATE, a rewrite `USING NULL`, a truncate and re-insert), whatever
        // the counters say. Rows lost are already a violation of their own.
        let updated = new.xact_updated - old.xact_updated;
        let rows_lost = verdict
            .violations
            .iter()
            .any(|v| v.table == table && v.loss == LossKind::Rows);
        if let (Some((b, a)), false) = (counted, rows_lost) {
            verdict.violations.extend(values_nulled(old, b, a));
        }
        // Every row updated was matched by an UPDATE probed before it ran: decided.
        let accounted = updates_probed.get(oid) == Some(&Some(updated));
        if updated > 0 && deleted <= 0 {
            match counted {
                Some(_) => {}
                None if accounted => {}
                None => verdict.violations.push(
                    Violation::new(
                        &table,
                        LossKind::Values,
                        format!(
                            "{} updated by a statement safemig could not see into; whether values were lost \
                             could not be counted",
                            plural(updated, "row", "rows")
                        ),
                    )
                    .undecided(
                        *oid,
                        Need::census(),
                    ),
                ),
            }
            verdict.changes.push(format!(
                "{table}: {} updated",
                plural(updated, "row", "rows")
            ));
        }
        if !unverified.is_empty() {
            let v = Violation::new(
                &table,
                LossKind::Values,
                format!(
                    "the type of {} changed by a statement safemig could not see into (dynamic SQL or a \
                     function), so its values could not be tested",
                    unverified
                        .iter()
                        .map(|c| format!("column \"{c}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            verdict
                .violations
                .push(v.undecided(*oid, Need::columns(unverified_attnums)));
        }

        let key = (new.schema.clone(), new.name.clone());
        // A floor holds where it held: a table below it at BEGIN (a new database
        // built from the history) may stay there, never lose more.
        let was = old.census.as_ref().map(|c| c.rows).or(old.exact_rows);
        if let (Some(min), Some(rows)) = (protection.min_rows.get(&key), new.exact_rows) {
            if (rows as u64) < *min && was.is_none_or(|was| rows < was) {
                let mut v = Violation::new(
                    &table,
                    LossKind::Rows,
                    format!("holds {rows} rows; safemig.toml requires at least {min}"),
                );
                v.allowable = false;
                verdict.violations.push(v);
            }
        }
    }
    verdict
}

/// Columns of `table` with fewer non-null values in `now` than in `was`.
pub fn values_nulled(table: &TableState, was: &Census, now: &Census) -> Vec<Violation> {
    if now.rows < was.rows {
        return Vec::new(); // rows lost: a violation of their own
    }
    table
        .columns
        .iter()
        .filter_map(|column| {
            let (Some(before), Some(after)) = (
                was.non_null.get(&column.attnum),
                now.non_null.get(&column.attnum),
            ) else {
                return None;
            };
            (after < before).then(|| {
                Violation::new(
                    &table.display_name(),
                    LossKind::Values,
                    format!(
                        "column \"{}\": {} turned NULL ({before} non-null before, {after} after)",
                        column.name,
                        plural(before - after, "value", "values")
                    ),
                )
            })
        })
        .collect()
}

/// A census of the table `oid` as it is now (its columns now), or `None` when it is gone.
pub fn census_now(
    client: &mut impl GenericClient,
    queries: &Queries,
    oid: u32,
) -> Result<Option<Census>, PgError> {
    let row = queries
        .query_opt(
            client,
            "SELECT n.nspname::text, c.relname::text, c.relkind::text, \
                    coalesce((SELECT array_agg(a.attnum::int4 ORDER BY a.attnum) FROM pg_attribute a \
                              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}'), \
                    coalesce((SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a \
                              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '{}') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
            &[&oid],
        )
        .map_err(|e| PgError::sql("reading a table for the guards", &e))?;
    let Some(row) = row else { return Ok(None) };
    let attnums: Vec<i32> = row.get(3);
    let names: Vec<String> = row.get(4);
    let table = TableState {
        oid,
        schema: row.get(0),
        name: row.get(1),
        relkind: row.get(2),
        rls: false,
        anon_select: false,
        anon_open_policy: false,
        filenode: None,
        estimated_rows: 0,
        bytes: 0,
        persistence: String::new(),
        xact_inserted: 0,
        xact_updated: 0,
        xact_deleted: 0,
        columns: attnums
            .into_iter()
            .zip(names)
            .map(|(attnum, name)| Column {
                attnum,
                name,
                type_id: (0, 0),
            })
            .collect(),
        exact_rows: None,
        census: None,
        has_rows: None,
        column_has_values: BTreeMap::new(),
    };
    take_census(client, &table).map(Some)
}

// Through pg_depend (each relation depends on its schema): index scans, where a
// filter on pg_class by schema reads the whole catalog.
macro_rules! history_state_sql {
    () => {
        "SELECT c.oid, n.nspname::text || '.' || c.relname::text, pg_relation_filenode(c.oid)::int8, \
         (pg_stat_get_xact_tuples_inserted(c.oid) + pg_stat_get_xact_tuples_updated(c.oid) \
          + pg_stat_get_xact_tuples_deleted(c.oid))::int8 \
         FROM pg_namespace n \
         JOIN pg_depend d ON d.refclassid = 'pg_namespace'::regclass AND d.refobjid = n.oid \
                          AND d.classid = 'pg_class'::regclass AND d.refobjsubid = 0 \
         JOIN pg_class c ON c.oid = d.objid \
         WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('supabase_migrations', 'safemig')"
    };
}

macro_rules! history_hooks_sql {
    () => {
        "SELECT n.nspname::text || '.' || c.relname::text, 'trigger ' || t.tgname::text \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN ('supabase_migrations', 'safemig') AND NOT t.tgisinternal \
             UNION ALL \
             SELECT n.nspname::text || '.' || c.relname::text, 'rule ' || r.rulename::text \
             FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname IN ('supabase_migrations', 'safemig') AND r.rulename <> '_RETURN' \
             UNION ALL \
             SELECT '(session)', 'track_counts' WHERE current_setting('track_counts') <> 'on'"
    };
}
const HISTORY_HOOKS_SQL: &str = history_hooks_sql!();

/// Triggers and rules on the history tables: code that would run when safemig
/// records a migration, after the guard has looked. A migration may not leave any.
/// Also (one round trip) `track_counts` turned off, which blinds the guard: the
/// statistics are how it sees deletes (`SET track_counts = off`, superusers only).
pub fn history_hooks(
    client: &mut impl GenericClient,
    protection: &Protection,
) -> Result<Vec<Violation>, PgError> {
    let rows = protection.query(
        client,
        HISTORY_HOOKS_SQL,
        &[],
        "reading the history tables' triggers and rules",
    )?;
    Ok(hook_violations(rows.iter().map(|r| (r.get(0), r.get(1)))))
}

/// After the migration, in one round trip: [`history_state`] and [`history_hooks`].
pub fn history_after(
    client: &mut impl GenericClient,
    protection: &Protection,
) -> Result<(HistoryState, Vec<Violation>), PgError> {
    let rows = protection.query(
        client,
        HISTORY_AFTER_SQL,
        &[],
        "reading the history tables' counters, triggers and rules",
    )?;
    let (state, hooks): (Vec<_>, Vec<_>) = rows
        .iter()
        .partition(|r| r.get::<_, Option<u32>>(0).is_some());
    let state = state
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect();
    Ok((
        state,
        hook_violations(hooks.iter().map(|r| (r.get(1), r.get(4)))),
    ))
}

const HISTORY_AFTER_SQL: &str = concat!(
    "SELECT s.*, NULL::text FROM (",
    history_state_sql!(),
    ") AS s UNION ALL SELECT NULL::oid, h.name, NULL::int8, NULL::int8, h.what FROM (",
    history_hooks_sql!(),
    ") AS h(name, what)"
);

/// The guard's prepared statements a migration dropped or replaced
/// ([`crate::queries::Queries::tampered`]): never allowable.
pub fn tampered_statements(count: i64) -> Violation {
    let mut v = Violation::new(
        "safemig",
        LossKind::History,
        format!(
            "the migration dropped or replaced {count} of safemig's prepared statements (DEALLOCATE, PREPARE): \
             the guards' reads could be forged, so nothing they found can be trusted; a migration may not \
             deallocate statements it did not prepare"
        ),
    );
    v.allowable = false;
    v
}

fn hook_violations(hooks: impl Iterator<Item = (String, String)>) -> Vec<Violation> {
    hooks
        .map(|(table, what)| {
            if what == "track_counts" {
                let mut v = Violation::new(
                    &table,
                    LossKind::History,
                    "track_counts is off: the guards cannot see what the migration deleted; a migration may not \
                     turn PostgreSQL's statistics off"
                        .into(),
                );
                v.allowable = false;
                return v;
            }
            let mut v = Violation::new(
                &table,
                LossKind::History,
                format!(
                    "has the {what}: code that would run when safemig writes the history, after the guards \
                     looked; drop it (the history tables are safemig's and the Supabase CLI's alone)"
                ),
            );
            v.allowable = false;
            v
        })
        .collect()
}

macro_rules! new_exposures_sql {
    ($only:literal) => {
        concat!(
            "SELECT n.nspname::text, c.relname::text, c.relkind::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND n.nspname = ANY($1) \
               AND NOT c.relrowsecurity AND c.oid <> ALL($2) AND has_table_privilege('anon', c.oid, 'SELECT')",
            $only
        )
    };
}
const NEW_EXPOSURES_SQL: &str = new_exposures_sql!("");
/// Among the relations the migration locked: index scans, whatever the catalog's size.
const NEW_EXPOSURES_LOCKED_SQL: &str = new_exposures_sql!(" AND c.oid = ANY($3::oid[])");

/// Tables the migration created in an exposed schema without row level security,
/// readable by `anon`, holding rows: reported (`changes`), not refused, since
/// reference rows a migration writes are often meant to be public; `check`'s
/// `table-without-rls` says so before the run.
///
/// `locked`: the tables in exposed schemas the migration locked, when the
/// snapshot read only what it named; a table the migration created is among
/// them (its CREATE locks it). None of them: nothing to read.
pub fn new_exposures(
    client: &mut impl GenericClient,
    before: &Snapshot,
    protection: &Protection,
    locked: Option<&BTreeSet<u32>>,
) -> Result<Vec<String>, PgError> {
    if !protection.anon || protection.exposed.is_empty() {
        return Ok(Vec::new());
    }
    let known: Vec<u32> = before.tables.keys().copied().collect();
    // Scoped: only relations the migration locked can be new tables; those
    // already read, and their indexes and TOAST tables, are not.
    let locked: Option<Vec<u32>> = locked.map(|l| {
        l.iter()
            .filter(|oid| !before.tables.contains_key(oid))
            .filter(|oid| {
                !before
                    .reach
                    .as_ref()
                    .is_some_and(|r| r.belongs.contains(oid))
            })
            .copied()
            .collect()
    });
    if locked.as_ref().is_some_and(|l| l.is_empty()) {
        return Ok(Vec::new());
    }
    let what = "reading new tables for the exposure guard";
    let rows = match &locked {
        Some(locked) => protection.query(
            client,
            NEW_EXPOSURES_LOCKED_SQL,
            &[&protection.exposed, &known, locked],
            what,
        )?,
        None => protection.query(
            client,
            NEW_EXPOSURES_SQL,
            &[&protection.exposed, &known],
            what,
        )?,
    };
    let mut out = Vec::new();
    for r in rows {
        let (schema, name, relkind): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let relation = quote_qualified(&schema, &name);
        let from = if relkind == "p" {
            relation.clone()
        } else {
            format!("ONLY {relation}")
        };
        let holds: bool = client
            .query_one(&format!("SELECT EXISTS (SELECT FROM {from})"), &[])
            .map_err(|e| PgError::sql("reading whether a new table holds rows", &e))?
            .get(0);
        if holds {
            out.push(format!(
                "{}: created with rows and without row level security: they are readable by anyone with the \
                 project's public anon key (ALTER TABLE {relation} ENABLE ROW LEVEL SECURITY, and policies, if \
                 they are not meant to be public)",
                display_table(&schema, &name)
            ));
        }
    }
    Ok(out)
}

macro_rules! auth_users_exposers_sql {
    ($functions:literal, $tail:literal) => { concat!("             SELECT 'view ' || pg_catalog.format('%I.%I', n.nspname, c.relname), n.nspname::text || '.' || c.relname::text, \
                    CASE c.relkind WHEN 'm' THEN pg_catalog.format('REVOKE SELECT ON %I.%I FROM anon, authenticated', n.nspname, c.relname) \
                         ELSE pg_catalog.format('ALTER VIEW %I.%I SET (security_invoker = on)', n.nspname, c.relname) END \
             FROM pg_catalog.pg_depend d \
             JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid \
             JOIN pg_catalog.pg_class c ON c.oid = w.ev_class \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
               AND d.refobjid = pg_catalog.to_regclass('auth.users')::pg_catalog.oid \
               AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
               AND c.oid <> d.refobjid AND n.nspname = ANY($1) \
               AND $3 AND (NOT $2 OR pg_catalog.age(c.xmin) <= 0 OR pg_catalog.age(w.xmin) <= 0) \
               AND (c.relkind = 'm' OR (c.relkind = 'v' AND NOT coalesce(c.reloptions::text[] && \
                    ARRAY['security_invoker=1', 'security_invoker=true', 'security_invoker=on', 'security_invoker=yes'], false))) \
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname IN ('anon', 'authenticated') \
                           AND pg_catalog.has_table_privilege(r.oid, c.oid, 'SELECT')) \
             UNION \
             SELECT 'function ' || pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)), \
                    n.nspname::text || '.' || p.proname::text, \
                    pg_catalog.format('REVOKE EXECUTE ON FUNCTION %I.%I(%s) FROM PUBLIC, anon, authenticated', n.nspname, p.proname, \
                                      pg_catalog.pg_get_function_identity_arguments(p.oid)) \
             FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
             WHERE p.prosecdef AND p.prokind = 'f' AND n.nspname = ANY($1) \
               AND $4 AND (NOT $2 OR pg_catalog.age(p.xmin) <= 0)", $functions, " \
               AND p.prorettype NOT IN ('pg_catalog.trigger'::pg_catalog.regtype, 'pg_catalog.event_trigger'::pg_catalog.regtype, \
                                        'pg_catalog.void'::pg_catalog.regtype) \
               AND p.prosrc ~* 'auth\"?\\s*\\.\\s*\"?users\\M' \
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname IN ('anon', 'authenticated') \
                           AND pg_catalog.has_function_privilege(r.oid, p.oid, 'EXECUTE'))", $tail, " \
             ORDER BY 1") };
}
const AUTH_USERS_EXPOSERS_SQL: &str = auth_users_exposers_sql!("", "");
/// Functions made after initdb only (an index range instead of reading all of
/// `pg_proc`, ~3,000 built-in rows), with, first (its empty name sorts first),
/// how many `pg_proc` rows of that range this transaction wrote: fewer than the
/// changes the catalog counted, and a built-in function was changed (a superuser
/// can replace one and move it into `public`) or one was dropped or changed twice:
/// [`auth_users_exposers`] then reads them all.
const AUTH_USERS_EXPOSERS_NEW_SQL: &str = auth_users_exposers_sql!(
    " AND p.oid >= 16384",
    " UNION ALL SELECT '', pg_catalog.count(*)::text, '' FROM pg_catalog.pg_proc p \
      WHERE p.oid >= 16384 AND pg_catalog.age(p.xmin) <= 0"
);

/// Views and materialized views in an exposed schema that read `auth.users`
/// with their owner's rights (no `security_invoker`) and that `anon` or
/// `authenticated` may select; security definer functions there that they may
/// execute and whose body reads `auth.users`. Each as (`view public.x`, the
/// object's `schema.name`, how to stop it).
///
/// `changed_only`: just those whose catalog rows this transaction wrote (the
/// view's `pg_class` row or rule, the function's `pg_proc` row): the ways a view
/// or function comes to show `auth.users` (created, replaced, granted, made
/// security definer, moved into an exposed schema) all write one of them.
///
/// `function_changes`: with `changed_only`, the `pg_proc` rows the catalog
/// counted as inserted, updated or deleted by this transaction. When the
/// functions made after initdb account for all of them, those are all that is
/// read (the migration's locks are held meanwhile: ~0.7 ms less per migration
/// that makes a function); otherwise every function is.
fn auth_users_exposers(
    client: &mut impl GenericClient,
    protection: &Protection,
    changed_only: bool,
    (views, functions): (bool, bool),
    function_changes: i64,
) -> Result<Vec<(String, String, String)>, PgError> {
    if !protection.anon || protection.exposed.is_empty() {
        return Ok(Vec::new());
    }
    let what = "reading what shows auth.users to the API";
    let params: [&(dyn postgres::types::ToSql + Sync); 4] =
        [&protection.exposed, &changed_only, &views, &functions];
    let found = |rows: &[postgres::Row]| -> Vec<(String, String, String)> {
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .filter(|(name, _, _): &(String, String, String)| !name.is_empty())
            .collect()
    };
    if changed_only && functions {
        let rows = protection.query(client, AUTH_USERS_EXPOSERS_NEW_SQL, &params, what)?;
        let written: i64 = rows
            .iter()
            .find(|r| r.get::<_, String>(0).is_empty())
            .and_then(|r| r.get::<_, String>(1).parse().ok())
            .unwrap_or(0);
        if written >= function_changes {
            return Ok(found(&rows));
        }
    }
    let rows = protection.query(client, AUTH_USERS_EXPOSERS_SQL, &params, what)?;
    Ok(found(&rows))
}

/// What the migration made that shows `auth.users` to the API roles and did not
/// at BEGIN: an exposure when there are users to show (refused, allowable by the
/// object's name), a change to report when `auth.users` is empty (a new database).
///
/// `changes`: [`Touched::catalog_changes`] of a scoped snapshot.
pub fn auth_users_exposures(
    client: &mut impl GenericClient,
    before: &Snapshot,
    protection: &Protection,
    changes: Option<[i64; 5]>,
) -> Result<(Vec<Violation>, Vec<String>), PgError> {
    let new: Vec<(String, String, String)> = match (&before.reach, changes) {
        // Scoped: nothing that makes a view or function changed, nothing new shows auth.users.
        (Some(reach), Some(changes)) => {
            let changed = |i: usize| changes[i] != reach.catalog_changes[i];
            let parts = (changed(3), changed(4));
            if parts == (false, false) {
                return Ok((Vec::new(), Vec::new()));
            }
            let function_changes = changes[4] - reach.catalog_changes[4];
            auth_users_exposers(client, protection, true, parts, function_changes)?
        }
        _ => auth_users_exposers(client, protection, false, (true, true), 0)?
            .into_iter()
            .filter(|(what, _, _)| !before.auth_exposers.contains(what))
            .collect(),
    };
    if new.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let users: bool = client
        .query_one("SELECT EXISTS (SELECT FROM auth.users)", &[])
        .map_err(|e| PgError::sql("reading whether auth.users holds users", &e))?
        .get(0);
    let mut violations = Vec::new();
    let mut changes = Vec::new();
    for (what, name, fix) in new {
        let text = format!(
            "{what} shows auth.users to anon or authenticated with its owner's rights: every user's email, phone and \
             metadata become readable through the API; {fix}"
        );
        if users {
            violations.push(Violation::new(&name, LossKind::Exposure, text));
        } else {
            changes.push(format!("{text} (auth.users holds no user yet)"));
        }
    }
    Ok((violations, changes))
}

/// Whether `schema.name` would be protected by the snapshot's rules.
fn read_protected(protection: &Protection, schema: &str, name: &str) -> Option<()> {
    let key = (schema.to_string(), name.to_string());
    if protection.unprotect.contains(&key) {
        return None;
    }
    if protection.protect.contains(&key)
        || (!UNPROTECTED_SCHEMAS.contains(&schema) && !schema.starts_with("pg_"))
    {
        return Some(());
    }
    None
}

/// Before `ALTER COLUMN ... TYPE` runs on a table that existed at BEGIN: how many
/// rows hold a value that would not survive, i.e. the new value cast back to the
/// old type differs from the old one (`timestamptz` to `date`, `numeric(10,2)` to
/// `numeric(10,0)`, `USING left(...)`). Runs in a savepoint, under the
/// migration's own search_path (the `USING` expression is the migration's). Returns
/// the table and column tested, and the violation if a value would be lost.
/// A probe that cannot run (the cast itself fails) is left to the statement, which
/// fails the same way.
pub fn value_probe(
    tx: &mut postgres::Transaction<'_>,
    queries: &Queries,
    change: &safemig_analyze::TypeChange,
    before: &Snapshot,
) -> Result<Option<(Vec<(u32, i32)>, Option<Violation>)>, PgError> {
    let Some(oid) = resolve(tx, queries, std::slice::from_ref(&change.table))?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let Some(table) = before.tables.get(&oid) else {
        return Ok(None);
    };
    let row = queries
        .query_opt(
            tx,
            "SELECT a.attnum::int4, pg_catalog.format_type(a.atttypid, a.atttypmod), \
                    pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
             WHERE a.attrelid OPERATOR(pg_catalog.=) $1 AND a.attname OPERATOR(pg_catalog.=) $2 AND NOT a.attisdropped",
            &[&oid, &change.column],
        )
        .map_err(|e| PgError::sql("reading a column's type", &e))?;
    let Some(row) = row else { return Ok(None) };
    let (attnum, old_type, relation): (i32, String, String) = (row.get(0), row.get(1), row.get(2));
    if table.column(attnum).is_none() {
        return Ok(None); // added by this migration: no value of it existed at BEGIN
    }
    // The statement rewrites the table under ACCESS EXCLUSIVE anyway: take it now,
    // so no other session changes a value between the test and the rewrite.
    tx.batch_execute(&format!("LOCK TABLE {relation} IN ACCESS EXCLUSIVE MODE"))
        .map_err(|e| PgError::sql(&format!("locking {relation} to test a type change"), &e))?;
    // The same column of every inheritance child or partition: the ALTER reaches them
    // too, and the test below (no ONLY) reads their rows.
    let mut columns: Vec<(u32, i32)> = queries
        .query(
            tx,
            "WITH RECURSIVE tree(oid) AS (SELECT $1::pg_catalog.oid UNION \
               SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN tree ON i.inhparent OPERATOR(pg_catalog.=) tree.oid) \
             SELECT a.attrelid, a.attnum::int4 FROM tree JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) tree.oid \
             WHERE a.attname OPERATOR(pg_catalog.=) $2 AND NOT a.attisdropped",
            &[&oid, &change.column],
        )
        .map_err(|e| PgError::sql("reading a column's inheritance children", &e))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if columns.is_empty() {
        columns.push((oid, attnum));
    }
    let key = queries
        .query_one(
            tx,
            "SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.n) \
             FROM pg_catalog.pg_index i, pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY k(attnum, n), pg_catalog.pg_attribute a \
             WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND i.indisprimary \
               AND a.attrelid OPERATOR(pg_catalog.=) i.indrelid AND a.attnum OPERATOR(pg_catalog.=) k.attnum",
            &[&oid],
        )
        .map_err(|e| PgError::sql("reading a primary key", &e))?
        .get::<_, Option<String>>(0);
    let column = quote_ident(&change.column);
    let new_value = &change.new_value_sql;
    let new_type = &change.new_type_sql;
    let conditions = [
        // Cast back to the old type: a value that does not come back was changed.
        format!("(({new_value})::{old_type}) IS DISTINCT FROM {column}"),
        // The old type has no equality (json, xml): compare in the new type.
        format!("({new_value}) IS DISTINCT FROM ({column})::{new_type}"),
        // Neither: compare what both print.
        format!("(({new_value})::pg_catalog.text) IS DISTINCT FROM ({column}::pg_catalog.text)"),
    ];
    // pg_catalog first: an operator or function the migration created cannot stand
    // in for the built-in ones; the migration's own schemas follow, for its USING.
    let search_path: String = queries
        .query_one(tx, "SELECT pg_catalog.current_setting('search_path')", &[])
        .map_err(|e| PgError::sql("testing a type change", &e))?
        .get(0);
    queries.execute(
        tx,
        "SELECT pg_catalog.set_config('search_path', 'pg_catalog, ' OPERATOR(pg_catalog.||) $1, true)",
        &[&search_path],
    )
    .map_err(|e| PgError::sql("testing a type change", &e))?;
    let mut outcome = None;
    for condition in conditions {
        let what = "testing a type change";
        open_probe(tx).map_err(|e| PgError::sql(what, &e))?;
        let counted = tx.query_one(
            &format!("SELECT pg_catalog.count(*) FROM {relation} WHERE {condition}"),
            &[],
        );
        let Ok(counted) = counted else {
            close_probe(tx).map_err(|e| PgError::sql(what, &e))?;
            continue;
        };
        let lost: i64 = counted.get(0);
        let mut samples = Vec::new();
        if lost > 0 {
            if let Some(key) = &key {
                let sql = format!(
                    "SELECT ROW({key})::pg_catalog.text FROM {relation} WHERE {condition} LIMIT 3"
                );
                if let Ok(rows) = tx.query(&sql, &[]) {
                    samples = rows.iter().map(|r| r.get::<_, String>(0)).collect();
                }
            }
        }
        close_probe(tx).map_err(|e| PgError::sql(what, &e))?;
        let violation = (lost > 0).then(|| {
            Violation::new(
                &table.display_name(),
                LossKind::Values,
                format!(
                    "column \"{}\": {} would not survive the type change (cast back to {old_type}, they differ){}",
                    change.column,
                    plural(lost, "value", "values"),
                    match (&key, samples.is_empty()) {
                        (Some(key), false) => format!("; rows with ({key}) = {}", samples.join(", ")),
                        _ => String::new(),
                    }
                ),
            )
        });
        outcome = Some((columns, violation));
        break;
    }
    queries
        .execute(
            tx,
            "SELECT pg_catalog.set_config('search_path', $1, true)",
            &[&search_path],
        )
        .map_err(|e| PgError::sql("testing a type change", &e))?;
    Ok(outcome)
}

/// Runs an `UPDATE`'s probe ([`safemig_analyze::UpdateProbe`]) just before it, on a
/// table that existed at BEGIN: the rows it matches, the table's update counter
/// then (to check afterwards that the UPDATE updated exactly those), and a
/// violation per column whose non-null values it would turn NULL. `None` when the
/// probe could see other values than the UPDATE will write, and the engine counts
/// the whole table instead: a trigger or rule on the table (it can change what is
/// stored), inheritance children or partitions, generated columns, a search_path
/// that does not put `pg_catalog` first (a function of the migration's own could
/// stand in for a built-in), or a probe that fails (row security, say).
pub fn update_probe(
    tx: &mut postgres::Transaction<'_>,
    queries: &Queries,
    probe: &safemig_analyze::UpdateProbe,
    before: &Snapshot,
) -> Result<Option<(u32, i64, i64, Vec<Violation>)>, PgError> {
    let Some(oid) = resolve(tx, queries, std::slice::from_ref(&probe.table))?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let Some(table) = before.tables.get(&oid) else {
        return Ok(None);
    };
    let eligible: bool = queries
        .query_one(
            tx,
            "SELECT ((pg_catalog.current_schemas(true))[1] OPERATOR(pg_catalog.=) 'pg_catalog' \
                     OR ((pg_catalog.current_schemas(true))[1] OPERATOR(pg_catalog.~~) 'pg_temp%' \
                         AND (pg_catalog.current_schemas(true))[2] OPERATOR(pg_catalog.=) 'pg_catalog')) \
               AND NOT c.relhassubclass AND c.relkind OPERATOR(pg_catalog.=) 'r' \
               AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger t WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid \
                               AND NOT t.tgisinternal AND t.tgenabled OPERATOR(pg_catalog.<>) 'D') \
               AND NOT EXISTS (SELECT FROM pg_catalog.pg_rewrite r WHERE r.ev_class OPERATOR(pg_catalog.=) c.oid \
                               AND r.rulename OPERATOR(pg_catalog.<>) '_RETURN') \
               AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid \
                               AND a.attgenerated OPERATOR(pg_catalog.<>) '' AND NOT a.attisdropped) \
             FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
            &[&oid],
        )
        .map_err(|e| PgError::sql("testing an UPDATE", &e))?
        .get(0);
    if !eligible {
        return Ok(None);
    }
    let updated_before = updated_counter(tx, queries, oid)?;
    open_probe(tx).map_err(|e| PgError::sql("testing an UPDATE", &e))?;
    // Row security off, as for every read of the guard: a policy cannot show the
    // probe other rows than the UPDATE (a query it would filter fails instead).
    let row = tx
        .batch_execute("SET LOCAL row_security = off")
        .and_then(|()| tx.query_one(probe.sql.as_str(), &[]));
    let outcome = match row {
        Ok(row) => {
            let matched: i64 = row.get(0);
            let violations = probe
                .columns
                .iter()
                .enumerate()
                .filter_map(|(i, column)| {
                    let lost: i64 = row.get(i + 1);
                    (lost > 0).then(|| {
                        Violation::new(
                            &table.display_name(),
                            LossKind::Values,
                            format!(
                                "column \"{column}\": {} turned NULL by the UPDATE ({matched} rows matched)",
                                plural(lost, "value", "values")
                            ),
                        )
                    })
                })
                .collect();
            Some((oid, matched, updated_before, violations))
        }
        Err(_) => None,
    };
    close_probe(tx).map_err(|e| PgError::sql("testing an UPDATE", &e))?;
    Ok(outcome)
}

/// A probe runs in a savepoint that is always rolled back and released
/// ([`close_probe`]), so the migration goes on in its own transaction, not in
/// a subtransaction: the driver's nested transaction leaves the savepoint open
/// after `ROLLBACK TO`, and every later statement would run inside it, its
/// rows stamped with the subtransaction's id instead of the migration's
/// (`rollback` tells the rows a migration wrote by that id).
fn open_probe(tx: &mut postgres::Transaction<'_>) -> Result<(), postgres::Error> {
    tx.batch_execute("SAVEPOINT safemig_probe")
}

fn close_probe(tx: &mut postgres::Transaction<'_>) -> Result<(), postgres::Error> {
    tx.batch_execute("ROLLBACK TO SAVEPOINT safemig_probe; RELEASE SAVEPOINT safemig_probe")
}

/// This transaction's count of rows updated in `oid` so far.
pub fn updated_counter(
    client: &mut impl GenericClient,
    queries: &Queries,
    oid: u32,
) -> Result<i64, PgError> {
    queries
        .query_one(
            client,
            "SELECT pg_catalog.pg_stat_get_xact_tuples_updated($1)::pg_catalog.int8",
            &[&oid],
        )
        .map(|r| r.get(0))
        .map_err(|e| PgError::sql("reading the update counter", &e))
}

/// The type of each column now, for [`Probed`].
pub fn column_types(
    client: &mut impl GenericClient,
    queries: &Queries,
    columns: &[(u32, i32)],
) -> Result<Vec<((u32, i32), (u32, i32))>, PgError> {
    let mut out = Vec::new();
    for (oid, attnum) in columns {
        let row = queries
            .query_opt(
                client,
                "SELECT atttypid, atttypmod FROM pg_catalog.pg_attribute \
                 WHERE attrelid OPERATOR(pg_catalog.=) $1 AND attnum OPERATOR(pg_catalog.=) $2::int2",
                &[oid, &(*attnum as i16)],
            )
            .map_err(|e| PgError::sql("reading a column's type", &e))?;
        if let Some(row) = row {
            out.push(((*oid, *attnum), (row.get(0), row.get(1))));
        }
    }
    Ok(out)
}

/// What a table or column holds on the target, for `migrate` and `plan` to decide
/// whether a statically risky statement can lose anything there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stake {
    /// The table does not exist (yet): an earlier migration of the run creates it.
    Absent,
    /// It exists and holds no row (or the column no value).
    Empty,
    HoldsData,
}

pub fn stake(
    client: &mut impl GenericClient,
    target: &safemig_analyze::DataTarget,
) -> Result<Stake, PgError> {
    let Some(oid) = resolve(client, &Queries::new(), std::slice::from_ref(&target.table))?
        .into_iter()
        .next()
    else {
        return Ok(Stake::Absent);
    };
    let relation: String = client
        .query_one(
            "SELECT CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'p' THEN '' ELSE 'ONLY ' END \
                    OPERATOR(pg_catalog.||) pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' \
                    OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace \
             WHERE c.oid OPERATOR(pg_catalog.=) $1",
            &[&oid],
        )
        .map_err(|e| PgError::sql("reading a table's name", &e))?
        .get(0);
    let condition = match &target.column {
        // num_nonnulls, not IS NOT NULL: ROW(1, NULL) IS NOT NULL is false, yet it is a value.
        Some(column) => format!(
            " WHERE pg_catalog.num_nonnulls({}) > 0",
            quote_ident(column)
        ),
        None => String::new(),
    };
    let holds: bool = client
        .query_one(
            &format!("SELECT EXISTS (SELECT FROM {relation}{condition})"),
            &[],
        )
        .map_err(|e| PgError::sql("reading whether a table holds rows", &e))?
        .get(0);
    Ok(if holds {
        Stake::HoldsData
    } else {
        Stake::Empty
    })
}

/// The history tables' write counters and storage: a migration may not write them.
pub type HistoryState = BTreeMap<u32, (String, Option<i64>, i64)>;

const HISTORY_STATE_SQL: &str = history_state_sql!();

pub fn history_state(
    client: &mut impl GenericClient,
    protection: &Protection,
) -> Result<HistoryState, PgError> {
    let rows = protection.query(
        client,
        HISTORY_STATE_SQL,
        &[],
        "reading the history tables' counters",
    )?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3))))
        .collect())
}

/// History tables a migration wrote, dropped or replaced.
pub fn history_writes(before: &HistoryState, after: &HistoryState) -> Vec<Violation> {
    let mut out = Vec::new();
    for (oid, (name, filenode, writes)) in before {
        let what = match after.get(oid) {
            None => "dropped or moved",
            Some((new_name, _, _)) if new_name != name => "renamed or moved",
            Some((_, f, _)) if f != filenode => "truncated or rewritten",
            Some((_, _, w)) if w != writes => "written (rows inserted, updated or deleted)",
            Some(_) => continue,
        };
        let mut v = Violation::new(
            name,
            LossKind::History,
            format!(
                "{what} by the migration itself: the migration history must be exactly what safemig \
                 records; use `supabase migration repair` or `safemig` commands, never a migration"
            ),
        );
        v.allowable = false;
        out.push(v);
    }
    out
}

/// What a live database already has, for `check --db`: relations, functions,
/// types, schemas, extensions, indexes, triggers and policies, and the
/// functions its triggers execute. PostgreSQL's own schemas are left out:
/// no migration creates objects there.
/// What the tables and columns a file would drop hold, for `safemig fix`: rows of
/// each table that exists, non-null values of each column that exists (exact
/// counts, in one read-only transaction). What does not exist is absent.
pub fn fix_facts(
    client: &mut postgres::Client,
    needs: &safemig_analyze::fix::Needs,
) -> Result<safemig_analyze::fix::Facts, PgError> {
    let mut facts = safemig_analyze::fix::Facts {
        known: true,
        ..Default::default()
    };
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .map_err(|e| PgError::sql("starting a read-only transaction", &e))?;
    tx.batch_execute("SET LOCAL statement_timeout = '300s'")
        .map_err(|e| PgError::sql("setting a statement timeout", &e))?;
    let split = |key: &str| -> (String, String) {
        let (schema, name) = key.split_once('.').unwrap_or(("public", key));
        (schema.to_string(), name.to_string())
    };
    let mut tables: Vec<String> = needs.tables.clone();
    tables.extend(needs.columns.iter().map(|(t, _)| t.clone()));
    tables.sort();
    tables.dedup();
    for table in &tables {
        let (schema, name) = split(table);
        let exists: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p'))",
                &[&schema, &name],
            )
            .map_err(|e| PgError::sql("reading the catalog", &e))?
            .get(0);
        if !exists {
            continue;
        }
        let qualified = crate::quote_qualified(&schema, &name);
        let rows = crate::backup::count_rows(&mut tx, &schema, &name)?;
        facts.rows.insert(table.clone(), rows);
        for (_, column) in needs.columns.iter().filter(|(t, _)| t == table) {
            let has: bool = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) \
                     AND attname = $2 AND attnum > 0 AND NOT attisdropped)",
                    &[&qualified, column],
                )
                .map_err(|e| PgError::sql("reading the catalog", &e))?
                .get(0);
            if has {
                let values: i64 = tx
                    .query_one(
                        &format!(
                            "SELECT count({}) FROM {qualified}",
                            crate::quote_ident(column)
                        ),
                        &[],
                    )
                    .map_err(|e| {
                        PgError::sql(&format!("counting the values of {table}.{column}"), &e)
                    })?
                    .get(0);
                facts.values.insert(format!("{table}.{column}"), values);
            }
        }
    }
    // The types of the columns a file changes the type of, as format_type() writes them.
    for (table, column) in &needs.typed_columns {
        let (schema, name) = split(table);
        let found = tx
            .query_opt(
                // A column with another collation than its type's: a type change
                // without COLLATE would reset it, so it is not "the same".
                "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                 JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_type t ON t.oid = a.atttypid \
                 WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped \
                 AND a.attcollation = t.typcollation",
                &[&schema, &name, column],
            )
            .map_err(|e| PgError::sql("reading a column's type", &e))?;
        if let Some(row) = found {
            facts.types.insert(format!("{table}.{column}"), row.get(0));
        }
    }
    // A name without a schema resolves by the search_path: where it finds a table
    // outside public, what it holds is not what was counted.
    for key in &needs.unqualified {
        let name = key.strip_prefix("public.").unwrap_or(key);
        let elsewhere: bool = tx
            .query_one(
                "SELECT coalesce((SELECT n.nspname <> 'public' FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(quote_ident($1))), false)",
                &[&name],
            )
            .map_err(|e| PgError::sql("resolving a table name", &e))?
            .get(0);
        if elsewhere {
            facts.unknown.insert(key.clone());
        }
    }
    tx.rollback()
        .map_err(|e| PgError::sql("ending the read-only transaction", &e))?;
    Ok(facts)
}

/// What depends on each of `targets` in the database, as PostgreSQL describes it
/// (`policy p on table t`, `view v`, `default value for column c of table t`):
/// what a `DROP ... CASCADE` of it would take along (normal dependencies; a
/// view's own rule is the view).
pub fn cascade_dependents(
    client: &mut impl GenericClient,
    targets: &[safemig_analyze::objects::ObjectId],
) -> Result<BTreeMap<safemig_analyze::objects::ObjectId, Vec<String>>, PgError> {
    use safemig_analyze::objects::ObjectKind;
    let mut out = BTreeMap::new();
    for target in targets {
        let schema = if target.schema.is_empty() {
            "public"
        } else {
            target.schema.as_str()
        };
        let (catalog, oids) = match target.kind {
            ObjectKind::Relation => (
                "pg_class",
                "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2",
            ),
            ObjectKind::Function => (
                "pg_proc",
                "SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = $1 AND p.proname = $2",
            ),
            ObjectKind::Type => (
                "pg_type",
                "SELECT t.oid FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE n.nspname = $1 AND t.typname = $2",
            ),
            _ => continue,
        };
        let sql = format!(
            "WITH target AS ({oids}) \
             SELECT DISTINCT CASE WHEN d.classid = 'pg_rewrite'::regclass \
                    THEN pg_describe_object('pg_class'::regclass, r.ev_class, 0) \
                    ELSE pg_describe_object(d.classid, d.objid, d.objsubid) END \
             FROM pg_depend d JOIN target ON d.refobjid = target.oid \
             LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid \
             WHERE d.refclassid = '{catalog}'::regclass AND d.deptype = 'n' \
               AND NOT (d.classid = 'pg_rewrite'::regclass AND r.ev_class = d.refobjid) \
             ORDER BY 1"
        );
        let found: Vec<String> = client
            .query(&sql, &[&schema, &target.name.as_str()])
            .map_err(|e| PgError::sql("reading what depends on a dropped object", &e))?
            .iter()
            .filter_map(|r| r.get::<_, Option<String>>(0))
            .collect();
        if !found.is_empty() {
            out.insert(target.clone(), found);
        }
    }
    Ok(out)
}

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
    // Trigger functions with no trigger (the seed's handle_new_user); extensions' own
    // and the platform's (Supabase's webhook function waits for the user's triggers)
    // are left out.
    let managed: Vec<&str> = crate::backup::SUPABASE_MANAGED.to_vec();
    let unattached = client
        .query(
            "SELECT n.nspname::text, p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE p.prorettype = 'trigger'::regtype AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname <> ALL($1::text[]) \
               AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgfoid = p.oid) \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') \
             ORDER BY 1, 2",
            &[&managed],
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

/// The config's table names that name no table in the database, as warnings:
/// a mistyped `[backup] critical` entry is silently in no backup's CSV copies, a
/// mistyped `[guard.min_rows]` floor guards nothing. (A table a pending migration
/// creates is not there yet either: these warn, they do not refuse.)
pub fn missing_config_tables(
    client: &mut impl GenericClient,
    config: &safemig_project::Config,
) -> Result<Vec<String>, PgError> {
    let mut out = Vec::new();
    for (setting, name) in config.named_tables() {
        let Some((schema, table)) = split_table_name(name) else {
            continue;
        };
        let exists: bool = client
            .query_one(
                "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
                &[&quote_qualified(&schema, &table)],
            )
            .map_err(|e| PgError::sql("looking up the tables safemig.toml names", &e))?
            .get(0);
        if !exists {
            out.push(format!(
                "{setting} names {name}, which is no table in this database (mistyped, or made by a migration not applied yet)"
            ));
        }
    }
    Ok(out)
}
