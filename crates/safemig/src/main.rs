//! safemig: safe PostgreSQL and Supabase schema migrations.

mod cli;
mod commands;
mod context;
mod report;

use clap::Parser;

fn main() {
    // A panic must never print a secret either: route its message through redaction.
    std::panic::set_hook(Box::new(|info| {
        let text = safemig_pg::redact::redact(&info.to_string());
        eprintln!("safemig: internal error (a bug, please report it): {text}");
    }));
    // Test-only (debug builds, which the tests use): a panic carrying this text,
    // to prove panic messages are redacted. A release build never looks.
    #[cfg(debug_assertions)]
    if let Some(text) = std::env::var_os("SAFEMIG_TEST_PANIC") {
        panic!("{}", text.to_string_lossy());
    }
    let cli = cli::Cli::parse();
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!(
                "{} {}",
                report::human::red("error:"),
                safemig_pg::redact::redact(&err.message)
            );
            err.code
        }
    };
    std::process::exit(code);
}
