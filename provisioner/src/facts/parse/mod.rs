//! Parser for the probe's output. Unknown keys are ignored so a newer probe
//! never breaks an older parser; a missing start marker is an error.

use std::collections::BTreeMap;

use super::{
    ContainerdFacts, DockerFacts, HostFacts, InstalledKata, KvmDevice, NixosEvaluation, NixosFacts,
    NixosPending, OsFamily, OsInfo, SoftwareVersion,
};
use crate::facts::manifest::Manifest;
use crate::release::Arch;
use crate::script::wire::{self, Marker, WireError};

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("the facts probe did not run (no start marker in its output)")]
    NoMarker,
    #[error("the facts probe stopped early (no end marker); its output was cut off")]
    Truncated,
    #[error("the facts probe's output is garbled: {0}")]
    Wire(WireError),
}

pub fn parse(output: &str) -> Result<HostFacts, ParseError> {
    split_probe(markers(output)?).map(|(facts, _)| facts)
}

/// The markers of a probe's output; output that ends inside a block was cut off.
pub(crate) fn markers(output: &str) -> Result<Vec<Marker>, ParseError> {
    wire::parse(output).map_err(|e| match e {
        WireError::Unterminated(_) => ParseError::Truncated,
        e => ParseError::Wire(e),
    })
}

/// The facts from the probe's markers, and every marker after its end
/// (what a script ran after the probe in the same round trip).
pub fn split_probe(mut markers: Vec<Marker>) -> Result<(HostFacts, Vec<Marker>), ParseError> {
    let start = markers
        .iter()
        .position(|m| matches!(m, Marker::ProbeStart { .. }))
        .ok_or(ParseError::NoMarker)?;
    let end = start
        + markers[start..]
            .iter()
            .position(|m| *m == Marker::ProbeEnd)
            .ok_or(ParseError::Truncated)?;
    let rest = markers.split_off(end + 1);
    let mut kv = BTreeMap::new();
    let mut blocks = BTreeMap::new();
    for marker in markers.drain(start..end) {
        match marker {
            Marker::Value { key, value } => {
                kv.insert(key, value);
            }
            Marker::File { name, content } => {
                blocks.insert(name, content);
            }
            _ => {}
        }
    }
    Ok((facts(&kv, blocks)?, rest))
}

/// The facts that hold for one boot, as probe.sh's record of them: `boot
/// BOOT_ID`, then a `KEY VALUE` line each. None when the probe read them
/// from that record, or the host has no boot id.
fn boot_record(kv: &BTreeMap<String, String>) -> Option<String> {
    const PER_BOOT: [&str; 5] = [
        "machine",
        "cpu_virt",
        "cpu_hypervisor",
        "virt_container",
        "virt_vm",
    ];
    let boot = kv
        .get("boot_id")
        .map(|b| b.trim())
        .filter(|b| !b.is_empty())?;
    if kv.contains_key("boot_cached") {
        return None;
    }
    let mut record = format!("boot {boot}");
    for key in PER_BOOT {
        if let Some(value) = kv.get(key) {
            record.push_str(&format!("\n{key} {}", value.trim()));
        }
    }
    Some(record)
}

fn facts(kv: &BTreeMap<String, String>, blocks: Blocks) -> Result<HostFacts, ParseError> {
    let get = |k: &str| kv.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let words = |k: &str| {
        get(k)
            .map(|s| s.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    };

    let mut facts = HostFacts {
        os: blocks
            .get("os-release")
            .map(|t| os_info(t))
            .unwrap_or_default(),
        uid: get("uid").and_then(|u| u.parse().ok()).unwrap_or(u32::MAX),
        machine: get("machine").unwrap_or_default().to_string(),
        kernel: get("kernel").unwrap_or_default().to_string(),
        cpu_virt: get("cpu_virt").map(String::from),
        cpu_hypervisor: get("cpu_hypervisor").is_some(),
        virt_vm: get("virt_vm").filter(|v| *v != "none").map(String::from),
        container: get("virt_container")
            .filter(|v| *v != "none")
            .or_else(|| get("container_hint"))
            .map(String::from),
        kvm: kvm(get("kvm_open"), get("kvm_mode")),
        mem_kib: get("mem_kib").and_then(|m| m.parse().ok()).unwrap_or(0),
        modules: words("modules"),
        tools: words("tools"),
        selinux: get("selinux").map(String::from),
        kata_dir: get("kata_dir").is_some(),
        txn_open: get("txn_open").is_some(),
        kvm_group: get("kvm_group").map(group_members),
        dnf_kata: get("dnf_kata").map(String::from),
        rpm_kata: get("rpm_kata").map(String::from),
        ..HostFacts::default()
    };
    facts.arch = Arch::from_uname(&facts.machine);
    facts.boot_record = boot_record(kv);
    if let Some(text) = get("containerd_version") {
        facts.containerd = Some(ContainerdFacts {
            version: software_version(text),
            version_text: text.to_string(),
            active: get("containerd_active") == Some("active"),
            cri_plugin: get("cri_plugin").map(String::from),
            config: blocks.get("containerd-config").cloned(),
            dump: blocks.get("containerd-dump").cloned(),
        });
    }
    if let Some(text) = get("docker_version") {
        facts.docker = Some(DockerFacts {
            version: software_version(text),
            version_text: text.to_string(),
            active: get("docker_active") == Some("active"),
            daemon_json: blocks.get("docker-daemon-json").cloned(),
            runtimes: get("docker_runtimes").and_then(runtime_names),
        });
    }
    facts.kata = blocks.get("kata-marker").and_then(|t| marker(t));
    facts.previous_release = blocks.get("previous-release").and_then(|t| marker(t));
    facts.kata_link = get("kata_link").map(String::from);
    facts.nixos = nixos(kv, &blocks);
    super::installed::fill(&mut facts, kv, &blocks);
    facts.footprint = super::footprint::fill(kv, &blocks);
    if let Some(json) = blocks.get("manifest") {
        // An unreadable record is no dead end: the run rebuilds it (and says so).
        match Manifest::from_json(json) {
            Ok(manifest) => facts.manifest = manifest,
            Err(e) => facts.manifest_error = Some(e.to_string()),
        }
    }

    let named = [
        ("containerd-config", super::CONTAINERD_CONFIG),
        ("docker-daemon-json", super::DOCKER_DAEMON_JSON),
    ];
    for (block, path) in named {
        if let Some(text) = blocks.get(block) {
            facts.files.insert(path.to_string(), text.clone());
        }
    }
    facts.files.extend(
        blocks
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix("path:").map(|p| (p.to_string(), v))),
    );
    Ok(facts)
}

