//! Sends a plan to its host as one script over one channel and reads the
//! per-step results it streams back.

pub use crate::script::nixos::{rollback_script, switch_script};

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::plan::{Action, Plan};
use crate::release::fetch::Fetched;
use crate::transport::{Payload, ScriptOutput, Transport, TransportError};

pub use crate::script::apply::render;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Changed,
    Ok,
    Warn,
    Failed,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StepResult {
    /// 1-based index into the plan's changes.
    pub step: usize,
    pub status: StepStatus,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct ApplyOutcome {
    pub steps: Vec<StepResult>,
    pub output: ScriptOutput,
    pub script: String,
}

impl ApplyOutcome {
    /// The probe output printed after a successful apply, if it ran.
    pub fn after_facts(&self) -> Option<&str> {
        self.output
            .stdout
            .split_once(&format!("{AFTER_FACTS}\n"))
            .map(|(_, rest)| rest)
    }

    pub fn failure(&self) -> Option<String> {
        if let Some(f) = self.steps.iter().find(|s| s.status == StepStatus::Failed) {
            return Some(f.message.clone());
        }
        if !self.output.success() {
            let stderr = self.output.stderr.trim();
            return Some(format!(
                "the apply script exited with {:?}{}",
                self.output.exit_code,
                if stderr.is_empty() {
                    String::new()
                } else {
                    format!(": {stderr}")
                }
            ));
        }
        None
    }

    pub fn changed(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.status, StepStatus::Changed | StepStatus::Warn))
            .count()
    }

    pub fn warnings(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|s| s.status == StepStatus::Warn)
            .map(|s| s.message.clone())
            .collect()
    }
}

/// Progress of one step as it happens: (step index, finished result or None when it starts).
pub type StepEvent = (usize, Option<StepResult>);

pub async fn apply(
    transport: &dyn Transport,
    plan: &Plan,
    release: Option<&Fetched>,
    events: UnboundedSender<StepEvent>,
) -> Result<ApplyOutcome, TransportError> {
    apply_then_probe(transport, plan, release, "", events).await
}

/// Marks where the facts gathered after a successful apply begin.
pub const AFTER_FACTS: &str = "@@after-facts";

/// Applies the plan and, in the same script and round trip, gathers the
/// facts afresh with `probe` so verification costs no extra round trip.
pub async fn apply_then_probe(
    transport: &dyn Transport,
    plan: &Plan,
    release: Option<&Fetched>,
    probe: &str,
    events: UnboundedSender<StepEvent>,
) -> Result<ApplyOutcome, TransportError> {
    let mut script = render(plan, release, env!("CARGO_PKG_VERSION"));
    if !probe.is_empty() {
        if let Some(end) = script.rfind("exit 0\n") {
            script.insert_str(end, &format!("echo {AFTER_FACTS}\n(\n{probe}\n)\n"));
        }
    }
    let installs = plan
        .changes
        .iter()
        .any(|c| matches!(c.action, Action::InstallKata { .. }));
    let payload = release.filter(|_| installs).map(|r| Payload {
        path: r.path.clone(),
        size: r.size,
    });
    run_script(transport, script, payload, events).await
}

/// Runs a script that speaks the step protocol and collects its results.
pub async fn run_script(
    transport: &dyn Transport,
    script: String,
    payload: Option<Payload>,
    events: UnboundedSender<StepEvent>,
) -> Result<ApplyOutcome, TransportError> {
    let (tx, mut rx) = unbounded_channel::<String>();
    let forward = async move {
        let mut steps = Vec::new();
        while let Some(line) = rx.recv().await {
            if let Some(event) = parse_line(&line) {
                if let (_, Some(result)) = &event {
                    steps.push(result.clone());
                }
                let _ = events.send(event);
            }
        }
        steps
    };
    let (output, steps) = tokio::join!(transport.run(&script, payload.as_ref(), Some(tx)), forward);
    Ok(ApplyOutcome {
        steps,
        output: output?,
        script,
    })
}

fn parse_line(line: &str) -> Option<StepEvent> {
    if let Some(rest) = line.strip_prefix("@@begin ") {
        return rest.trim().parse().ok().map(|n| (n, None));
    }
    let rest = line.strip_prefix("@@step ")?;
    let mut parts = rest.splitn(3, ' ');
    let step: usize = parts.next()?.parse().ok()?;
    let status = match parts.next()? {
        "changed" => StepStatus::Changed,
        "ok" => StepStatus::Ok,
        "warn" => StepStatus::Warn,
        _ => StepStatus::Failed,
    };
    let message = parts.next().unwrap_or_default().trim().to_string();
    Some((
        step,
        Some(StepResult {
            step,
            status,
            message,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_after_apply_are_what_follows_the_marker() {
        let mut o = ApplyOutcome::default();
        o.output.stdout =
            format!("@@step 1 changed x\n{AFTER_FACTS}\n@@katafleet-probe 1\nuid=0\n");
        assert_eq!(o.after_facts(), Some("@@katafleet-probe 1\nuid=0\n"));
        o.output.stdout = "@@step 1 failed x\n".into();
        assert_eq!(o.after_facts(), None);
    }

    #[test]
    fn parses_protocol_lines() {
        assert_eq!(parse_line("@@begin 3").map(|e| e.0), Some(3));
        let (n, r) = parse_line("@@step 2 failed checksum mismatch: x").unwrap();
        let r = r.unwrap();
        assert_eq!(
            (n, r.status, r.message.as_str()),
            (2, StepStatus::Failed, "checksum mismatch: x")
        );
        assert!(parse_line("hello").is_none());
    }
}
