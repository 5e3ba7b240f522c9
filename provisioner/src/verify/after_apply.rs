//! Proof after apply, from freshly gathered facts: nothing left to change,
//! and the daemons' effective configuration really holds the Kata runtime.

use crate::facts::HostFacts;
use crate::inventory::Desired;
use crate::plan::{self, Plan, PlanError};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Plan(#[from] plan::PlanError),
    #[error("still differs from the inventory after apply: {0}")]
    Pending(String),
    #[error("containerd's CRI plugin failed to load with the new configuration (`ctr plugins ls` says error); Kubernetes cannot start pods here")]
    CriBroken,
    #[error("containerd's effective config (`containerd config dump`) has no runtime `{0}`")]
    NotInDump(String),
    #[error("katafleet is still on the host after uninstall: {0}")]
    Left(String),
    #[error("{daemon} still has runtime `{handler}` after uninstall")]
    StillListed {
        daemon: &'static str,
        handler: String,
    },
}

/// `again` is the plan made afresh from `facts`: it must be empty.
pub fn after_apply(
    facts: &HostFacts,
    desired: &Desired,
    again: Result<Plan, PlanError>,
) -> Result<(), VerifyError> {
    let again = again?;
    if !again.is_empty() {
        let pending: Vec<String> = again.changes.iter().map(|c| c.reason.clone()).collect();
        return Err(VerifyError::Pending(pending.join("; ")));
    }
    if let Some(c) = facts.containerd.as_ref().filter(|_| desired.containerd) {
        let cri_off = c.config.as_deref().is_some_and(plan::cri_disabled);
        if !cri_off && c.cri_plugin.as_deref() == Some("error") {
            return Err(VerifyError::CriBroken);
        }
        if let Some(dump) = c.dump.as_deref().filter(|_| !cri_off) {
            for handler in &facts.manifest.containerd_handlers {
                if !plan::effective_has_runtime(dump, handler) {
                    return Err(VerifyError::NotInDump(handler.clone()));
                }
            }
        }
    }
    Ok(())
}
