//! Connection setup, paced. sshd drops unauthenticated connections beyond
//! `MaxStartups` (default `10:30:100`: from 10 at once, 30 % of new ones,
//! rising to all at 100), and a bastion in front of many hosts sees every
//! one of their handshakes. So at most `handshakes` are in flight at once
//! (a semaphore separate from `--parallel`, held only while connecting),
//! and a handshake the server cut off during the banner or key exchange is
//! retried with backoff, a bounded number of times. Any other error (refused,
//! timed out, authentication) fails at once: retrying would only hide it.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Semaphore;

use super::{Connector, Transport, TransportError};
use crate::inventory::Host;

pub struct Paced<C> {
    inner: C,
    handshakes: Semaphore,
    retries: u32,
    backoff: Duration,
}

impl<C: Connector> Paced<C> {
    /// `handshakes` at once; 4 retries after 0.5, 1, 2 and 4 s (plus jitter).
    pub fn new(inner: C, handshakes: usize) -> Self {
        Self {
            inner,
            handshakes: Semaphore::new(handshakes.max(1)),
            retries: 4,
            backoff: Duration::from_millis(500),
        }
    }

    #[cfg(test)]
    fn with_backoff(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.backoff = backoff;
        self
    }
}

#[async_trait]
impl<C: Connector> Connector for Paced<C> {
    async fn connect(&self, host: &Host) -> Result<Box<dyn Transport>, TransportError> {
        let mut attempt = 0;
        loop {
            let result = {
                // Closed never: the semaphore lives as long as self.
                let _permit = self.handshakes.acquire().await;
                self.inner.connect(host).await
            };
            match result {
                Err(e) if attempt < self.retries && cut_off_during_handshake(&e) => {
                    // Jitter keeps hosts that were dropped together apart.
                    let jitter = Duration::from_millis(u64::from(host_jitter(&host.name)));
                    tokio::time::sleep(self.backoff * 2u32.pow(attempt) + jitter).await;
                    attempt += 1;
                }
                Err(TransportError::Connect {
                    destination,
                    reason,
                }) if attempt > 0 && attempt == self.retries && reason_cut_off(&reason) => {
                    return Err(TransportError::Connect {
                        destination,
                        reason: format!(
                            "{reason} (cut off during the handshake {} times; an sshd on the way, often a bastion's, drops connections past its MaxStartups: set `handshakes` in [defaults] below it)",
                            attempt + 1
                        ),
                    });
                }
                other => return other,
            }
        }
    }
}

/// What ssh prints when the server (or a bastion on the way) closed or reset
/// the connection before authentication: what `MaxStartups` does.
pub fn cut_off_during_handshake(e: &TransportError) -> bool {
    match e {
        TransportError::Connect { reason, .. } => reason_cut_off(reason),
        _ => false,
    }
}

fn reason_cut_off(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    let during_handshake = [
        "kex_exchange_identification",
        "ssh_exchange_identification",
        "banner exchange",
    ]
    .iter()
    .any(|s| r.contains(s));
    let cut_off = ["connection closed", "connection reset"]
        .iter()
        .any(|s| r.contains(s));
    during_handshake && cut_off
}

/// 0–249 ms, fixed per host.
fn host_jitter(name: &str) -> u8 {
    let sum = name
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    (sum % 250) as u8
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::*;
    use crate::inventory::{Connection, Desired};
    use crate::transport::{LocalTransport, Settings};

    fn host(name: &str) -> Host {
        Host {
            name: name.into(),
            node_name: name.into(),
            groups: Vec::new(),
            connection: Connection::local_for_tests(),
            desired: Desired::sample(),
        }
    }

    fn refused(reason: &str) -> TransportError {
        TransportError::Connect {
            destination: "10.0.0.1".into(),
            reason: reason.into(),
        }
    }

    /// Counts handshakes in flight; each host fails its first `drops` tries
    /// the way a full bastion drops them.
    struct Bastion {
        now: AtomicUsize,
        most: AtomicUsize,
        drops: usize,
        tries: Mutex<HashMap<String, usize>>,
    }

    #[async_trait]
    impl Connector for Bastion {
        async fn connect(&self, host: &Host) -> Result<Box<dyn Transport>, TransportError> {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            let tries = {
                let mut t = self.tries.lock().unwrap();
                let n = t.entry(host.name.clone()).or_default();
                *n += 1;
                *n
            };
            if tries <= self.drops {
                return Err(refused(
                    "ssh exited: kex_exchange_identification: Connection closed by remote host\nConnection closed by UNKNOWN port 65535",
                ));
            }
            Ok(Box::new(LocalTransport::new(Settings {
                host: host.name.clone(),
                become_: crate::inventory::Become::None,
                step_timeout: Duration::from_secs(1),
            })))
        }
    }

    fn bastion(drops: usize) -> Bastion {
        Bastion {
            now: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            drops,
            tries: Mutex::new(HashMap::new()),
        }
    }

    #[tokio::test]
    async fn thirty_hosts_through_one_bastion_never_have_more_than_the_limit_in_flight() {
        let paced = std::sync::Arc::new(
            Paced::new(bastion(2), 8).with_backoff(3, Duration::from_millis(10)),
        );
        let tasks: Vec<_> = (0..30)
            .map(|i| {
                let paced = paced.clone();
                tokio::spawn(async move { paced.connect(&host(&format!("h{i}"))).await.is_ok() })
            })
            .collect();
        for t in tasks {
            assert!(
                t.await.unwrap(),
                "every host gets through after its retries"
            );
        }
        assert_eq!(paced.inner.most.load(Ordering::SeqCst), 8);
        let tries = paced.inner.tries.lock().unwrap();
        assert!(tries.values().all(|n| *n == 3), "{tries:?}");
    }

    #[tokio::test]
    async fn retries_are_bounded() {
        let paced = Paced::new(bastion(usize::MAX), 8).with_backoff(2, Duration::from_millis(10));
        let Err(e) = paced.connect(&host("h")).await else {
            panic!("a bastion that always drops must fail");
        };
        assert!(cut_off_during_handshake(&e));
        assert!(
            e.to_string()
                .contains("cut off during the handshake 3 times")
                && e.to_string().contains("set `handshakes`"),
            "the error says what was tried and what to change: {e}"
        );
        assert_eq!(
            paced.inner.tries.lock().unwrap()["h"],
            3,
            "one try and two retries"
        );
    }

    #[test]
    fn only_a_handshake_cut_off_is_retried() {
        for retried in [
            "kex_exchange_identification: Connection closed by remote host",
            "kex_exchange_identification: read: Connection reset by peer",
            "ssh_exchange_identification: Connection closed by remote host",
        ] {
            assert!(cut_off_during_handshake(&refused(retried)), "{retried}");
        }
        for failed in [
            "ssh: connect to host 10.0.0.1 port 22: Connection refused",
            "ssh: connect to host 10.0.0.1 port 22: Connection timed out",
            "root@10.0.0.1: Permission denied (publickey).",
            "Host key verification failed.",
            "Connection closed by 10.0.0.1 port 22",
        ] {
            assert!(!cut_off_during_handshake(&refused(failed)), "{failed}");
        }
        assert!(!cut_off_during_handshake(&TransportError::Timeout {
            host: "h".into(),
            secs: 1,
            partial: Default::default(),
        }));
    }
}
