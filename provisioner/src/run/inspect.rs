//! Reports of the commands that look at hosts and judge them (check, status,
//! verify): one verdict per host, its detail, a table and `--json`.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::inventory::Host;
use crate::run::fanout::{HostCtx, HostJob};
use crate::transport::Transport;

pub use crate::report::status::Verdict;

/// One host's result; `detail` is flattened into the JSON object.
#[derive(Debug, Clone, Serialize)]
pub struct HostResult<T> {
    pub name: String,
    pub os: String,
    pub status: Verdict,
    pub error: Option<String>,
    #[serde(flatten)]
    pub detail: Option<T>,
    pub elapsed_secs: f64,
    pub log: String,
}

/// What an inspection found on a host it reached.
#[derive(Debug, Clone)]
pub struct Inspected<T> {
    pub os: String,
    pub verdict: Verdict,
    pub error: Option<String>,
    pub detail: Option<T>,
}

impl<T> Inspected<T> {
    /// The host could not be judged.
    pub fn error(os: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            os: os.into(),
            verdict: Verdict::Error,
            error: Some(message.into()),
            detail: None,
        }
    }
}

/// A read-only look at one host, run on every host through `fanout`.
#[async_trait]
pub trait Inspection: Send + Sync + 'static {
    type Detail: Send + 'static;
    async fn inspect(
        &self,
        t: &dyn Transport,
        host: &Host,
        ctx: &HostCtx,
    ) -> Inspected<Self::Detail>;
}

/// Adapts an inspection to the fan-out.
pub struct Inspect<I>(pub I);

#[async_trait]
impl<I: Inspection> HostJob for Inspect<I> {
    type Report = HostResult<I::Detail>;

    async fn run(&self, t: &dyn Transport, host: &Host, ctx: &HostCtx) -> Self::Report {
        let found = self.0.inspect(t, host, ctx).await;
        HostResult {
            name: host.name.clone(),
            os: found.os,
            status: found.verdict,
            error: found.error,
            detail: found.detail,
            elapsed_secs: 0.0,
            log: ctx.log.path.display().to_string(),
        }
    }

    fn unreachable(&self, host: &Host, ctx: &HostCtx, error: String) -> Self::Report {
        HostResult {
            name: host.name.clone(),
            os: String::new(),
            status: Verdict::Unreachable,
            error: Some(error),
            detail: None,
            elapsed_secs: 0.0,
            log: ctx.log.path.display().to_string(),
        }
    }

    fn crashed(&self, name: &str, error: String) -> Self::Report {
        HostResult {
            name: name.to_string(),
            os: String::new(),
            status: Verdict::Error,
            error: Some(error),
            detail: None,
            elapsed_secs: 0.0,
            log: String::new(),
        }
    }

    fn not_started(&self, host: &Host, ctx: &HostCtx, reason: String) -> Self::Report {
        HostResult {
            name: host.name.clone(),
            os: String::new(),
            status: Verdict::Skipped,
            error: Some(reason),
            detail: None,
            elapsed_secs: 0.0,
            log: ctx.log.path.display().to_string(),
        }
    }

    fn finish(&self, report: &mut Self::Report, elapsed: Duration) -> String {
        report.elapsed_secs = (elapsed.as_secs_f64() * 1000.0).round() / 1000.0;
        match &report.error {
            Some(e) => format!("{}: {e}", report.status.word()),
            None => report.status.word().to_string(),
        }
    }
}

/// 0 when every host passed, 1 otherwise.
pub fn exit_status<T>(results: &[HostResult<T>]) -> crate::exit::ExitStatus {
    crate::exit::ExitStatus::hosts(results.iter().any(|r| r.status != Verdict::Pass))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_flattens_the_detail_and_exit_status_counts_non_passes() {
        #[derive(Serialize)]
        struct D {
            findings: Vec<u8>,
        }
        let mut r = HostResult {
            name: "h".into(),
            os: "Debian".into(),
            status: Verdict::Pass,
            error: None,
            detail: Some(D { findings: vec![1] }),
            elapsed_secs: 0.5,
            log: "h.log".into(),
        };
        let v: serde_json::Value =
            serde_json::from_str(&crate::report::json(std::slice::from_ref(&r))).unwrap();
        assert_eq!(v["hosts"][0]["findings"][0], 1);
        assert_eq!(v["hosts"][0]["status"], "pass");
        assert_eq!(exit_status(std::slice::from_ref(&r)).code(), 0);
        r.status = Verdict::Unreachable;
        assert_eq!(exit_status(&[r]).code(), 1);
    }
}
