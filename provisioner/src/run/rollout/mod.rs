//! Rolling batches for fleet-wide changes such as upgrades: hosts go in waves
//! of `batch_size`, and no new wave starts once more hosts have failed than
//! the rollout tolerates.

/// How hosts are rolled out; the default is all at once, never stopping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rollout {
    pub batch_size: Option<usize>,
    /// Failed or unreachable hosts tolerated before the rollout stops.
    pub max_failures: Option<usize>,
}

impl Rollout {
    /// Host indices per wave, in inventory order.
    pub fn waves(&self, hosts: usize) -> Vec<std::ops::Range<usize>> {
        let size = self.batch_size.unwrap_or(hosts).max(1);
        (0..hosts)
            .step_by(size)
            .map(|start| start..(start + size).min(hosts))
            .collect()
    }

    /// Whether another wave may start after `failures` failed hosts.
    pub fn may_continue(&self, failures: usize) -> bool {
        self.max_failures.is_none_or(|max| failures <= max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_cover_every_host_once_in_order() {
        let r = Rollout {
            batch_size: Some(2),
            max_failures: None,
        };
        assert_eq!(r.waves(5), [0..2, 2..4, 4..5]);
        assert_eq!(
            Rollout::default().waves(3),
            vec![std::ops::Range { start: 0, end: 3 }]
        );
        assert!(Rollout::default().waves(0).is_empty());
    }

    #[test]
    fn stops_only_past_the_tolerated_failures() {
        let r = Rollout {
            batch_size: Some(1),
            max_failures: Some(1),
        };
        assert!(r.may_continue(0) && r.may_continue(1));
        assert!(!r.may_continue(2));
        assert!(Rollout::default().may_continue(1000));
    }
}
