//! Rolling batches for fleet-wide changes such as upgrades: hosts go in
//! batches (a canary first, then wider ones), and no new batch starts once
//! more hosts have failed than the rollout's budget allows.

pub mod drive;
pub mod state;

use std::ops::Range;

use crate::inventory::BatchSize;

/// How hosts are rolled out; the default is all at once, never stopping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// Batch sizes in order; the last one repeats.
    pub serial: Vec<BatchSize>,
    pub budget: Budget,
}

/// How many failed (or unreachable, or rolled-back) hosts a rollout
/// tolerates before it starts no further batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    Unlimited,
    /// `--max-failures N`: up to N hosts.
    Hosts(usize),
    /// `max_fail_percentage`: up to this share of all the rollout's hosts.
    Percent(u32),
}

impl Default for Rollout {
    fn default() -> Self {
        Self {
            serial: vec![BatchSize::Percent(100)],
            budget: Budget::Unlimited,
        }
    }
}

impl Rollout {
    /// `provision --batch-size N --max-failures M`: fixed waves of N.
    pub fn waves(size: usize, max_failures: usize) -> Self {
        Self {
            serial: vec![BatchSize::Hosts(size.max(1))],
            budget: Budget::Hosts(max_failures),
        }
    }

    /// Host indices per batch, in order, for `hosts` hosts still to do;
    /// percentages are of `selected` (all the rollout's hosts).
    pub fn batches(&self, hosts: usize, selected: usize) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut sizes = self.serial.iter();
        let mut size = BatchSize::Percent(100);
        while start < hosts {
            if let Some(next) = sizes.next() {
                size = *next;
            }
            let end = (start + size.of(selected).max(1)).min(hosts);
            out.push(start..end);
            start = end;
        }
        out
    }

    /// Whether another batch may start after `failed` of `total` hosts failed.
    /// Exactly at the budget continues; one over stops.
    pub fn may_continue(&self, failed: usize, total: usize) -> bool {
        match self.budget {
            Budget::Unlimited => true,
            Budget::Hosts(max) => failed <= max,
            Budget::Percent(p) => failed * 100 <= p as usize * total,
        }
    }

    /// The budget in words, for the rollout summary.
    pub fn budget_text(&self, total: usize) -> String {
        match self.budget {
            Budget::Unlimited => "no limit".into(),
            Budget::Hosts(max) => format!("at most {max} failed host(s)"),
            Budget::Percent(p) => format!(
                "max_fail_percentage = {p}: at most {} of {total} host(s) may fail",
                p as usize * total / 100
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BatchSize::{Hosts, Percent};

    fn rollout(serial: &[BatchSize], budget: Budget) -> Rollout {
        Rollout {
            serial: serial.to_vec(),
            budget,
        }
    }

    #[test]
    fn waves_cover_every_host_once_in_order() {
        assert_eq!(Rollout::waves(2, 0).batches(5, 5), [0..2, 2..4, 4..5]);
        assert_eq!(Rollout::default().batches(3, 3).len(), 1);
        assert_eq!(Rollout::default().batches(3, 3)[0], 0..3);
        assert!(Rollout::default().batches(0, 0).is_empty());
    }

    #[test]
    fn a_canary_then_wider_batches_the_last_size_repeating() {
        let r = rollout(&[Hosts(1), Percent(10), Percent(50)], Budget::Percent(0));
        // 10% of 25 is 2.5, rounded up to 3; 50% of 25 is 12.5 → 13.
        assert_eq!(r.batches(25, 25), [0..1, 1..4, 4..17, 17..25]);
        // The default: a canary, then the rest.
        let r = rollout(&[Hosts(1), Percent(100)], Budget::Percent(0));
        assert_eq!(r.batches(4, 4), [0..1, 1..4]);
        assert_eq!(r.batches(1, 1).len(), 1);
        // A single percentage repeats; a tiny one is still one host.
        assert_eq!(
            rollout(&[Percent(40)], Budget::Unlimited).batches(5, 5),
            [0..2, 2..4, 4..5]
        );
        assert_eq!(
            rollout(&[Percent(1)], Budget::Unlimited).batches(3, 3),
            [0..1, 1..2, 2..3]
        );
    }

    #[test]
    fn on_resume_percentages_are_of_all_the_rollouts_hosts() {
        // 10 hosts, 4 done: the 6 left go as a canary, then 50% of 10.
        let r = rollout(&[Hosts(1), Percent(50)], Budget::Percent(0));
        assert_eq!(r.batches(6, 10), [0..1, 1..6]);
    }

    #[test]
    fn exactly_at_the_budget_continues_and_one_over_stops() {
        let r = rollout(&[Hosts(1)], Budget::Percent(25));
        assert!(r.may_continue(0, 4));
        assert!(r.may_continue(1, 4), "1 of 4 is exactly 25%");
        assert!(!r.may_continue(2, 4), "2 of 4 is over 25%");
        // 10% of 15 hosts is 1.5 hosts: 1 failure is within, 2 are over.
        let r = rollout(&[Hosts(1)], Budget::Percent(10));
        assert!(r.may_continue(1, 15) && !r.may_continue(2, 15));
        // 0%: any failure stops; 100%: nothing does.
        let r = rollout(&[Hosts(1)], Budget::Percent(0));
        assert!(r.may_continue(0, 3) && !r.may_continue(1, 3));
        let r = rollout(&[Hosts(1)], Budget::Percent(100));
        assert!(r.may_continue(3, 3));
    }

    #[test]
    fn a_fixed_budget_stops_only_past_the_tolerated_failures() {
        let r = Rollout::waves(1, 1);
        assert!(r.may_continue(0, 9) && r.may_continue(1, 9));
        assert!(!r.may_continue(2, 9));
        assert!(Rollout::default().may_continue(1000, 1000));
    }
}
