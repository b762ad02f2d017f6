//! `netposture`: parses the command line and runs the subcommand.

use std::process::ExitCode;

use clap::Parser;
use netposture::cli::{self, Cli, Command, EXIT_ERROR};
use netposture::operator;

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Scan(args) => cli::scan::run(args),
        Command::CanReach(args) => cli::can_reach::run(&args),
        Command::Explain(args) => cli::explain::run(&args),
        Command::Suggest(args) => cli::suggest::run(&args),
        Command::Connectivity(args) => cli::connectivity::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Diff(args) => cli::diff::run(&args),
        Command::Report(args) => cli::report::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Operator(args) => operator::run(args).map(|()| ExitCode::SUCCESS),
        Command::Crd => cli::crd::yaml().map(|yaml| {
            print!("{yaml}");
            ExitCode::SUCCESS
        }),
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(EXIT_ERROR)
    })
}
