//! One host's outcome of plan, provision, upgrade, rollback, debug or
//! uninstall: what the table, `--json` and the rollout state read.

use std::time::Duration;

use serde::Serialize;

use crate::facts::HostFacts;
use crate::plan::Plan;
use crate::report::status::HostStatus;
use crate::run::error::HostError;
use crate::run::log::HostLog;

#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub name: String,
    pub os: String,
    pub status: HostStatus,
    pub changed: usize,
    pub error: Option<HostError>,
    pub warnings: Vec<String>,
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    #[serde(skip)]
    pub plan: Option<Plan>,
    #[serde(skip)]
    pub facts: Option<HostFacts>,
    /// The Kata version katafleet had installed when the run found the host.
    #[serde(skip)]
    pub kata_before: Option<crate::release::Version>,
    pub log: String,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl HostReport {
    pub(super) fn new(name: &str, log: &HostLog) -> Self {
        Self {
            name: name.to_string(),
            os: String::new(),
            status: HostStatus::Skipped,
            changed: 0,
            error: None,
            warnings: Vec::new(),
            elapsed: Duration::ZERO,
            plan: None,
            facts: None,
            kata_before: None,
            log: log.path.display().to_string(),
        }
    }

    /// A host a rollout never started, with the reason.
    pub fn not_attempted(name: &str, reason: String) -> Self {
        Self {
            status: HostStatus::Skipped,
            ..Self::failed(name, HostError::NotAttempted(reason))
        }
    }

    pub(crate) fn failed(name: &str, error: HostError) -> Self {
        Self {
            name: name.to_string(),
            os: String::new(),
            status: HostStatus::Failed,
            changed: 0,
            error: Some(error),
            warnings: Vec::new(),
            elapsed: Duration::ZERO,
            plan: None,
            facts: None,
            kata_before: None,
            log: String::new(),
        }
    }
}
