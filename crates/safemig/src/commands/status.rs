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
    if ctx.json() {
        report::print_json(&serde_json::json!({
            "database": target.display(),
            "migrations": statuses,
            "ignored": set.ignored,
        }));
        return Ok(0);
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
        println!("  {}  {}: {}", human::dim("ignored     "), ignored.path.display(), human::dim(&ignored.reason));
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
    Ok(0)
}
