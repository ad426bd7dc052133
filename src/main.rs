//! The `tailledger` binary: parses the command line and hands it to the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tailledger::cli::run(tailledger::cli::Cli::parse())
}
