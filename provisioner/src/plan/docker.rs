//! Wiring Kata into Docker's daemon.json: merged, never overwritten.

use serde_json::{json, Map, Value};

use super::{Action, Change, Plan, PlanError, Service, Validation};
use crate::facts::{HostFacts, SoftwareVersion};
use crate::inventory::Desired;
use crate::release::{Layout, Runtime, Version};

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
    let layout = Layout::new(desired.kata.runtime, desired.kata.hypervisor);
    let owned = &facts.manifest.docker_runtimes;
    let (content, warnings) = merged(current, &layout, owned)?;
    plan.warnings.extend(warnings);
    plan.manifest.docker_runtimes = vec!["kata".into()];
    let Some(write) = plan.file_write(facts, DAEMON_JSON, content, current) else {
        return Ok(());
    };
    let diff = super::unified_diff(DAEMON_JSON, current.unwrap_or(""), &write.content);
    plan.changes.push(Change {
        action: Action::Configure {
            service: Service::Docker,
            files: vec![write],
            validation: Validation::None,
        },
        reason: format!("add the `kata` runtime to Docker {version}"),
        diff: Some(diff),
    });
    Ok(())
}

/// Docker and Kata versions that cannot work together are refused up front.
fn check_versions(docker: SoftwareVersion, desired: &Desired) -> Result<(), PlanError> {
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

/// daemon.json with `runtimes.kata` set; every other key and its order kept.
fn merged(
    current: Option<&str>,
    layout: &Layout,
    owned: &[String],
) -> Result<(String, Vec<String>), PlanError> {
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
    let want = json!({"runtimeType": layout.shim, "options": {"ConfigPath": layout.config_file}});
    if let Some(existing) = runtimes.get("kata") {
        if existing != &want && !owned.iter().any(|o| o == "kata") {
            if is_legacy_path_entry(existing) {
                warnings.push(format!(
                    "{DAEMON_JSON} has a `kata` runtime with `\"path\"` (from a pre-2.0 guide), which Kata 2+ cannot run; katafleet replaces it with `\"runtimeType\": \"{}\"`",
                    layout.shim
                ));
            } else {
                return Err(PlanError::Docker(format!(
                    "{DAEMON_JSON} already has a `kata` runtime katafleet did not write; remove it first"
                )));
            }
        }
    }
    runtimes.insert("kata".into(), want);
    let mut text = serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default();
    text.push('\n');
    Ok((text, warnings))
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

    fn layout() -> Layout {
        Layout::new(Runtime::Rust, Hypervisor::Qemu)
    }

    #[test]
    fn keeps_every_existing_key_in_order() {
        let current = r#"{"log-driver": "journald", "runtimes": {"crun": {"path": "/usr/bin/crun"}}, "debug": true}"#;
        let (text, warnings) = merged(Some(current), &layout(), &[]).unwrap();
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
    }

    #[test]
    fn replaces_a_legacy_path_entry_with_a_warning() {
        let current = r#"{"runtimes": {"kata": {"path": "/opt/kata/bin/kata-runtime"}}}"#;
        let (text, warnings) = merged(Some(current), &layout(), &[]).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(!text.contains("kata-runtime"));
    }

    #[test]
    fn refuses_a_foreign_kata_runtime() {
        let current = r#"{"runtimes": {"kata": {"runtimeType": "/usr/local/bin/shim"}}}"#;
        assert!(merged(Some(current), &layout(), &[]).is_err());
        assert!(merged(Some(current), &layout(), &["kata".into()]).is_ok());
    }

    #[test]
    fn version_gates() {
        let v = |major, minor| SoftwareVersion {
            major,
            minor,
            patch: 0,
        };
        let desired = |runtime, version: &str| Desired {
            kata: crate::inventory::KataSpec {
                version: version.parse().unwrap(),
                runtime,
                hypervisor: Hypervisor::Qemu,
                source: String::new(),
                sha256: None,
                memory_mib: 2048,
                vcpus: 1,
                debug: false,
            },
            containerd: true,
            docker: true,
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
