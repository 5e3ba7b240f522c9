//! `katafleet rollback INVENTORY [--dry-run]`: each selected host back to
//! the release and the files it had before its last upgrade, byte-for-byte,
//! then verified as a provision of that release.

use clap::Args;

use super::args::HostArgs;
use super::session;
use crate::exit::ExitStatus;
use crate::plan::{PlanOptions, Planner};
use crate::report;

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
    let (mode, reports) = super::provision::run_planner(
        &session,
        Planner::Rollback,
        opts.dry_run,
        PlanOptions { force: true },
    )
    .await;
    super::provision::print_reports(&session, &reports, opts.hosts.json, mode);
    Ok(session.interrupt.status(report::exit_status(&reports)))
}
