//! One batch of an upgrade on real hosts: the provision pipeline per host,
//! with the node drained first (the gate), `upgraded` for a host that moved
//! to the new release, and the rollout state saved as each host finishes.
//! Also the pause between batches (seconds, or a question on the terminal).

use std::sync::Arc;
use std::time::Duration;

use crate::inventory::{Host, Pause};
use crate::kubernetes::NodeDrain;
use crate::plan::{Action, PlanOptions, Planner};
use crate::release::cache::AssetStore;
use crate::report::status::HostStatus;
use crate::run::fanout::{Fanout, HostCtx, HostJob};
use crate::run::interrupt::Interrupt;
use crate::run::log::RunLog;
use crate::run::pipeline::{Gate, HostReport, Mode, Run};
use crate::run::progress;
use crate::run::rollout::drive::{BatchDone, Between, RunBatch};
use crate::run::rollout::state::StateFile;
use crate::transport::{Connector, Transport};

/// What every batch of one upgrade shares.
pub struct Batches {
    pub mode: Mode,
    pub force: bool,
    pub parallel: usize,
    pub assets: Arc<AssetStore>,
    pub log: RunLog,
    pub connector: Arc<dyn Connector>,
    /// With a kubeconfig: cordon and drain before, uncordon after.
    pub gate: Option<Arc<NodeDrain>>,
    /// None on a dry run: nothing is recorded.
    pub state: Option<Arc<StateFile>>,
    /// Progress without drawing (tests).
    pub quiet: bool,
    /// Raised by Ctrl-C or SIGTERM: no host starts, no batch follows.
    pub interrupt: Interrupt,
}

#[async_trait::async_trait]
impl RunBatch for Batches {
    async fn run(&mut self, hosts: Vec<Host>) -> Vec<HostReport> {
        let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
        // A display per batch, finished before the pause asks anything.
        let (progress, drawing) = progress::start(&names, self.quiet);
        let run = Arc::new(Run {
            mode: self.mode,
            planner: Planner::Provision,
            options: PlanOptions { force: self.force },
            parallel: self.parallel,
            assets: self.assets.clone(),
            log: self.log.clone(),
            progress: progress.clone(),
            connector: self.connector.clone(),
            interrupt: self.interrupt.clone(),
        });
        let job = Arc::new(Upgrade {
            run,
            gate: self.gate.clone(),
            state: self.state.clone(),
        });
        let fanout = Fanout {
            parallel: self.parallel,
            log: self.log.clone(),
            progress,
            connector: self.connector.clone(),
            interrupt: self.interrupt.clone(),
        };
        let reports = fanout.each(job, hosts).await;
        drop(fanout);
        let _ = drawing.await;
        reports
    }
}

/// The pipeline for one host of an upgrade.
struct Upgrade {
    run: Arc<Run>,
    gate: Option<Arc<NodeDrain>>,
    state: Option<Arc<StateFile>>,
}

#[async_trait::async_trait]
impl HostJob for Upgrade {
    type Report = HostReport;

    async fn run(&self, t: &dyn Transport, host: &Host, ctx: &HostCtx) -> HostReport {
        let gate = self.gate.as_deref().map(|g| g as &dyn Gate);
        let mut report = self.run.host(t, host, ctx, gate).await;
        if self.run.mode == Mode::Provision {
            mark_upgraded(&mut report);
        }
        if let Some(gate) = &self.gate {
            gate.after(host, &mut report).await;
        }
        report
    }

    fn unreachable(&self, host: &Host, ctx: &HostCtx, error: String) -> HostReport {
        HostJob::unreachable(self.run.as_ref(), host, ctx, error)
    }

    fn crashed(&self, name: &str, error: String) -> HostReport {
        HostJob::crashed(self.run.as_ref(), name, error)
    }

    fn not_started(&self, host: &Host, ctx: &HostCtx, reason: String) -> HostReport {
        HostJob::not_started(self.run.as_ref(), host, ctx, reason)
    }

    /// The host is done: its outcome goes into the rollout state at once,
    /// so an interrupted rollout resumes after every host that finished.
    fn finish(&self, report: &mut HostReport, elapsed: Duration) -> String {
        let line = HostJob::finish(self.run.as_ref(), report, elapsed);
        if let Some(state) = &self.state {
            if let Err(e) = state.host_done(report) {
                report.warnings.push(e.to_string());
            }
        }
        line
    }
}

/// `changed` by installing a release is `upgraded`: the host moved to it.
pub fn mark_upgraded(report: &mut HostReport) {
    let installed = report.plan.as_ref().is_some_and(|p| {
        p.changes.iter().any(|c| {
            matches!(
                c.action,
                Action::InstallKata { .. } | Action::InstallPackage { .. }
            )
        })
    });
    if report.status == HostStatus::Changed && report.error.is_none() && installed {
        report.status = HostStatus::Upgraded;
    }
}

/// `pause_between_batches`: wait, or ask on the terminal.
pub struct Pauses {
    pub pause: Pause,
    /// Whether stdin is a terminal to ask on.
    pub tty: bool,
    /// An interrupted rollout starts no further batch.
    pub interrupt: Interrupt,
}

const INTERRUPTED: &str = "the rollout was interrupted (Ctrl-C or SIGTERM); --resume continues it";

#[async_trait::async_trait]
impl Between for Pauses {
    async fn next(&self, done: &BatchDone<'_>) -> Result<(), String> {
        let next: Vec<&str> = done.next.iter().map(|h| h.name.as_str()).collect();
        if self.interrupt.is_set() {
            return Err(INTERRUPTED.into());
        }
        match self.pause {
            Pause::Seconds(0) => Ok(()),
            Pause::Seconds(n) => {
                eprintln!(
                    "rollout: batch {} of {} done; batch {} ({}) starts in {n} s (pause_between_batches)",
                    done.number,
                    done.of,
                    done.number + 1,
                    next.join(", ")
                );
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(n)) => Ok(()),
                    () = self.interrupt.raised() => Err(INTERRUPTED.into()),
                }
            }
            Pause::Confirm => {
                if !self.tty {
                    return Err(
                        "pause_between_batches = \"confirm\" asks on a terminal, and stdin is not one; run again with --resume from a terminal, or set a number of seconds"
                            .into(),
                    );
                }
                let failed = done
                    .reports
                    .iter()
                    .filter(|r| r.status.is_failure())
                    .count();
                eprint!(
                    "rollout: batch {} of {} done ({failed} failed so far). Start batch {} ({})? [y/N] ",
                    done.number,
                    done.of,
                    done.number + 1,
                    next.join(", ")
                );
                let answer = tokio::task::spawn_blocking(|| {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).map(|_| line)
                })
                .await;
                match answer {
                    Ok(Ok(line)) if matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes") => {
                        Ok(())
                    }
                    _ => Err(format!("batch {} was not confirmed", done.number + 1)),
                }
            }
        }
    }
}
