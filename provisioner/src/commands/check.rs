//! `katafleet check INVENTORY`: is each host ready for Kata? Reads only.

use crate::exit::ExitStatus;
use std::fmt::Write as _;

use async_trait::async_trait;
use clap::Args;
use serde::Serialize;

use super::args::HostArgs;
use super::session;
use crate::assess::readiness::{self, Finding, Status};
use crate::inventory::Host;
use crate::report as inspect;
use crate::run::fanout::HostCtx;
use crate::run::inspect::{HostResult, Inspect, Inspected, Inspection, Verdict};
use crate::transport::Transport;

#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    pub hosts: HostArgs,
}

/// Per host: whether it is ready, and every finding with its fix.
#[derive(Debug, Clone, Serialize)]
pub struct CheckDetail {
    pub ready: bool,
    pub findings: Vec<Finding>,
}

struct Check;

#[async_trait]
impl Inspection for Check {
    type Detail = CheckDetail;

    async fn inspect(
        &self,
        t: &dyn Transport,
        host: &Host,
        ctx: &HostCtx,
    ) -> Inspected<CheckDetail> {
        ctx.stage("gathering facts");
        let facts = match crate::run::pipeline::gather(
            t,
            &host.desired,
            crate::facts::gather::Purpose::Inspect,
            &ctx.log,
        )
        .await
        {
            Ok(f) => f,
            Err(e) => return Inspected::error("", e),
        };
        let r = readiness::check(&facts, &host.desired);
        ctx.log.section(
            "check",
            &serde_json::to_string_pretty(&r).unwrap_or_default(),
        );
        let ready = r.is_ready();
        Inspected {
            os: facts.os.pretty_name.clone(),
            verdict: if ready { Verdict::Pass } else { Verdict::Fail },
            error: None,
            detail: Some(CheckDetail {
                ready,
                findings: r.findings,
            }),
        }
    }
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitStatus> {
    let session = match session::open(&opts.hosts)? {
        Ok(s) => s,
        Err(status) => return Ok(status),
    };
    let results = session.run(Inspect(Check)).await;
    Ok(session::report(&session, &results, opts.hosts.json, render))
}

/// Every host's findings (fixes under the ones that need them), then the table.
pub fn render(results: &[HostResult<CheckDetail>]) -> String {
    let mut out = String::new();
    for r in results {
        let _ = writeln!(out, "== {} ({}) ==", r.name, inspect::cell(&r.os));
        if let Some(e) = &r.error {
            let _ = writeln!(out, "  {}: {e}", r.status.word());
        }
        let findings: Vec<&Finding> = r.detail.iter().flat_map(|d| &d.findings).collect();
        let w = findings.iter().map(|f| f.check.len()).max().unwrap_or(0);
        for f in findings {
            let _ = writeln!(
                out,
                "  {:<4}  {:<w$}  {}",
                word(f.status),
                f.check,
                f.detail
            );
            if let Some(fix) = f.fix.as_ref().filter(|_| f.status != Status::Pass) {
                let _ = writeln!(out, "  {:<4}  {:<w$}  fix: {fix}", "", "");
            }
        }
        out.push('\n');
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let count = |s| {
                r.detail
                    .as_ref()
                    .map_or(0, |d| d.findings.iter().filter(|f| f.status == s).count())
            };
            vec![
                r.name.clone(),
                inspect::cell(&r.os),
                match (&r.detail, r.status) {
                    (Some(d), _) if d.ready => "yes".into(),
                    (Some(_), _) => "no".into(),
                    (None, status) => status.word().into(),
                },
                count(Status::Fail).to_string(),
                count(Status::Warn).to_string(),
            ]
        })
        .collect();
    out.push_str(&inspect::table(
        &["HOST", "OS", "READY", "FAILED", "WARNINGS"],
        &rows,
    ));
    out
}

fn word(s: Status) -> &'static str {
    match s {
        Status::Pass => "ok",
        Status::Info => "info",
        Status::Warn => "warn",
        Status::Fail => "FAIL",
    }
}
