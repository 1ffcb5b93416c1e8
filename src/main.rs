//! `pipec`: the command line. Maps every outcome to an exit status in one
//! place: 0 success, 1 the input is wrong (a diagnostic was printed), 2 a
//! usage or environment problem.

mod allocator;
mod check;
mod compact;
mod ddl;
mod diff;
mod fmt;
mod graph;
mod loaded;
mod lsp;
mod profile;
mod query;
mod report;
mod run;
mod test;

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
    /// Print the table DDL (Hive, Spark or Trino) of a pipeline.
    Ddl(ddl::DdlArgs),
    /// Classify what changing a running pipeline from OLD to NEW does.
    Diff(diff::DiffArgs),
    /// Run a pipeline: its HTTP API, Kafka producer and sinks.
    Run(run::RunArgs),
    /// Answer SQL over a pipeline's tables.
    Query(query::QueryArgs),
    /// Compact and vacuum a pipeline's Delta tables now (beside running sinks).
    Compact(compact::CompactArgs),
    /// Draw a pipeline: endpoints, topics, sinks and tables.
    Graph(graph::GraphArgs),
    /// Run the `test` blocks of pipeline files: requests in, rows out.
    Test(test::TestArgs),
    /// Rewrite pipeline files in pipec's one layout (`--check`: only say which differ).
    Fmt(fmt::FmtArgs),
    /// A language server on stdin/stdout, for editors.
    Lsp,
}

/// How a command ended, mapped to the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The user's input is wrong; diagnostics were printed.
    InputErrors,
    /// Usage or environment: a file could not be read, a port was taken.
    Environment,
}

/// Structured logs on stderr, filtered by `RUST_LOG` (default: info).
/// delta-rs is quiet unless `RUST_LOG` names it: its kernel logs every
/// snapshot it builds at INFO and an ERROR for a table that does not exist
/// yet (which pipec then creates), and it warns of every commit that
/// raced another (which pipec retries). Its failures reach pipec as
/// errors, and are reported there. So is volo, the metastore client's
/// runtime: it logs an ERROR for every connection a stopped metastore
/// refuses, where the registrar says once a minute that it waits.
fn init_logging() {
    let wanted = std::env::var("RUST_LOG").unwrap_or_default();
    let mut filter = tracing_subscriber::EnvFilter::try_new(&wanted)
        .ok()
        .filter(|_| !wanted.trim().is_empty())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    for (crate_name, quiet) in [
        ("kernel", "buoyant_kernel=off"),
        ("deltalake", "deltalake_core=error"),
        ("volo", "volo=off"),
        ("volo", "volo_thrift=off"),
    ] {
        if !wanted.contains(crate_name) {
            filter = filter.add_directive(quiet.parse().expect("a valid directive"));
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    allocator::without_transparent_huge_pages();
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
    init_logging();
    let outcome = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Ddl(args) => ddl::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Run(args) => run::run(args),
        Command::Query(args) => query::run(args),
        Command::Compact(args) => compact::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Test(args) => test::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Lsp => lsp::run(),
    };
    match outcome {
        Outcome::Success => ExitCode::SUCCESS,
        Outcome::InputErrors => ExitCode::from(1),
        Outcome::Environment => ExitCode::from(2),
    }
}
