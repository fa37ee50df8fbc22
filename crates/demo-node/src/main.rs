//! `demo-node`: a small but real node whose every metric is the result of real work.
//! See `docs/demo-node.md`.

use clap::Parser;
use demo_node::cli::CatalogFormat;
use demo_node::{cli, node};

/// Prints the metric catalog linked into this binary (every component's metrics struct,
/// host metrics and the SDK's own), after checking it.
fn print_catalog(format: CatalogFormat) -> std::process::ExitCode {
    let catalog = telemetry::catalog();
    if let Err(error) = catalog.check() {
        eprintln!("demo-node: {error}");
        return std::process::ExitCode::FAILURE;
    }
    match format {
        CatalogFormat::Json => print!("{}", catalog.json()),
        CatalogFormat::Markdown => print!("{}", catalog.markdown()),
    }
    std::process::ExitCode::SUCCESS
}

fn main() -> std::process::ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => {
            // --help and --version.
            let _ = error.print();
            return std::process::ExitCode::SUCCESS;
        }
        Err(error) => {
            let rendered = error.to_string();
            let line = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("demo-node: {}", line.trim_start_matches("error: "));
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(format) = cli.catalog {
        return print_catalog(format);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,opentelemetry=warn,opentelemetry_sdk=warn")
            }),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("demo-node: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(node::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo-node: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
