//! Users who run Kata sandboxes need the `kvm` group (the fix for the
//! "Permission denied" troubleshooting case). Memberships katafleet adds are
//! recorded, so uninstall removes exactly those.

use super::{Action, Change, Plan};
use crate::facts::HostFacts;

pub(super) fn kvm_group(plan: &mut Plan, facts: &HostFacts, users: &[String]) {
    let members = facts.kvm_group.clone().unwrap_or_default();
    // A membership katafleet added that is gone now (someone removed it, or
    // the group) is no longer katafleet's to remove.
    plan.manifest
        .kvm_members_added
        .retain(|u| members.contains(u));
    if facts.kvm_group.is_none() {
        plan.manifest.kvm_group_created = false;
    }
    for user in users {
        if members.contains(user) {
            plan.noop(format!("{user} in group kvm"), "already a member");
        } else {
            if !plan.manifest.kvm_members_added.contains(user) {
                plan.manifest.kvm_members_added.push(user.clone());
            }
            // The step creates the group when the host has none.
            if facts.kvm_group.is_none() {
                plan.manifest.kvm_group_created = true;
            }
            plan.push(Change {
                action: Action::AddToGroup {
                    user: user.clone(),
                    group: "kvm".into(),
                },
                reason: format!("add {user} to the kvm group so it can open /dev/kvm"),
                diff: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn added(plan: &Plan) -> Vec<&str> {
        plan.changes
            .iter()
            .map(|c| match &c.action {
                Action::AddToGroup { user, .. } => user.as_str(),
                _ => "?",
            })
            .collect()
    }

    #[test]
    fn only_missing_members_are_added() {
        let facts = HostFacts {
            kvm_group: Some(vec!["alice".into()]),
            ..HostFacts::default()
        };
        let mut plan = Plan::default();
        kvm_group(&mut plan, &facts, &["alice".into(), "bob".into()]);
        assert_eq!(added(&plan), ["bob"]);
        assert_eq!(plan.noops.len(), 1);
    }

    #[test]
    fn only_memberships_katafleet_adds_are_recorded_with_their_step() {
        let facts = HostFacts {
            kvm_group: Some(vec!["alice".into()]),
            ..HostFacts::default()
        };
        let mut plan = Plan::default();
        kvm_group(&mut plan, &facts, &["alice".into(), "bob".into()]);
        assert_eq!(plan.manifest.kvm_members_added, ["bob"]);
        assert_eq!(
            plan.owned_after[0].kvm_members_added,
            ["bob"],
            "recorded once the step is done, so an interrupted run keeps it"
        );
    }

    #[test]
    fn a_kvm_group_the_step_creates_is_recorded_as_katafleets() {
        let mut plan = Plan::default();
        kvm_group(&mut plan, &HostFacts::default(), &["bob".into()]);
        assert!(plan.owned_after[0].kvm_group_created);
        let facts = HostFacts {
            kvm_group: Some(vec![]),
            ..HostFacts::default()
        };
        let mut plan = Plan::default();
        kvm_group(&mut plan, &facts, &["bob".into()]);
        assert!(!plan.manifest.kvm_group_created, "the host had one");
    }

    #[test]
    fn the_record_keeps_members_katafleet_added_and_drops_those_gone() {
        let mut facts = HostFacts {
            kvm_group: Some(vec!["bob".into()]),
            ..HostFacts::default()
        };
        facts.manifest.kvm_members_added = vec!["bob".into(), "carol".into()];
        let mut plan = Plan {
            manifest: facts.manifest.clone(),
            ..Plan::default()
        };
        kvm_group(&mut plan, &facts, &["bob".into()]);
        assert!(plan.changes.is_empty());
        assert_eq!(plan.manifest.kvm_members_added, ["bob"]);
    }
}
