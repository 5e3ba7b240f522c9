//! `uninstall` as a plan: what katafleet owns goes, and nothing else. A file
//! it edited goes back to the original it saved before its first edit, byte
//! for byte; a file it created goes. containerd restarts with what the user
//! had (kata-containers#11072), and its `imports` lose katafleet's entry in
//! the same step as the drop-in they name (#13141); dockerd reloads. Then
//! the release trees, the kvm memberships katafleet added, and its state.
//! A file changed since katafleet wrote it is refused, with katafleet's
//! entries in it spelled out, and so is a host where Kata sandboxes run,
//! unless --force. Pure: facts in (read for `Purpose::Uninstall`), plan out.

use std::collections::BTreeMap;

use super::containerd::{self, DROPIN, MAIN_CONFIG};
use super::docker::DAEMON_JSON;
use super::modules::MODULES_LOAD_FILE;
use super::{
    unified_diff, Action, Change, FileUndo, FileWrite, Health, Plan, PlanError, PlanOptions,
    Service, Undo, Validation,
};
use crate::facts::manifest::{backup_path, ManagedFile, Manifest, STATE_DIR};
use crate::facts::{HostFacts, OsFamily};
use crate::release::checksums::Sha256;
use crate::release::KATA_ROOT;

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

/// What uninstall does with one file katafleet owns.
#[derive(Debug)]
enum Fate {
    Undo {
        undo: FileUndo,
        diff: String,
        warning: Option<String>,
    },
    /// Left as it is, with the reason.
    Leave(String),
    Refuse(String),
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

/// A foreign /opt/kata that katafleet set aside when it first installed,
/// and its name in /opt.
const FOREIGN_ASIDE: &str = "/opt/kata.katafleet-orig";
const ASIDE: &str = "kata.katafleet-orig";

/// Whether /opt/kata is katafleet's: its marker is there, or it is a link
/// into katafleet's releases (`kata-releases/<id>`).
fn kata_is_ours(facts: &HostFacts) -> bool {
    facts.footprint.opt.contains("kata")
        && (facts.footprint.kata_marked
            || facts.kata_link.as_deref().is_some_and(|l| {
                l.starts_with("kata-releases/") || l.starts_with("/opt/kata-releases/")
            }))
}

/// The trees under /opt that are katafleet's to remove (absolute paths):
/// /opt/kata when it is katafleet's, the releases, what runs left behind.
fn our_trees(facts: &HostFacts) -> Vec<String> {
    let mut trees = Vec::new();
    if kata_is_ours(facts) {
        trees.push(KATA_ROOT.to_string());
    }
    trees.extend(
        facts
            .footprint
            .opt
            .iter()
            .filter(|e| *e == "kata-releases" || *e == ".kata.new" || e.starts_with(".katafleet-"))
            .map(|e| format!("/opt/{e}")),
    );
    trees
}

fn fate(facts: &HostFacts, path: &str, record: &ManagedFile, force: bool) -> Fate {
    let text = facts.file(path);
    let now = match facts.managed_digests.get(path) {
        Some(digest) => digest.clone(),
        None => text.map(|t| Sha256::of(t.as_bytes()).hex().to_string()),
    };
    let saved = record.backup.clone().unwrap_or_else(|| backup_path(path));
    // The probe reads a backup where katafleet saves it, and nowhere else.
    let backup = facts
        .footprint
        .backups
        .get(path)
        .filter(|_| saved == backup_path(path));
    let restore = |now: Option<String>, from: &str| {
        backup.map(|b| {
            (
                FileUndo {
                    path: path.to_string(),
                    sha256: now,
                    undo: Undo::Restore {
                        backup: saved.clone(),
                        sha256: b.sha256.clone(),
                    },
                },
                unified_diff(path, from, &b.content),
            )
        })
    };
    let Some(now) = now else {
        if record.created {
            return Fate::Leave("already gone".into());
        }
        return match restore(None, "").filter(|_| force) {
            Some((undo, diff)) => Fate::Undo {
                undo,
                diff,
                warning: Some(format!(
                    "--force: {path} had been deleted since katafleet edited it; the original saved before that edit is put back"
                )),
            },
            None => Fate::Leave(format!(
                "deleted since katafleet edited it: left deleted (the original saved in {saved} goes with katafleet's state; --force puts it back instead)"
            )),
        };
    };
    let text = text.unwrap_or_default();
    let drifted = now != record.sha256;
    if record.created {
        if drifted && !force {
            return Fate::Refuse(format!(
                "{path} changed since katafleet created it, so it is not removed: delete it yourself, or use --force to remove it"
            ));
        }
        return Fate::Undo {
            undo: FileUndo {
                path: path.to_string(),
                sha256: Some(now),
                undo: Undo::Remove,
            },
            diff: unified_diff(path, text, ""),
            warning: drifted.then(|| {
                format!("--force: {path} had changed since katafleet created it; it is removed all the same")
            }),
        };
    }
    let entries = ours_in(path, text, &facts.manifest);
    if entries.is_empty() && (drifted || backup.is_none()) {
        return Fate::Leave(
            "changed since katafleet wrote it, and none of katafleet's entries are left in it: left as it is".into(),
        );
    }
    if drifted && !force {
        return Fate::Refuse(format!(
            "{path} changed since katafleet wrote it, so it is not put back: remove katafleet's entries from it yourself ({}), or use --force to put back the original katafleet saved before its first edit (your later changes to it are lost)",
            entries.join(", ")
        ));
    }
    match restore(Some(now), text) {
        Some((undo, diff)) => Fate::Undo {
            undo,
            diff,
            warning: drifted.then(|| {
                format!("--force: {path} had changed since katafleet wrote it; the original saved before katafleet's first edit is put back, and the later changes are gone")
            }),
        },
        None => Fate::Refuse(format!(
            "{path}: the original katafleet saved before editing it ({saved}) is missing, so it cannot be put back: remove katafleet's entries from it yourself ({})",
            entries.join(", ")
        )),
    }
}

/// What katafleet put into a file it edited, as the user would find it.
fn ours_in(path: &str, text: &str, manifest: &Manifest) -> Vec<String> {
    match path {
        MAIN_CONFIG => {
            let mut found = containerd::runtime_tables(text, &manifest.containerd_handlers);
            if containerd::imports(text).iter().any(|i| i == DROPIN) {
                found.push(format!("\"{DROPIN}\" in `imports`"));
            }
            found
        }
        DAEMON_JSON => {
            let json: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            manifest
                .docker_runtimes
                .iter()
                .filter(|r| json["runtimes"].get(r.as_str()).is_some())
                .map(|r| format!("`runtimes.{r}`"))
                .collect()
        }
        _ => vec!["katafleet's edits".into()],
    }
}

/// One step per daemon: its files back, validated, then one restart or
/// reload that must show katafleet's handlers gone.
fn unwire(
    plan: &mut Plan,
    facts: &HostFacts,
    service: Service,
    undos: &mut BTreeMap<String, (FileUndo, String)>,
) {
    let (paths, owned): (&[&str], &[String]) = match service {
        Service::Containerd => (&[MAIN_CONFIG, DROPIN], &facts.manifest.containerd_handlers),
        Service::Docker => (&[DAEMON_JSON], &facts.manifest.docker_runtimes),
    };
    let files: Vec<(FileUndo, String)> = paths.iter().filter_map(|p| undos.remove(*p)).collect();
    match service {
        Service::Containerd => plan.manifest.containerd_handlers.clear(),
        Service::Docker => plan.manifest.docker_runtimes.clear(),
    }
    if files.is_empty() {
        return;
    }
    let main = paths[0];
    // The main file as the daemon will read it after this step.
    let main_after = match files.iter().find(|(u, _)| u.path == main) {
        Some((u, _)) => match u.undo {
            Undo::Restore { .. } => facts
                .footprint
                .backups
                .get(main)
                .map(|b| b.content.as_str()),
            Undo::Remove => None,
        },
        None => facts.file(main),
    };
    let (cri, gone, interim): (bool, Vec<String>, Option<String>) = match service {
        Service::Containerd => {
            // A disabled CRI plugin hides every runtime from `config dump`.
            let cri = !main_after.is_some_and(containerd::cri_disabled);
            let gone = owned
                .iter()
                .filter(|h| {
                    cri && !main_after.is_some_and(|t| containerd::effective_has_runtime(t, h))
                })
                .cloned()
                .collect();
            (cri, gone, None)
        }
        Service::Docker => {
            let json: serde_json::Value =
                serde_json::from_str(main_after.unwrap_or("{}")).unwrap_or_default();
            let gone: Vec<String> = owned
                .iter()
                .filter(|r| json["runtimes"].get(r.as_str()).is_none())
                .cloned()
                .collect();
            // dockerd's reload keeps the runtimes when the file names none
            // (measured on Docker 28.5.2), so it reloads with the user's
            // file plus `"runtimes": {}` first.
            let interim = (!gone.is_empty() && json.get("runtimes").is_none()).then(|| {
                let mut root = match json {
                    serde_json::Value::Object(map) => map,
                    _ => serde_json::Map::new(),
                };
                root.insert("runtimes".into(), serde_json::json!({}));
                let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(root))
                    .unwrap_or_default();
                text.push('\n');
                text
            });
            (false, gone, interim)
        }
    };
    let what: Vec<String> = files
        .iter()
        .map(|(u, _)| match u.undo {
            Undo::Restore { .. } => format!("put {} back as it was before katafleet", u.path),
            Undo::Remove => format!("remove {}", u.path),
        })
        .collect();
    let then = match service {
        Service::Containerd => "restart containerd",
        Service::Docker => "reload dockerd",
    };
    let drops = if gone.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = gone.iter().map(|g| format!("`{g}`")).collect();
        format!(" so it drops the Kata runtimes {}", names.join(", "))
    };
    let note = if interim.is_some() {
        "; it reloads with `\"runtimes\": {}` in the file first, as a reload keeps the runtimes of a daemon.json that names none"
    } else {
        ""
    };
    for (u, _) in &files {
        plan.manifest.files.remove(&u.path);
    }
    let diff = files.iter().map(|(_, d)| d.as_str()).collect();
    plan.push(Change {
        action: Action::Unwire {
            service,
            files: files.into_iter().map(|(u, _)| u).collect(),
            validation: match service {
                Service::Containerd => Validation::ContainerdDump {
                    main_config: MAIN_CONFIG.into(),
                },
                Service::Docker => Validation::None,
            },
            health: Health {
                handlers: Vec::new(),
                cri,
            },
            gone,
            interim: interim.map(|content| FileWrite {
                path: DAEMON_JSON.into(),
                content,
                mode: 0o644,
                backup: false,
            }),
        },
        reason: format!(
            "{}, then {then}{drops} (running containers keep running){note}",
            what.join(", ")
        ),
        diff: Some(diff),
    });
}

