//! The `spaceid` binary: parses the command line and hands over.

use std::{io::IsTerminal, process::ExitCode};

use clap::Parser;
use spaceid::{
    cli::{Cli, Command, run_admin, run_bench},
    config::{LogFormat, Settings},
    context::Context,
    error::Result,
    server,
};

fn main() -> ExitCode {
    let Cli { settings, command } = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            // One line for scripts (the usage block is dropped); `--help` has the rest.
            let rendered = err.to_string();
            let message = rendered.split("\n\nUsage:").next().unwrap_or_default();
            eprintln!(
                "{}",
                message.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings);
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
    match runtime.block_on(run(settings, command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings, command: Command) -> Result<()> {
    let ctx = Context::open(&settings).await?;
    match command {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(settings.listen)
                .await
                .map_err(|err| {
                    spaceid::error::Error::internal(format!(
                        "cannot listen on {}: {err}",
                        settings.listen
                    ))
                })?;
            server::serve(ctx.clone(), &settings, listener, server::shutdown_signal()).await?;
        }
        Command::Bench(args) => print!("{}", run_bench(ctx.clone(), &settings, &args).await?),
        command => {
            let output = run_admin(&ctx, command).await?;
            println!("{output}");
        }
    }
    ctx.store.clone().close().await
}

fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match settings.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
