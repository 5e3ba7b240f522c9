//! One multiplexed OpenSSH session per host: a ControlMaster katafleet
//! starts itself (so it owns the process while it authenticates), then the
//! `openssh` crate's native mux client over its socket. Every script of a
//! run goes over that one connection.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use openssh::Session;
use tokio::net::UnixStream;
use tokio::sync::mpsc::UnboundedSender;

use super::{
    bootstrap, cipher, stream, Payload, ScriptOutput, Settings, Transport, TransportError,
};
use crate::inventory::{Address, Connection, KnownHostsPolicy};

/// How long a master outlives its last client. katafleet holds one client
/// connection open for the whole run, so the master never idles out under
/// it, yet exits this long after katafleet is gone, however it ended
/// (even SIGKILL).
const MASTER_PERSIST: Duration = Duration::from_secs(10);

/// Keepalives: a host that stops answering is given up after about
/// interval × count (15 s), not at the step timeout.
const ALIVE_INTERVAL_SECS: u64 = 5;
const ALIVE_COUNT: u64 = 3;

/// How long closing a session may take before it is abandoned.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

pub struct SshTransport {
    session: Session,
    /// Held open so the master keeps running (see `MASTER_PERSIST`).
    keepalive: UnixStream,
    /// The control socket and the master's log; removed on close.
    dir: tempfile::TempDir,
    settings: Settings,
}

impl SshTransport {
    /// Starts the host's ControlMaster and waits until it has authenticated,
    /// for at most the connect timeout: TCP, the SSH handshake and
    /// authentication together. A master that is not ready by then is killed.
    pub async fn connect(conn: &Connection, settings: Settings) -> Result<Self, TransportError> {
        let Address::Remote(address) = &conn.address else {
            return Err(TransportError::Connect {
                destination: settings.host.clone(),
                reason: "not a remote host".into(),
            });
        };
        let at = match conn.port {
            Some(port) => format!("{address}:{port}"),
            None => address.clone(),
        };
        let destination = if *address == settings.host {
            at
        } else {
            format!("{} ({at})", settings.host)
        };
        let refused = |reason: String| TransportError::Connect {
            destination: destination.clone(),
            reason,
        };
        let dir = tempfile::Builder::new()
            .prefix(".katafleet-ssh-")
            .tempdir()
            .map_err(|e| refused(format!("cannot create a control directory: {e}")))?;
        let (ctl, log) = (dir.path().join("master"), dir.path().join("log"));
        let cipher = cipher::option(&config_args(conn), address).await;
        let mut master = master_command(conn, address, &ctl, &log, cipher.as_deref())
            .spawn()
            .map_err(|e| refused(format!("cannot run ssh: {e}")))?;
        // `ssh -f` exits once authenticated, leaving the master behind.
        let budget = connect_budget(conn);
        match tokio::time::timeout(budget, master.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(_)) => {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(refused(explain(&text, conn)));
            }
            Ok(Err(e)) => return Err(refused(format!("waiting for ssh failed: {e}"))),
            Err(_) => {
                let _ = master.start_kill();
                let _ = master.wait().await;
                // Authenticated in the same instant: that master goes too.
                if ctl.exists() {
                    stop_master(&ctl).await;
                }
                let per_hop = match conn.jump_hops() {
                    0 => String::new(),
                    n => format!(
                        ", {} s for each of {} connections through the jump host",
                        conn.connect_timeout.as_secs(),
                        n + 1
                    ),
                };
                return Err(refused(format!(
                    "no SSH session within {} s (the connect timeout covers TCP, the SSH handshake and authentication{per_hop}); the ssh client was stopped",
                    budget.as_secs()
                )));
            }
        }
        let keepalive = match UnixStream::connect(&ctl).await {
            Ok(s) => s,
            Err(e) => {
                stop_master(&ctl).await;
                return Err(refused(format!(
                    "the SSH master is not listening on {}: {e}",
                    ctl.display()
                )));
            }
        };
        let session = Session::resume_mux(ctl.into_boxed_path(), Some(log.into_boxed_path()));
        Ok(Self {
            session,
            keepalive,
            dir,
            settings,
        })
    }
}

