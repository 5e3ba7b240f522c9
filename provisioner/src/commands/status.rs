//! `katafleet status INVENTORY`: what is on each host now. Reads only; one
//! round trip per host (the facts probe, then the daemons' own answers).

use crate::exit::ExitStatus;
use std::fmt::Write as _;

use async_trait::async_trait;
use clap::Args;

use super::args::HostArgs;
use super::session;
use crate::assess::status::{self, DriftKind, HostState, Manager, Seen};
use crate::inventory::Host;
use crate::report::{self as inspect, cell};
use crate::run::fanout::HostCtx;
use crate::run::inspect::{HostResult, Inspect, Inspected, Inspection, Verdict};
use crate::transport::Transport;

#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    pub hosts: HostArgs,
}

struct Status;

#[async_trait]
impl Inspection for Status {
    type Detail = HostState;

    async fn inspect(&self, t: &dyn Transport, host: &Host, ctx: &HostCtx) -> Inspected<HostState> {
        ctx.stage("gathering facts and asking the daemons");
        let extra = status::daemons::SCRIPT;
        let (facts, rest) = match crate::run::pipeline::gather_with(
            t,
            &host.desired,
            crate::facts::gather::Purpose::Inspect,
            &ctx.log,
            extra,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => return Inspected::error("", e),
        };
        let state = status::assess(&facts, &host.desired, &rest);
        ctx.log.section(
            "status",
            &serde_json::to_string_pretty(&state).unwrap_or_default(),
        );
        Inspected {
            os: facts.os.pretty_name.clone(),
            verdict: if state.problems.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            error: None,
            detail: Some(state),
        }
    }
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitStatus> {
    let session = match session::open(&opts.hosts)? {
        Ok(s) => s,
        Err(status) => return Ok(status),
    };
    let results = session.run(Inspect(Status)).await;
    Ok(session::report(&session, &results, opts.hosts.json, render))
}

/// Per host: handlers and what the daemons see, modules, drift, problems;
/// then one table.
pub fn render(results: &[HostResult<HostState>]) -> String {
    let mut out = String::new();
    for r in results {
        let _ = writeln!(out, "== {} ({}) ==", r.name, cell(&r.os));
        if let Some(e) = &r.error {
            let _ = writeln!(out, "  {}: {e}", r.status.word());
        }
        let Some(s) = &r.detail else {
            out.push('\n');
            continue;
        };
        let _ = writeln!(out, "  kata:        {}", kata_cell(s));
        let _ = writeln!(out, "  hypervisors: {}", cell(&hypervisors(s)));
        for (label, m) in [("containerd", &s.containerd), ("docker", &s.docker)] {
            manager_lines(&mut out, label, m.as_ref());
        }
        let _ = writeln!(out, "  modules:     {}", cell(&s.modules.join(", ")));
        let _ = writeln!(out, "  last run:    {}", last_run(s));
        for d in &s.drift {
            let what = match d.change {
                DriftKind::Modified => "changed since katafleet wrote it",
                DriftKind::Deleted => "deleted since katafleet wrote it",
                DriftKind::Unread => "not read on the host: unknown",
            };
            let _ = writeln!(out, "  drift:       {} {what}", d.path);
        }
        for p in &s.problems {
            let _ = writeln!(out, "  PROBLEM: {p}");
        }
        out.push('\n');
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| match &r.detail {
            Some(s) => vec![
                r.name.clone(),
                kata_cell(s),
                cell(&hypervisors(s)),
                handlers_cell(s.containerd.as_ref()),
                handlers_cell(s.docker.as_ref()),
                if s.drift.is_empty() {
                    "none".into()
                } else {
                    format!("{} file(s)", s.drift.len())
                },
                last_run(s),
                if s.problems.is_empty() {
                    "ok".into()
                } else {
                    format!("{} problem(s)", s.problems.len())
                },
            ],
            None => vec![
                r.name.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                r.status.word().into(),
            ],
        })
        .collect();
    out.push_str(&inspect::table(
        &[
            "HOST",
            "KATA",
            "HYPERVISORS",
            "CONTAINERD",
            "DOCKER",
            "DRIFT",
            "LAST PROVISION",
            "STATUS",
        ],
        &rows,
    ));
    out
}

fn kata_cell(s: &HostState) -> String {
    match &s.kata {
        None => "not installed".into(),
        Some(k) => {
            let runtimes: Vec<String> = k
                .runtimes
                .iter()
                .map(|r| format!("{r:?}").to_lowercase())
                .collect();
            format!(
                "{} ({}){}",
                k.version,
                if runtimes.is_empty() {
                    "no shim".into()
                } else {
                    runtimes.join("+")
                },
                if k.installed_by_katafleet {
                    ""
                } else {
                    ", not by katafleet"
                }
            )
        }
    }
}

fn hypervisors(s: &HostState) -> String {
    let names: Vec<&str> = s.hypervisors.iter().map(|h| h.name()).collect();
    names.join(",")
}

fn last_run(s: &HostState) -> String {
    s.last_provision.as_ref().map_or_else(
        || "never".into(),
        |l| format!("{} (katafleet {})", l.time, cell(&l.katafleet)),
    )
}

/// `kata kata-qemu` with a mark per handler: `+` seen, `!` not seen, `?` unknown.
fn handlers_cell(m: Option<&Manager>) -> String {
    let Some(m) = m else {
        return "-".into();
    };
    if m.handlers.is_empty() {
        return "none".into();
    }
    let names: Vec<String> = m
        .handlers
        .iter()
        .map(|h| {
            let mark = match h.seen {
                Seen::Yes(_) => "",
                Seen::No(_) => "!",
                Seen::Unknown(_) => "?",
            };
            format!("{}{mark}", h.wired.name)
        })
        .collect();
    names.join(" ")
}

fn manager_lines(out: &mut String, label: &str, m: Option<&Manager>) {
    let Some(m) = m else {
        let _ = writeln!(out, "  {label:<12} not installed");
        return;
    };
    let _ = writeln!(
        out,
        "  {:<12} {} ({})",
        format!("{label}:"),
        m.version,
        if m.running { "running" } else { "not running" }
    );
    for h in &m.handlers {
        let (word, how) = match &h.seen {
            Seen::Yes(how) => ("seen", how),
            Seen::No(how) => ("NOT SEEN", how),
            Seen::Unknown(how) => ("unknown", how),
        };
        let _ = writeln!(
            out,
            "    {} -> {} [{}]: {word} ({how})",
            h.wired.name,
            cell(&h.wired.shim),
            h.wired.config_path.as_deref().unwrap_or("default config")
        );
    }
}
