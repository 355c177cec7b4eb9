//! One module per command. Commands are thin: they gather input, call the
//! libraries, and render.

pub mod demo;
pub mod log;
pub mod migrate;
pub mod status;

use crate::cli::{Cli, Command};
use crate::context::{CliError, Context};

pub fn run(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Demo(args) => demo::run(&cli.global, &args),
        command => {
            let ctx = Context::load(cli.global)?;
            match command {
                Command::Status => status::run(&ctx),
                Command::Migrate(args) => migrate::run(&ctx, &args),
                Command::Log(args) => log::run(&ctx, &args),
                Command::Demo(_) => unreachable!(),
            }
        }
    }
}
