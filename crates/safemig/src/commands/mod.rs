//! One module per command. Commands are thin: they gather input, call the
//! libraries, and render.

pub mod backup;
pub mod check;
pub mod demo;
pub mod doctor;
pub mod fix;
pub mod init;
pub mod log;
pub mod lsp;
pub mod migrate;
pub mod plan;
pub mod rollback;
pub mod rules;
pub mod status;
pub mod verify;

use crate::cli::{Cli, Command, Format};
use crate::context::{CliError, Context};

pub fn run(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Demo(args) => demo::run(&cli.global, &args),
        // Nothing of the project is read for these.
        Command::Completions(args) => {
            use clap::CommandFactory;
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "safemig",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Man => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .map_err(|e| CliError::input(format!("cannot write the manual page: {e}")))?;
            Ok(0)
        }
        command => {
            if matches!(cli.global.format, Format::Sarif | Format::Github)
                && !matches!(command, Command::Check(_))
            {
                return Err(CliError::input(
                    "--format sarif and --format github are for `safemig check`; use human or json",
                ));
            }
            let ctx = Context::load(cli.global)?;
            match command {
                Command::Check(args) => check::run(&ctx, &args),
                Command::Fix(args) => fix::run(&ctx, &args),
                Command::Backup(args) => backup::run(&ctx, &args),
                Command::Restore(args) => backup::restore(&ctx, &args),
                Command::Rollback(args) => rollback::run(&ctx, &args),
                Command::Rules => rules::list(&ctx),
                Command::Explain(args) => rules::explain(&ctx, &args),
                Command::Status => status::run(&ctx),
                Command::Plan(args) => plan::run(&ctx, &args),
                Command::Migrate(args) => migrate::run(&ctx, &args),
                Command::Verify(args) => verify::run(&ctx, &args),
                Command::Log(args) => log::run(&ctx, &args),
                Command::Doctor(args) => doctor::run(&ctx, &args),
                Command::Init(args) => init::run(&ctx, &args),
                Command::Lsp => lsp::run(&ctx),
                Command::Demo(_) | Command::Completions(_) | Command::Man => unreachable!(),
            }
        }
    }
}
