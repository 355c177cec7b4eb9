use crate::cli::VerifyArgs;
use crate::context::{CliError, Context};

pub fn run(_ctx: &Context, _args: &VerifyArgs) -> Result<i32, CliError> {
    Err(CliError::input("not yet"))
}
