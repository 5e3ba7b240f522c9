//! `katafleet debug on|off INVENTORY [--containerd]`: Kata's debug logging
//! through a config drop-in (containerd's too when asked), applied as a plan;
//! says where the logs go.

use crate::exit::ExitStatus;
use std::fmt::Write as _;

use async_trait::async_trait;
use clap::{Args, ValueEnum};

use super::args::HostArgs;
use super::session;
use crate::inventory::Host;
use crate::plan::debug::{self as debugging, DebugDetail, Request};
use crate::report::{self as inspect, cell};
use crate::run::fanout::HostCtx;
use crate::run::inspect::{HostResult, Inspect, Inspected, Inspection, Verdict};
use crate::script::proof::q;
use crate::transport::Transport;

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
}

struct Debug {
    request: Request,
}

#[async_trait]
impl Inspection for Debug {
    type Detail = DebugDetail;

    async fn inspect(
        &self,
        t: &dyn Transport,
        host: &Host,
        ctx: &HostCtx,
    ) -> Inspected<DebugDetail> {
        ctx.stage("gathering facts");
        let path = debugging::dropin_path(&host.desired);
        let extra = format!("[ -f {p} ] && kf_block dropin cat {p}\n", p = q(&path));
        let (facts, rest) =
            match crate::run::pipeline::gather_with(t, &host.desired, &ctx.log, &extra).await {
                Ok(r) => r,
                Err(e) => return Inspected::error("", e),
            };
        let os = facts.os.pretty_name.clone();
        let out = rest;
        let current = out
            .block("dropin")
            .filter(|b| b.ok())
            .map(|b| b.output.as_str());
        let plan = match debugging::plan(&facts, &host.desired, self.request, current) {
            Ok(p) => p,
            Err(e) => {
                return Inspected {
                    os,
                    verdict: Verdict::Fail,
                    error: Some(e.to_string()),
                    detail: None,
                }
            }
        };
        ctx.log.section(
            "debug plan",
            &serde_json::to_string_pretty(&plan).unwrap_or_default(),
        );
        let mut detail = DebugDetail {
            debug: self.request.on,
            dropin: path,
            changed: 0,
            changes: plan.changes.iter().map(|c| c.reason.clone()).collect(),
            logs: debugging::where_logs_go(
                &host.desired,
                // The --containerd hint matters only when turning debug on.
                !self.request.on || self.request.containerd,
                facts.docker.is_some(),
            ),
        };
        if plan.is_empty() {
            return Inspected {
                os,
                verdict: Verdict::Pass,
                error: None,
                detail: Some(detail),
            };
        }
        ctx.stage("applying");
        let (events, _) = tokio::sync::mpsc::unbounded_channel();
        let outcome = match crate::apply::apply(t, &plan, None, events).await {
            Ok(o) => o,
            Err(e) => return Inspected::error(os, e.to_string()),
        };
        ctx.log.section("apply script", &outcome.script);
        ctx.log.section("apply stdout", &outcome.output.stdout);
        ctx.log.section("apply stderr", &outcome.output.stderr);
        detail.changed = outcome.changed();
        match outcome.failure() {
            Some(f) => Inspected {
                os,
                verdict: Verdict::Fail,
                error: Some(f.1),
                detail: Some(detail),
            },
            None => Inspected {
                os,
                verdict: Verdict::Pass,
                error: None,
                detail: Some(detail),
            },
        }
    }
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitStatus> {
    let session = match session::open(&opts.hosts)? {
        Ok(s) => s,
        Err(status) => return Ok(status),
    };
    let job = Debug {
        request: Request {
            on: opts.switch == Switch::On,
            containerd: opts.containerd,
        },
    };
    let results = session.run(Inspect(job)).await;
    Ok(session::report(&session, &results, opts.hosts.json, render))
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
    out.push_str(&inspect::table(
        &["HOST", "DEBUG", "CHANGES", "STATUS"],
        &rows,
    ));
    out
}
