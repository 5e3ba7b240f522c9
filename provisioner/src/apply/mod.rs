//! Sends a plan to its host as one script over one channel and reads the
//! per-step results it streams back.

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::facts::{split_probe, HostFacts, ParseError};
use crate::plan::{Action, Delivery, Plan};
use crate::release::fetch::Fetched;
use crate::script::wire::{Decoder, Marker, WireError};
use crate::transport::{Payload, ScriptOutput, Transport, TransportError};

pub use crate::script::apply::render;

pub use crate::script::wire::StepStatus;

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
    /// Every marker the script printed, in order.
    pub markers: Vec<Marker>,
    /// The first line that broke the protocol, if any.
    pub protocol_error: Option<WireError>,
    pub output: ScriptOutput,
    pub script: String,
    /// Bytes of release sent after the script (0 when the host downloads it).
    pub streamed: u64,
}

impl ApplyOutcome {
    /// The facts gathered after a successful apply, if the probe ran.
    pub fn after_facts(&self) -> Option<Result<HostFacts, ParseError>> {
        let at = self.markers.iter().position(|m| *m == Marker::AfterFacts)?;
        Some(split_probe(self.markers[at + 1..].to_vec()).map(|(facts, _)| facts))
    }

    /// The failed step (when a step failed) and why.
    pub fn failure(&self) -> Option<(Option<usize>, String)> {
        if let Some(f) = self.steps.iter().find(|s| s.status == StepStatus::Failed) {
            return Some((Some(f.step), f.message.clone()));
        }
        if let Some(e) = &self.protocol_error {
            return Some((None, e.to_string()));
        }
        if !self.output.success() {
            let stderr = self.output.stderr.trim();
            return Some((
                None,
                format!(
                    "the apply script exited with {:?}{}",
                    self.output.exit_code,
                    if stderr.is_empty() {
                        String::new()
                    } else {
                        format!(": {stderr}")
                    }
                ),
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

    /// Warnings of steps, and `@@warn` lines (problems that failed no step).
    pub fn warnings(&self) -> Vec<String> {
        let steps = self
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Warn)
            .map(|s| s.message.clone());
        let loose = self.markers.iter().filter_map(|m| match m {
            Marker::Warn { message } => Some(message.clone()),
            _ => None,
        });
        steps.chain(loose).collect()
    }
}

/// A script that did not finish (its deadline passed, or the connection
/// broke): the transport's error, and what the host had reported until then.
#[derive(Debug)]
pub struct Broken {
    pub error: TransportError,
    /// The steps and markers so far; `output` is the partial output.
    pub outcome: ApplyOutcome,
}

impl Broken {
    /// The step that was running: begun, never reported.
    pub fn step(&self) -> Option<usize> {
        let begun = self.outcome.markers.iter().rev().find_map(|m| match m {
            Marker::Begin { step } => Some(*step),
            _ => None,
        })?;
        let reported = self.outcome.steps.iter().any(|s| s.step == begun);
        (!reported).then_some(begun)
    }

    /// Where the script was when it broke off, for the operator; `names`
    /// are the plan's steps (1-based in the text, as in `plan`).
    pub fn place(&self, names: &[String]) -> String {
        if let Some(step) = self.step() {
            return match names.get(step.wrapping_sub(1)) {
                Some(name) => format!("in step {step} '{name}'"),
                None => format!("in step {step}"),
            };
        }
        if self.outcome.markers.contains(&Marker::AfterFacts) {
            return "gathering facts after every step had finished".into();
        }
        match self.outcome.steps.last() {
            Some(last) => format!("after step {}", last.step),
            None => "before the first step (waiting for the host's lock, or starting)".into(),
        }
    }

    /// The error as the operator reads it: where, and whether the host may
    /// still be at it.
    pub fn message(&self, names: &[String]) -> String {
        self.error.during(&self.place(names))
    }
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message(&[]))
    }
}

/// Progress of one step as it happens: (step index, finished result or None when it starts).
pub type StepEvent = (usize, Option<StepResult>);

pub async fn apply(
    transport: &dyn Transport,
    plan: &Plan,
    release: Option<&Fetched>,
    events: UnboundedSender<StepEvent>,
) -> Result<ApplyOutcome, Broken> {
    apply_then_probe(transport, plan, release, "", events).await
}

/// Applies the plan and, in the same script and round trip, gathers the
/// facts afresh with `probe` so verification costs no extra round trip.
pub async fn apply_then_probe(
    transport: &dyn Transport,
    plan: &Plan,
    release: Option<&Fetched>,
    probe: &str,
    events: UnboundedSender<StepEvent>,
) -> Result<ApplyOutcome, Broken> {
    let mut script = render(plan, release, env!("CARGO_PKG_VERSION"));
    if !probe.is_empty() {
        if let Some(end) = script.rfind("exit 0\n") {
            script.insert_str(end, &format!("echo @@after-facts\n(\n{probe}\n)\n"));
        }
    }
    // A host that downloads the release itself gets only the script.
    let installs = plan.changes.iter().any(|c| {
        matches!(
            c.action,
            Action::InstallKata {
                delivery: Delivery::Streamed,
                ..
            }
        )
    });
    let payload = release.filter(|_| installs).map(|r| Payload {
        path: r.path.clone(),
        size: r.size,
    });
    run_script(transport, script, payload, events).await
}

/// Runs a script that speaks the wire protocol and collects its results,
/// sending step events as they stream in. A script that broke off comes
/// back with what it had reported.
pub async fn run_script(
    transport: &dyn Transport,
    script: String,
    payload: Option<Payload>,
    events: UnboundedSender<StepEvent>,
) -> Result<ApplyOutcome, Broken> {
    let (tx, mut rx) = unbounded_channel::<String>();
    let forward = async move {
        let mut decoder = Decoder::default();
        let (mut markers, mut steps, mut protocol_error) = (Vec::new(), Vec::new(), None);
        while let Some(line) = rx.recv().await {
            match decoder.line(&line) {
                Some(Ok(marker)) => {
                    if let Some(event) = step_event(&marker) {
                        if let (_, Some(result)) = &event {
                            steps.push(result.clone());
                        }
                        let _ = events.send(event);
                    }
                    markers.push(marker);
                }
                Some(Err(e)) => {
                    protocol_error.get_or_insert(e);
                }
                None => {}
            }
        }
        if let Err(e) = decoder.finish() {
            protocol_error.get_or_insert(e);
        }
        (markers, steps, protocol_error)
    };
    let streamed = payload.as_ref().map_or(0, |p| p.size);
    let (output, (markers, steps, protocol_error)) =
        tokio::join!(transport.run(&script, payload.as_ref(), Some(tx)), forward);
    let mut outcome = ApplyOutcome {
        streamed,
        steps,
        markers,
        protocol_error,
        output: ScriptOutput::default(),
        script,
    };
    match output {
        Ok(output) => {
            outcome.output = output;
            Ok(outcome)
        }
        Err(error) => {
            outcome.output = error.partial().cloned().unwrap_or_default();
            Err(Broken { error, outcome })
        }
    }
}

fn step_event(marker: &Marker) -> Option<StepEvent> {
    match marker {
        Marker::Begin { step } => Some((*step, None)),
        Marker::Step {
            step,
            status,
            message,
        } => Some((
            *step,
            Some(StepResult {
                step: *step,
                status: *status,
                message: message.clone(),
            }),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(stdout: &str) -> ApplyOutcome {
        let markers = crate::script::wire::parse(stdout).unwrap();
        ApplyOutcome {
            markers,
            ..ApplyOutcome::default()
        }
    }

    #[test]
    fn facts_after_apply_are_what_follows_the_marker() {
        let o = outcome(
            "@@step 1 changed x\n@@after-facts\n@@katafleet-probe 1\n@@kv uid 0\n@@end-probe\n",
        );
        assert_eq!(o.after_facts().unwrap().unwrap().uid, 0);
        assert!(outcome("@@step 1 failed x\n").after_facts().is_none());
    }

    #[test]
    fn loose_warnings_reach_the_report() {
        let o = outcome("@@warn cannot record what katafleet owns\n");
        assert_eq!(o.warnings(), ["cannot record what katafleet owns"]);
    }

    fn broken(stdout: &str) -> Broken {
        Broken {
            error: TransportError::Timeout {
                host: "h".into(),
                secs: 600,
                partial: ScriptOutput::default(),
            },
            outcome: ApplyOutcome {
                steps: crate::script::wire::parse(stdout)
                    .unwrap()
                    .iter()
                    .filter_map(step_event)
                    .filter_map(|(_, r)| r)
                    .collect(),
                ..outcome(stdout)
            },
        }
    }

    #[test]
    fn a_script_that_broke_off_names_the_step_it_was_in() {
        let names = ["install Kata".to_string(), "wire containerd".to_string()];
        let b = broken("@@begin 1\n@@step 1 changed installed\n@@begin 2\n");
        assert_eq!(b.step(), Some(2));
        assert_eq!(
            b.message(&names),
            "h: timed out after 600 s in step 2 'wire containerd'; the host may still be working on it; its own deadline stops it within 30 s"
        );
        assert_eq!(
            broken("@@begin 1\n@@step 1 changed x\n").place(&names),
            "after step 1"
        );
        assert_eq!(broken("").step(), None);
        assert!(broken("")
            .place(&names)
            .starts_with("before the first step"));
        assert!(broken("@@step 1 changed x\n@@after-facts\n")
            .place(&names)
            .starts_with("gathering facts after"));
    }

    #[test]
    fn step_markers_become_events() {
        let m = crate::script::wire::parse("@@begin 3\n@@step 2 failed checksum mismatch: x\n")
            .unwrap();
        assert_eq!(step_event(&m[0]).map(|e| e.0), Some(3));
        let (n, r) = step_event(&m[1]).unwrap();
        let r = r.unwrap();
        assert_eq!(
            (n, r.status, r.message.as_str()),
            (2, StepStatus::Failed, "checksum mismatch: x")
        );
    }
}
