//! safemig-analyze: what a migration file says, read with PostgreSQL's own parser.
//!
//! Pure: text in, facts out. No file system, no network, no database; the CLI
//! and the `safemig-pg` engine feed it text and act on what it returns.
//!
//! - [`parse`]: statements with byte spans and line:col, psql-only parts set aside;
//! - [`plpgsql`]: the SQL inside `DO` blocks and PL/pgSQL functions;
//! - [`rules`]: one file per rule, each with its docs and tests;
//! - [`lint`]: one file through the rules, with suppressions and classification;
//! - [`objects`] and [`order`]: what each statement creates, drops and uses, and
//!   the cross-migration replay that finds use-before-create.

pub mod lint;
pub mod objects;
pub mod order;
pub mod parse;
pub mod plpgsql;
pub mod rules;

pub use lint::{lint_file, Class, FileLint, Finding, LintOptions};
pub use parse::{
    line_col, parse_file, split, ParsedFile, QualifiedName, Statement, SyntaxError, TxBehaviour,
};
pub use rules::Severity;
