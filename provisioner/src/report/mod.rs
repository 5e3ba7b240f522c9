//! Results on stdout: the plan with its diffs, the summary table, `--json`.

use std::fmt::Write as _;

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
            let _ = writeln!(out, "  {}: {e}", format!("{:?}", r.status).to_lowercase());
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
    let header = ["HOST", "OS", "STATUS", "CHANGES", "TIME"];
    let rows: Vec<[String; 5]> = reports
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                if r.os.is_empty() {
                    "-".into()
                } else {
                    r.os.clone()
                },
                status_word(r),
                r.changed.to_string(),
                format!("{:.1}s", r.elapsed.as_secs_f64()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let line = |cells: [&str; 5], out: &mut String| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(header, &mut out);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]], &mut out);
    }
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
    let word = format!("{:?}", r.status).to_lowercase();
    if r.warnings.is_empty() || r.status.is_failure() {
        word
    } else {
        format!("{word} (+{} warnings)", r.warnings.len())
    }
}

pub fn json(reports: &[HostReport]) -> String {
    let hosts: Vec<_> = reports
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "os": r.os,
                "status": r.status,
                "changed": r.changed,
                "error": r.error,
                "warnings": r.warnings,
                "elapsed_secs": (r.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
                "log": r.log,
                "plan": r.plan,
            })
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "hosts": hosts })).unwrap_or_default()
}

/// Ok when every host is ok or changed; HostFailed when any failed or was unreachable.
pub fn exit_status(reports: &[HostReport]) -> crate::exit::ExitStatus {
    crate::exit::ExitStatus::hosts(reports.iter().any(|r| r.status.is_failure()))
}
