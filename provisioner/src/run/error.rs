//! Why a host failed, named by the stage it failed in. The text is what the
//! operator reads; the stage is for scripts (`--json`'s `stage`).

use serde::Serialize;

use crate::plan::PlanError;
use crate::verify::VerifyError;

/// The stage of a host's pipeline, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Connect,
    Facts,
    Plan,
    /// `upgrade`: cordoning or draining the host's node failed (nothing changed).
    Kubernetes,
    Fetch,
    Apply,
    Verify,
    Activate,
    /// A rollout stopped before this host's turn.
    Rollout,
    /// Ctrl-C or SIGTERM stopped the run before this host was changed.
    Interrupted,
    /// katafleet itself failed on this host (its task died).
    Internal,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    Connect(String),
    #[error("{0}")]
    Facts(String),
    #[error("{0}")]
    Plan(#[from] PlanError),
    #[error("{0}")]
    Kubernetes(String),
    #[error("{0}")]
    Fetch(String),
    /// A step failed (`step` is its 1-based number), or the script broke off.
    #[error("{message}")]
    Apply {
        step: Option<usize>,
        message: String,
    },
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("{0}")]
    Activate(String),
    #[error("{0}")]
    NotAttempted(String),
    /// The run was interrupted before this host was started or changed.
    #[error("{0}")]
    Interrupted(String),
    #[error("{0}")]
    Internal(String),
}

impl From<VerifyError> for HostError {
    fn from(e: VerifyError) -> Self {
        HostError::Verify(e.to_string())
    }
}

impl HostError {
    pub fn stage(&self) -> Stage {
        match self {
            HostError::Connect(_) => Stage::Connect,
            HostError::Facts(_) => Stage::Facts,
            HostError::Plan(_) => Stage::Plan,
            HostError::Kubernetes(_) => Stage::Kubernetes,
            HostError::Fetch(_) => Stage::Fetch,
            HostError::Apply { .. } => Stage::Apply,
            HostError::Verify(_) => Stage::Verify,
            HostError::Activate(_) => Stage::Activate,
            HostError::NotAttempted(_) => Stage::Rollout,
            HostError::Interrupted(_) => Stage::Interrupted,
            HostError::Internal(_) => Stage::Internal,
        }
    }

    /// The failed apply step, when one did.
    pub fn step(&self) -> Option<usize> {
        match self {
            HostError::Apply { step, .. } => *step,
            _ => None,
        }
    }
}

impl Serialize for HostError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
