//! The `archforge` command. Errors end the process with one readable line and exit code 1.

use clap::Parser;

fn main() {
    let cli = archforge_experiments::cli::Cli::parse();
    let level = if cli.verbose {
        tracing::Level::INFO
    } else {
        tracing::Level::WARN
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    if let Err(e) = archforge_experiments::cli::main(cli) {
        eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
        std::process::exit(1);
    }
}
