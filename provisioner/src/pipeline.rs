//! One host's journey: connect → facts → plan → (apply → verify). Hosts run
//! concurrently under a semaphore; one host's failure never stops another.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::apply::{self, StepEvent};
use crate::assets::AssetStore;
use crate::facts::{self, HostFacts};
use crate::inventory::{Desired, Host};
use crate::plan::{self, Action, Plan, PlanOptions};
use crate::progress::{self, Event};
use crate::runlog::{HostLog, RunLog};
use crate::transport::{self, Transport};
use crate::verify;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HostStatus {
    Ok,
    Changed,
    Failed,
    Unreachable,
    Skipped,
}

impl HostStatus {
    pub fn is_failure(self) -> bool {
        matches!(self, HostStatus::Failed | HostStatus::Unreachable)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub name: String,
    pub os: String,
    pub status: HostStatus,
    pub changed: usize,
    pub error: Option<String>,
    pub warnings: Vec<String>,
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    #[serde(skip)]
    pub plan: Option<Plan>,
    #[serde(skip)]
    pub facts: Option<HostFacts>,
    pub log: String,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Gather facts and plan; change nothing.
    Plan,
    /// Plan, apply and verify.
    Provision,
}

pub struct Run {
    pub mode: Mode,
    pub options: PlanOptions,
    pub parallel: usize,
    pub assets: Arc<AssetStore>,
    pub log: RunLog,
    pub progress: progress::Sender,
}

impl Run {
    pub async fn all(self: Arc<Self>, hosts: Vec<Host>) -> Vec<HostReport> {
        let limit = Arc::new(Semaphore::new(self.parallel.max(1)));
        let tasks = hosts.into_iter().map(|host| {
            let (run, limit) = (self.clone(), limit.clone());
            let name = host.name.clone();
            let handle = tokio::spawn(async move {
                let _permit = limit.acquire_owned().await;
                run.host(host).await
            });
            async move {
                handle
                    .await
                    .unwrap_or_else(|e| HostReport::failed(&name, format!("internal error: {e}")))
            }
        });
        join_all(tasks).await
    }

    async fn host(&self, host: Host) -> HostReport {
        let started = Instant::now();
        let log = self.log.host(&host.name);
        let mut report = HostReport::new(&host.name, &log);
        self.stage(&host.name, "connecting");
        let transport = match transport::connect(&host).await {
            Ok(t) => t,
            Err(e) => {
                report.status = HostStatus::Unreachable;
                report.error = Some(e.to_string());
                log.section("connect", &e.to_string());
                return self.finish(report, started);
            }
        };
        let outcome = self
            .with_transport(transport.as_ref(), &host, &log, &mut report)
            .await;
        transport.close().await;
        if let Err(message) = outcome {
            report.status = HostStatus::Failed;
            report.error = Some(message);
        }
        self.finish(report, started)
    }

    async fn with_transport(
        &self,
        t: &dyn Transport,
        host: &Host,
        log: &HostLog,
        report: &mut HostReport,
    ) -> Result<(), String> {
        self.stage(&host.name, "gathering facts");
        let facts = gather(t, &host.desired, log).await?;
        report.os = facts.os.pretty_name.clone();
        // The dry run shows what provision would do even on a host that is not
        // ready, and still reports it as not ready.
        let options = PlanOptions {
            force: self.options.force || self.mode == Mode::Plan,
        };
        let plan = plan::plan(&facts, &host.desired, options).map_err(|e| e.to_string())?;
        log.section(
            "plan",
            &serde_json::to_string_pretty(&plan).unwrap_or_default(),
        );
        report.warnings = plan.warnings.clone();
        report.changed = plan.changes.len();
        report.facts = Some(facts);
        let blockers = plan.readiness.blockers();
        if self.mode == Mode::Plan || plan.is_empty() {
            report.status = if plan.is_empty() {
                HostStatus::Ok
            } else {
                HostStatus::Changed
            };
            report.plan = Some(plan);
            if !self.options.force && !blockers.is_empty() {
                return Err(plan::PlanError::NotReady(blockers.join("; ")).to_string());
            }
            return Ok(());
        }
        let release = self.release_for(&plan, &host.desired).await?;
        self.stage(&host.name, "applying");
        let outcome = self.apply(t, host, &plan, release.as_ref()).await?;
        log.section("apply script", &outcome.script);
        log.section("apply stdout", &outcome.output.stdout);
        log.section("apply stderr", &outcome.output.stderr);
        report.changed = outcome.changed();
        report.warnings.extend(outcome.warnings());
        report.plan = Some(plan);
        if let Some(failure) = outcome.failure() {
            return Err(failure);
        }
        self.stage(&host.name, "verifying");
        let after = gather(t, &host.desired, log).await?;
        verify::after_apply(&after, &host.desired, self.options)
            .map_err(|e| format!("verification failed: {e}"))?;
        report.facts = Some(after);
        report.status = HostStatus::Changed;
        Ok(())
    }

