//! `katafleet rollback INVENTORY [--dry-run]`: each selected host back to
//! the release and the files it had before its last upgrade, byte-for-byte,
//! then verified as a provision of that release.

use clap::Args;

use super::args::HostArgs;
use super::session;
use crate::exit::ExitStatus;
use crate::plan::{PlanOptions, Planner};
use crate::release;
use crate::report;
use crate::run::pipeline::Mode;
use crate::run::rollout::Rollout;

#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    pub hosts: HostArgs,
    /// Show what would go back on each host; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitStatus> {
    let session = match session::open(&opts.hosts)? {
        Ok(s) => s,
        Err(status) => return Ok(status),
    };
    let mode = if opts.dry_run {
        Mode::Plan
    } else {
        Mode::Provision
    };
    // Readiness was judged when the host was upgraded; going back is allowed.
    let reports = super::provision::pipeline(
        &session,
        mode,
        Planner::Rollback,
        PlanOptions { force: true },
        release::fetch::default_cache_dir(),
        Rollout::default(),
    )
    .await;
    super::provision::print_reports(&session, &reports, opts.hosts.json, mode);
    Ok(report::exit_status(&reports))
}
