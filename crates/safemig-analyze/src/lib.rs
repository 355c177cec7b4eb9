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

pub mod effects;
pub mod fix;
pub mod lint;
pub mod objects;
pub mod order;
pub mod parse;
pub mod plpgsql;
pub mod project;
pub mod rules;
pub mod undo;

pub use effects::{DataTarget, TypeChange, UpdateProbe, DATA_RULES, IRREVERSIBLE_RULES};
pub use lint::{lint_file, Class, FileLint, Finding, LintOptions};
pub use parse::{
    line_col, parse_file, split, ParsedFile, QualifiedName, Statement, SyntaxError, TxBehaviour,
};
pub use rules::Severity;

/// Whether `sql` calls a function with one of these names (schema-qualified or
/// not), as PostgreSQL's parser reads it: a name in a comment or a string is no
/// call. For spotting pgTAP tests (`plan(...)`, `no_plan()`).
pub fn calls_function(sql: &str, names: &[&str]) -> bool {
    let Ok(parsed) = pg_query::parse(sql, pg_query::ParserOptions::default()) else {
        return false;
    };
    parsed.call_functions().iter().any(|f| {
        let base = f.rsplit('.').next().unwrap_or(f);
        names.iter().any(|n| n.eq_ignore_ascii_case(base))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn calls_function_ignores_comments_strings_and_longer_names() {
        assert!(super::calls_function(
            "BEGIN; SELECT plan(2); SELECT ok(true);",
            &["plan"]
        ));
        assert!(super::calls_function(
            "select * from extensions.no_plan();",
            &["no_plan"]
        ));
        assert!(!super::calls_function(
            "-- a query plan(s)\nSELECT 'plan(1)', my_plan(1);",
            &["plan"]
        ));
    }
}
