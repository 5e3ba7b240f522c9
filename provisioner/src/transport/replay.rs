//! A transport for tests: answers each script it is sent from a recorded
//! transcript, in order, without a host. It can also play a host that
//! cannot be reached (`ReplayConnector`), a step that hangs (a timeout) or a
//! broken channel.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::mpsc::UnboundedSender;

use super::{Connector, Payload, ScriptOutput, Transport, TransportError};
use crate::inventory::Host;

/// What the host "did" with one script.
#[derive(Debug, Clone)]
pub enum Answer {
    /// The script ran: its output, streamed line by line like a real run.
    Output(ScriptOutput),
    /// The script did not finish within the step timeout, after printing
    /// `stdout` (streamed like a real run).
    Timeout { secs: u64, stdout: String },
    /// The channel broke mid-script.
    Io(String),
}

/// One recorded exchange: what the script must contain, and the answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub expect: Option<String>,
    pub answer: Answer,
}

impl Exchange {
    /// Exit status 0 with this stdout.
    pub fn ok(stdout: &str) -> Self {
        Self::exit(0, stdout)
    }

    pub fn exit(code: i32, stdout: &str) -> Self {
        Self {
            expect: None,
            answer: Answer::Output(ScriptOutput {
                stdout: stdout.to_string(),
                stderr: String::new(),
                exit_code: Some(code),
            }),
        }
    }

    pub fn timeout(secs: u64) -> Self {
        Self::timeout_after(secs, "")
    }

    /// The script printed `stdout`, then hung until the deadline.
    pub fn timeout_after(secs: u64, stdout: &str) -> Self {
        Self {
            expect: None,
            answer: Answer::Timeout {
                secs,
                stdout: stdout.to_string(),
            },
        }
    }

    /// The script sent must contain `needle` (else the run gets an I/O
    /// error saying what came instead, and the mismatch is recorded).
    pub fn expecting(mut self, needle: &str) -> Self {
        self.expect = Some(needle.to_string());
        self
    }
}

/// What one replayed session saw, for a test to look at afterwards.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every script sent, in order.
    pub scripts: Vec<String>,
    /// Scripts that did not contain what their exchange expected, or came
    /// when no exchange was left.
    pub unexpected: Vec<String>,
    /// Bytes of payload announced with each script.
    pub payloads: Vec<Option<u64>>,
}

pub struct ReplayTransport {
    host: String,
    exchanges: Mutex<VecDeque<Exchange>>,
    seen: Arc<Mutex<Seen>>,
}

impl ReplayTransport {
    pub fn new(host: &str, exchanges: Vec<Exchange>) -> Self {
        Self {
            host: host.to_string(),
            exchanges: Mutex::new(exchanges.into()),
            seen: Arc::default(),
        }
    }

