//! One host's journey: connect → facts → plan → (apply → verify). Hosts run
//! concurrently through `fanout`; one host's failure never stops another.

use std::sync::Arc;
use std::time::Duration;

use crate::apply::{self, StepEvent};
use crate::facts::gather::Purpose;
use crate::inventory::{Desired, Host};
use crate::plan::{self, Action, Plan, PlanOptions, Planner};
use crate::release::cache::AssetStore;
use crate::run::error::HostError;
use crate::run::fanout::{Fanout, HostCtx, HostJob};
pub use crate::run::gather::{gather, gather_with};
use crate::run::interrupt::{Interrupt, BEFORE_CHANGES};
use crate::run::log::{HostLog, RunLog};
use crate::run::progress::{self, Event};
use crate::script;
use crate::transport::{Connector, Transport};
use crate::verify;

pub use crate::report::status::HostStatus;
pub use crate::run::host_report::HostReport;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Gather facts and plan; change nothing.
    Plan,
    /// Plan, apply and verify.
    Provision,
}

/// What a command does on the controller around a host's changes (upgrade:
/// drain the host's Kubernetes node first).
#[async_trait::async_trait]
pub trait Gate: Send + Sync {
    /// The host's plan has changes and nothing on it has changed yet; an
    /// error fails the host, still unchanged.
    async fn before_changes(&self, host: &Host, log: &HostLog) -> Result<(), HostError>;
}

pub struct Run {
    pub mode: Mode,
    pub planner: Planner,
    pub options: PlanOptions,
    pub parallel: usize,
    pub assets: Arc<AssetStore>,
    pub log: RunLog,
    pub progress: progress::Sender,
    /// How each host is reached (`transport::Direct` but in tests).
    pub connector: Arc<dyn Connector>,
    /// Raised by Ctrl-C or SIGTERM: no host starts, and no host gets its
    /// changes, once it is; a host whose changes are in flight finishes.
    pub interrupt: Interrupt,
}

impl Run {
    /// Every host through the shared fan-out (semaphore, progress, unreachable hosts).
    pub async fn all(self: Arc<Self>, hosts: Vec<Host>) -> Vec<HostReport> {
        let fanout = Fanout {
            parallel: self.parallel,
            log: self.log.clone(),
            progress: self.progress.clone(),
            connector: self.connector.clone(),
            interrupt: self.interrupt.clone(),
        };
        fanout.each(self, hosts).await
    }

    /// One host through the pipeline; `gate` runs before its first change.
    pub async fn host(
        &self,
        t: &dyn Transport,
        host: &Host,
        ctx: &HostCtx,
        gate: Option<&dyn Gate>,
    ) -> HostReport {
        let mut report = HostReport::new(&host.name, &ctx.log);
        if let Err(error) = self
            .with_transport(t, host, &ctx.log, &mut report, gate)
            .await
        {
            report.status = match (&error, report.status) {
                (HostError::Interrupted(_), _) => HostStatus::Skipped,
                (_, HostStatus::RolledBack) => HostStatus::RolledBack,
                _ => HostStatus::Failed,
            };
            report.error = Some(error);
        }
        report
    }

