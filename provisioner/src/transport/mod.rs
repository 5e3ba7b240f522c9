//! How a script reaches a host: over one multiplexed SSH session, or on the
//! controller itself (or, in tests, from a recorded transcript). The one
//! operation: run a script, optionally followed by a payload on the same
//! stdin, streaming stdout lines back.

mod local;
mod paced;
pub mod replay;
mod ssh;
mod stream;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc::UnboundedSender;

use crate::inventory::{Address, Become, Host};

pub use local::LocalTransport;
pub use paced::Paced;
pub use ssh::SshTransport;

/// What a finished script left behind.
#[derive(Debug, Clone, Default)]
pub struct ScriptOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: Option<i32>,
}

impl ScriptOutput {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// Bytes streamed to the script's stdin after the script itself.
#[derive(Debug, Clone)]
pub struct Payload {
    pub path: PathBuf,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {destination}: {reason}")]
    Connect { destination: String, reason: String },
    #[error("cannot start a command on {host}: {reason}")]
    Spawn { host: String, reason: String },
    #[error("I/O with {host} failed: {reason}")]
    Io { host: String, reason: String },
    #[error("{host}: step timed out after {secs} s")]
    Timeout { host: String, secs: u64 },
}

#[async_trait]
pub trait Transport: Send + Sync {
    /// Runs `script` with `sh` (through `sudo -n` when configured).
    async fn run(
        &self,
        script: &str,
        payload: Option<&Payload>,
        lines: Option<UnboundedSender<String>>,
    ) -> Result<ScriptOutput, TransportError>;

    /// Ends the session; errors are irrelevant at that point.
    async fn close(self: Box<Self>);
}

/// How the fan-out gets a transport for a host: `Direct` (paced by
/// `Paced`) in production, `replay::ReplayConnector` in tests.
#[async_trait]
pub trait Connector: Send + Sync {
    async fn connect(&self, host: &Host) -> Result<Box<dyn Transport>, TransportError>;
}

/// Connects the way the host's inventory entry says: SSH, or the controller
/// itself for `address = "local"`.
pub struct Direct;

#[async_trait]
impl Connector for Direct {
    async fn connect(&self, host: &Host) -> Result<Box<dyn Transport>, TransportError> {
        connect(host).await
    }
}

/// Connects to a host the way its inventory entry says.
pub async fn connect(host: &Host) -> Result<Box<dyn Transport>, TransportError> {
    let settings = Settings {
        host: host.name.clone(),
        become_: host.connection.become_,
        step_timeout: host.connection.step_timeout,
    };
    match &host.connection.address {
        Address::Local => Ok(Box::new(LocalTransport::new(settings))),
        Address::Remote(_) => Ok(Box::new(
            SshTransport::connect(&host.connection, settings).await?,
        )),
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub become_: Become,
    pub step_timeout: Duration,
}

/// The command that reads exactly `len` bytes of script from stdin and runs
/// it, leaving the rest of stdin (the payload) to the script. GNU `head -c`
/// never reads past its count.
pub fn bootstrap(len: usize, become_: Become) -> String {
    let inner =
        format!("f=$(mktemp) && head -c {len} >\"$f\" && sh \"$f\"; r=$?; rm -f \"$f\"; exit $r");
    match become_ {
        Become::None => format!("sh -c '{inner}'"),
        Become::Sudo => format!("sudo -n sh -c '{inner}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_reads_exactly_the_script_length() {
        let cmd = bootstrap(123, Become::None);
        assert!(cmd.starts_with("sh -c '"), "{cmd}");
        assert!(cmd.contains("head -c 123 "), "{cmd}");
        assert!(bootstrap(1, Become::Sudo).starts_with("sudo -n sh -c '"));
    }
}