    /// A handle on what this session sees, valid after the session closes.
    pub fn seen(&self) -> Arc<Mutex<Seen>> {
        self.seen.clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl Transport for ReplayTransport {
    async fn run(
        &self,
        script: &str,
        payload: Option<&Payload>,
        lines: Option<UnboundedSender<String>>,
    ) -> Result<ScriptOutput, TransportError> {
        let next = lock(&self.exchanges).pop_front();
        let mut seen = lock(&self.seen);
        seen.scripts.push(script.to_string());
        seen.payloads.push(payload.map(|p| p.size));
        let io = |reason: String| TransportError::Io {
            host: self.host.clone(),
            reason,
            partial: ScriptOutput::default(),
        };
        let Some(exchange) = next else {
            seen.unexpected.push(script.to_string());
            return Err(io("replay: no recorded answer left for this script".into()));
        };
        if let Some(needle) = exchange.expect.as_deref().filter(|n| !script.contains(n)) {
            seen.unexpected.push(script.to_string());
            return Err(io(format!(
                "replay: expected a script containing {needle:?}"
            )));
        }
        drop(seen);
        let stream = |stdout: &str| {
            if let Some(tx) = &lines {
                for line in stdout.lines() {
                    let _ = tx.send(line.to_string());
                }
            }
        };
        match exchange.answer {
            Answer::Output(out) => {
                stream(&out.stdout);
                Ok(out)
            }
            Answer::Timeout { secs, stdout } => {
                stream(&stdout);
                Err(TransportError::Timeout {
                    host: self.host.clone(),
                    secs,
                    partial: ScriptOutput {
                        stdout,
                        ..ScriptOutput::default()
                    },
                })
            }
            Answer::Io(reason) => Err(io(reason)),
        }
    }

    async fn close(self: Box<Self>) {}
}

/// Hands each host its own recorded sessions, by host name, one per
/// connection in order; a host with no session left, or one marked
/// unreachable, fails to connect. All of a host's sessions share one `Seen`.
#[derive(Default)]
pub struct ReplayConnector {
    sessions: Mutex<HashMap<String, VecDeque<Vec<Exchange>>>>,
    unreachable: HashMap<String, String>,
    seen: Mutex<HashMap<String, Arc<Mutex<Seen>>>>,
}

impl ReplayConnector {
    pub fn new() -> Self {
        Self::default()
    }

    /// `host` answers these exchanges, in order; called again for the same
    /// host, the exchanges of its next connection.
    pub fn host(self, host: &str, exchanges: Vec<Exchange>) -> Self {
        lock(&self.sessions)
            .entry(host.to_string())
            .or_default()
            .push_back(exchanges);
        self
    }

    /// Connecting to `host` fails with `reason`.
    pub fn unreachable(mut self, host: &str, reason: &str) -> Self {
        self.unreachable
            .insert(host.to_string(), reason.to_string());
        self
    }

    /// What `host`'s session saw (empty if it never connected).
    pub fn seen(&self, host: &str) -> Arc<Mutex<Seen>> {
        lock(&self.seen).get(host).cloned().unwrap_or_default()
    }

    /// Hosts that connected, in no particular order.
    pub fn connected(&self) -> Vec<String> {
        lock(&self.seen).keys().cloned().collect()
    }
}

#[async_trait]
impl Connector for ReplayConnector {
    async fn connect(&self, host: &Host) -> Result<Box<dyn Transport>, TransportError> {
        let refused = |reason: &str| TransportError::Connect {
            destination: host.name.clone(),
            reason: reason.to_string(),
        };
        if let Some(reason) = self.unreachable.get(&host.name) {
            return Err(refused(reason));
        }
        let exchanges = lock(&self.sessions)
            .get_mut(&host.name)
            .and_then(VecDeque::pop_front)
            .ok_or_else(|| refused("replay: no session (left) recorded for this host"))?;
        let mut transport = ReplayTransport::new(&host.name, exchanges);
        let seen = lock(&self.seen)
            .entry(host.name.clone())
            .or_insert_with(|| transport.seen())
            .clone();
        transport.seen = seen;
        Ok(Box::new(transport))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_in_order_streams_lines_and_checks_the_script() {
        let t = ReplayTransport::new(
            "h",
            vec![
                Exchange::ok("@@begin 1\n@@step 1 changed x\n").expecting("kf_begin 1"),
                Exchange::timeout(5),
            ],
        );
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let out = t.run("kf_begin 1\n", None, Some(tx)).await.unwrap();
        assert!(out.success());
        assert_eq!(rx.recv().await.as_deref(), Some("@@begin 1"));
        assert_eq!(rx.recv().await.as_deref(), Some("@@step 1 changed x"));
        let err = t.run("anything", None, None).await.unwrap_err();
        assert!(
            matches!(err, TransportError::Timeout { secs: 5, .. }),
            "{err}"
        );
        let err = t.run("one too many", None, None).await.unwrap_err();
        assert!(err.to_string().contains("no recorded answer left"), "{err}");
        let seen = t.seen();
        let seen = lock(&seen);
        assert_eq!(seen.scripts.len(), 3);
        assert_eq!(seen.unexpected, ["one too many"]);
    }

    #[tokio::test]
    async fn a_script_without_the_expected_text_is_refused() {
        let t = ReplayTransport::new("h", vec![Exchange::ok("").expecting("@@katafleet-probe")]);
        let err = t.run("echo hi", None, None).await.unwrap_err();
        assert!(err.to_string().contains("@@katafleet-probe"), "{err}");
        assert_eq!(lock(&t.seen()).unexpected, ["echo hi"]);
    }
}
