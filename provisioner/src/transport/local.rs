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
        let host = self.settings.host.clone();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(bootstrap(script.len(), self.settings.become_))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| TransportError::Spawn {
                host: host.clone(),
                reason: e.to_string(),
            })?;
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(stdin), Some(stdout), Some(stderr)) = (stdin, stdout, stderr) else {
            return Err(TransportError::Spawn {
                host,
                reason: "no pipes".into(),
            });
        };
        let work = async {
            let (out, err, _) = stream::drive(stdin, stdout, stderr, script, payload, lines).await;
            let status = child.wait().await;
            (out, err, status)
        };
        let limit = self.settings.step_timeout;
        let (stdout, stderr, status) =
            tokio::time::timeout(limit, work)
                .await
                .map_err(|_| TransportError::Timeout {
                    host: host.clone(),
                    secs: limit.as_secs(),
                })?;
        let status = status.map_err(|e| TransportError::Io {
            host,
            reason: e.to_string(),
        })?;
        Ok(ScriptOutput {
            stdout,
            stderr,
            exit_code: status.code(),
        })
    }

    async fn close(self: Box<Self>) {}
}
