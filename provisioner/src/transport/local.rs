//! `address = "local"`: scripts run on the controller, no SSH involved.

use std::process::Stdio;

use async_trait::async_trait;
use tokio::process::Command;
use tokio::sync::mpsc::UnboundedSender;

use super::{bootstrap, stream, Payload, ScriptOutput, Settings, Transport, TransportError};

pub struct LocalTransport {
    settings: Settings,
}

impl LocalTransport {
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }
}

#[async_trait]
impl Transport for LocalTransport {
    async fn run(
        &self,
        script: &str,
        payload: Option<&Payload>,
        lines: Option<UnboundedSender<String>>,
    ) -> Result<ScriptOutput, TransportError> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(bootstrap(
                script.len(),
                self.settings.become_,
                self.settings.step_timeout,
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            // Its own process group: a Ctrl-C at the terminal lets a step
            // in flight finish rather than killing it half-way.
            .process_group(0)
            .spawn()
            .map_err(|e| TransportError::Spawn {
                host: self.settings.host.clone(),
                reason: e.to_string(),
            })?;
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let wait = async {
            child
                .wait()
                .await
                .map(|s| s.code())
                .map_err(|e| e.to_string())
        };
        stream::complete(&self.settings, pipes, script, payload, lines, wait).await
    }

    async fn close(self: Box<Self>) {}
}
