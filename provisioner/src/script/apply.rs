//! Turns a plan into one POSIX sh script. Each change is one numbered step;
//! the script stops at the first failed step.

use std::fmt::Write as _;

use super::service::{configure, undo_cmds, unwire, Checks};
use super::{quote as q, write_cmds};
use crate::facts::manifest::MANIFEST_PATH;
use crate::plan::{Action, Change, Delivery, FileUndo, Health, Plan, Service, Undo};
use crate::release::fetch::Fetched;
use crate::release::Layout;

/// The script for `plan`; `release` is the verified asset when it installs one.
pub fn render(plan: &Plan, release: Option<&Fetched>, katafleet_version: &str) -> String {
    // Settling a pending NixOS activation belongs to the transaction that
    // started it: no new one begins, and the record is that run's.
    if let [Change {
        action:
            Action::NixosFinish {
                switch,
                system,
                previous,
            },
        ..
    }] = plan.changes.as_slice()
    {
        return super::nixos::finish_script(*switch, system, previous);
    }
    let mut s = super::changing_script();
    s.push_str("kf_txn_begin\n");
    // An uninstall ends by removing katafleet's state, and a rollback puts
    // back the record from before the upgrade: no record is written after.
    let forget_at = plan
        .changes
        .iter()
        .position(|c| matches!(c.action, Action::RemoveState | Action::RollBack));
    for (i, change) in plan.changes.iter().enumerate() {
        let id = i + 1;
        let _ = writeln!(s, "\nkf_begin {id}");
        step(&mut s, id, change, release, katafleet_version);
        if forget_at.is_some_and(|at| i >= at) {
            continue;
        }
        // A failed step has exited; a done one is recorded before the next starts.
        if let Some(owned) = plan.owned_after.get(i) {
            let _ = writeln!(
                s,
                "kf_record {id} {} {}",
                q(MANIFEST_PATH),
                q(&owned.to_json())
            );
        }
    }
    if forget_at.is_some() {
        s.push_str("exit 0\n");
        return s;
    }
    // The record as the plan leaves it (also what no step changed), once more.
    let last = plan.changes.len();
    let _ = writeln!(
        s,
        "\nkf_record {last} {} {}",
        q(MANIFEST_PATH),
        q(&plan.manifest.to_json())
    );
    let _ = writeln!(
        s,
        "kf_when=$(date -u +%Y-%m-%dT%H:%M:%SZ)\nkf_put_ours /var/lib/katafleet/last-provision \"time=$kf_when\"{}",
        q(&format!("\nkatafleet={katafleet_version}\n"))
    );
    s.push_str("exit 0\n");
    s
}

/// The directory name of a release under /opt/kata-releases.
pub fn release_id(
    asset: &crate::release::Asset,
    sha256: &crate::release::checksums::Sha256,
) -> String {
    let hex = sha256.hex();
    let prefix = hex.get(..12).unwrap_or(hex);
    format!("{}-{}-{prefix}", asset.version, asset.runtime.name())
}

