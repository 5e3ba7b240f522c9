//! Which planner a run uses, how its result is verified, and the rollback
//! planner (one step: undo the last upgrade).

use super::{debug, plan, uninstall, Action, Change, Plan, PlanError, PlanOptions};
use crate::facts::HostFacts;
use crate::inventory::Desired;
use crate::release::checksums::Sha256;

/// What a run plans for: the inventory's desired state (`provision`), a
/// debug switch (`debug on|off`), or katafleet leaving (`uninstall`). All go
/// through the same pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planner {
    Provision,
    Debug(debug::Request),
    /// Back to the release and configs from before the last upgrade.
    Rollback,
    Uninstall,
}

impl Planner {
    pub fn plan(
        self,
        facts: &HostFacts,
        desired: &Desired,
        opts: PlanOptions,
    ) -> Result<Plan, PlanError> {
        match self {
            Planner::Provision => plan(facts, desired, opts),
            Planner::Debug(request) => {
                let current = facts.file(&debug::dropin_path(desired));
                Ok(debug::plan(facts, desired, request, current)?)
            }
            Planner::Rollback => rollback(facts),
            Planner::Uninstall => uninstall::plan(facts, opts),
        }
    }

    /// The plan made afresh from the facts gathered right after apply, which
    /// verification requires to be empty.
    pub fn replan(
        self,
        after: &HostFacts,
        desired: &Desired,
        opts: PlanOptions,
    ) -> Result<Plan, PlanError> {
        match self {
            Planner::Uninstall => uninstall::replan(after, opts),
            other => other.plan(after, desired, opts),
        }
    }

    /// Whether the dry run plans as if `--force` were given: provision's
    /// shows what it would do even on a host that is not ready (and still
    /// reports it not ready); uninstall's refuses exactly where the run would.
    pub fn dry_run_forces(self) -> bool {
        !matches!(self, Planner::Uninstall)
    }

    /// How a run of this planner is verified, given the facts before it:
    /// the planner and desired state whose fresh plan must then be empty.
    /// A rollback is verified as a provision of the release it returns to.
    pub fn verified_as(self, before: &HostFacts, desired: &Desired) -> (Planner, Desired) {
        match (self, &before.previous_release) {
            (Planner::Rollback, Some(previous)) => {
                let mut old = desired.clone();
                old.kata.version = previous.version;
                old.kata.runtime = previous.runtime;
                old.kata.sha256 = previous.sha256.parse::<Sha256>().ok();
                (Planner::Provision, old)
            }
            _ => (self, desired.clone()),
        }
    }
}

/// `katafleet rollback`: one step, back to the release before the last upgrade.
fn rollback(facts: &HostFacts) -> Result<Plan, PlanError> {
    let previous = facts.previous_release.as_ref().ok_or_else(|| {
        PlanError::Rollback(
            "no upgrade of this host is recorded, so there is nothing to roll back".into(),
        )
    })?;
    let mut plan = Plan {
        manifest: facts.manifest.clone(),
        ..Plan::default()
    };
    let from = facts.kata.as_ref().map_or_else(
        || "the current release".to_string(),
        |k| format!("Kata {}", k.version),
    );
    plan.push(Change {
        action: Action::RollBack,
        reason: format!(
            "roll back from {from} to Kata {} ({} runtime): its release tree and every file as they were before the upgrade (restarts containerd, reloads Docker)",
            previous.version,
            previous.runtime.name()
        ),
        diff: None,
    });
    Ok(plan)
}
