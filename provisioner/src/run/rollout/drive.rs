//! Drives an upgrade through its batches: a batch, then the budget check,
//! then the pause, then the next. Hosts after a stop are reported skipped,
//! never contacted. The batch runner and the pause are traits, so the
//! order of things is tested without hosts or a terminal.

use serde::Serialize;

use super::Rollout;
use crate::inventory::Host;
use crate::run::pipeline::HostReport;

/// Runs one batch of hosts (all at once, up to `--parallel`).
#[async_trait::async_trait]
pub trait RunBatch: Send {
    async fn run(&mut self, hosts: Vec<Host>) -> Vec<HostReport>;
}

/// What happens between two batches: go on, or stop with the reason.
#[async_trait::async_trait]
pub trait Between: Send + Sync {
    async fn next(&self, done: &BatchDone<'_>) -> Result<(), String>;
}

/// The batch just finished, for the pause and its prompt.
pub struct BatchDone<'a> {
    /// 1-based number of the batch that finished.
    pub number: usize,
    pub of: usize,
    pub reports: &'a [HostReport],
    /// The hosts of the batch that would start next.
    pub next: &'a [Host],
}

/// How the rollout went, for the summary under the table and `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Driven {
    /// Host names per batch, in order.
    pub batches: Vec<Vec<String>>,
    pub batches_done: usize,
    /// Failed, unreachable or rolled-back hosts in this run.
    pub failed: usize,
    /// Why no further batch started, if the rollout stopped early.
    pub stopped: Option<String>,
}

