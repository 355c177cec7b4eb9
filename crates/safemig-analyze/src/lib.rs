//! safemig-analyze: what a migration file says, read with PostgreSQL's own parser.
//!
//! Pure: text in, facts out. No file system, no network, no database; the CLI
//! and the `safemig-pg` engine feed it text and act on what it returns.

pub mod parse;

pub use parse::{line_col, split, QualifiedName, Statement, SyntaxError, TxBehaviour};
