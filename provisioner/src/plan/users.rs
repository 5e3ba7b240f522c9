//! Users who run Kata sandboxes need the `kvm` group (the fix for the
//! "Permission denied" troubleshooting case).

use super::{Action, Change, Plan};
use crate::facts::HostFacts;

pub(super) fn kvm_group(plan: &mut Plan, facts: &HostFacts, users: &[String]) {
    let members = facts.kvm_group.clone().unwrap_or_default();
    for user in users {
        if members.contains(user) {
            plan.noop(format!("{user} in group kvm"), "already a member");
        } else {
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

    #[test]
    fn only_missing_members_are_added() {
        let facts = HostFacts {
            kvm_group: Some(vec!["alice".into()]),
            ..HostFacts::default()
        };
        let mut plan = Plan::default();
        kvm_group(&mut plan, &facts, &["alice".into(), "bob".into()]);
        let added: Vec<_> = plan
            .changes
            .iter()
            .map(|c| match &c.action {
                Action::AddToGroup { user, .. } => user.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(added, ["bob"]);
        assert_eq!(plan.noops.len(), 1);
    }
}
