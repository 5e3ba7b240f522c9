//! Wiring Kata into Docker's daemon.json: merged, never overwritten.

use serde_json::{json, Map, Value};

use super::Handler;
use super::{Action, Change, Plan, PlanError, Service, Validation};
use crate::facts::{HostFacts, SoftwareVersion};
use crate::inventory::Desired;
use crate::release::{Runtime, Version};

pub const DAEMON_JSON: &str = crate::facts::DOCKER_DAEMON_JSON;
/// Named runtimes with an absolute-path `runtimeType` arrived in Docker 24.
const MIN_DOCKER_MAJOR: u32 = 24;

pub(super) fn wire(plan: &mut Plan, facts: &HostFacts, desired: &Desired) -> Result<(), PlanError> {
    if !desired.docker {
        plan.noop(
            "docker",
            "disabled in the inventory ([docker] enable = false)",
        );
        return Ok(());
    }
    let Some(docker) = &facts.docker else {
        plan.noop("docker", "not installed on this host");
        return Ok(());
    };
    let version = docker.version.ok_or_else(|| {
        PlanError::Docker(format!(
            "cannot read Docker's version from `{}`",
            docker.version_text
        ))
    })?;
    check_versions(version, desired)?;
    let current = docker.daemon_json.as_deref();
    let wanted = super::handlers(desired);
    let (content, warnings, owned) = merged(current, &wanted, &facts.manifest.docker_runtimes)?;
    plan.warnings.extend(warnings);
    plan.manifest.docker_runtimes = owned;
    let Some(write) = plan.file_write(facts, DAEMON_JSON, content, current) else {
        return Ok(());
    };
    let diff = super::unified_diff(DAEMON_JSON, current.unwrap_or(""), &write.content);
    plan.push(Change {
        action: Action::Configure {
            service: Service::Docker,
            files: vec![write],
            validation: Validation::None,
            health: super::Health {
                handlers: wanted.iter().map(|h| h.name.clone()).collect(),
                cri: false,
            },
        },
        reason: format!(
            "add the Kata runtimes {} to Docker {version} (reloads dockerd; running containers keep running)",
            super::containerd::names(&wanted)
        ),
        diff: Some(diff),
    });
    Ok(())
}

/// Docker and Kata versions that cannot work together are refused up front.
pub(super) fn check_versions(docker: SoftwareVersion, desired: &Desired) -> Result<(), PlanError> {
    if docker.major < MIN_DOCKER_MAJOR {
        return Err(PlanError::Docker(format!(
            "Docker {docker} cannot run a shim by path (needs Docker >= {MIN_DOCKER_MAJOR}); upgrade Docker or set [docker] enable = false"
        )));
    }
    let kata = desired.kata.version;
    let needed = match docker.major {
        29.. => Some(Version::new(3, 32, 0)),
        26..=28 => Some(Version::new(3, 29, 0)),
        _ => None,
    };
    if let Some(min) = needed.filter(|min| desired.kata.runtime == Runtime::Go && kata < *min) {
        return Err(PlanError::Docker(format!(
            "Docker {docker} needs Go-runtime Kata >= {min}, but the inventory pins {kata}"
        )));
    }
    Ok(())
}

/// daemon.json with katafleet's runtimes set and stale ones it owns removed;
/// every other key and its order kept. Returns the text, warnings, and the
/// runtime names katafleet now owns.
fn merged(
    current: Option<&str>,
    wanted: &[Handler],
    owned: &[String],
) -> Result<(String, Vec<String>, Vec<String>), PlanError> {
    let mut root: Map<String, Value> = match current.map(str::trim) {
        None | Some("") => Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => {
                return Err(PlanError::Docker(format!(
                    "{DAEMON_JSON} is not a JSON object"
                )))
            }
            Err(e) => {
                return Err(PlanError::Docker(format!(
                    "cannot parse {DAEMON_JSON}: {e}"
                )))
            }
        },
    };
    let mut warnings = Vec::new();
    let runtimes = root
        .entry("runtimes")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(runtimes) = runtimes else {
        return Err(PlanError::Docker(format!(
            "`runtimes` in {DAEMON_JSON} is not an object"
        )));
    };
    for stale in owned
        .iter()
        .filter(|o| !wanted.iter().any(|w| &w.name == *o))
    {
        runtimes.shift_remove(stale);
    }
    let mut now_owned = Vec::new();
    for handler in wanted {
        let want =
            json!({"runtimeType": handler.shim, "options": {"ConfigPath": handler.config_path}});
        let ours = owned.contains(&handler.name);
        match runtimes.get(&handler.name) {
            Some(existing) if existing != &want && !ours => {
                warnings.push(foreign_runtime_warning(&handler.name, existing, &want));
                continue;
            }
            _ => {
                runtimes.insert(handler.name.clone(), want);
                now_owned.push(handler.name.clone());
            }
        }
    }
    for (name, entry) in runtimes.iter() {
        if is_legacy_path_entry(entry) && !wanted.iter().any(|w| &w.name == name) {
            warnings.push(format!(
                "{DAEMON_JSON}: runtime `{name}` uses `\"path\": {}` (a pre-2.0 kata-runtime entry), which Kata 2+ cannot run; remove it",
                entry["path"]
            ));
        }
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default();
    text.push('\n');
    Ok((text, warnings, now_owned))
}

