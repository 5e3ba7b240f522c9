//! Command-line parsing and dispatch. Each subcommand lives in commands/.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    Plan(RunArgs),
    /// Install Kata at the pinned version, wire it into containerd and Docker, and verify.
    Provision(RunArgs),
    /// Is each host ready for Kata? Every check with what to do about it; changes nothing.
    Check(commands::check::Opts),
    /// What is on each host now: Kata, hypervisors, handlers the daemons see, drift, last provision.
    Status(commands::status::Opts),
    /// Prove a container really runs in a VM on each host (check tool, a container per handler, its VMM; --bench).
    Verify(commands::verify::Opts),
    /// Turn Kata debug logging on or off (a config drop-in; --containerd for containerd's too).
    Debug(commands::debug::Opts),
    /// Print RuntimeClass manifests or write a Compose override.
    #[command(subcommand)]
    Render(commands::render::RenderCommand),
}

/// Options shared by commands that work on hosts.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub hosts: commands::common::HostArgs,
    /// Install and wire even on hosts that are not ready for Kata (they are still reported).
    #[arg(long)]
    pub force: bool,
    /// Where fetched release assets are cached (default: ~/.cache/katafleet/assets).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Roll out in waves of N hosts (default: every host at once).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub batch_size: Option<u16>,
    /// Start no new wave once more than N hosts failed (default with --batch-size: 0).
    #[arg(long, value_name = "N")]
    pub max_failures: Option<usize>,
}

impl RunArgs {
    pub fn rollout(&self) -> crate::rollout::Rollout {
        crate::rollout::Rollout {
            batch_size: self.batch_size.map(usize::from),
            max_failures: self.max_failures.or(self.batch_size.map(|_| 0)),
        }
    }
}

/// Runs the command; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Render(command) => commands::render::run(command),
        Command::Check(opts) => commands::check::run(opts).await,
        Command::Status(opts) => commands::status::run(opts).await,
        Command::Verify(opts) => commands::verify::run(opts).await,
        Command::Debug(opts) => commands::debug::run(opts).await,
        Command::Plan(args) => commands::hosts::run(args, crate::pipeline::Mode::Plan).await,
        Command::Provision(args) => {
            commands::hosts::run(args, crate::pipeline::Mode::Provision).await
        }
    }
}
