//! Results on stdout: the plan with its diffs, the summary table, `--json`.

use std::fmt::Write as _;

pub mod rollout;
pub mod status;

use serde::Serialize;
use serde_json::json;

use crate::run::pipeline::HostReport;

/// Per host: every change with its reason and diff, then no-ops and warnings.
pub fn plan_text(reports: &[HostReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(
            out,
            "== {} ({}) ==",
            r.name,
            if r.os.is_empty() { "?" } else { &r.os }
        );
        if let Some(e) = &r.error {
            let _ = writeln!(out, "  {}: {e}", r.status.word());
        }
        if let Some(plan) = &r.plan {
            if plan.changes.is_empty() {
                let _ = writeln!(out, "  no changes");
            }
            for (i, c) in plan.changes.iter().enumerate() {
                let _ = writeln!(out, "  {}. {}", i + 1, c.reason);
                if let Some(diff) = &c.diff {
                    for line in diff.lines() {
                        let _ = writeln!(out, "     {line}");
                    }
                }
            }
            for n in &plan.noops {
                let _ = writeln!(out, "  = {}: {}", n.what, n.reason);
            }
        }
        for w in &r.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        out.push('\n');
    }
    out
}

pub fn summary_table(reports: &[HostReport]) -> String {
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                cell(&r.os),
                status_word(r),
                r.changed.to_string(),
                format!("{:.1}s", r.elapsed.as_secs_f64()),
            ]
        })
        .collect();
    let mut out = table(&["HOST", "OS", "STATUS", "CHANGES", "TIME"], &rows);
    for r in reports {
        if let Some(e) = &r.error {
            let _ = writeln!(out, "{}: {e}", r.name);
        }
        for w in &r.warnings {
            let _ = writeln!(out, "{}: warning: {w}", r.name);
        }
    }
    out
}

fn status_word(r: &HostReport) -> String {
    let word = r.status.word().to_string();
    if r.warnings.is_empty() || r.status.is_failure() {
        word
    } else {
        format!("{word} (+{} warnings)", r.warnings.len())
    }
}

pub fn provision_json(reports: &[HostReport]) -> String {
    serde_json::to_string_pretty(&json!({ "hosts": hosts_json(reports) })).unwrap_or_default()
}

/// Each host as `provision --json` shows it.
pub fn hosts_json(reports: &[HostReport]) -> Vec<serde_json::Value> {
    reports
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "os": r.os,
                "status": r.status,
                "changed": r.changed,
                "error": r.error,
                "stage": r.error.as_ref().map(|e| e.stage()),
                "step": r.error.as_ref().and_then(|e| e.step()),
                "warnings": r.warnings,
                "elapsed_secs": (r.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
                "log": r.log,
                "plan": r.plan,
            })
        })
        .collect()
}

/// Ok when every host is ok or changed; HostFailed when any failed or was unreachable.
pub fn exit_status(reports: &[HostReport]) -> crate::exit::ExitStatus {
    crate::exit::ExitStatus::hosts(reports.iter().any(|r| r.status.is_failure()))
}

/// `{"hosts":[...]}`, pretty-printed.
pub fn json<T: Serialize>(results: &[crate::run::inspect::HostResult<T>]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "hosts": results }))
        .unwrap_or_else(|e| format!("{{\"error\":\"cannot render JSON: {e}\"}}"))
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
}
