//! Reports of the commands that look at hosts and judge them (check, status,
//! verify): one verdict per host, its detail, a table and `--json`.

use std::fmt::Write as _;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::inventory::Host;
use crate::run::fanout::{HostCtx, HostJob};
use crate::transport::Transport;

/// How a host fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Everything asked of the host holds.
    Pass,
    /// The host answered and falls short; the detail says where.
    Fail,
    /// No connection.
    Unreachable,
    /// The host answered but could not be judged (e.g. the probe failed).
    Error,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unreachable => "unreachable",
            Verdict::Error => "error",
        }
    }
}

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

    fn finish(&self, report: &mut Self::Report, elapsed: Duration) -> String {
        report.elapsed_secs = (elapsed.as_secs_f64() * 1000.0).round() / 1000.0;
        match &report.error {
            Some(e) => format!("{}: {e}", report.status.word()),
            None => report.status.word().to_string(),
        }
    }
}

/// `{"hosts":[...]}`, pretty-printed.
pub fn json<T: Serialize>(results: &[HostResult<T>]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "hosts": results }))
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot render JSON: {e}\"}}"))
}

/// 0 when every host passed, 1 otherwise.
pub fn exit_status<T>(results: &[HostResult<T>]) -> crate::exit::ExitStatus {
    crate::exit::ExitStatus::hosts(results.iter().any(|r| r.status != Verdict::Pass))
}

/// Left-aligned columns separated by two spaces; trailing blanks trimmed.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// `-` for an empty cell.
pub fn cell(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_columns_and_trims_line_ends() {
        let t = table(
            &["HOST", "READY"],
            &[
                vec!["a-long-name".into(), "no".into()],
                vec!["b".into(), "".into()],
            ],
        );
        assert_eq!(t, "HOST         READY\na-long-name  no\nb\n");
    }

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
        let v: serde_json::Value = serde_json::from_str(&json(std::slice::from_ref(&r))).unwrap();
        assert_eq!(v["hosts"][0]["findings"][0], 1);
        assert_eq!(v["hosts"][0]["status"], "pass");
        assert_eq!(exit_status(std::slice::from_ref(&r)).code(), 0);
        r.status = Verdict::Unreachable;
        assert_eq!(exit_status(&[r]).code(), 1);
    }
}
