//! `uninstall` as a plan: what katafleet owns goes, and nothing else. A file
//! it edited goes back to the original it saved before its first edit, byte
//! for byte; a file it created goes. containerd restarts with what the user
//! had (kata-containers#11072), and its `imports` lose katafleet's entry in
//! the same step as the drop-in they name (#13141); dockerd reloads. Then
//! the release trees, the kvm memberships katafleet added, and its state.
//! A file changed since katafleet wrote it is refused, with katafleet's
//! entries in it spelled out, and so is a host where Kata sandboxes run,
//! unless --force. Pure: facts in (read for `Purpose::Uninstall`), plan out.

mod daemons;
mod files;
mod trees;

use std::collections::BTreeMap;

use super::modules::MODULES_LOAD_FILE;
use super::{Action, Change, Plan, PlanError, PlanOptions, Service, Undo};
use crate::facts::manifest::{Manifest, STATE_DIR};
use crate::facts::{HostFacts, OsFamily};
use daemons::unwire;
use files::{fate, Fate};
use trees::{kata_is_ours, our_trees, remove_trees, ASIDE};

/// Why a host is not uninstalled; nothing is changed on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("Kata sandboxes are running here (containerd-shim-kata-v2, pid {}): uninstalling would leave them without their runtime; stop them first, or use --force; nothing was changed", pids(.0))]
    SandboxesRunning(Vec<u32>),
    #[error("{}; nothing was changed", .0.join("; "))]
    Files(Vec<String>),
    #[error("uninstall does not handle NixOS hosts yet, so nothing was changed: there, take `./katafleet.nix` out of the imports of /etc/nixos/configuration.nix, delete /etc/nixos/katafleet.nix and /etc/nixos/katafleet-module.nix, and run nixos-rebuild switch")]
    NixOs,
}

fn pids(pids: &[u32]) -> String {
    let text: Vec<String> = pids.iter().map(u32::to_string).collect();
    text.join(", ")
}

pub fn plan(facts: &HostFacts, opts: PlanOptions) -> Result<Plan, PlanError> {
    let mut plan = Plan {
        manifest: facts.manifest.clone(),
        ..Plan::default()
    };
    let fp = &facts.footprint;
    let trees = our_trees(facts);
    let restore_foreign =
        fp.opt.contains(ASIDE) && (kata_is_ours(facts) || !fp.opt.contains("kata"));
    if facts.manifest.is_empty() && fp.state.is_none() && trees.is_empty() && !restore_foreign {
        plan.noop("katafleet", "nothing of katafleet's is on this host");
        return Ok(plan);
    }
    if facts.os.family == OsFamily::NixOS {
        return Err(Refusal::NixOs.into());
    }
    if !fp.kata_shims.is_empty() {
        if !opts.force {
            return Err(Refusal::SandboxesRunning(fp.kata_shims.clone()).into());
        }
        plan.warnings.push(format!(
            "--force: Kata sandboxes run here (containerd-shim-kata-v2, pid {}); they keep running, without the runtime configuration and release they came from",
            pids(&fp.kata_shims)
        ));
    }
    let in_tree = |path: &str| trees.iter().any(|t| path.starts_with(&format!("{t}/")));
    let mut refused = Vec::new();
    let mut undos = BTreeMap::new();
    for (path, record) in &facts.manifest.files {
        if in_tree(path) {
            continue;
        }
        match fate(facts, path, record, opts.force) {
            Fate::Undo {
                undo,
                diff,
                warning,
            } => {
                plan.warnings.extend(warning);
                undos.insert(path.clone(), (undo, diff));
            }
            Fate::Leave(why) => {
                plan.noop(path.clone(), why);
                plan.manifest.files.remove(path);
            }
            Fate::Refuse(why) => refused.push(why),
        }
    }
    if !refused.is_empty() {
        return Err(Refusal::Files(refused).into());
    }
    unwire(&mut plan, facts, Service::Containerd, &mut undos);
    unwire(&mut plan, facts, Service::Docker, &mut undos);
    for (path, (undo, diff)) in undos {
        plan.manifest.files.remove(&path);
        let reason = match (&undo.undo, path.as_str()) {
            (Undo::Remove, MODULES_LOAD_FILE) => format!(
                "remove {path}, so the kernel modules Kata needs are no longer loaded at boot (loaded ones stay until then)"
            ),
            (Undo::Remove, _) => format!("remove {path} (katafleet created it)"),
            (Undo::Restore { .. }, _) => format!("put {path} back as it was before katafleet"),
        };
        plan.push(Change {
            action: Action::UndoFile(undo),
            reason,
            diff: Some(diff),
        });
    }
    remove_trees(&mut plan, facts, trees, restore_foreign);
    groups(&mut plan, facts);
    if let Some(version) = &facts.rpm_kata {
        plan.warnings.push(format!(
            "the kata-containers package ({version}) stays installed: uninstall removes no packages (`dnf remove kata-containers` if katafleet installed it)"
        ));
    }
    forget(&mut plan, facts);
    Ok(plan)
}

