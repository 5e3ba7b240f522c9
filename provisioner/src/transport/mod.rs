//! How a script reaches a host: over one multiplexed SSH session, or on the
//! controller itself (or, in tests, from a recorded transcript). The one
//! operation: run a script, optionally followed by a payload on the same
//! stdin, streaming stdout lines back.

mod cipher;
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

/// How long a script may outlive the controller's deadline on the host
/// before the host's own `timeout` stops it (SIGTERM), and how long after
/// that SIGKILL follows. The controller always gives up first, so it is the
/// one that reports the timeout, with what the host streamed until then.
pub const HOST_GRACE: Duration = Duration::from_secs(20);
pub const HOST_KILL_AFTER: Duration = Duration::from_secs(10);

/// The longest a script keeps running on the host once the controller's
/// deadline has passed.
pub fn host_overrun() -> Duration {
    HOST_GRACE + HOST_KILL_AFTER
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {destination}: {reason}")]
    Connect { destination: String, reason: String },
    #[error("cannot start a command on {host}: {reason}")]
    Spawn { host: String, reason: String },
    /// The channel broke while the script ran; `partial` is what the host
    /// had streamed by then.
    #[error("I/O with {host} failed: {reason}")]
    Io {
        host: String,
        reason: String,
        partial: ScriptOutput,
    },
    /// The controller's deadline passed; `partial` is what the host had
    /// streamed by then.
    #[error("{host}: timed out after {secs} s; {}", still_working())]
    Timeout {
        host: String,
        secs: u64,
        partial: ScriptOutput,
    },
}

fn still_working() -> String {
    format!(
        "the host may still be working on it; its own deadline stops it within {} s",
        host_overrun().as_secs()
    )
}

impl TransportError {
    /// What the host had streamed before the script broke off, if it started.
    pub fn partial(&self) -> Option<&ScriptOutput> {
        match self {
            TransportError::Io { partial, .. } | TransportError::Timeout { partial, .. } => {
                Some(partial)
            }
            _ => None,
        }
    }

