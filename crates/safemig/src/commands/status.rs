//! `safemig status`: applied / pending / changed / missing-file / out-of-order.

use safemig_pg::status::{self, State};

use crate::context::{CliError, Context};
use crate::report::{self, human};

pub fn run(ctx: &Context) -> Result<i32, CliError> {
    let set = ctx.migrations()?;
    let target = ctx.target()?;
    let mut client = target.connect()?;
    let history = safemig_pg::history::read(&mut client)?;
    let statuses = status::compute(&set, &history);
    // Exit 1 when something needs a person: a changed file, a missing file, or a
    // pending migration that `migrate` would refuse to apply without --include-all.
    let attention = statuses.iter().any(|s| {
        matches!(
            s.state,
            State::Changed | State::MissingFile | State::OutOfOrder
        )
    });
    let code = if attention { 1 } else { 0 };
    if ctx.json() {
        report::print_json(&serde_json::json!({
            "database": target.display(),
            "migrations": statuses,
            "ignored": set.ignored,
        }));
        return Ok(code);
    }
    println!("{} {}", human::bold("database"), target.display());
    println!("{} {}", human::bold("migrations"), set.dir.display());
    if statuses.is_empty() {
        println!("no migrations in {} and none applied", set.dir.display());
    }
    for s in &statuses {
        let state = match s.state {
            State::Applied => human::green("applied     "),
            State::Pending => human::yellow("pending     "),
            State::Changed => human::red("changed     "),
            State::MissingFile => human::red("missing-file"),
            State::OutOfOrder => human::red("out-of-order"),
        };
        println!("  {state}  {}  {}", s.version, s.name);
        if let Some(detail) = &s.detail {
            println!("                {}", human::dim(detail));
        }
    }
    for ignored in &set.ignored {
        println!(
            "  {}  {}: {}",
            human::dim("ignored     "),
            ignored.path.display(),
            human::dim(&ignored.reason)
        );
    }
    let count = |state| statuses.iter().filter(|s| s.state == state).count();
    println!(
        "{} applied, {} pending, {} changed, {} missing-file, {} out-of-order",
        count(State::Applied),
        count(State::Pending),
        count(State::Changed),
        count(State::MissingFile),
        count(State::OutOfOrder)
    );
    Ok(code)
}
