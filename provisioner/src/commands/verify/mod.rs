//! `katafleet verify INVENTORY`: does a container really run in a VM on
//! each host? Steps in order, stopping at the first failure with its
//! evidence; a failed host's Kata and daemon logs go to the run's log dir.

use crate::exit::ExitStatus;
use std::fmt::Write as _;
use std::path::Path;

use async_trait::async_trait;
use clap::Args;

use super::args::HostArgs;
use super::session;
use crate::inventory::{Host, VerifySettings};
use crate::report::{self as inspect, cell};
use crate::run::fanout::HostCtx;
use crate::run::inspect::{HostResult, Inspect, Inspected, Inspection, Verdict};
use crate::run::log::HostLog;
use crate::script::wire;
use crate::transport::{Payload, Transport};
use crate::verify::{self as proof, scripts, Proof, Step, StepStatus};

#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    pub hosts: HostArgs,
    /// Also time container starts with runc and with Kata (N runs each;
    /// default: [verify] bench_runs) and report median, p90 and the ratio.
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "0")]
    pub bench: Option<u32>,
}

struct Verify {
    settings: VerifySettings,
    /// Starts per runtime when benchmarking.
    bench: Option<u32>,
}

/// One round trip: a script (the shared helpers first), maybe a payload.
/// Returns the parsed blocks and the raw stdout.
async fn run_script(
    t: &dyn Transport,
    log: &HostLog,
    what: &str,
    script: &str,
    payload: Option<&Payload>,
) -> Result<(wire::Output, String), String> {
    let script = crate::script::with_prelude(script);
    log.section(&format!("{what} script"), &script);
    let out = t.run(&script, payload, None).await.map_err(|e| {
        // A deadline or a lost connection: what came until then.
        if let Some(raw) = e.partial() {
            log.section(&format!("{what} stdout (until it broke off)"), &raw.stdout);
            log.section(&format!("{what} stderr (until it broke off)"), &raw.stderr);
        }
        e.to_string()
    })?;
    log.section(&format!("{what} stdout"), &out.stdout);
    if !out.stderr.trim().is_empty() {
        log.section(&format!("{what} stderr"), &out.stderr);
    }
    let parsed = wire::Output::parse(&out.stdout).map_err(|e| e.to_string())?;
    Ok((parsed, out.stdout))
}

impl Verify {
    /// Steps 2-4; returns early at the first failure.
    async fn prove(
        &self,
        t: &dyn Transport,
        ctx: &HostCtx,
        facts: &crate::facts::HostFacts,
        out: &wire::Output,
        proof: &mut Proof,
    ) -> Result<(), String> {
        let (targets, unusable) = proof::targets(facts, out);
        if targets.is_empty() {
            let why = if unusable.is_empty() {
                "no Kata runtime is configured in containerd or Docker".to_string()
            } else {
                unusable.join("; ")
            };
            proof.steps.push(Step::fail(
                "containers",
                why,
                "run katafleet provision, then katafleet status",
            ));
            return Ok(());
        }
        let mut clients: Vec<scripts::Client> = targets.iter().map(|t| t.client).collect();
        clients.dedup();
        ctx.stage("preparing the test image");
        let archive = match &self.settings.image_archive {
            Some(path) => Some(payload(path)?),
            None => None,
        };
        let script = scripts::image(
            &clients,
            &self.settings.image,
            archive.as_ref().map(|p| p.size),
        );
        let (images, _) = run_script(t, &ctx.log, "image", &script, archive.as_ref()).await?;
        if let Some((name, b)) = images.blocks.iter().find(|(_, b)| !b.ok()) {
            let d = proof::diagnose::container_output(&b.output, name, "");
            proof.steps.push(
                Step::fail(
                    "image",
                    format!(
                        "the test image {} is not available ({name}): {}",
                        self.settings.image, d.what
                    ),
                    d.fix,
                )
                .with_evidence(b.output.trim_end().to_string()),
            );
            return Ok(());
        }
        for target in &targets {
            ctx.stage(&format!(
                "container under {} ({})",
                target.handler,
                target.client.name()
            ));
            let script = scripts::container(target, &self.settings.image);
            let (out, _) = run_script(
                t,
                &ctx.log,
                &format!("container {}", target.key()),
                &script,
                None,
            )
            .await?;
            let (steps, container) = proof::container(target, &facts.kernel, &out);
            proof.steps.extend(steps);
            proof.containers.extend(container);
            if proof.failure().is_some() {
                return Ok(());
            }
        }
        if let Some(runs) = self.bench {
            let runs = if runs == 0 {
                self.settings.bench_runs
            } else {
                runs
            };
            let target = &targets[0];
            ctx.stage(&format!(
                "benchmark: {runs} starts each with runc and {}",
                target.handler
            ));
            let script = scripts::bench(target, &self.settings.image, runs);
            let (raw, _) = run_script(t, &ctx.log, "bench", &script, None).await?;
            match raw
                .blocks
                .iter()
                .find(|(k, _)| k.starts_with("bench-failed:"))
            {
                Some((k, b)) => {
                    let d = proof::diagnose::container_output(
                        &b.output,
                        target.client.name(),
                        &target.handler,
                    );
                    proof.steps.push(Step::fail(
                        "bench",
                        format!(
                            "a {} container failed to start: {}",
                            k.trim_start_matches("bench-failed:"),
                            d.what
                        ),
                        d.fix,
                    ));
                }
                None => match proof::bench::compare(target.client.name(), &target.handler, &raw) {
                    Ok(b) => {
                        proof.steps.push(Step::pass("bench", b.summary()));
                        proof.bench = Some(b);
                    }
                    Err(e) => {
                        proof
                            .steps
                            .push(Step::fail("bench", e, "see the host's log of this run"))
                    }
                },
            }
        }
        Ok(())
    }

