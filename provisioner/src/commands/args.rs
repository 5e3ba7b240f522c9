//! Options shared by the commands that work on hosts.

use std::path::PathBuf;

use clap::Args;

/// Options of the commands that only look at hosts.
#[derive(Debug, Args)]
pub struct HostArgs {
    /// The inventory file (TOML).
    pub inventory: PathBuf,
    /// Only these hosts: names, globs or @group, comma-separated.
    #[arg(long, value_name = "PATTERN")]
    pub limit: Option<String>,
    /// How many hosts to work on at once (overrides [defaults] parallel).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: Option<u16>,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Where per-host logs of this run go (default: ~/.local/state/katafleet/runs).
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
}

/// Options shared by commands that work on hosts.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub hosts: HostArgs,
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
    pub fn rollout(&self) -> crate::run::rollout::Rollout {
        use crate::run::rollout::{Budget, Rollout};
        match (self.batch_size, self.max_failures) {
            (Some(size), max) => Rollout::waves(size.into(), max.unwrap_or(0)),
            (None, Some(max)) => Rollout {
                budget: Budget::Hosts(max),
                ..Rollout::default()
            },
            (None, None) => Rollout::default(),
        }
    }
}