    async fn release_for(
        &self,
        plan: &Plan,
        desired: &Desired,
    ) -> Result<Option<crate::release::fetch::Fetched>, String> {
        for change in &plan.changes {
            if let Action::InstallKata { asset, sha256, .. } = &change.action {
                return self
                    .assets
                    .get(asset, &desired.kata.source, sha256)
                    .await
                    .map(Some);
            }
        }
        Ok(None)
    }

    async fn apply(
        &self,
        t: &dyn Transport,
        host: &Host,
        plan: &Plan,
        release: Option<&crate::release::fetch::Fetched>,
    ) -> Result<apply::ApplyOutcome, String> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<StepEvent>();
        let names: Vec<String> = plan.changes.iter().map(|c| c.reason.clone()).collect();
        let progress = self.progress.clone();
        let name = host.name.clone();
        let relay = tokio::spawn(async move {
            while let Some((step, result)) = rx.recv().await {
                if result.is_none() {
                    let what = names.get(step.wrapping_sub(1)).cloned().unwrap_or_default();
                    let _ = progress.send(Event::Stage {
                        host: name.clone(),
                        what,
                    });
                }
            }
        });
        let outcome = apply::apply(t, plan, release, tx)
            .await
            .map_err(|e| e.to_string());
        let _ = relay.await;
        outcome
    }

    fn stage(&self, host: &str, what: &str) {
        let _ = self.progress.send(Event::Stage {
            host: host.into(),
            what: what.into(),
        });
    }

    fn finish(&self, mut report: HostReport, started: Instant) -> HostReport {
        report.elapsed = started.elapsed();
        let status = format!("{:?}", report.status).to_lowercase();
        let outcome = match &report.error {
            Some(e) => format!("{status}: {e}"),
            None => status,
        };
        let _ = self.progress.send(Event::Done {
            host: report.name.clone(),
            outcome,
        });
        report
    }
}

/// Runs the probe (one round trip) and parses its output.
pub async fn gather(
    t: &dyn Transport,
    desired: &Desired,
    log: &HostLog,
) -> Result<HostFacts, String> {
    let files: Vec<String> = plan::files_to_read(desired)
        .iter()
        .map(|f| format!("'{f}'"))
        .collect();
    let script = format!("set -- {}\n{}", files.join(" "), facts::PROBE);
    let out = t
        .run(&script, None, None)
        .await
        .map_err(|e| e.to_string())?;
    log.section("facts", &out.stdout);
    if !out.stderr.trim().is_empty() {
        log.section("facts stderr", &out.stderr);
    }
    facts::parse(&out.stdout).map_err(|e| match out.stderr.trim() {
        "" => e.to_string(),
        stderr => format!("{e}: {stderr}"),
    })
}

impl HostReport {
    fn new(name: &str, log: &HostLog) -> Self {
        Self {
            name: name.to_string(),
            os: String::new(),
            status: HostStatus::Skipped,
            changed: 0,
            error: None,
            warnings: Vec::new(),
            elapsed: Duration::ZERO,
            plan: None,
            facts: None,
            log: log.path.display().to_string(),
        }
    }

    fn failed(name: &str, error: String) -> Self {
        Self {
            name: name.to_string(),
            os: String::new(),
            status: HostStatus::Failed,
            changed: 0,
            error: Some(error),
            warnings: Vec::new(),
            elapsed: Duration::ZERO,
            plan: None,
            facts: None,
            log: String::new(),
        }
    }
}