    async fn with_transport(
        &self,
        t: &dyn Transport,
        host: &Host,
        log: &HostLog,
        report: &mut HostReport,
        gate: Option<&dyn Gate>,
    ) -> Result<(), HostError> {
        self.stage(&host.name, "gathering facts");
        let purpose = purpose(self.planner);
        let mut facts = gather(t, &host.desired, purpose, log)
            .await
            .map_err(HostError::Facts)?;
        report.os = facts.os.pretty_name.clone();
        report.kata_before = facts.kata.as_ref().map(|k| k.version);
        // The dry run shows what provision would do even on a host that is not
        // ready, and still reports it as not ready.
        let options = PlanOptions {
            force: self.options.force || (self.mode == Mode::Plan && self.planner.dry_run_forces()),
        };
        // A NixOS activation an earlier run left pending is settled first (a
        // plan of its own); then the host is planned afresh, once.
        let mut settled = None;
        let plan = loop {
            let plan = self.planner.plan(&facts, &host.desired, options)?;
            if self.mode == Mode::Plan || !is_nixos_finish(&plan) {
                break plan;
            }
            if settled.is_some() {
                return Err(HostError::Activate(
                    "the pending NixOS activation is still recorded after katafleet settled it"
                        .into(),
                ));
            }
            let (message, after) = self.settle(t, host, log, &plan).await?;
            report.warnings.push(format!(
                "an earlier run left a NixOS activation pending: {message}"
            ));
            settled = Some(message);
            facts = after;
        };
        // Fixed before anything changes: what a fresh plan is checked against.
        let (check_planner, check_desired) = self.planner.verified_as(&facts, &host.desired);
        log.section(
            "plan",
            &serde_json::to_string_pretty(&plan).unwrap_or_default(),
        );
        report.warnings.extend(plan.warnings.iter().cloned());
        report.changed = plan.changes.len() + usize::from(settled.is_some());
        report.facts = Some(facts);
        let blockers = plan.readiness.blockers();
        if self.mode == Mode::Plan || plan.is_empty() {
            report.status = if plan.is_empty() && settled.is_none() {
                HostStatus::Ok
            } else {
                HostStatus::Changed
            };
            if !self.options.force && !blockers.is_empty() {
                report.plan = Some(plan);
                return Err(plan::PlanError::NotReady(blockers.join("; ")).into());
            }
            // Nothing to change is no proof: a host whose daemons do not show
            // the runtimes is never `ok` (and never gets its node label).
            if self.mode == Mode::Provision {
                if let Some(facts) = &report.facts {
                    let checked = verify::after_run(
                        self.planner,
                        facts,
                        &host.desired,
                        &plan,
                        Ok(plan.clone()),
                    );
                    report.plan = Some(plan);
                    checked?;
                    // A run whose controller went away finished on the host
                    // and left its transaction open: the host as it is now
                    // verified, so that run is committed.
                    if facts.txn_open {
                        let (_, message) = self.finish(t, log, script::commit_script()).await;
                        report.warnings.extend(message.map(|m| {
                            format!("the host is verified, but settling the transaction an earlier run left failed: {m}")
                        }));
                    }
                    return Ok(());
                }
            }
            report.plan = Some(plan);
            return Ok(());
        }
        // A download is not worth waiting for once the run is interrupted:
        // nothing has changed on this host yet.
        let release = tokio::select! {
            fetched = self.release_for(&plan, &host.desired) => fetched.map_err(HostError::Fetch)?,
            () = self.interrupt.raised() => None,
        };
        // The last point where an interruption leaves a host untouched; from
        // here its changes run, and are verified and settled, to the end.
        if self.interrupt.is_set() {
            report.plan = Some(plan);
            return Err(HostError::Interrupted(BEFORE_CHANGES.into()));
        }
        // The release is in hand (a fetch that fails drains no node).
        if let Some(gate) = gate {
            if let Err(e) = gate.before_changes(host, log).await {
                report.plan = Some(plan);
                return Err(e);
            }
        }
        self.stage(&host.name, "applying");
        // Whose files the facts after apply must read (a rollback's are the
        // old release's); the daemons' versions are known from before.
        let installs_packages = plan
            .changes
            .iter()
            .any(|c| matches!(c.action, Action::InstallPackage { .. }));
        let probe = match &report.facts {
            Some(before) => {
                script::probe::after_apply_body(&check_desired, purpose, before, installs_packages)
            }
            None => script::probe::body(&check_desired, purpose),
        };
        let outcome = match self.apply(t, host, &plan, release.as_ref(), &probe).await {
            Ok(outcome) => outcome,
            Err(broken) => {
                let names: Vec<String> = plan.changes.iter().map(|c| c.reason.clone()).collect();
                log.section("apply script", &broken.outcome.script);
                log.section(
                    "apply stdout (until it broke off)",
                    &broken.outcome.output.stdout,
                );
                log.section(
                    "apply stderr (until it broke off)",
                    &broken.outcome.output.stderr,
                );
                report.plan = Some(plan);
                return Err(HostError::Apply {
                    step: broken.step(),
                    message: broken.message(&names),
                });
            }
        };
        log.section("apply script", &outcome.script);
        log.section(
            "apply payload",
            &format!(
                "{} bytes of release streamed after the script",
                outcome.streamed
            ),
        );
        log.section("apply stdout", &outcome.output.stdout);
        log.section("apply stderr", &outcome.output.stderr);
        report.changed = outcome.changed();
        report.warnings.extend(outcome.warnings());
        if let Some((step, message)) = outcome.failure() {
            // An upgrade that broke off after the release was swapped (say,
            // containerd cannot start with it) goes back to the old release
            // and its configuration as a whole: that host worked before.
            if report.kata_before.is_some() && broke_off_after_swap(&plan, step) {
                self.put_back(t, host, log, report).await;
            }
            report.plan = Some(plan);
            return Err(HostError::Apply { step, message });
        }
        self.stage(&host.name, "verifying");
        // The apply script gathered the facts afresh at its end (no extra round trip).
        let after = match outcome.after_facts() {
            Some(parsed) => parsed
                .map(|after| match &report.facts {
                    Some(before) => after.keep_unchanged(before),
                    None => after,
                })
                .map_err(|e| HostError::Facts(format!("facts after apply: {e}"))),
            None => gather(t, &check_desired, purpose, log)
                .await
                .map_err(HostError::Facts),
        };
        let nixos = activates_nixos(&plan);
        let verified = after.and_then(|mut after| {
            // This run's own NixOS activation is pending until the commit
            // below; what is judged is the system it activated.
            if let Some(n) = after.nixos.as_mut() {
                n.pending = None;
            }
            let again = check_planner.replan(&after, &check_desired, self.options);
            verify::after_run(check_planner, &after, &check_desired, &plan, again)
                .map(|()| after)
                .map_err(HostError::from)
        });
        report.plan = Some(plan);
        match verified {
            Ok(after) if nixos => {
                report.facts = Some(after);
                self.commit_nixos(t, host, log, report).await?;
                report.status = HostStatus::Changed;
                Ok(())
            }
            Ok(after) => {
                // Verified: the previous state is no longer kept.
                let (_, message) = self.finish(t, log, script::commit_script()).await;
                report.facts = Some(after);
                report
                    .warnings
                    .extend(message.map(|m| format!("the run is verified, but {m}")));
                report.status = HostStatus::Changed;
                Ok(())
            }
            Err(error) => {
                self.put_back(t, host, log, report).await;
                Err(error)
            }
        }
    }

