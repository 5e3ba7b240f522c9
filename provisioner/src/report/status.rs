//! The statuses a host can end a command with. Each one's word is written
//! once, here: the table, the progress line and `--json` all use it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a host ended `plan`, `provision` or `upgrade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStatus {
    Ok,
    Changed,
    /// `upgrade`: the host moved to the new release and verified.
    Upgraded,
    Failed,
    Unreachable,
    Skipped,
    /// Verification failed, and everything the run changed was put back.
    RolledBack,
}

impl HostStatus {
    pub const ALL: [HostStatus; 7] = [
        HostStatus::Ok,
        HostStatus::Changed,
        HostStatus::Upgraded,
        HostStatus::Failed,
        HostStatus::Unreachable,
        HostStatus::Skipped,
        HostStatus::RolledBack,
    ];

    pub fn word(self) -> &'static str {
        match self {
            HostStatus::Ok => "ok",
            HostStatus::Changed => "changed",
            HostStatus::Upgraded => "upgraded",
            HostStatus::Failed => "failed",
            HostStatus::Unreachable => "unreachable",
            HostStatus::Skipped => "skipped",
            HostStatus::RolledBack => "rolled-back",
        }
    }

    /// The status a word names (the rollout state file stores words).
    pub fn from_word(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.word() == word)
    }

    pub fn is_failure(self) -> bool {
        matches!(
            self,
            HostStatus::Failed | HostStatus::Unreachable | HostStatus::RolledBack
        )
    }
}

/// How a host fared in `check`, `status`, `verify` or `debug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Everything asked of the host holds.
    Pass,
    /// The host answered and falls short; the detail says where.
    Fail,
    /// No connection.
    Unreachable,
    /// The host answered but could not be judged (e.g. the probe failed).
    Error,
    /// The run was interrupted before this host was looked at.
    Skipped,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unreachable => "unreachable",
            Verdict::Error => "error",
            Verdict::Skipped => "skipped",
        }
    }
}

macro_rules! serialize_as_word {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.word())
            }
        }
    )*};
}
serialize_as_word!(HostStatus, Verdict);

impl<'de> Deserialize<'de> for HostStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        Self::from_word(&word)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown host status `{word}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::HostStatus;

    #[test]
    fn every_status_reads_back_from_its_word() {
        for s in HostStatus::ALL {
            assert_eq!(HostStatus::from_word(s.word()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<HostStatus>(&json).unwrap(), s);
        }
        assert_eq!(HostStatus::from_word("fine"), None);
    }
}
