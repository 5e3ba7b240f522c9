//! One multiplexed OpenSSH session per host (ControlMaster via `openssh`).
//! Every script of a run goes over that one connection.

use async_trait::async_trait;
use openssh::{KnownHosts, Session, SessionBuilder, Stdio};
use tokio::sync::mpsc::UnboundedSender;

use super::{bootstrap, stream, Payload, ScriptOutput, Settings, Transport, TransportError};
use crate::inventory::{Address, Connection, KnownHostsPolicy};

pub struct SshTransport {
    session: Session,
    settings: Settings,
}

impl SshTransport {
    pub async fn connect(conn: &Connection, settings: Settings) -> Result<Self, TransportError> {
        let Address::Remote(address) = &conn.address else {
            return Err(TransportError::Connect {
                destination: settings.host.clone(),
                reason: "not a remote host".into(),
            });
        };
        let mut b = SessionBuilder::default();
        // The user's ssh config wins wherever the inventory says nothing.
        if let Some(port) = conn.port {
            b.port(port);
        }
        if let Some(file) = &conn.ssh_config {
            b.config_file(file);
        }
        if let Some(hops) = &conn.proxy_jump {
            b.jump_hosts(hops.split(','));
        }
        b.connect_timeout(conn.connect_timeout)
            .server_alive_interval(std::time::Duration::from_secs(15))
            .control_directory(std::env::temp_dir())
            .known_hosts_check(match conn.known_hosts {
                KnownHostsPolicy::Strict => KnownHosts::Strict,
                KnownHostsPolicy::AcceptNew => KnownHosts::Add,
            });
        if let Some(user) = &conn.user {
            b.user(user.clone());
        }
        if let Some(key) = &conn.identity_file {
            b.keyfile(key);
        }
        if let Some(file) = &conn.known_hosts_file {
            b.user_known_hosts_file(file);
        }
        let destination = address.clone();
        let session = b
            .connect_mux(&destination)
            .await
            .map_err(|e| TransportError::Connect {
                destination: match conn.port {
                    Some(port) => format!("{destination}:{port}"),
                    None => destination.clone(),
                },
                reason: error_chain(&e),
            })?;
        Ok(Self { session, settings })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[async_trait]
impl Transport for SshTransport {
    async fn run(
        &self,
        script: &str,
        payload: Option<&Payload>,
        lines: Option<UnboundedSender<String>>,
    ) -> Result<ScriptOutput, TransportError> {
        let mut child = self
            .session
            .raw_command(bootstrap(
                script.len(),
                self.settings.become_,
                self.settings.step_timeout,
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await
            .map_err(|e| TransportError::Spawn {
                host: self.settings.host.clone(),
                reason: error_chain(&e),
            })?;
        let pipes = (
            child.stdin().take(),
            child.stdout().take(),
            child.stderr().take(),
        );
        let wait = async move {
            child
                .wait()
                .await
                .map(|s| s.code())
                .map_err(|e| error_chain(&e))
        };
        stream::complete(&self.settings, pipes, script, payload, lines, wait).await
    }

    async fn close(self: Box<Self>) {
        let _ = self.session.close().await;
    }
}