type Blocks = BTreeMap<String, String>;

fn os_info(text: &str) -> OsInfo {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let id = field("ID");
    let family = match id.as_str() {
        "ubuntu" => OsFamily::Ubuntu,
        "debian" => OsFamily::Debian,
        "fedora" => OsFamily::Fedora,
        "nixos" => OsFamily::NixOS,
        _ => OsFamily::Other,
    };
    OsInfo {
        family,
        id,
        version_id: field("VERSION_ID"),
        pretty_name: field("PRETTY_NAME"),
    }
}

/// The names in `docker info --format '{{json .Runtimes}}'` (a JSON object).
fn runtime_names(json: &str) -> Option<Vec<String>> {
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json)
        .ok()
        .map(|m| m.keys().cloned().collect())
}

/// Members of a `getent group` line: `kvm:x:108:alice,bob`.
fn group_members(line: &str) -> Vec<String> {
    line.splitn(4, ':')
        .nth(3)
        .map(|m| {
            m.split(',')
                .filter(|u| !u.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn kvm(open: Option<&str>, mode: Option<&str>) -> KvmDevice {
    let mode = mode.unwrap_or_default().to_string();
    match open {
        Some("ok") => KvmDevice::Usable { mode },
        Some("denied") => KvmDevice::Denied { mode },
        _ => KvmDevice::Missing,
    }
}

/// The first `X.Y[.Z]` token in a `--version` line, e.g. Debian's
/// `containerd github.com/containerd/containerd 1.6.20~ds1 ...`.
pub(crate) fn software_version(text: &str) -> Option<SoftwareVersion> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .find_map(|token| {
            let token = token.trim_start_matches('v');
            let numeric: String = token
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let parts: Vec<u32> = numeric.split('.').map_while(|p| p.parse().ok()).collect();
            match parts.as_slice() {
                [major, minor, patch, ..] => Some(SoftwareVersion {
                    major: *major,
                    minor: *minor,
                    patch: *patch,
                }),
                [major, minor] => Some(SoftwareVersion {
                    major: *major,
                    minor: *minor,
                    patch: 0,
                }),
                _ => None,
            }
        })
}

/// The NixOS section of the probe; None on other hosts.
fn nixos(kv: &BTreeMap<String, String>, blocks: &Blocks) -> Option<NixosFacts> {
    let present = kv.keys().any(|k| k.starts_with("nixos_"))
        || blocks.keys().any(|k| k.starts_with("nixos-"));
    if !present {
        return None;
    }
    let get = |k: &str| {
        kv.get(k)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let (evaluation, evaluation_error) = match blocks.get("nixos-eval") {
        Some(json) => match serde_json::from_str::<NixosEvaluation>(json) {
            Ok(e) => (Some(e), None),
            Err(e) => (
                None,
                Some(format!("unreadable evaluation result ({e}): {json}")),
            ),
        },
        None => (
            None,
            blocks.get("nixos-eval-error").map(|t| t.trim().to_string()),
        ),
    };
    Some(NixosFacts {
        nix_path: get("nixos_nix_path").unwrap_or_default(),
        nixos_config: get("nixos_config"),
        current_system: get("nixos_current"),
        boot_system: get("nixos_boot"),
        deployer: get("nixos_deployer"),
        pending: blocks.get("nixos-pending").and_then(|t| pending(t)),
        deadline_fired: blocks
            .get("nixos-deadline-fired")
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|t| !t.is_empty()),
        evaluation,
        evaluation_error,
    })
}

/// `system=`, `previous=` and `state=` lines; a record without a system is none.
fn pending(text: &str) -> Option<NixosPending> {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    Some(NixosPending {
        system: field("system")?,
        previous: field("previous").unwrap_or_default(),
        state: field("state").unwrap_or_else(|| "testing".into()),
    })
}

fn marker(text: &str) -> Option<InstalledKata> {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    };
    Some(InstalledKata {
        version: field("version")?.trim().parse().ok()?,
        runtime: crate::release::Runtime::from_name(field("runtime")?.trim())?,
        sha256: field("sha256")?.trim().to_string(),
    })
}

#[cfg(test)]
mod tests;
