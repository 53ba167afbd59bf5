//! The `spate` command line. Thin by design: it parses flags, builds a library `Session`,
//! and prints what the library returns. See `docs/cli.md`.

// Tests may be long; functions outside them may not (clippy.toml: 100 lines).
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod cli;
mod commands;
mod exit;
mod logging;
mod progress;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::Failure;

fn main() -> ExitCode {
    exit::install_panic_hook();
    let cli = match Cli::try_parse_from(arguments()) {
        Ok(cli) => cli,
        Err(err) => {
            // --help and --version are not errors; clap knows which is which.
            let _ = err.print();
            return ExitCode::from(u8::from(err.use_stderr()) * exit::USAGE);
        }
    };
    let outcome = std::panic::catch_unwind(|| run(cli)).unwrap_or_else(|_| {
        Err(Failure::statement(
            "internal error (see the message above); please report it",
        ))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// The command line; `spate` alone, on a terminal, is `spate shell` (elsewhere it stays
/// a usage error, so scripts are unaffected).
fn arguments() -> Vec<std::ffi::OsString> {
    let mut arguments: Vec<_> = std::env::args_os().collect();
    if arguments.len() == 1 && std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        arguments.push("shell".into());
    }
    arguments
}

fn run(cli: Cli) -> Result<(), Failure> {
    logging::install(matches!(cli.command, Command::Cluster { .. }));
    match cli.command {
        Command::Run { files, options } => commands::query::run_files(&files, &options),
        Command::Sql { query, options } => commands::query::run_inline(&query, &options),
        Command::Explain { query, options } => commands::query::explain(&query, &options),
        Command::Shell { options } => commands::shell::run(&options),
        Command::Demo { command } => commands::demo::run(command),
        Command::Cluster { command } => commands::cluster::run(command),
    }
}