    /// The error with where it happened (`during`, e.g. "in step 2 'wire
    /// containerd'"), and whether the host may still be at it.
    pub fn during(&self, during: &str) -> String {
        match self {
            TransportError::Timeout { host, secs, .. } => {
                format!("{host}: timed out after {secs} s {during}; {}", still_working())
            }
            TransportError::Io { host, reason, .. } => format!(
                "{host}: the connection broke {during}: {reason}; the host may still be working on it; its own deadline (the step timeout plus {} s) stops it",
                host_overrun().as_secs()
            ),
            other => format!("{other} ({during})"),
        }
    }
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
///
/// The script runs under the host's own deadline, `HOST_GRACE` after the
/// controller's (`step_timeout`), so nothing keeps running once the
/// controller has given up: `timeout` stops the script's whole process
/// group, SIGKILL `HOST_KILL_AFTER` later. Where `timeout` is missing or
/// cannot do that (an old BusyBox), the script runs without it.
///
/// The script's file is `SCRIPT_DIR/.katafleet-script.PID`, created with
/// O_EXCL (noclobber), where the shell may create it: only root can, so
/// nobody else can have put a file there first, and it spares a `mktemp`
/// per script. Anywhere else (not root, or the name taken) `mktemp` names it.
/// The test is `true >f`: a failed redirection of `:` (a special built-in)
/// would end the shell.
pub fn bootstrap(len: usize, become_: Become, step_timeout: Duration) -> String {
    bootstrap_until(len, become_, step_timeout + HOST_GRACE, SCRIPT_DIR)
}

/// Root's own directory on every systemd host, a tmpfs (see `bootstrap`).
const SCRIPT_DIR: &str = "/run";

fn bootstrap_until(len: usize, become_: Become, deadline: Duration, dir: &str) -> String {
    let deadline = deadline.as_secs().max(1);
    let kill = HOST_KILL_AFTER.as_secs();
    let inner = format!(
        "f={dir}/.katafleet-script.$$; set -C; {{ true >\"$f\"; }} 2>/dev/null || f=$(mktemp) || exit 1; set +C; \
         head -c {len} >\"$f\" && \
         if timeout -k {kill} 1 true 2>/dev/null; then timeout -k {kill} {deadline} sh \"$f\"; else sh \"$f\"; fi; \
         r=$?; rm -f \"$f\"; exit $r"
    );
    match become_ {
        Become::None => format!("sh -c '{inner}'"),
        Become::Sudo => format!("sudo -n sh -c '{inner}'"),
    }
}

/// Whether `cmd arg` can be run here; a test that needs it says it skipped.
#[cfg(test)]
pub(crate) fn runs(cmd: &str, arg: &str) -> bool {
    let ok = std::process::Command::new(cmd).arg(arg).output().is_ok();
    if !ok {
        eprintln!("SKIPPED: no {cmd} here");
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEP: Duration = Duration::from_secs(600);

    #[test]
    fn bootstrap_reads_exactly_the_script_length() {
        let cmd = bootstrap(123, Become::None, STEP);
        assert!(cmd.starts_with("sh -c '"), "{cmd}");
        assert!(cmd.contains("head -c 123 "), "{cmd}");
        assert!(bootstrap(1, Become::Sudo, STEP).starts_with("sudo -n sh -c '"));
    }

    /// Runs a bootstrap for `script` with `sh`, as a host would.
    fn run_bootstrap(
        script: &str,
        deadline: Duration,
        path: &str,
        dir: &str,
    ) -> (std::process::Output, Duration) {
        use std::io::Write;
        let started = std::time::Instant::now();
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(bootstrap_until(script.len(), Become::None, deadline, dir))
            .env("PATH", path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sh");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(script.as_bytes())
            .expect("write the script");
        let out = child.wait_with_output().expect("wait");
        (out, started.elapsed())
    }

    #[test]
    fn the_host_stops_a_script_at_its_own_deadline() {
        if !runs("timeout", "--version") {
            return;
        }
        // The script and the sleep it started must both be gone (the
        // sleep holds stdout: if it lived on, the output would not end).
        let path = std::env::var("PATH").unwrap_or_default();
        let (out, took) = run_bootstrap(
            "sleep 600; echo finished\n",
            Duration::from_secs(1),
            &path,
            SCRIPT_DIR,
        );
        assert_eq!(out.status.code(), Some(124), "timeout's own exit status");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("finished"));
        assert!(took < Duration::from_secs(10), "stopped after {took:?}");
    }

    #[test]
    fn without_timeout_the_script_still_runs() {
        // A PATH with sh, head, mktemp and rm but no timeout.
        let dir = tempfile::tempdir().expect("a temporary directory");
        for tool in ["sh", "head", "mktemp", "rm", "cat"] {
            let found = std::env::var("PATH")
                .unwrap_or_default()
                .split(':')
                .map(|d| std::path::Path::new(d).join(tool))
                .find(|p| p.exists());
            let Some(found) = found else {
                eprintln!("SKIPPED: no {tool} here");
                return;
            };
            std::os::unix::fs::symlink(found, dir.path().join(tool)).expect("a link");
        }
        let path = dir.path().display().to_string();
        let (out, _) = run_bootstrap("echo ran; exit 3\n", STEP + HOST_GRACE, &path, SCRIPT_DIR);
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
    }

    /// The script's file: in the given directory where the shell can create
    /// it, else wherever mktemp says; either way gone afterwards.
    #[test]
    fn the_script_file_is_made_where_it_can_be_and_removed() {
        let path = std::env::var("PATH").unwrap_or_default();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let at = dir.path().display().to_string();
        let script =
            format!("case $0 in '{at}'/.katafleet-script.*) echo here ;; *) echo \"$0\" ;; esac\n");
        let (out, _) = run_bootstrap(&script, STEP, &path, &at);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "here\n", "{out:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "removed");

        let missing = format!("{at}/missing");
        let (out, _) = run_bootstrap(&script, STEP, &path, &missing);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.starts_with('/') && !said.starts_with(&missing),
            "{said}"
        );
        assert!(out.status.success());
    }
}
