//! The `spaceid` binary: parses the command line and hands over.

use std::{io::IsTerminal, process::ExitCode};

use clap::Parser;
use spaceid::{
    cli::{Cli, Command, bench_built, run_admin, run_health},
    config::{LogFormat, Settings, one_line},
    context::Context,
    error::Result,
    server,
};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            // One line for scripts (the usage block is dropped); `--help` has the rest.
            eprintln!("{}", one_line(&err.to_string()));
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
    server::tls::install_crypto_provider();
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
    let result = runtime.block_on(run(settings, cli.command));
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

/// Runs the command; `false`: it ran, and its answer is a failure (`health` on a server
/// that is not serving).
async fn run(settings: Settings, command: Command) -> Result<bool> {
    if let Command::Health(args) = &command {
        let (status, serving) = run_health(args).await?;
        println!("{status}");
        return Ok(serving);
    }
    if let Command::Serve(_) = command {
        // From here on SIGTERM stops the server gracefully, even while it is starting.
        let shutdown = server::shutdown_signal();
        // Bound before the database is opened: a port in use is found at once.
        let listener = server::bind(settings.listen, "--listen (SPACEID_LISTEN)").await?;
        let ctx = Context::open(&settings).await?;
        server::serve(ctx.clone(), &settings, listener, shutdown).await?;
        close_store(&ctx).await?;
        tracing::info!("server stopped");
        return Ok(true);
    }
    if let Command::Bench(_) = command {
        bench_built()?;
    }
    let ctx = Context::open(&settings).await?;
    match command {
        #[cfg(feature = "bench")]
        Command::Bench(args) => print!(
            "{}",
            spaceid::cli::run_bench(ctx.clone(), &settings, &args).await?
        ),
        command => {
            let output = run_admin(&ctx, command).await?;
            println!("{output}");
        }
    }
    close_store(&ctx).await?;
    Ok(true)
}

/// How long the database pool may take to close at the end; connections still in use then
/// (their calls were cut short) are closed with the process.
const POOL_CLOSE: std::time::Duration = std::time::Duration::from_secs(2);

/// How long the runtime may take to stop once the command is done.
const RUNTIME_STOP: std::time::Duration = std::time::Duration::from_secs(1);

async fn close_store(ctx: &Context) -> Result<()> {
    let busy = ctx.store.clone().close(POOL_CLOSE).await?;
    if busy > 0 {
        tracing::warn!(
            connections = busy,
            "database connections still in use when the pool closed; their statements are \
             cancelled as the process ends"
        );
    }
    Ok(())
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