impl SshTransport {
    /// The last thing the master logged, if anything.
    fn master_said(&self) -> Option<String> {
        let log = std::fs::read_to_string(self.dir.path().join("log")).ok()?;
        log.lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
            .map(str::to_string)
    }
}

/// The connect timeout is per SSH connection: through each jump host there
/// is one more handshake and authentication, and a bastion in front of a
/// fleet is the busiest machine of it.
fn connect_budget(conn: &Connection) -> Duration {
    conn.connect_timeout
        .saturating_mul(conn.jump_hops().saturating_add(1))
}

/// `ssh -M -f -N`: authenticate, then fork the master into the background.
fn master_command(
    conn: &Connection,
    address: &str,
    ctl: &Path,
    log: &Path,
    cipher: Option<&str>,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        // Its own process group: a Ctrl-C at the terminal is katafleet's
        // to handle, not a signal that kills connections half-way.
        .process_group(0)
        .arg("-E")
        .arg(log)
        .arg("-S")
        .arg(ctl)
        .args(["-M", "-f", "-N"]);
    let known_hosts = match conn.known_hosts {
        KnownHostsPolicy::Strict => "yes",
        KnownHostsPolicy::AcceptNew => "accept-new",
    };
    let options = [
        format!("ControlPersist={}s", MASTER_PERSIST.as_secs()),
        "BatchMode=yes".into(),
        format!("StrictHostKeyChecking={known_hosts}"),
        format!("ConnectTimeout={}", conn.connect_timeout.as_secs().max(1)),
        format!("ServerAliveInterval={ALIVE_INTERVAL_SECS}"),
        format!("ServerAliveCountMax={ALIVE_COUNT}"),
    ];
    for o in options.iter().map(String::as_str).chain(cipher) {
        cmd.arg("-o").arg(o);
    }
    cmd.args(config_args(conn)).arg("--").arg(address);
    cmd
}

/// What the inventory says about reaching the host, as ssh arguments; the
/// user's ssh config wins wherever the inventory says nothing.
fn config_args(conn: &Connection) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |a: &str, v: OsString| {
        args.push(a.into());
        args.push(v);
    };
    if let Some(port) = conn.port {
        push("-p", port.to_string().into());
    }
    if let Some(file) = &conn.ssh_config {
        push("-F", file.into());
    }
    if let Some(hops) = &conn.proxy_jump {
        push("-J", hops.into());
    }
    if let Some(user) = &conn.user {
        push("-l", user.into());
    }
    if let Some(key) = &conn.identity_file {
        push("-o", "IdentitiesOnly=yes".into());
        push("-i", key.into());
    }
    if let Some(file) = &conn.known_hosts_file {
        let mut option = OsString::from("UserKnownHostsFile=");
        option.push(file);
        push("-o", option);
    }
    args
}

/// Asks a master to exit; it is abandoned if it does not answer in time.
async fn stop_master(ctl: &Path) {
    let session = Session::resume_mux(ctl.to_path_buf().into_boxed_path(), None);
    let _ = tokio::time::timeout(CLOSE_LIMIT, session.close()).await;
}

/// What ssh said, in one line; a changed host key is spelled out.
fn explain(log: &str, conn: &Connection) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    if log.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        let file = lines
            .iter()
            .find_map(|l| l.strip_prefix("Offending "))
            .and_then(|l| l.split_once(" key in "))
            .map(|(_, at)| at.to_string())
            .unwrap_or_else(|| known_hosts_file(conn).display().to_string());
        let offered = lines
            .iter()
            .position(|l| l.starts_with("The fingerprint for the"))
            .and_then(|i| lines.get(i + 1))
            .map(|f| format!(" (it now offers {})", f.trim_end_matches('.')))
            .unwrap_or_default();
        let remove = lines
            .iter()
            .find(|l| l.starts_with("ssh-keygen "))
            .map(|c| format!("; if the change is expected, remove the old key with `{c}`"))
            .unwrap_or_default();
        return format!(
            "refused: the host key differs from the one recorded in {file}{offered}; someone may be intercepting the connection, or the host was reinstalled{remove}"
        );
    }
    if lines.is_empty() {
        return "ssh failed and said nothing".into();
    }
    lines.join("; ")
}