/// Every host of `hosts`, batch by batch. `selected` is the number of hosts
/// the rollout covers (percentages and the budget are of it; on `--resume`
/// it includes the hosts done earlier).
pub async fn drive(
    rollout: &Rollout,
    hosts: &[Host],
    selected: usize,
    runner: &mut dyn RunBatch,
    between: &dyn Between,
) -> (Vec<HostReport>, Driven) {
    let ranges = rollout.batches(hosts.len(), selected);
    let mut driven = Driven {
        batches: ranges
            .iter()
            .map(|r| hosts[r.clone()].iter().map(|h| h.name.clone()).collect())
            .collect(),
        batches_done: 0,
        failed: 0,
        stopped: None,
    };
    let mut reports: Vec<HostReport> = Vec::with_capacity(hosts.len());
    for (i, range) in ranges.iter().enumerate() {
        if i > 0 {
            let failed = reports.iter().filter(|r| r.status.is_failure()).count();
            let stop = if !rollout.may_continue(failed, selected) {
                Err(format!(
                    "{failed} of {selected} host(s) failed, over the budget ({})",
                    rollout.budget_text(selected)
                ))
            } else {
                let done = BatchDone {
                    number: i,
                    of: ranges.len(),
                    reports: &reports,
                    next: &hosts[range.clone()],
                };
                between.next(&done).await
            };
            if let Err(why) = stop {
                let reason = format!(
                    "not started: the rollout stopped before batch {}: {why}",
                    i + 1
                );
                reports.extend(
                    hosts[range.start..]
                        .iter()
                        .map(|h| HostReport::not_attempted(&h.name, reason.clone())),
                );
                driven.stopped = Some(why);
                break;
            }
        }
        reports.extend(runner.run(hosts[range.clone()].to_vec()).await);
        driven.batches_done += 1;
    }
    driven.failed = reports.iter().filter(|r| r.status.is_failure()).count();
    (reports, driven)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use super::*;
    use crate::inventory::{BatchSize, Connection, Desired};
    use crate::report::status::HostStatus;
    use crate::run::error::HostError;
    use crate::run::rollout::Budget;

    fn hosts(n: usize) -> Vec<Host> {
        (1..=n)
            .map(|i| Host {
                name: format!("h{i}"),
                node_name: format!("h{i}"),
                groups: Vec::new(),
                connection: Connection::local_for_tests(),
                desired: Desired::sample(),
            })
            .collect()
    }

    /// Hosts named in `failing` fail; the rest upgrade. Remembers every batch.
    struct Fake {
        failing: BTreeSet<&'static str>,
        ran: Vec<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl RunBatch for Fake {
        async fn run(&mut self, hosts: Vec<Host>) -> Vec<HostReport> {
            self.ran
                .push(hosts.iter().map(|h| h.name.clone()).collect());
            hosts
                .iter()
                .map(|h| {
                    let mut r = HostReport::failed(&h.name, HostError::Internal("broke".into()));
                    if !self.failing.contains(h.name.as_str()) {
                        r.status = HostStatus::Upgraded;
                        r.error = None;
                    }
                    r
                })
                .collect()
        }
    }

    /// Goes on, or stops at batch `stop_at`; records each pause.
    struct Pauses {
        stop_at: Option<usize>,
        seen: Mutex<Vec<(usize, usize, Vec<String>)>>,
    }

    #[async_trait::async_trait]
    impl Between for Pauses {
        async fn next(&self, done: &BatchDone<'_>) -> Result<(), String> {
            let next = done.next.iter().map(|h| h.name.clone()).collect();
            self.seen.lock().unwrap().push((done.number, done.of, next));
            match self.stop_at {
                Some(n) if n == done.number + 1 => Err("the operator declined".into()),
                _ => Ok(()),
            }
        }
    }

    async fn roll(
        serial: &[BatchSize],
        budget: u32,
        n: usize,
        failing: &[&'static str],
        stop_at: Option<usize>,
    ) -> (Vec<(String, HostStatus)>, Driven, Fake, Pauses) {
        let rollout = Rollout {
            serial: serial.to_vec(),
            budget: Budget::Percent(budget),
        };
        let mut fake = Fake {
            failing: failing.iter().copied().collect(),
            ran: Vec::new(),
        };
        let pauses = Pauses {
            stop_at,
            seen: Mutex::new(Vec::new()),
        };
        let (reports, driven) = drive(&rollout, &hosts(n), n, &mut fake, &pauses).await;
        let got = reports.iter().map(|r| (r.name.clone(), r.status)).collect();
        (got, driven, fake, pauses)
    }

    use BatchSize::{Hosts, Percent};
    use HostStatus::{Failed, Skipped, Upgraded};

    fn statuses(got: &[(String, HostStatus)]) -> Vec<HostStatus> {
        got.iter().map(|(_, s)| *s).collect()
    }

    #[tokio::test]
    async fn a_failed_canary_stops_the_rollout_before_anything_else_starts() {
        let (got, driven, fake, pauses) =
            roll(&[Hosts(1), Percent(100)], 0, 4, &["h1"], None).await;
        assert_eq!(statuses(&got), [Failed, Skipped, Skipped, Skipped]);
        assert_eq!(fake.ran, [["h1"]]);
        assert_eq!(driven.batches_done, 1);
        assert_eq!(
            driven.stopped.as_deref(),
            Some("1 of 4 host(s) failed, over the budget (max_fail_percentage = 0: at most 0 of 4 host(s) may fail)")
        );
        assert!(
            pauses.seen.lock().unwrap().is_empty(),
            "no pause once stopped"
        );
    }

    #[tokio::test]
    async fn exactly_at_the_budget_continues_and_one_over_stops() {
        // 25% of 4 hosts is 1: h1 failing is at the budget, h3 is one over.
        let (got, driven, fake, _) = roll(&[Hosts(1)], 25, 4, &["h1", "h3"], None).await;
        assert_eq!(statuses(&got), [Failed, Upgraded, Failed, Skipped]);
        assert_eq!(fake.ran.len(), 3);
        assert_eq!((driven.batches_done, driven.failed), (3, 2));
        assert!(driven.stopped.unwrap().starts_with("2 of 4 host(s) failed"));
        // One failure at the budget, and no more: every host goes.
        let (got, driven, _, _) = roll(&[Hosts(1)], 25, 4, &["h1"], None).await;
        assert_eq!(statuses(&got), [Failed, Upgraded, Upgraded, Upgraded]);
        assert_eq!(driven.stopped, None);
    }

    #[tokio::test]
    async fn the_pause_sees_each_next_batch_and_can_stop_the_rest() {
        let (got, driven, _, pauses) = roll(&[Hosts(1), Percent(50)], 0, 5, &[], Some(3)).await;
        // Batches: h1 | h2 h3 h4 (50% of 5, rounded up) | h5.
        assert_eq!(
            driven.batches,
            [vec!["h1"], vec!["h2", "h3", "h4"], vec!["h5"]]
        );
        assert_eq!(
            statuses(&got),
            [Upgraded, Upgraded, Upgraded, Upgraded, Skipped]
        );
        assert_eq!(
            *pauses.seen.lock().unwrap(),
            [
                (1, 3, vec!["h2".to_string(), "h3".into(), "h4".into()]),
                (2, 3, vec!["h5".to_string()])
            ]
        );
        assert_eq!(driven.stopped.as_deref(), Some("the operator declined"));
        let skipped = &got[4];
        assert_eq!(skipped.0, "h5");
    }
}