    async fn release_for(
        &self,
        plan: &Plan,
        desired: &Desired,
    ) -> Result<Option<crate::release::fetch::Fetched>, String> {
        for change in &plan.changes {
            if let Action::InstallKata { asset, sha256, .. } = &change.action {
                let fetched = self.assets.get(asset, &desired.kata.source, sha256).await?;
                // The archive is the truth about which hypervisors a release ships.
                for hv in desired.kata.hypervisors() {
                    crate::release::check_archive(
                        &fetched.contents,
                        asset.runtime,
                        hv,
                        asset.arch,
                    )?;
                }
                return Ok(Some(fetched));
            }
        }
        Ok(None)
    }

    pub(super) async fn apply(
        &self,
        t: &dyn Transport,
        host: &Host,
        plan: &Plan,
        release: Option<&crate::release::fetch::Fetched>,
        // The facts probe the apply script ends with.
        probe: &str,
    ) -> Result<apply::ApplyOutcome, apply::Broken> {
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
        let outcome = apply::apply_then_probe(t, plan, release, probe, tx).await;
        let _ = relay.await;
        outcome
    }

    pub(super) fn stage(&self, host: &str, what: &str) {
        let _ = self.progress.send(Event::Stage {
            host: host.into(),
            what: what.into(),
        });
    }
}

#[async_trait::async_trait]
impl HostJob for Run {
    type Report = HostReport;

    async fn run(&self, t: &dyn Transport, host: &Host, ctx: &HostCtx) -> HostReport {
        self.host(t, host, ctx, None).await
    }

    fn unreachable(&self, host: &Host, ctx: &HostCtx, error: String) -> HostReport {
        let mut report = HostReport::new(&host.name, &ctx.log);
        report.status = HostStatus::Unreachable;
        report.error = Some(HostError::Connect(error));
        report
    }

    fn crashed(&self, name: &str, error: String) -> HostReport {
        HostReport::failed(name, HostError::Internal(error))
    }

    fn not_started(&self, host: &Host, ctx: &HostCtx, reason: String) -> HostReport {
        let mut report = HostReport::new(&host.name, &ctx.log);
        report.error = Some(HostError::Interrupted(reason));
        report
    }

    fn finish(&self, report: &mut HostReport, elapsed: Duration) -> String {
        report.elapsed = elapsed;
        let status = report.status.word();
        match &report.error {
            Some(e) => format!("{status}: {e}"),
            None => status.to_string(),
        }
    }
}

/// Whether the failed step (1-based) came after the plan's release install.
pub(super) fn broke_off_after_swap(plan: &Plan, failed_step: Option<usize>) -> bool {
    let install = plan
        .changes
        .iter()
        .position(|c| matches!(c.action, Action::InstallKata { .. }));
    matches!((install, failed_step), (Some(i), Some(step)) if step > i + 1)
}

/// Whether the plan activates a new NixOS system (its commit sets the boot default).
fn activates_nixos(plan: &Plan) -> bool {
    plan.changes
        .iter()
        .any(|c| matches!(c.action, Action::NixosActivate { .. }))
}

/// Whether the plan settles a NixOS activation an earlier run left pending.
fn is_nixos_finish(plan: &Plan) -> bool {
    plan.changes
        .iter()
        .any(|c| matches!(c.action, Action::NixosFinish { .. }))
}

/// How much a planner's probe reads: uninstall also reads what katafleet
/// owns in full (the files, their saved originals, dockerd's runtimes).
pub(super) fn purpose(planner: Planner) -> Purpose {
    match planner {
        Planner::Uninstall => Purpose::Uninstall,
        _ => Purpose::Plan,
    }
}
