//! `demo-node`: a small but real node whose every metric is the result of real work.
//! See `docs/demo-node.md`.

use clap::Parser;
use demo_node::cli::CatalogFormat;
use demo_node::{cli, node};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The parse error, naming the environment variable the bad value came from when the
/// option was not on the command line (clap names only the flag the variable maps to).
fn naming_the_variable(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let rendered = error.to_string();
    let Some(ContextValue::String(flag)) = error.get(ContextKind::InvalidArg) else {
        return rendered;
    };
    let mut command = <cli::Cli as clap::CommandFactory>::command();
    command.build(); // an argument renders as the error shows it only once built
    let Some(arg) = command.get_arguments().find(|a| a.to_string() == *flag) else {
        return rendered;
    };
    let Some(long) = arg.get_long().map(|long| format!("--{long}")) else {
        return rendered;
    };
    let on_command_line = std::env::args().any(|a| a == long || a.starts_with(&format!("{long}=")));
    match arg.get_env().and_then(|v| v.to_str()) {
        Some(variable) if !on_command_line && std::env::var_os(variable).is_some() => rendered
            .replacen(
                &format!("'{flag}'"),
                &format!("{variable} (the variable of {long})"),
                1,
            ),
        _ => rendered,
    }
}

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
            let rendered = naming_the_variable(&error);
            let line = rendered.lines().next().unwrap_or("invalid arguments");
            eprintln!("demo-node: {}", line.trim_start_matches("error: "));
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(format) = cli.catalog {
        return print_catalog(format);
    }
    let telemetry = match node::start_telemetry(&cli) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("demo-node: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Logs to stderr, and spans and log records to OTLP when configured.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,opentelemetry=warn,opentelemetry_sdk=warn")
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                // The summary is already on stdout.
                .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                    meta.target() != node::SUMMARY_TARGET
                })),
        )
        .with(telemetry.client.tracing_layer())
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
    match runtime.block_on(node::run(cli, telemetry)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo-node: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
