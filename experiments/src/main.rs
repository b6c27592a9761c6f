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
    // Panics inside a run are caught and reported with it (failed evaluations are recorded
    // in the ledger); the hook keeps what reaches the terminal to one line each.
    std::panic::set_hook(Box::new(|info| {
        let message = archforge::evaluator::panic_message(info.payload());
        let place = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("panic: {message}{place}");
    }));
    if let Err(e) = archforge_experiments::cli::main(cli) {
        eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
        std::process::exit(1);
    }
}
