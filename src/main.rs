//! The `spaceid` binary: parses the command line and hands over.

use std::process::ExitCode;

use clap::Parser;
use spaceid::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            // One line for scripts (the usage block is dropped); `--help` has the rest.
            eprintln!("{}", cli::one_line(&err.to_string()));
            return ExitCode::from(2);
        }
    };
    let settings = match cli.settings() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    cli::prepare_process(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli::run(settings, cli.command));
    // Whatever a cut-short call left running is dropped with the runtime, not waited for.
    runtime.shutdown_timeout(RUNTIME_STOP);
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// How long the runtime may take to stop once the command is done.
const RUNTIME_STOP: std::time::Duration = std::time::Duration::from_secs(1);
