//! `katafleet uninstall INVENTORY [--dry-run] [--force]`: everything katafleet
//! owns on each host goes (and nothing else), planned, applied and verified
//! by the provision pipeline with the uninstall planner; prints what goes,
//! with the diff of every file put back.

use clap::Args;

use super::args::HostArgs;
use super::session;
use crate::exit::ExitStatus;
use crate::plan::{PlanOptions, Planner};
use crate::{redact, report};

#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    pub hosts: HostArgs,
    /// Show what would be removed or put back on each host, with diffs; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Go ahead where Kata sandboxes run, and put back the saved original of a
    /// file that changed since katafleet wrote it (the later changes are lost).
    #[arg(long)]
    pub force: bool,
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitStatus> {
    let session = match session::open(&opts.hosts)? {
        Ok(s) => s,
        Err(status) => return Ok(status),
    };
    // The provision pipeline with the uninstall planner: the dry run, the
    // host lock, the transaction and verification (a fresh uninstall plan
    // must be empty) come with it. Nothing is fetched.
    let (_, reports) = super::provision::run_planner(
        &session,
        Planner::Uninstall,
        opts.dry_run,
        PlanOptions { force: opts.force },
    )
    .await;
    // What goes is shown whether or not it went (with --dry-run, it did not).
    // Diffs are masked where they are made; this catches secrets in
    // anything else a host said, as provision's output does.
    if opts.hosts.json {
        println!("{}", redact::text(&report::provision_json(&reports)));
    } else {
        print!("{}", redact::text(&report::plan_text(&reports)));
        print!("{}", redact::text(&report::summary_table(&reports)));
        eprintln!("logs: {}", session.log.dir.display());
    }
    Ok(report::exit_status(&reports))
}
