//! Command-line parsing and dispatch. Each subcommand lives in commands/.

use crate::exit::ExitStatus;
use clap::{Parser, Subcommand};

use crate::commands;

#[derive(Debug, Parser)]
#[command(
    name = "katafleet",
    version,
    about = "Put Kata Containers on a fleet of Linux hosts over SSH and keep them correct"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Gather facts and show, per host, exactly what provision would change (a dry run).
    Plan(commands::args::RunArgs),
    /// Install Kata at the pinned version, wire it into containerd and Docker, and verify.
    Provision(commands::args::RunArgs),
    /// Rolling upgrade in [rollout] batches (a canary first), stopping on failures; --resume continues.
    Upgrade(commands::upgrade::Opts),
    /// Is each host ready for Kata? Every check with what to do about it; changes nothing.
    Check(commands::check::Opts),
    /// What is on each host now: Kata, hypervisors, handlers the daemons see, drift, last provision.
    Status(commands::status::Opts),
    /// Prove a container really runs in a VM on each host (check tool, a container per handler, its VMM; --bench).
    Verify(commands::verify::Opts),
    /// Turn Kata debug logging on or off (a config drop-in; --containerd for containerd's too).
    Debug(commands::debug::Opts),
    /// Put each host back to the Kata release and files it had before its last upgrade.
    Rollback(commands::rollback::Opts),
    /// Remove everything katafleet put on each host (and nothing else); --dry-run shows it first.
    Uninstall(commands::uninstall::Opts),
    /// Print RuntimeClass manifests or write a Compose override.
    #[command(subcommand)]
    Render(commands::render::RenderCommand),
}

/// Runs the command; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Render(command) => commands::render::run(command),
        Command::Check(opts) => commands::check::run(opts).await,
        Command::Status(opts) => commands::status::run(opts).await,
        Command::Verify(opts) => commands::verify::run(opts).await,
        Command::Debug(opts) => commands::debug::run(opts).await,
        Command::Rollback(opts) => commands::rollback::run(opts).await,
        Command::Upgrade(opts) => commands::upgrade::run(opts).await,
        Command::Uninstall(opts) => commands::uninstall::run(opts).await,
        Command::Plan(args) => {
            commands::provision::run(args, crate::run::pipeline::Mode::Plan).await
        }
        Command::Provision(args) => {
            commands::provision::run(args, crate::run::pipeline::Mode::Provision).await
        }
    }
}