    /// Saves the host's Kata and daemon logs next to its run log.
    async fn collect_logs(&self, t: &dyn Transport, ctx: &HostCtx, docker: bool) -> Option<String> {
        ctx.stage("collecting Kata and daemon logs");
        let (out, _) = run_script(t, &ctx.log, "logs", &scripts::logs(docker), None)
            .await
            .ok()?;
        let path = ctx.run_dir.join(format!("{}.kata-logs.txt", ctx.name));
        let mut text = String::new();
        for name in &out.order {
            if let Some(b) = out.block(name) {
                let _ = writeln!(text, "===== {name} (exit {}) =====\n{}", b.exit, b.output);
            }
        }
        crate::run::log::write_private(&path, &text).ok()?;
        Some(path.display().to_string())
    }
}

fn payload(path: &Path) -> Result<Payload, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read image_archive {}: {e}", path.display()))?
        .len();
    Ok(Payload {
        path: path.to_path_buf(),
        size,
    })
}

#[async_trait]
impl Inspection for Verify {
    type Detail = Proof;

    async fn inspect(&self, t: &dyn Transport, host: &Host, ctx: &HostCtx) -> Inspected<Proof> {
        ctx.stage("gathering facts and running Kata's check");
        let extra = scripts::check(&host.desired);
        let (facts, rest) = match crate::run::pipeline::gather_with(
            t,
            &host.desired,
            crate::facts::gather::Purpose::Inspect,
            &ctx.log,
            &extra,
        )
        .await
        {
            Ok(r) => r,
            Err(e) => return Inspected::error("", e),
        };
        let out = rest;
        let mut proof = Proof::default();
        proof
            .steps
            .push(proof::host_check(&facts, &host.desired, &out));
        let mut error = None;
        if proof.failure().is_none() {
            if let Err(e) = self.prove(t, ctx, &facts, &out, &mut proof).await {
                error = Some(e);
            }
        }
        if proof.failure().is_some() || error.is_some() {
            proof.logs = self.collect_logs(t, ctx, facts.docker.is_some()).await;
        }
        ctx.log.section(
            "proof",
            &serde_json::to_string_pretty(&proof).unwrap_or_default(),
        );
        let verdict = match (&error, proof.failure()) {
            (Some(_), _) => Verdict::Error,
            (None, Some(_)) => Verdict::Fail,
            (None, None) => Verdict::Pass,
        };
        Inspected {
            os: facts.os.pretty_name.clone(),
            verdict,
            error: error.or_else(|| proof.failure().map(|s| s.detail.clone())),
            detail: Some(proof),
        }
    }
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitStatus> {
    let session = match session::open(&opts.hosts)? {
        Ok(s) => s,
        Err(status) => return Ok(status),
    };
    let job = Verify {
        settings: session.inventory.verify.clone(),
        bench: opts.bench,
    };
    let results = session.run(Inspect(job)).await;
    Ok(session::report(&session, &results, opts.hosts.json, render))
}

/// Per host: each step (failures with their fix and evidence), then a table.
pub fn render(results: &[HostResult<Proof>]) -> String {
    let mut out = String::new();
    for r in results {
        let _ = writeln!(out, "== {} ({}) ==", r.name, cell(&r.os));
        let Some(p) = &r.detail else {
            if let Some(e) = &r.error {
                let _ = writeln!(out, "  {}: {e}", r.status.word());
            }
            out.push('\n');
            continue;
        };
        for (i, s) in p.steps.iter().enumerate() {
            let word = match s.status {
                StepStatus::Pass => "ok",
                StepStatus::Fail => "FAIL",
            };
            let _ = writeln!(out, "  {}. {:<4}  {}: {}", i + 1, word, s.name, s.detail);
            if s.status == StepStatus::Fail {
                if let Some(fix) = &s.fix {
                    let _ = writeln!(out, "           fix: {fix}");
                }
                if let Some(e) = &s.evidence {
                    let _ = writeln!(out, "           evidence:");
                    for line in e.lines() {
                        let _ = writeln!(out, "             | {line}");
                    }
                }
            }
        }
        for c in &p.containers {
            if let Some(pid1) = c.proc1_status.lines().next() {
                let _ = writeln!(
                    out,
                    "  {}/{}: /proc/1/status inside: {pid1} ...",
                    c.client.name(),
                    c.handler
                );
            }
        }
        if let Some(logs) = &p.logs {
            let _ = writeln!(out, "  Kata and daemon logs: {logs}");
        }
        if let (Verdict::Error, Some(e)) = (r.status, &r.error) {
            let _ = writeln!(out, "  error: {e}");
        }
        out.push('\n');
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let failed = r.detail.as_ref().and_then(|p| p.failure());
            vec![
                r.name.clone(),
                cell(&r.os),
                match r.status {
                    Verdict::Pass => "yes".into(),
                    Verdict::Fail => "no".into(),
                    other => other.word().into(),
                },
                failed.map_or_else(|| "-".into(), |s| s.name.clone()),
                failed
                    .map(|s| {
                        s.detail
                            .split("; also: ")
                            .next()
                            .unwrap_or_default()
                            .to_string()
                    })
                    .or_else(|| {
                        (r.status != Verdict::Pass).then(|| r.error.clone().unwrap_or_default())
                    })
                    .map_or_else(|| "-".into(), |d| cell(&d)),
            ]
        })
        .collect();
    out.push_str(&inspect::table(
        &["HOST", "OS", "VERIFIED", "FAILED STEP", "WHY"],
        &rows,
    ));
    out
}

#[cfg(test)]
mod tests;