/// The plan from the facts gathered right after an uninstall's apply: the
/// run's own lock, transaction and set-aside trees are still there until
/// the controller commits, and are not left over.
pub fn replan(after: &HostFacts, opts: PlanOptions) -> Result<Plan, PlanError> {
    let mut after = after.clone();
    let fp = &mut after.footprint;
    if let Some(state) = &mut fp.state {
        state.remove("lock");
        state.remove("txn");
        if state.is_empty() {
            fp.state = None;
        }
    }
    fp.opt.remove(".katafleet-removed");
    plan(&after, opts)
}

/// The kvm memberships katafleet added, and only those; then the group,
/// if katafleet created it and no one else is in it.
fn groups(plan: &mut Plan, facts: &HostFacts) {
    let Some(members) = facts.kvm_group.clone() else {
        plan.manifest.kvm_members_added.clear();
        plan.manifest.kvm_group_created = false;
        return;
    };
    for user in &facts.manifest.kvm_members_added {
        plan.manifest.kvm_members_added.retain(|u| u != user);
        if members.contains(user) {
            plan.push(Change {
                action: Action::RemoveFromGroup {
                    user: user.clone(),
                    group: "kvm".into(),
                },
                reason: format!("remove {user} from the kvm group (katafleet added it)"),
                diff: None,
            });
        } else {
            plan.noop(format!("{user} in group kvm"), "no longer a member");
        }
    }
    if !facts.manifest.kvm_group_created {
        return;
    }
    plan.manifest.kvm_group_created = false;
    let others: Vec<&str> = members
        .iter()
        .filter(|m| !facts.manifest.kvm_members_added.contains(m))
        .map(String::as_str)
        .collect();
    if others.is_empty() {
        plan.push(Change {
            action: Action::RemoveGroup {
                group: "kvm".into(),
            },
            reason: "remove the kvm group (katafleet created it, and no one else is in it)".into(),
            diff: None,
        });
    } else {
        plan.noop(
            "group kvm",
            format!(
                "katafleet created it, but {} joined since: left",
                others.join(", ")
            ),
        );
    }
}

/// Last, katafleet's state; also when only this run's lock would be left.
fn forget(plan: &mut Plan, facts: &HostFacts) {
    let reason = match &facts.footprint.state {
        Some(_) => format!(
            "remove katafleet's state, {STATE_DIR} (its record of what it owned, the originals it saved, its lock)"
        ),
        None if plan.changes.is_empty() => return,
        None => format!("remove {STATE_DIR}, where this run holds its lock"),
    };
    plan.manifest = Manifest::default();
    plan.push(Change {
        action: Action::RemoveState,
        reason,
        diff: None,
    });
}

#[cfg(test)]
mod tests;
