//! The statuses a host can end a command with. Each one's word is written
//! once, here: the table, the progress line and `--json` all use it.

use serde::{Serialize, Serializer};

/// How a host ended `plan` or `provision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStatus {
    Ok,
    Changed,
    Failed,
    Unreachable,
    Skipped,
    /// Verification failed, and everything the run changed was put back.
    RolledBack,
}

impl HostStatus {
    pub fn word(self) -> &'static str {
        match self {
            HostStatus::Ok => "ok",
            HostStatus::Changed => "changed",
            HostStatus::Failed => "failed",
            HostStatus::Unreachable => "unreachable",
            HostStatus::Skipped => "skipped",
            HostStatus::RolledBack => "rolled-back",
        }
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
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unreachable => "unreachable",
            Verdict::Error => "error",
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
