use clap::Parser;

use katafleet::exit::{render_error, ExitStatus};

fn main() {
    let cli = katafleet::cli::Cli::parse();
    let status = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(katafleet::cli::run(cli)),
        Err(e) => Err(anyhow::Error::new(e).context("cannot start the async runtime")),
    }
    .unwrap_or_else(|e| {
        eprint!("{}", render_error(&e));
        ExitStatus::Internal
    });
    std::process::exit(status.code());
}