/// Where ssh looks for known host keys when the inventory names no file.
fn known_hosts_file(conn: &Connection) -> PathBuf {
    conn.known_hosts_file.clone().unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".ssh/known_hosts")
    })
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
            .stdin(openssh::Stdio::piped())
            .stdout(openssh::Stdio::piped())
            .stderr(openssh::Stdio::piped())
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
        stream::complete(&self.settings, pipes, script, payload, lines, wait)
            .await
            .map_err(|e| match e {
                // The master's log says why the connection went away
                // ("Timeout, server ... not responding").
                TransportError::Io {
                    host,
                    reason,
                    partial,
                } => TransportError::Io {
                    host,
                    reason: match self.master_said() {
                        Some(said) => format!("{reason} (ssh: {said})"),
                        None => reason,
                    },
                    partial,
                },
                other => other,
            })
    }

    /// Stops the master (it exits once its last channel is gone), then lets
    /// go of the keepalive and the control directory.
    async fn close(self: Box<Self>) {
        let Self {
            session,
            keepalive,
            dir,
            ..
        } = *self;
        let _ = tokio::time::timeout(CLOSE_LIMIT, session.close()).await;
        drop(keepalive);
        drop(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANGED: &str = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:XIz6lmFBU/jVMdVjX056QIctQNp2r0BEiIaE7JIJs2g.
Please contact your system administrator.
Add correct host key in /run/katafleet-fleet/dlx/known_hosts to get rid of this message.
Offending ED25519 key in /run/katafleet-fleet/dlx/known_hosts:1
  remove with:
  ssh-keygen -f \"/run/katafleet-fleet/dlx/known_hosts\" -R \"10.250.1.1\"
Host key for 10.250.1.1 has changed and you have requested strict checking.
Host key verification failed.
";

    #[test]
    fn a_changed_host_key_names_the_known_hosts_line_and_the_fix() {
        let text = explain(CHANGED, &Connection::local_for_tests());
        assert_eq!(
            text,
            "refused: the host key differs from the one recorded in /run/katafleet-fleet/dlx/known_hosts:1 \
             (it now offers SHA256:XIz6lmFBU/jVMdVjX056QIctQNp2r0BEiIaE7JIJs2g); someone may be intercepting \
             the connection, or the host was reinstalled; if the change is expected, remove the old key with \
             `ssh-keygen -f \"/run/katafleet-fleet/dlx/known_hosts\" -R \"10.250.1.1\"`"
        );
    }

    #[test]
    fn the_connect_budget_grows_with_every_jump_host() {
        let mut conn = Connection::local_for_tests();
        conn.connect_timeout = Duration::from_secs(10);
        assert_eq!(connect_budget(&conn), Duration::from_secs(10));
        conn.proxy_jump = Some("root@bastion:22".into());
        assert_eq!(connect_budget(&conn), Duration::from_secs(20));
        conn.proxy_jump = Some("a,b".into());
        assert_eq!(connect_budget(&conn), Duration::from_secs(30));
    }

    #[test]
    fn other_failures_are_what_ssh_said_on_one_line() {
        let log = "Warning: Permanently added '10.0.0.1' (ED25519) to the list of known hosts.\r\n\
                   root@10.0.0.1: Permission denied (publickey).\r\n";
        assert_eq!(
            explain(log, &Connection::local_for_tests()),
            "root@10.0.0.1: Permission denied (publickey)."
        );
        assert_eq!(
            explain("", &Connection::local_for_tests()),
            "ssh failed and said nothing"
        );
    }
}
