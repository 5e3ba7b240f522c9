//! Every script builder, fed values that try to become shell code, runs
//! them inert. The inventory refuses most of these values already; host
//! facts (handler names and paths read from a host's containerd config)
//! are not under katafleet's control, so quoting is the wall that counts.
//!
//! Each script body runs for real under `sh`, with every command it calls
//! replaced by a shell function that does nothing and `PATH` pointing
//! nowhere, so no real program can run. The hostile values only use shell
//! builtins (`echo`, a redirection) to create a marker file; if any value
//! were expanded or split as code, the marker would appear.

use std::collections::BTreeMap;
use std::process::Command;

use super::proof::{self, Client, Target};
use crate::plan::{
    Action, Change, Delivery, FileUndo, FileWrite, Health, Plan, Service, Undo, Validation,
};
use crate::release::fetch::Fetched;
use crate::release::Hypervisor;
use crate::release::{Arch, Asset, Runtime, Version};

/// Values that break out of every kind of quoting when interpolated bare.
/// `MARKER` becomes the marker file's path.
const HOSTILE: &[&str] = &[
    "$(echo x >MARKER)",
    "`echo x >MARKER`",
    "a;echo x >MARKER;",
    "a\necho x >MARKER\n",
    "a'$(echo x >MARKER)'",
    "a\"$(echo x >MARKER)\"",
    "a&&echo x >MARKER",
    "a|echo x >MARKER",
    "--a $(echo x >MARKER)",
];

/// The external commands the scripts call, stubbed; the prelude's and apply
/// helpers' own functions are stubbed too (found in their source). A
/// command not listed (`nixos-rebuild` is no valid function name) is simply
/// not found: exit 127.
const COMMANDS: &[&str] = &[
    "have",
    "timeout",
    "ctr",
    "docker",
    "nerdctl",
    "id",
    "getent",
    "groupadd",
    "usermod",
    "gpasswd",
    "groupdel",
    "dnf",
    "modprobe",
    "containerd",
    "dockerd",
    "systemctl",
    "flock",
    "openssl",
    "date",
    "base64",
    "tr",
    "head",
    "tail",
    "mktemp",
    "sleep",
    "cat",
    "cp",
    "rm",
    "mkdir",
    "dirname",
    "grep",
    "ps",
    "journalctl",
];

