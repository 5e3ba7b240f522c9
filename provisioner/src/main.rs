use clap::Parser;

use katafleet::exit::{render_error, ExitStatus};

fn main() {
    let cli = katafleet::cli::Cli::parse();
    let status = match tokio::runtime::Runtime::new() {
        Ok(runtime) => {
            let status = runtime.block_on(katafleet::cli::run(cli));
            // Not waiting for blocking work left behind (a download an
            // interrupted run gave up on): everything to report is done.
            runtime.shutdown_background();
            status
        }
        Err(e) => Err(anyhow::Error::new(e).context("cannot start the async runtime")),
    }
    .unwrap_or_else(|e| {
        eprint!("{}", render_error(&e));
        ExitStatus::Internal
    });
    std::process::exit(status.code());
}
