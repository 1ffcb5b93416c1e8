//! `pipec`: the command line. Maps every outcome to an exit status in one
//! place: 0 success, 1 the input is wrong (a diagnostic was printed), 2 a
//! usage or environment problem.

mod check;
mod environment;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pipec",
    version,
    about = "Compile and run declarative event pipelines"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check pipeline files and report every problem found.
    Check(check::CheckArgs),
}

/// How a command ended, mapped to the exit status.
pub enum Outcome {
    Success,
    /// The user's input is wrong; diagnostics were printed.
    InputErrors,
    /// Usage or environment: a file could not be read, a port was taken.
    Environment,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let outcome = match cli.command {
        Command::Check(args) => check::run(args),
    };
    match outcome {
        Outcome::Success => ExitCode::SUCCESS,
        Outcome::InputErrors => ExitCode::from(1),
        Outcome::Environment => ExitCode::from(2),
    }
}
