//! The one place where commands meet many hosts: one job per host, at most
//! `parallel` at a time, each over its own connection, with progress events.
//! A host that cannot be reached, or whose job dies, never stops the others.
//! Once the run is interrupted, no host starts; those in flight finish.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::join_all;
use tokio::sync::Semaphore;

use crate::inventory::Host;
use crate::run::interrupt::{Interrupt, NOT_STARTED};
use crate::run::log::{HostLog, RunLog};
use crate::run::progress::{self, Event};
use crate::transport::{Connector, Transport};

/// What a command does on each host, and how it reports.
#[async_trait]
pub trait HostJob: Send + Sync + 'static {
    type Report: Send + 'static;

    /// The work on a host that answered.
    async fn run(&self, t: &dyn Transport, host: &Host, ctx: &HostCtx) -> Self::Report;

    /// The report for a host that could not be reached.
    fn unreachable(&self, host: &Host, ctx: &HostCtx, error: String) -> Self::Report;

    /// The report for a host whose job panicked or was cancelled.
    fn crashed(&self, name: &str, error: String) -> Self::Report;

    /// The report for a host never started because the run was interrupted.
    fn not_started(&self, host: &Host, ctx: &HostCtx, reason: String) -> Self::Report;

    /// Records how long the host took; returns its one-line outcome for progress.
    fn finish(&self, report: &mut Self::Report, elapsed: Duration) -> String;
}

/// Per-host context handed to a job.
#[derive(Clone)]
pub struct HostCtx {
    pub name: String,
    pub log: HostLog,
    /// This run's log directory, for extra per-host files (daemon logs...).
    pub run_dir: std::path::PathBuf,
    progress: progress::Sender,
}

impl HostCtx {
    /// Tells the progress display what this host is doing now.
    pub fn stage(&self, what: &str) {
        let _ = self.progress.send(Event::Stage {
            host: self.name.clone(),
            what: what.into(),
        });
    }
}

/// The shared settings of one run over many hosts.
#[derive(Clone)]
pub struct Fanout {
    pub parallel: usize,
    pub log: RunLog,
    pub progress: progress::Sender,
    /// How each host is reached (`transport::Direct` but in tests).
    pub connector: Arc<dyn Connector>,
    /// Raised by Ctrl-C or SIGTERM: hosts not yet started stay untouched.
    pub interrupt: Interrupt,
}

impl Fanout {
    /// Runs `job` on every host; reports come back in the hosts' order.
    pub async fn each<J: HostJob>(&self, job: Arc<J>, hosts: Vec<Host>) -> Vec<J::Report> {
        let limit = Arc::new(Semaphore::new(self.parallel.max(1)));
        let tasks = hosts.into_iter().map(|host| {
            let (worker, limit, fanout) = (job.clone(), limit.clone(), self.clone());
            let name = host.name.clone();
            let handle = tokio::spawn(async move {
                let _permit = limit.acquire_owned().await;
                fanout.one(worker.as_ref(), host).await
            });
            let job = job.clone();
            async move {
                handle
                    .await
                    .unwrap_or_else(|e| job.crashed(&name, format!("internal error: {e}")))
            }
        });
        join_all(tasks).await
    }

    async fn one<J: HostJob>(&self, job: &J, host: Host) -> J::Report {
        let started = Instant::now();
        let ctx = HostCtx {
            name: host.name.clone(),
            log: self.log.host(&host.name),
            run_dir: self.log.dir.clone(),
            progress: self.progress.clone(),
        };
        if self.interrupt.is_set() {
            ctx.log.section("interrupted", NOT_STARTED);
            let mut report = job.not_started(&host, &ctx, NOT_STARTED.into());
            let outcome = job.finish(&mut report, Duration::ZERO);
            let _ = self.progress.send(Event::Done {
                host: host.name.clone(),
                outcome,
            });
            return report;
        }
        ctx.stage("connecting");
        let mut report = match self.connector.connect(&host).await {
            // Interrupted while it connected: nothing was asked of it yet.
            Ok(t) if self.interrupt.is_set() => {
                t.close().await;
                ctx.log.section("interrupted", NOT_STARTED);
                job.not_started(&host, &ctx, NOT_STARTED.into())
            }
            Ok(t) => {
                let report = job.run(t.as_ref(), &host, &ctx).await;
                t.close().await;
                report
            }
            Err(e) => {
                ctx.log.section("connect", &e.to_string());
                job.unreachable(&host, &ctx, e.to_string())
            }
        };
        let outcome = job.finish(&mut report, started.elapsed());
        let _ = self.progress.send(Event::Done {
            host: host.name.clone(),
            outcome,
        });
        report
    }
}
