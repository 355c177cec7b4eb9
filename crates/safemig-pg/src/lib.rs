//! safemig-pg: every conversation safemig has with PostgreSQL lives here —
//! connections, throwaway clusters, the migration history, catalog snapshots for
//! the guards, and the guarded apply engine.

pub mod apply;
pub mod backup;
pub mod catalog;
pub mod connect;
pub mod csv_digest;
pub mod doctor;
pub mod drift;
pub mod dump_csv;
pub mod ephemeral;
pub mod faults;
pub mod history;
pub mod install;
pub mod lock;
pub mod observe;
pub mod queries;
pub mod redact;
pub mod rehearse;
pub mod rollback;
pub mod status;
pub mod supabase;
pub mod tools;
pub mod undo;
pub mod verify;

pub use connect::{SslMode, Target};
pub use ephemeral::{Ephemeral, EphemeralOptions, ServerTls};
pub use postgres;

/// Errors talking to PostgreSQL or its tools. Messages are redacted and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("invalid connection settings: {0}")]
    BadTarget(String),
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("throwaway PostgreSQL: {0}")]
    Ephemeral(String),
    #[error("{0}")]
    Tool(String),
    /// Configuration the database cannot make sense of (a malformed `[verify]` name).
    #[error("{0}")]
    Config(String),
    #[error("{context}: {message}")]
    Sql {
        context: String,
        message: String,
        sqlstate: Option<String>,
    },
}

impl PgError {
    /// Wraps a driver error with what safemig was doing.
    pub fn sql(context: &str, e: &postgres::Error) -> PgError {
        PgError::Sql {
            context: context.to_string(),
            message: redact::redact(&describe_db_error(e)),
            sqlstate: e.code().map(|c| c.code().to_string()),
        }
    }
}

/// PostgreSQL's message with its detail and hint, or the driver's text.
pub fn describe_db_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("\n  detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("\n  hint: {hint}"));
            }
            text
        }
        None => {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let s = c.to_string();
                if !text.contains(&s) {
                    text.push_str(": ");
                    text.push_str(&s);
                }
                cause = c.source();
            }
            text
        }
    }
}

/// `name` as a PostgreSQL identifier, always quoted: no name can inject SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.table`, both parts quoted.
/// `name` as an identifier, quoted only when it has to be (lower-case letters,
/// digits and underscores, not starting with a digit, stay bare): as pg_dump's
/// `fmtId` writes names in its archive's tags.
pub fn quote_if_needed(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        quote_ident(name)
    }
}

pub fn quote_qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// `text` as a PostgreSQL string literal.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
