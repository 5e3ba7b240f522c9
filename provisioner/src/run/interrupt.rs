//! Ctrl-C and SIGTERM. The first one stops the run from starting anything
//! new: no host connects, no host gets its changes; what is in flight
//! finishes (an apply script runs to its end, then is verified and
//! committed or put back), and the summary and logs are written. The
//! second one exits at once with status 130; scripts already on hosts then
//! finish or stop at their own deadline, and SSH masters exit by
//! themselves once katafleet is gone.

use std::sync::Arc;

use tokio::sync::watch;

use crate::exit::ExitStatus;

/// Whether the run was asked to stop. Clones share one flag.
#[derive(Debug, Clone)]
pub struct Interrupt(Arc<watch::Sender<bool>>);

impl Default for Interrupt {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(false)))
    }
}

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
        self.0.send_replace(true);
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the flag is raised (never, if it never is): for what
    /// may be abandoned half-way, such as waiting for a download.
    pub async fn raised(&self) {
        let mut rx = self.0.subscribe();
        // Err only when the sender is gone, and self holds it.
        let _ = rx.wait_for(|set| *set).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_when_the_flag_is_raised() {
        let flag = Interrupt::never();
        let waiter = tokio::spawn({
            let flag = flag.clone();
            async move { flag.raised().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished() && !flag.is_set());
        flag.set();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("no panic");
        assert!(flag.is_set());
        assert_eq!(flag.status(ExitStatus::Ok), ExitStatus::Interrupted);
        // Raised before anyone waits: resolves at once.
        flag.raised().await;
    }
}
