//! The local half of the audit trail: `.safemig/audit.jsonl`, one JSON object a line.
//!
//! The database half lives in `safemig.audit` (see `safemig-pg`); the local file
//! also records what never reached a database (a refused run, a connection failure).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ProjectError;

/// One audited operation. `database` is always a redacted connection target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    pub at: chrono::DateTime<chrono::Utc>,
    /// Operating-system user running safemig.
    pub actor: String,
    /// Database user safemig connected as, when it connected.
    pub db_user: Option<String>,
    pub database: Option<String>,
    pub command: String,
    /// `ok`, `failed`, `refused`, `rolled-back`, `dry-run`, ...
    pub result: String,
    pub details: serde_json::Value,
    pub tool_version: String,
}

impl AuditRecord {
    pub fn new(command: &str, result: &str, details: serde_json::Value) -> AuditRecord {
        AuditRecord {
            at: chrono::Utc::now(),
            actor: os_user(),
            db_user: None,
            database: None,
            command: command.to_string(),
            result: result.to_string(),
            details,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The OS user name, for "who did this".
pub fn os_user() -> String {
    if let Some(name) = std::env::var("USER")
        .ok()
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|n| !n.is_empty())
    {
        return name;
    }
    // SAFETY: getpwuid returns static storage or NULL; the name is copied at once.
    unsafe {
        let uid = libc::geteuid();
        let pw = libc::getpwuid(uid);
        if pw.is_null() || (*pw).pw_name.is_null() {
            return format!("uid {uid}");
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

/// Default location of the local audit file.
pub fn default_audit_path() -> PathBuf {
    PathBuf::from(".safemig").join("audit.jsonl")
}

/// Appends one record; creates the folder `0700` and the file `0600`.
pub fn append(path: &Path, record: &AuditRecord) -> Result<(), ProjectError> {
    let io = |source| ProjectError::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(io)?;
        ignore_state_dir(parent);
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    let mut line = serde_json::to_string(record).expect("audit record serializes");
    line.push('\n');
    // One write call per record, so that concurrent appenders do not interleave lines.
    file.write_all(line.as_bytes()).map_err(io)?;
    Ok(())
}

/// safemig's own folder (`.safemig`: audit trail, backups of production data)
/// must never be committed: it gets a `.gitignore` of `*`, as ruff's and pytest's
/// caches do. Only for a folder named `.safemig`, and only when it has none.
pub fn ignore_state_dir(dir: &Path) {
    if dir.file_name().is_some_and(|n| n == ".safemig") {
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            // 0600 like everything else in the folder.
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&ignore)
            {
                let _ = file.write_all(
                    b"# Written by safemig: backups and the audit trail hold production data.\n*\n",
                );
            }
        }
    }
}

/// Reads every record; a damaged line is reported with its number.
pub fn read(path: &Path) -> Result<Vec<AuditRecord>, ProjectError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ProjectError::ReadFile {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| ProjectError::Config {
                path: path.to_path_buf(),
                message: format!("line {}: not an audit record: {e}", i + 1),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn appends_and_reads_back_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".safemig/audit.jsonl");
        append(
            &path,
            &AuditRecord::new("migrate", "ok", serde_json::json!({"applied": 2})),
        )
        .unwrap();
        append(
            &path,
            &AuditRecord::new("migrate", "refused", serde_json::json!({})),
        )
        .unwrap();
        let records = read(&path).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].result, "refused");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
    }
}
