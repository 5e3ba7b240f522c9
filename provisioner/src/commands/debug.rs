//! `katafleet debug on|off INVENTORY [--containerd] [--dry-run]`: Kata's
//! debug logging through a config drop-in (containerd's too when asked),
//! planned, applied and verified by the provision pipeline; says where the
//! logs go.

use std::fmt::Write as _;

use clap::{Args, ValueEnum};

use super::args::HostArgs;
use super::session;
use crate::exit::ExitStatus;
use crate::inventory::Host;
use crate::plan::debug::{self as debugging, DebugDetail, Request};
use crate::plan::{PlanOptions, Planner};
use crate::report::{self, cell};
use crate::run::inspect::{HostResult, Verdict};
use crate::run::pipeline::{HostReport, HostStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct Opts {
    /// on or off.
    #[arg(value_enum)]
    pub switch: Switch,
    #[command(flatten)]
    pub hosts: HostArgs,
    /// Also set containerd's log level (debug, or back to its default); restarts containerd.
    #[arg(long)]
    pub containerd: bool,
    /// Show what would change on each host, with diffs; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitStatus> {
    let session = match session::open(&opts.hosts)? {
        Ok(s) => s,
        Err(status) => return Ok(status),
    };
    let request = Request {
        on: opts.switch == Switch::On,
        containerd: opts.containerd,
    };
    // The provision pipeline with the debug planner: a dry run, atomic
    // writes, and verification (a fresh plan must be empty) come with it.
    let (_, reports) = super::provision::run_planner(
        &session,
        Planner::Debug(request),
        opts.dry_run,
        PlanOptions { force: true },
    )
    .await;
    if opts.dry_run && !opts.hosts.json {
        print!("{}", crate::redact::text(&report::plan_text(&reports)));
    }
    let hosts: Vec<Host> = session.hosts.clone();
    let results: Vec<HostResult<DebugDetail>> = reports
        .iter()
        .zip(&hosts)
        .map(|(r, host)| result(r, host, request))
        .collect();
    Ok(session::report(&session, &results, opts.hosts.json, render))
}

/// `debug`'s view of a pipeline report.
fn result(r: &HostReport, host: &Host, request: Request) -> HostResult<DebugDetail> {
    let detail = r.facts.as_ref().map(|facts| DebugDetail {
        debug: request.on,
        dropin: debugging::dropin_path(&host.desired),
        changed: r.changed,
        changes: r
            .plan
            .iter()
            .flat_map(|p| p.changes.iter().map(|c| c.reason.clone()))
            .collect(),
        logs: debugging::where_logs_go(
            &host.desired,
            // The --containerd hint matters only when turning debug on.
            !request.on || request.containerd,
            facts.docker.is_some(),
        ),
    });
    HostResult {
        name: r.name.clone(),
        os: r.os.clone(),
        status: match r.status {
            HostStatus::Ok | HostStatus::Changed | HostStatus::Upgraded => Verdict::Pass,
            HostStatus::Failed | HostStatus::RolledBack => Verdict::Fail,
            HostStatus::Unreachable => Verdict::Unreachable,
            HostStatus::Skipped => Verdict::Skipped,
        },
        error: r.error.as_ref().map(|e| e.to_string()),
        // A plan error (Kata not installed...) leaves no detail to show.
        detail: detail.filter(|_| r.plan.is_some()),
        elapsed_secs: (r.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        log: r.log.clone(),
    }
}

pub fn render(results: &[HostResult<DebugDetail>]) -> String {
    let mut out = String::new();
    for r in results {
        let _ = writeln!(out, "== {} ({}) ==", r.name, cell(&r.os));
        if let Some(e) = &r.error {
            let _ = writeln!(out, "  {}: {e}", r.status.word());
        }
        if let Some(d) = &r.detail {
            if d.changes.is_empty() {
                let _ = writeln!(
                    out,
                    "  already {}: {}",
                    if d.debug { "on" } else { "off" },
                    d.dropin
                );
            }
            for c in &d.changes {
                let _ = writeln!(out, "  - {c}");
            }
            for l in &d.logs {
                let _ = writeln!(out, "  logs: {l}");
            }
        }
        out.push('\n');
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.detail.as_ref().map_or_else(
                    || "-".into(),
                    |d| if d.debug { "on".into() } else { "off".into() },
                ),
                r.detail.as_ref().map_or(0, |d| d.changed).to_string(),
                match r.status {
                    Verdict::Pass => "ok".into(),
                    other => other.word().into(),
                },
            ]
        })
        .collect();
    out.push_str(&report::table(
        &["HOST", "DEBUG", "CHANGES", "STATUS"],
        &rows,
    ));
    out
}
