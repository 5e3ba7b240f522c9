//! Step 1 of verify: the release's own host check, with a diagnosis of
//! its output; katafleet's readiness findings when there is no check tool.

use super::{diagnose, last_line, Step};
use crate::assess::readiness;
use crate::facts::HostFacts;
use crate::inventory::{Desired, InstallMethod};
use crate::release::{Runtime, KATA_ROOT};
use crate::script::wire::Output;

/// Step 1: the release's own host check, or katafleet's when the release
/// has no check tool (kata-ctl ships only in kata-tools-static, amd64).
pub fn host_check(facts: &HostFacts, desired: &Desired, out: &Output) -> Step {
    const NAME: &str = "kata-check";
    let kata = &desired.kata;
    if kata.method == InstallMethod::Static && !facts.kata_tree.runtimes().contains(&kata.runtime) {
        return Step::fail(
            NAME,
            format!(
                "Kata's {} runtime is not installed in {KATA_ROOT}",
                match kata.runtime {
                    Runtime::Rust => "rust",
                    Runtime::Go => "go",
                }
            ),
            "run katafleet provision",
        );
    }
    let tool = match kata.runtime {
        Runtime::Rust => "kata-ctl",
        Runtime::Go => "kata-runtime",
    };
    let Some(run) = out.block("kata-check") else {
        return fallback(facts, tool);
    };
    let path = out.value("check_tool").unwrap_or(tool);
    let evidence = format!(
        "$ {path} ... (exit {})\n{}",
        run.exit,
        run.output.trim_end()
    );
    if run.ok() {
        // kata-runtime ends with "System can currently create Kata Containers";
        // kata-ctl says nothing more than its INFO lines on success.
        let last = last_line(&run.output);
        let detail = if last.contains("Kata Containers") {
            format!("{tool}: {last}")
        } else {
            format!("{tool} found nothing that stops Kata (exit 0)")
        };
        return Step::pass(NAME, detail).with_evidence(evidence);
    }
    if run.exit == 127
        || run.output.contains("not found")
            && run.output.contains(tool)
            && run.output.lines().count() <= 2
    {
        let d = diagnose::not_found(tool, &format!("{KATA_ROOT}/bin"));
        return Step::fail(NAME, d.what, d.fix).with_evidence(evidence);
    }
    if run.exit == 124 {
        return Step::fail(
            NAME,
            format!("{tool} did not finish within 120 s"),
            "run it by hand on the host to see where it hangs",
        )
        .with_evidence(evidence);
    }
    let found = diagnose::check_output(&run.output);
    let Some(first) = found.first() else {
        return Step::fail(
            NAME,
            format!(
                "{tool} says the host cannot run Kata (exit {}): {}",
                run.exit,
                last_line(&run.output)
            ),
            "read the tool's output below",
        )
        .with_evidence(evidence);
    };
    let also: Vec<&str> = found[1..].iter().map(|d| d.what.as_str()).collect();
    let detail = if also.is_empty() {
        first.what.clone()
    } else {
        format!("{}; also: {}", first.what, also.join("; "))
    };
    Step::fail(NAME, detail, first.fix.clone()).with_evidence(evidence)
}

/// No check tool on the host: katafleet's own readiness findings decide.
fn fallback(facts: &HostFacts, tool: &str) -> Step {
    let r = readiness::assess(facts);
    let note = format!("{tool} is not installed (kata-ctl ships in kata-tools-static, amd64 only), so katafleet's own checks decided");
    match r
        .findings
        .iter()
        .find(|f| f.status == readiness::Status::Fail)
    {
        Some(first) => {
            let blockers = r.blockers().join("; ");
            Step::fail(
                "kata-check",
                blockers,
                first.fix.clone().unwrap_or_default(),
            )
            .with_evidence(note)
        }
        None => Step::pass("kata-check", note),
    }
}