/// A runtime of that name that katafleet did not write is left alone, with the exact fix.
fn foreign_runtime_warning(name: &str, existing: &Value, want: &Value) -> String {
    let legacy = if is_legacy_path_entry(existing) {
        " It uses `\"path\"` (a pre-2.0 kata-runtime entry), which Kata 2+ cannot run."
    } else {
        ""
    };
    format!(
        "{DAEMON_JSON} has a `{name}` runtime katafleet did not write, so it was left alone.{legacy} To let katafleet manage it, replace it with `\"{name}\": {want}` or delete it"
    )
}

fn is_legacy_path_entry(v: &Value) -> bool {
    v.get("path")
        .and_then(Value::as_str)
        .is_some_and(|p| p.contains("kata-runtime"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::Hypervisor;

    fn wanted() -> Vec<Handler> {
        let mut d = Desired::sample();
        d.kata.shims = vec![Hypervisor::Qemu, Hypervisor::Clh];
        super::super::handlers(&d)
    }

    #[test]
    fn keeps_every_existing_key_in_order() {
        let current = r#"{"log-driver": "journald", "runtimes": {"crun": {"path": "/usr/bin/crun"}}, "debug": true}"#;
        let (text, warnings, owned) = merged(Some(current), &wanted(), &[]).unwrap();
        assert_eq!(owned, ["kata", "kata-qemu", "kata-clh"]);
        assert!(warnings.is_empty());
        let v: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["log-driver", "runtimes", "debug"]);
        assert_eq!(v["runtimes"]["crun"]["path"], "/usr/bin/crun");
        assert_eq!(
            v["runtimes"]["kata"]["runtimeType"],
            "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2"
        );
        assert!(v.get("default-runtime").is_none());
        assert!(v["runtimes"]["kata-clh"]["options"]["ConfigPath"]
            .as_str()
            .unwrap()
            .ends_with("configuration-clh-runtime-rs.toml"));
    }

    #[test]
    fn a_foreign_legacy_path_entry_is_left_alone_with_the_exact_fix() {
        let current = r#"{"runtimes": {"kata": {"path": "/opt/kata/bin/kata-runtime"}, "kata-clh": {"path": "/opt/kata/bin/kata-runtime", "runtimeArgs": ["--config", "x"]}}}"#;
        let (text, warnings, owned) = merged(Some(current), &wanted(), &[]).unwrap();
        assert_eq!(
            owned,
            ["kata-qemu"],
            "names held by foreign entries are not taken"
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0]
                .contains("\"runtimeType\":\"/opt/kata/runtime-rs/bin/containerd-shim-kata-v2\""),
            "{}",
            warnings[0]
        );
        assert!(
            text.contains("/opt/kata/bin/kata-runtime"),
            "foreign entries stay"
        );
    }

    #[test]
    fn legacy_entries_katafleet_owns_are_replaced() {
        let current = r#"{"runtimes": {"kata": {"path": "/opt/kata/bin/kata-runtime"}}}"#;
        let (text, warnings, _) = merged(Some(current), &wanted(), &["kata".into()]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(!text.contains("kata-runtime"));
    }

    #[test]
    fn stale_runtimes_katafleet_owns_are_removed() {
        let current = r#"{"runtimes": {"kata": {}, "kata-fc": {"runtimeType": "x"}, "crun": {"path": "/usr/bin/crun"}}}"#;
        let (text, _, _) =
            merged(Some(current), &wanted(), &["kata".into(), "kata-fc".into()]).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["runtimes"].get("kata-fc").is_none());
        assert!(v["runtimes"].get("crun").is_some());
    }

    #[test]
    fn version_gates() {
        let v = |major, minor| SoftwareVersion {
            major,
            minor,
            patch: 0,
        };
        let desired = |runtime, version: &str| {
            let mut d = Desired::sample();
            d.kata.runtime = runtime;
            d.kata.version = version.parse().unwrap();
            d
        };
        let cases = [
            (v(20, 10), Runtime::Rust, "4.2.0", false),
            (v(24, 0), Runtime::Rust, "4.2.0", true),
            (v(26, 1), Runtime::Go, "3.28.0", false),
            (v(26, 1), Runtime::Go, "3.29.0", true),
            (v(29, 0), Runtime::Go, "3.31.0", false),
            (v(29, 0), Runtime::Go, "3.32.0", true),
            (v(29, 0), Runtime::Rust, "3.20.0", true),
        ];
        for (docker, rt, kata, ok) in cases {
            assert_eq!(
                check_versions(docker, &desired(rt, kata)).is_ok(),
                ok,
                "{docker} {rt:?} {kata}"
            );
        }
    }
}
