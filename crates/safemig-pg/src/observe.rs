//! What a statement did to the database, seen from inside its transaction: the
//! locks it took on existing relations and the relations it rewrote. Only a
//! rehearsal pays for this (two catalog reads per statement); `migrate` does not.

use std::collections::{BTreeMap, BTreeSet};

use postgres::GenericClient;
use serde::Serialize;

use crate::PgError;

/// One statement of a rehearsed migration.
#[derive(Debug, Clone, Serialize)]
pub struct Observation {
    /// 1-based, as the Supabase CLI counts statements.
    pub statement: usize,
    pub line: usize,
    pub duration_ms: f64,
    /// Locks taken on relations that existed before the statement (new ones are
    /// invisible to everyone else), strongest per relation.
    pub locks: Vec<Lock>,
    /// Tables given new storage inside the transaction: a rewrite (`ALTER COLUMN
    /// TYPE`, a volatile default) or a `TRUNCATE`.
    pub rewritten: Vec<String>,
    /// Ran on its own, outside a transaction (`CREATE INDEX CONCURRENTLY`, `VACUUM`):
    /// its locks are gone when it ends and cannot be read afterwards.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub outside_transaction: bool,
    /// What is known of such a statement's locks instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What a statement that runs outside a transaction locks, as far as is known
/// without seeing it: `what` names the construct (`CREATE INDEX CONCURRENTLY`).
pub fn outside_transaction_note(what: &str) -> String {
    if what.to_ascii_uppercase().contains("CONCURRENTLY") {
        format!("ran outside a transaction ({what}): it takes SHARE UPDATE EXCLUSIVE, reads and writes go on")
    } else {
        format!("ran outside a transaction ({what}): its locks could not be observed (VACUUM FULL and CLUSTER hold ACCESS EXCLUSIVE throughout)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Lock {
    pub relation: String,
    pub mode: String,
}

impl Lock {
    /// ACCESS EXCLUSIVE blocks reads too; EXCLUSIVE and SHARE ROW EXCLUSIVE and SHARE
    /// block writes: what an application notices.
    pub fn blocks_reads(&self) -> bool {
        self.mode == "AccessExclusiveLock"
    }

    pub fn blocks_writes(&self) -> bool {
        matches!(
            self.mode.as_str(),
            "AccessExclusiveLock" | "ExclusiveLock" | "ShareRowExclusiveLock" | "ShareLock"
        )
    }

    /// `ACCESS EXCLUSIVE` rather than `AccessExclusiveLock`: as the docs name them.
    pub fn mode_name(&self) -> String {
        let base = self.mode.trim_end_matches("Lock");
        let mut out = String::new();
        for (i, c) in base.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                out.push(' ');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }
}

/// Strength order of PostgreSQL's table lock modes (weakest first).
const MODES: [&str; 8] = [
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
];

fn strength(mode: &str) -> usize {
    MODES.iter().position(|m| *m == mode).unwrap_or(0)
}

/// The tables outside the system schemas (an index rebuilt with its table is
/// the table's rewrite, not news), with their storage, and the locks this
/// session holds on them.
#[derive(Debug, Clone, Default)]
pub struct State {
    filenodes: BTreeMap<u32, (String, u32)>,
    locks: BTreeSet<(u32, String)>,
}

const USER_RELATIONS: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'";

pub fn read(client: &mut impl GenericClient) -> Result<State, PgError> {
    let mut state = State::default();
    let rows = client
        .query(
            &format!(
                "SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relfilenode::oid \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'm', 'p') AND {USER_RELATIONS}"
            ),
            &[],
        )
        .map_err(|e| PgError::sql("reading relations for the rehearsal", &e))?;
    for row in rows {
        state.filenodes.insert(row.get(0), (row.get(1), row.get(2)));
    }
    let rows = client
        .query(
            "SELECT l.relation, l.mode FROM pg_locks l \
             WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted",
            &[],
        )
        .map_err(|e| PgError::sql("reading locks for the rehearsal", &e))?;
    for row in rows {
        let relation: u32 = row.get(0);
        if state.filenodes.contains_key(&relation) {
            state.locks.insert((relation, row.get(1)));
        }
    }
    Ok(state)
}

/// What changed between `before` and `after` one statement, on the tables that
/// existed when the migration's transaction began (`existing`): a table the
/// migration itself created is locked too, but nobody else can see it.
pub fn compare(existing: &State, before: &State, after: &State) -> (Vec<Lock>, Vec<String>) {
    let mut strongest: BTreeMap<u32, &str> = BTreeMap::new();
    for (relation, mode) in after.locks.difference(&before.locks) {
        if !existing.filenodes.contains_key(relation) || !before.filenodes.contains_key(relation) {
            continue;
        }
        let entry = strongest.entry(*relation).or_insert(mode);
        if strength(mode) > strength(entry) {
            *entry = mode;
        }
    }
    let mut locks: Vec<Lock> = strongest
        .into_iter()
        .map(|(oid, mode)| Lock {
            relation: before.filenodes[&oid].0.clone(),
            mode: mode.to_string(),
        })
        .collect();
    locks.sort();
    let rewritten = before
        .filenodes
        .iter()
        .filter(|(oid, _)| existing.filenodes.contains_key(oid))
        .filter_map(|(oid, (name, node))| match after.filenodes.get(oid) {
            Some((_, new)) if new != node && *node != 0 => Some(name.clone()),
            _ => None,
        })
        .collect();
    (locks, rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_modes_read_as_the_docs_name_them() {
        let lock = Lock {
            relation: "public.t".into(),
            mode: "AccessExclusiveLock".into(),
        };
        assert_eq!(lock.mode_name(), "ACCESS EXCLUSIVE");
        assert!(lock.blocks_reads() && lock.blocks_writes());
        let lock = Lock {
            relation: "public.t".into(),
            mode: "ShareUpdateExclusiveLock".into(),
        };
        assert_eq!(lock.mode_name(), "SHARE UPDATE EXCLUSIVE");
        assert!(!lock.blocks_reads() && !lock.blocks_writes());
    }

    #[test]
    fn compare_keeps_the_strongest_new_lock_on_existing_relations_and_finds_rewrites() {
        let mut before = State::default();
        before.filenodes.insert(1, ("public.a".into(), 100));
        before.filenodes.insert(2, ("public.b".into(), 200));
        before.locks.insert((1, "AccessShareLock".into()));
        let mut after = before.clone();
        after.filenodes.insert(1, ("public.a".into(), 101));
        after.filenodes.insert(3, ("public.new".into(), 300));
        after.locks.insert((1, "AccessExclusiveLock".into()));
        after.locks.insert((1, "RowExclusiveLock".into()));
        after.locks.insert((3, "AccessExclusiveLock".into()));
        let (locks, rewritten) = compare(&before, &before, &after);
        // A table made earlier in the same migration is nobody else's concern.
        let mut existing = before.clone();
        existing.filenodes.remove(&1);
        let (locks_new_only, rewritten_new_only) = compare(&existing, &before, &after);
        assert!(locks_new_only.is_empty() && rewritten_new_only.is_empty());
        assert_eq!(
            locks,
            vec![Lock {
                relation: "public.a".into(),
                mode: "AccessExclusiveLock".into()
            }]
        );
        assert_eq!(rewritten, vec!["public.a".to_string()]);
    }
}