fn remove_trees(plan: &mut Plan, facts: &HostFacts, trees: Vec<String>, restore_foreign: bool) {
    let fp = &facts.footprint;
    if fp.opt.contains("kata") && !kata_is_ours(facts) {
        plan.noop(
            KATA_ROOT,
            "katafleet did not install it (no .katafleet-release in it): left alone",
        );
        if fp.opt.contains(ASIDE) {
            plan.warnings.push(format!(
                "{FOREIGN_ASIDE} (the /opt/kata katafleet once set aside) stays where it is: /opt/kata is now a tree katafleet did not install"
            ));
        }
    }
    if trees.is_empty() && !restore_foreign {
        return;
    }
    plan.manifest
        .files
        .retain(|p, _| !trees.iter().any(|t| p.starts_with(&format!("{t}/"))));
    let mut reason = Vec::new();
    if trees.iter().any(|t| t == KATA_ROOT) {
        let what = match &facts.kata {
            Some(k) => format!("Kata {}", k.version),
            None => "the Kata release".to_string(),
        };
        reason.push(format!(
            "remove {what}, which katafleet installed: {}",
            trees.join(", ")
        ));
    } else if !trees.is_empty() {
        reason.push(format!(
            "remove what katafleet left in /opt: {}",
            trees.join(", ")
        ));
    }
    if restore_foreign {
        reason.push(format!(
            "put back the /opt/kata katafleet found and set aside ({FOREIGN_ASIDE} becomes /opt/kata again)"
        ));
    }
    plan.push(Change {
        action: Action::RemoveTrees {
            trees,
            restore_foreign,
        },
        reason: reason.join("; "),
        diff: None,
    });
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
