//! Where each migration stands: files on disk against the history in the database.
//! Pure: the history is read elsewhere.

use std::collections::BTreeSet;
use std::path::PathBuf;

use safemig_project::MigrationSet;
use serde::Serialize;

use crate::history::History;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// In the history, and the file is unchanged.
    Applied,
    /// Not in the history, newer than everything applied.
    Pending,
    /// In the history, but the file's content differs from what was applied.
    Changed,
    /// In the history, but there is no file for it.
    MissingFile,
    /// Not in the history, but older than the newest applied migration.
    OutOfOrder,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Changed => "changed",
            State::MissingFile => "missing-file",
            State::OutOfOrder => "out-of-order",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MigrationStatus {
    pub version: String,
    pub name: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why a migration is `changed`, or other facts worth a line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Every version known to the files or the history, in version order.
pub fn compute(set: &MigrationSet, history: &History) -> Vec<MigrationStatus> {
    let applied: BTreeSet<&str> = history
        .supabase
        .iter()
        .map(|r| r.version.as_str())
        .collect();
    let newest_applied = applied.iter().next_back().copied();
    let versions: BTreeSet<&str> = set
        .migrations
        .iter()
        .map(|m| m.version.as_str())
        .chain(applied.iter().copied())
        .collect();
    versions
        .into_iter()
        .map(|version| {
            let file = set.get(version);
            let row = history.supabase.iter().find(|r| r.version == version);
            let record = history.safemig.get(version);
            let name = file
                .map(|f| f.name.clone())
                .or_else(|| row.and_then(|r| r.name.clone()))
                .unwrap_or_default();
            let (state, detail) = match (file, row) {
                (Some(file), Some(row)) => match record {
                    Some(record) if record.checksum != file.checksum => (
                        State::Changed,
                        Some(format!(
                            "the file's SHA-256 is {}, but {} was applied",
                            short(&file.checksum),
                            short(&record.checksum)
                        )),
                    ),
                    // The file is what safemig applied; the statements Supabase's table
                    // holds must still be the file's too, else someone edited the history.
                    Some(_) => match (&row.statements, safemig_analyze::split(&file.sql)) {
                        (Some(recorded), Ok(current))
                            if current.len() != recorded.len()
                                || current.iter().zip(recorded).any(|(c, r)| c.text != *r) =>
                        {
                            (
                                State::Changed,
                                Some(
                                    "the statements recorded in supabase_migrations.schema_migrations were edited: \
                                     they differ from the file, which safemig's checksum says is the one applied"
                                        .into(),
                                ),
                            )
                        }
                        _ => (State::Applied, None),
                    },
                    // Applied by the Supabase CLI or another tool: compare the statements it recorded.
                    None => match (&row.statements, safemig_analyze::split(&file.sql)) {
                        (Some(recorded), Ok(current)) => {
                            let current: Vec<&str> = current.iter().map(|s| s.text.as_str()).collect();
                            if current == recorded.iter().map(String::as_str).collect::<Vec<_>>() {
                                (State::Applied, None)
                            } else {
                                (
                                    State::Changed,
                                    Some("the file's statements differ from those recorded in supabase_migrations.schema_migrations".into()),
                                )
                            }
                        }
                        (Some(_), Err(e)) => (State::Changed, Some(format!("the file no longer parses: {e}"))),
                        (None, _) => (State::Applied, Some("applied without recorded statements; content not compared".into())),
                    },
                },
                (Some(_), None) if newest_applied.is_some_and(|newest| version < newest) => (
                    State::OutOfOrder,
                    Some(format!("older than the newest applied migration {}", newest_applied.unwrap_or(""))),
                ),
                (Some(_), None) => (State::Pending, None),
                (None, _) => (State::MissingFile, Some("in the database's history, but no file has this version".into())),
            };
            MigrationStatus {
                version: version.to_string(),
                name,
                state,
                file: file.map(|f| f.path.clone()),
                applied_at: record.map(|r| r.applied_at),
                detail,
            }
        })
        .collect()
}

fn short(checksum: &str) -> &str {
    &checksum[..checksum.len().min(12)]
}
