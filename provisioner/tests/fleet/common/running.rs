//! A katafleet run in the background: its progress lines as they come,
//! signals, and its output once it ends.

use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A katafleet run in the background.
pub struct Running {
    pub child: std::process::Child,
    pub(super) lines: mpsc::Receiver<String>,
    pub(super) seen: String,
    pub(super) stdout: Option<std::thread::JoinHandle<Vec<u8>>>,
    pub(super) stderr: Option<std::thread::JoinHandle<String>>,
    pub started: Instant,
}

/// A test that fails half-way leaves no katafleet behind.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Running {
    /// Waits for a progress line containing `needle` (at most `limit`).
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        let until = Instant::now() + limit;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "no line with {needle:?} within {limit:?}; stderr so far:\n{}",
                        self.seen
                    );
                }
            }
        }
    }

    /// Sends `signal` (`INT`, `TERM`, `KILL`) to katafleet.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal} {}", self.child.id());
    }

    /// Waits for katafleet to exit, for at most `limit` (then kills it and
    /// fails: a run that does not end is the fault under test).
    pub fn finish(mut self, limit: Duration) -> (Output, Duration) {
        let until = self.started + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for katafleet") {
                break status;
            }
            if Instant::now() >= until {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let rest = self.stderr.take().map(|t| t.join().unwrap_or_default());
                panic!(
                    "katafleet did not finish within {limit:?}; stderr:\n{}",
                    rest.unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let took = self.started.elapsed();
        let stdout = self.stdout.take().map(|t| t.join().unwrap_or_default());
        let rest = self.stderr.take().map(|t| t.join().unwrap_or_default());
        let output = Output {
            status,
            stdout: stdout.unwrap_or_default(),
            stderr: rest.unwrap_or_default().into_bytes(),
        };
        (output, took)
    }
}