/// One change as shell: it reports its own result and exits on failure.
fn step(
    s: &mut String,
    id: usize,
    change: &Change,
    release: Option<&Fetched>,
    katafleet_version: &str,
) {
    match &change.action {
        Action::InstallKata {
            asset,
            sha256,
            replaces_foreign,
            delivery,
        } => {
            let Some(release) = release else {
                let _ = writeln!(
                    s,
                    "kf_report {id} failed 'no release asset was prepared for this host'; exit 1"
                );
                return;
            };
            let layout = Layout::new(asset.runtime, crate::release::Hypervisor::Qemu);
            let marker = format!(
                "version={}\nruntime={}\nsha256={}\nasset={}\ninstalled-by=katafleet {katafleet_version}\n",
                asset.version,
                asset.runtime.name(),
                sha256,
                asset.file_name()
            );
            let _ = writeln!(
                s,
                "kf_install {id} {} {} {} {} {} {} {} {} {} || exit 1\nkf_report {id} changed {}",
                release.size,
                q(sha256.hex()),
                q(&format!("{} -d", asset.compression().tool())),
                q(&layout.shim),
                q(&marker),
                u8::from(*replaces_foreign),
                release.contents.extracted_bytes,
                q(&release_id(asset, sha256)),
                // Empty: the release follows the script on stdin.
                q(match delivery {
                    Delivery::Streamed => "",
                    Delivery::Downloaded { url } => url,
                }),
                q(&format!("installed {}", asset.file_name())),
            );
        }
        Action::WriteFile(w) => {
            let _ = writeln!(s, "kf_keep {}\n{}", q(&w.path), write_cmds(w));
            let _ = writeln!(
                s,
                "if [ $? -ne 0 ]; then kf_report {id} failed {}; exit 1; fi\nkf_report {id} changed {}",
                q(&format!("cannot write {}", w.path)),
                q(&format!("wrote {}", w.path))
            );
        }
        Action::LoadModules { modules } => {
            let list = modules.join(" ");
            let words: Vec<String> = modules.iter().map(|m| q(m)).collect();
            let words = words.join(" ");
            let _ = writeln!(
                s,
                "kf_failed=''\nfor m in {words}; do modprobe \"$m\" 2>/dev/null || kf_failed=\"$kf_failed $m\"; done\n\
                 if [ -n \"$kf_failed\" ]; then kf_report {id} failed \"modprobe failed for:$kf_failed\"; exit 1; fi\n\
                 kf_report {id} changed {}",
                q(&format!("loaded {list}"))
            );
        }
        Action::InstallPackage { version, shim } => {
            let _ = writeln!(
                s,
                "if ! kf_out=$(dnf install -y {} 2>&1); then kf_report {id} failed \"dnf install failed: $kf_out\"; exit 1; fi\n\
                 if [ ! -x {} ]; then kf_report {id} failed {}; exit 1; fi\n\
                 kf_report {id} changed {}",
                q(&format!("kata-containers-{version}")),
                q(shim),
                q(&format!("the kata-containers package installed no {shim}")),
                q(&format!("installed kata-containers {version} with dnf")),
            );
        }
        Action::NixosActivate { files } => super::nixos::activate_step(s, id, files),
        Action::NixosFinish { .. } => {
            let _ = writeln!(
                s,
                "kf_report {id} failed 'a pending NixOS activation is settled by a plan of its own'; exit 1"
            );
        }
        Action::AddToGroup { user, group } => {
            let _ = writeln!(
                s,
                "if ! id -u {u} >/dev/null 2>&1; then kf_report {id} failed {}; exit 1; fi\n\
                 getent group {g} >/dev/null || groupadd -r {g}\n\
                 if ! kf_out=$(usermod -aG {g} {u} 2>&1); then kf_report {id} failed {}\"$kf_out\"; exit 1; fi\n\
                 printf '%s %s\\n' {u} {g} >>\"$KF_TXN/groups\"\n\
                 kf_report {id} changed {}",
                q(&format!("there is no user {user} on this host")),
                q(&format!("cannot add {user} to {group}: ")),
                q(&format!("added {user} to {group}")),
                u = q(user),
                g = q(group),
            );
        }
        Action::Configure {
            service,
            files,
            validation,
            health,
        } => {
            configure(s, id, *service, files, validation, health);
        }
        Action::RollBack => {
            let _ = writeln!(
                s,
                "if ! kf_out=$(kf_rollback 2>&1); then kf_txn_revert >/dev/null 2>&1; kf_report {id} failed \"rolling back failed, so the state before it is back: $kf_out\"; exit 1; fi\n\
                 kf_report {id} changed 'rolled back to the release and files from before the last upgrade'"
            );
        }
        Action::Restart { service, health } => restart(s, id, *service, health),
        Action::Unwire {
            service,
            files,
            validation,
            health,
            gone,
            interim,
        } => unwire(
            s,
            id,
            *service,
            files,
            validation,
            Checks { health, gone },
            interim.as_ref(),
        ),
        Action::UndoFile(u) => {
            let _ = writeln!(
                s,
                "kf_keep {p}\n\
                 if ! kf_out=$({{ {}; }} 2>&1); then kf_revert {p}; kf_report {id} failed {}\"$kf_out\"; exit 1; fi\n\
                 kf_report {id} changed {}",
                undo_cmds(u),
                q(&format!("cannot {}, so it was left as it was: ", undo_words(u))),
                q(&done_words(u)),
                p = q(&u.path),
            );
        }
        Action::RemoveTrees {
            trees,
            restore_foreign,
        } => {
            let list: Vec<String> = trees.iter().map(|t| q(t)).collect();
            let _ = writeln!(
                s,
                "if ! kf_out=$(kf_remove_trees {} {} 2>&1); then\n\
                 \x20   if kf_back=$(kf_trees_back 2>&1); then kf_report {id} failed \"cannot remove the release trees, so they are back where they were: $kf_out\"; exit 1; fi\n\
                 \x20   kf_report {id} failed \"cannot remove the release trees ($kf_out), nor put them back ($kf_back): see /opt/.katafleet-removed\"; exit 1\n\
                 fi\n\
                 kf_report {id} changed {}",
                u8::from(*restore_foreign),
                list.join(" "),
                q(&format!(
                    "removed {}{}",
                    trees.join(", "),
                    if *restore_foreign {
                        " and put back the /opt/kata katafleet had set aside"
                    } else {
                        ""
                    }
                )),
            );
        }
        Action::RemoveFromGroup { user, group } => {
            let _ = writeln!(
                s,
                "if ! kf_out=$(gpasswd -d {u} {g} 2>&1); then kf_report {id} failed {}\"$kf_out\"; exit 1; fi\n\
                 printf '%s %s\\n' {u} {g} >>\"$KF_TXN/groups-removed\"\n\
                 kf_report {id} changed {}",
                q(&format!("cannot remove {user} from {group}: ")),
                q(&format!("removed {user} from {group}")),
                u = q(user),
                g = q(group),
            );
        }
        Action::RemoveGroup { group } => {
            let _ = writeln!(
                s,
                "kf_gid=$(getent group {g} | cut -d: -f3)\n\
                 if ! kf_out=$(groupdel {g} 2>&1); then kf_report {id} failed {}\"$kf_out\"; exit 1; fi\n\
                 printf '%s %s\\n' {g} \"$kf_gid\" >>\"$KF_TXN/groups-deleted\"\n\
                 kf_report {id} changed {}",
                q(&format!("cannot remove the group {group}: ")),
                q(&format!("removed the group {group}")),
                g = q(group),
            );
        }
        Action::RemoveState => {
            let _ = writeln!(
                s,
                "if ! kf_out=$(kf_forget 2>&1); then kf_report {id} failed \"cannot remove katafleet's state: $kf_out\"; exit 1; fi\n\
                 kf_report {id} changed {}",
                q("removed katafleet's state (its record and the originals it saved); /var/lib/katafleet goes once the run is verified")
            );
        }
        Action::RecordOwnership => {
            let _ = writeln!(
                s,
                "kf_report {id} changed {}",
                q(&format!("recorded what katafleet owns in {MANIFEST_PATH}"))
            );
        }
    }
}

