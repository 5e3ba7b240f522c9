//! `upgrade`'s rollout summary, under the host table and in `--json`:
//! the batches with their hosts, how many ran, the failures against the
//! budget, and why the rollout stopped.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::json;

use crate::run::pipeline::HostReport;
use crate::run::rollout::drive::Driven;

/// Everything the summary says; `--json` prints it as `rollout`.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutSummary {
    /// The version the hosts are moved to.
    pub target: String,
    #[serde(flatten)]
    pub driven: Driven,
    /// The hosts the rollout covers (percentages and the budget are of them).
    pub hosts: usize,
    pub max_fail_percentage: u32,
    /// How many hosts may fail before no further batch starts.
    pub failures_allowed: usize,
    /// Hosts `--resume` left alone: at the target since an earlier run.
    pub done_earlier: Vec<String>,
    pub dry_run: bool,
    /// Where the state for `--resume` is (None on a dry run).
    pub state_file: Option<String>,
}

pub fn text(summary: &RolloutSummary, reports: &[HostReport]) -> String {
    let s = summary;
    let d = &s.driven;
    let mut out = String::new();
    let what = if s.dry_run { "would run" } else { "ran" };
    let _ = writeln!(
        out,
        "\nrollout to Kata {}: {what} {} of {} batch(es)",
        s.target,
        if s.dry_run {
            d.batches.len()
        } else {
            d.batches_done
        },
        d.batches.len()
    );
    for (i, batch) in d.batches.iter().enumerate() {
        let hosts: Vec<String> = batch
            .iter()
            .map(|name| match reports.iter().find(|r| &r.name == name) {
                Some(r) if !s.dry_run => format!("{name} ({})", r.status.word()),
                _ => name.clone(),
            })
            .collect();
        let _ = writeln!(out, "  batch {}: {}", i + 1, hosts.join(", "));
    }
    if !s.done_earlier.is_empty() {
        let _ = writeln!(out, "  done earlier: {}", s.done_earlier.join(", "));
    }
    if !s.dry_run {
        let _ = writeln!(
            out,
            "failures: {} of {} host(s); max_fail_percentage = {} allows {}",
            d.failed, s.hosts, s.max_fail_percentage, s.failures_allowed
        );
    }
    if let Some(why) = &d.stopped {
        let _ = writeln!(out, "stopped: {why}");
    }
    if let Some(path) = &s.state_file {
        let _ = writeln!(out, "state: {path} (`--resume` continues this rollout)");
    }
    out
}

/// `{"hosts": [...as provision...], "rollout": {...}}`, pretty-printed.
pub fn json(summary: &RolloutSummary, reports: &[HostReport]) -> String {
    serde_json::to_string_pretty(&json!({
        "hosts": super::hosts_json(reports),
        "rollout": summary,
    }))
    .unwrap_or_default()
}