/// Every `kf_*` function the prelude and the apply helpers define.
fn helpers() -> Vec<String> {
    let source = format!("{}\n{}", super::PRELUDE, super::CHANGE_HELPERS);
    source
        .lines()
        .filter_map(|l| {
            l.strip_suffix("() {")
                .or_else(|| l.split_once("() {").map(|(n, _)| n))
        })
        .filter(|n| {
            n.starts_with("kf_") && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(String::from)
        .collect()
}

/// Runs `body` with every command stubbed (returning 0 unless `rc` says
/// otherwise) and says whether the marker appeared.
fn runs_code(body: &str, rc: &BTreeMap<&str, i32>) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let mut stubs = String::new();
    let names = helpers();
    let all = COMMANDS
        .iter()
        .copied()
        .chain(names.iter().map(String::as_str));
    for c in all {
        let code = rc.get(c).copied().unwrap_or(0);
        stubs.push_str(&format!("{c}() {{ return {code}; }}\n"));
    }
    let script = format!(
        "{stubs}\n{}",
        body.replace("MARKER", &marker.display().to_string())
    );
    let _ = Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", dir.path().join("nothing"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    marker.exists()
}

fn assert_inert(what: &str, body: &str, rc: &BTreeMap<&str, i32>) {
    assert!(!runs_code(body, rc), "{what} ran injected code:\n{body}");
}

/// The script without the prelude and apply helpers (the test's stubs
/// stand in for them; the real prelude would reset PATH).
fn apply_body(plan: &Plan) -> String {
    // A stand-in release, so that an install step renders in full.
    let release = plan.changes.iter().find_map(|c| match &c.action {
        Action::InstallKata { asset, sha256, .. } => Some(Fetched::stand_in(
            asset.clone(),
            "/nonexistent/release".into(),
            sha256.clone(),
            1,
            Default::default(),
        )),
        _ => None,
    });
    let script = super::apply::render(plan, release.as_ref(), "0.0.0");
    script
        .strip_prefix(&super::changing_script())
        .expect("the apply script starts with the prelude")
        .to_string()
}

fn change(action: Action) -> Plan {
    Plan {
        changes: vec![Change {
            action,
            reason: "test".into(),
            diff: None,
        }],
        ..Plan::default()
    }
}

/// The harness must be able to fail: each value runs as code when written
/// bare, between double quotes or between single quotes (hand-quoted).
#[test]
fn the_harness_sees_injected_code() {
    let names = helpers();
    for h in ["kf_put", "kf_record", "kf_report", "kf_block"] {
        assert!(names.iter().any(|n| n == h), "{h} not found in {names:?}");
    }
    for v in HOSTILE {
        let contexts = [
            format!("kf_kv target {v}"),
            format!("kf_kv target \"{v}\""),
            format!("kf_kv target '{v}'"),
        ];
        assert!(
            contexts.iter().any(|c| runs_code(c, &BTreeMap::new())),
            "{v:?}"
        );
    }
}

#[test]
fn apply_steps_keep_hostile_users_paths_and_versions_inert() {
    for v in HOSTILE {
        let file = FileWrite {
            path: format!("/etc/{v}"),
            content: (*v).to_string(),
            mode: 0o644,
            backup: true,
        };
        let cases = [
            (
                "a release URL the host downloads, the download failing",
                Action::InstallKata {
                    asset: Asset {
                        version: Version::new(4, 2, 0),
                        runtime: Runtime::Rust,
                        arch: Arch::Amd64,
                    },
                    sha256: "0".repeat(64).parse().unwrap(),
                    replaces_foreign: false,
                    delivery: Delivery::Downloaded {
                        url: format!("https://mirror.example/{v}"),
                    },
                },
                BTreeMap::from([("kf_install", 1)]),
            ),
            (
                "a kvm user, usermod failing",
                Action::AddToGroup {
                    user: (*v).to_string(),
                    group: "kvm".into(),
                },
                BTreeMap::from([("usermod", 1)]),
            ),
            (
                "a kvm user, no such user",
                Action::AddToGroup {
                    user: (*v).to_string(),
                    group: (*v).to_string(),
                },
                BTreeMap::from([("id", 1)]),
            ),
            (
                "a module list, modprobe failing",
                Action::LoadModules {
                    modules: vec!["kvm".into(), (*v).to_string()],
                },
                BTreeMap::from([("modprobe", 1)]),
            ),
            (
                "a package version",
                Action::InstallPackage {
                    version: (*v).to_string(),
                    shim: format!("/opt/{v}"),
                },
                BTreeMap::from([("dnf", 1)]),
            ),
            (
                "a file path",
                Action::WriteFile(file.clone()),
                BTreeMap::from([("kf_put", 1)]),
            ),
            (
                "a configured service's files, validation failing",
                Action::Configure {
                    service: Service::Containerd,
                    files: vec![file.clone()],
                    validation: Validation::ContainerdDump {
                        main_config: format!("/etc/{v}"),
                    },
                    health: Health {
                        handlers: vec![(*v).to_string()],
                        cri: true,
                    },
                },
                BTreeMap::from([("containerd", 1)]),
            ),
            (
                "a configured service's handlers, the restart failing",
                Action::Configure {
                    service: Service::Docker,
                    files: vec![file.clone()],
                    validation: Validation::None,
                    health: Health {
                        handlers: vec![(*v).to_string()],
                        cri: false,
                    },
                },
                BTreeMap::from([("kf_docker_reload", 1), ("kf_docker_back", 1)]),
            ),
            (
                "NixOS files",
                Action::NixosActivate {
                    files: vec![file.clone()],
                },
                BTreeMap::new(),
            ),
            (
                "NixOS files, the activation failing",
                Action::NixosActivate {
                    files: vec![file.clone()],
                },
                BTreeMap::from([("kf_nixos_activate", 1)]),
            ),
        ];
        for (what, action, rc) in cases {
            assert_inert(what, &apply_body(&change(action)), &rc);
        }
    }
}

/// Uninstall's steps take paths, digests, handler and user names from the
/// host's own manifest and configs.
#[test]
fn uninstall_steps_keep_hostile_paths_handlers_and_users_inert() {
    for v in HOSTILE {
        let restore = FileUndo {
            path: format!("/etc/{v}"),
            sha256: Some((*v).to_string()),
            undo: Undo::Restore {
                backup: format!("/var/lib/katafleet/backup/etc/{v}"),
                sha256: (*v).to_string(),
            },
        };
        let remove = FileUndo {
            undo: Undo::Remove,
            sha256: None,
            ..restore.clone()
        };
        let unwire = |service, interim: Option<FileWrite>| Action::Unwire {
            service,
            files: vec![restore.clone(), remove.clone()],
            validation: Validation::ContainerdDump {
                main_config: format!("/etc/{v}"),
            },
            health: Health {
                handlers: vec![(*v).to_string()],
                cri: true,
            },
            gone: vec![(*v).to_string()],
            interim,
        };
        let interim = FileWrite {
            path: format!("/etc/{v}"),
            content: (*v).to_string(),
            mode: 0o644,
            backup: false,
        };
        let cases = [
            (
                "files put back, the check failing",
                unwire(Service::Containerd, None),
                BTreeMap::from([("kf_unchanged", 1)]),
            ),
            (
                "files put back, the restart failing",
                unwire(Service::Containerd, None),
                BTreeMap::from([("kf_containerd_lacks", 1)]),
            ),
            (
                "Docker's interim file, the final put-back failing",
                unwire(Service::Docker, Some(interim)),
                BTreeMap::from([("kf_put_back", 1)]),
            ),
            (
                "one file, the put-back failing",
                Action::UndoFile(restore.clone()),
                BTreeMap::from([("kf_put_back", 1)]),
            ),
            (
                "trees, the removal failing",
                Action::RemoveTrees {
                    trees: vec![format!("/opt/{v}")],
                    restore_foreign: true,
                },
                BTreeMap::from([("kf_remove_trees", 1), ("kf_trees_back", 1)]),
            ),
            (
                "a membership, gpasswd failing",
                Action::RemoveFromGroup {
                    user: (*v).to_string(),
                    group: (*v).to_string(),
                },
                BTreeMap::from([("gpasswd", 1)]),
            ),
            (
                "a group, groupdel failing",
                Action::RemoveGroup {
                    group: (*v).to_string(),
                },
                BTreeMap::from([("groupdel", 1)]),
            ),
            ("the state", Action::RemoveState, BTreeMap::new()),
        ];
        for (what, action, rc) in cases {
            assert_inert(what, &apply_body(&change(action)), &rc);
        }
    }
}

/// The store paths of a pending NixOS activation come from the host's own
/// record (/var/lib/katafleet/txn/nixos).
#[test]
fn settling_a_pending_nixos_activation_keeps_hostile_paths_inert() {
    for v in HOSTILE {
        for switch in [true, false] {
            let script = super::nixos::finish_script(
                switch,
                &format!("/nix/store/{v}"),
                &format!("/nix/store/{v}-previous"),
            );
            let body = script.strip_prefix(&super::changing_script()).unwrap();
            assert_inert("settling", body, &BTreeMap::new());
        }
    }
}

/// Handler names, shims and config paths come from the host's own
/// containerd and Docker configs, so they are hostile input too.
#[test]
fn verify_scripts_keep_hostile_handlers_shims_and_images_inert() {
    for v in HOSTILE {
        for client in [Client::Ctr, Client::Nerdctl, Client::Docker] {
            let t = Target {
                client,
                handler: (*v).to_string(),
                shim: format!("/opt/{v}"),
                config: Some(format!("/etc/{v}.toml")),
                hypervisor: Some(Hypervisor::Qemu),
            };
            for failing in [0, 1] {
                let rc = BTreeMap::from([("kf_block", failing)]);
                assert_inert("container", &proof::container(&t, v), &rc);
                assert_inert("bench", &proof::bench(&t, v, 2), &rc);
            }
        }
        let clients = [Client::Ctr, Client::Nerdctl, Client::Docker];
        for archive in [None, Some(10)] {
            assert_inert(
                "image",
                &proof::image(&clients, v, archive),
                &BTreeMap::from([("ctr", 1), ("nerdctl", 1), ("docker", 1)]),
            );
        }
    }
}
