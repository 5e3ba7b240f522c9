//! containerd's and Docker's files back as the user had them, in one step
//! per daemon with its restart or reload.

use std::collections::BTreeMap;

use super::super::containerd::{self, DROPIN, MAIN_CONFIG};
use super::super::docker::DAEMON_JSON;
use super::super::{Action, Change, FileUndo, FileWrite, Health, Plan, Service, Undo, Validation};
use crate::facts::HostFacts;

/// One step per daemon: its files back, validated, then one restart or
/// reload that must show katafleet's handlers gone.
pub(super) fn unwire(
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