/// A restart with nothing written: the service must come up against the new
/// release. It is recorded in the transaction first, so putting the run back
/// restarts it with the old release; a failed restart fails the step.
fn restart(s: &mut String, id: usize, service: Service, health: &Health) {
    let unit = service.unit();
    let handlers: Vec<String> = health.handlers.iter().map(|h| q(h)).collect();
    let activate = match service {
        Service::Containerd => format!(
            "kf_containerd_restart {} {}",
            u8::from(health.cri),
            handlers.join(" ")
        ),
        Service::Docker => format!("kf_docker_reload {}", handlers.join(" ")),
    };
    let _ = writeln!(
        s,
        "if kf_running {unit}; then\n\
         \x20   echo {unit} >>\"$KF_TXN/services\"\n\
         \x20   if ! {activate} >\"$KF_RUN/activate.log\" 2>&1; then\n\
         \x20       kf_report {id} failed \"{unit} failed to come up with the new Kata release in place: $(cat \"$KF_RUN/activate.log\") $(journalctl -u {unit} -n 4 --no-pager -o cat 2>/dev/null | tr '\\n' ' ')\"; exit 1\n\
         \x20   fi\n\
         \x20   kf_report {id} changed {}\n\
         else\n\
         \x20   kf_report {id} warn \"did not restart {unit}: $KF_NOTE\"\n\
         fi",
        q(&format!("restarted {unit} against the new release; running containers keep running"))
    );
}

fn undo_words(u: &FileUndo) -> String {
    match u.undo {
        Undo::Restore { .. } => format!("put {} back", u.path),
        Undo::Remove => format!("remove {}", u.path),
    }
}

fn done_words(u: &FileUndo) -> String {
    match u.undo {
        Undo::Restore { .. } => format!("put {} back as it was before katafleet", u.path),
        Undo::Remove => format!("removed {}", u.path),
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::{Action, Change, Health, Plan, Service};

    #[test]
    fn a_restart_step_records_the_service_first_and_is_valid_sh() {
        let plan = Plan {
            changes: vec![Change {
                action: Action::Restart {
                    service: Service::Containerd,
                    health: Health {
                        handlers: vec!["kata".into()],
                        cri: true,
                    },
                },
                reason: "restart containerd".into(),
                diff: None,
            }],
            owned_after: vec![Default::default()],
            ..Plan::default()
        };
        let script = super::render(&plan, None, "0.0.0");
        let step = &script[script.find("kf_begin 1\n").unwrap()..];
        let record = step.find("echo containerd >>\"$KF_TXN/services\"").unwrap();
        let restart = step.find("kf_containerd_restart 1 'kata'").unwrap();
        assert!(record < restart, "recorded before the restart:\n{step}");
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
