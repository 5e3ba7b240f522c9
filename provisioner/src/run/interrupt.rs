//! Ctrl-C and SIGTERM. The first one stops the run from starting anything
//! new: no host connects, no host gets its changes; what is in flight
//! finishes (an apply script runs to its end, then is verified and
//! committed or put back), and the summary and logs are written. The
//! second one exits at once with status 130; scripts already on hosts then
//! finish or stop at their own deadline, and SSH masters exit by
//! themselves once katafleet is gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::exit::ExitStatus;

/// Whether the run was asked to stop. Clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

/// Why a host was not started, or got no changes.
pub const NOT_STARTED: &str = "not started: interrupted";
pub const BEFORE_CHANGES: &str =
    "interrupted before any change: the facts were gathered, nothing was applied";

impl Interrupt {
    /// A flag only `set` raises (tests, and commands that take no signals).
    pub fn never() -> Self {
        Self::default()
    }

    /// A flag raised by the first SIGINT or SIGTERM from now on; the second
    /// one exits the process with 130. Needs a tokio runtime.
    pub fn on_signals() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        let flag = Self::default();
        // Registered here, before anything starts; not in the task below.
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            eprintln!("warning: cannot listen for Ctrl-C and SIGTERM; an interruption stops katafleet at once");
            return flag;
        };
        let first = flag.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
            first.set();
            eprintln!(
                "interrupted: no new host or step starts; steps in flight finish, then the summary follows (interrupt again to exit at once)"
            );
            tokio::select! {
                _ = int.recv() => {},
                _ = term.recv() => {},
            }
            eprintln!(
                "interrupted again: exiting now; scripts already running on hosts finish or stop at their own deadline"
            );
            std::process::exit(ExitStatus::Interrupted.code());
        });
        flag
    }

    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The run's exit status: `Interrupted` when it was, else `otherwise`.
    pub fn status(&self, otherwise: ExitStatus) -> ExitStatus {
        if self.is_set() {
            ExitStatus::Interrupted
        } else {
            otherwise
        }
    }
}
