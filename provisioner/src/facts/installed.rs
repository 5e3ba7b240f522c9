//! Facts about what is on a host now: the Kata tree under /opt/kata (whoever
//! put it there), which Kata tools a shell finds on PATH, and katafleet's own
//! state (current digests of the files it owns, its last provision).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::HostFacts;
use crate::release::{Hypervisor, Runtime, KATA_ROOT};

const SHIM: &str = "containerd-shim-kata-v2";

/// What /opt/kata holds; empty when there is no /opt/kata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KataTree {
    /// `/opt/kata/VERSION`, which every upstream release tarball carries.
    pub version_file: Option<String>,
    /// Entries of /opt/kata/bin (VMMs, the Go shim, kata-runtime, kata-ctl).
    pub bin: BTreeSet<String>,
    /// Entries of /opt/kata/runtime-rs/bin (the runtime-rs shim).
    pub runtime_rs_bin: BTreeSet<String>,
    /// Configuration files and drop-ins, relative to
    /// /opt/kata/share/defaults/kata-containers (e.g. `runtime-rs/config.d/50-katafleet.toml`).
    pub configs: BTreeSet<String>,
    /// Where a login shell's PATH finds `kata-runtime`, `kata-ctl` and
    /// `containerd-shim-kata-v2`; absent tools are missing keys.
    pub on_path: BTreeMap<String, String>,
}

/// `/var/lib/katafleet/last-provision`, written at the end of every apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastProvision {
    pub time: String,
    pub katafleet: String,
}

/// Tools whose PATH lookup the probe reports (`on_path:NAME=...`).
pub const PATH_TOOLS: [&str; 3] = ["kata-runtime", "kata-ctl", "containerd-shim-kata-v2"];

impl KataTree {
    pub fn has_bin(&self, name: &str) -> bool {
        self.bin.contains(name)
    }

    /// An absolute path under /opt/kata/bin, if that entry exists.
    pub fn bin_path(&self, name: &str) -> Option<String> {
        self.has_bin(name)
            .then(|| format!("{KATA_ROOT}/bin/{name}"))
    }

    /// The runtimes whose shim is in the tree: runtime-rs, then Go.
    pub fn runtimes(&self) -> Vec<Runtime> {
        let mut out = Vec::new();
        if self.runtime_rs_bin.contains(SHIM) {
            out.push(Runtime::Rust);
        }
        if self.bin.contains(SHIM) {
            out.push(Runtime::Go);
        }
        out
    }

    /// Hypervisors the tree can start: a VMM binary in bin/, or dragonball
    /// (built into the runtime-rs shim) when its configuration is there.
    pub fn hypervisors(&self) -> Vec<Hypervisor> {
        let mut out = Vec::new();
        if self.bin.iter().any(|b| {
            b.strip_prefix("qemu-system-")
                .is_some_and(|rest| !rest.contains('-'))
        }) {
            out.push(Hypervisor::Qemu);
        }
        if self.has_bin("cloud-hypervisor") {
            out.push(Hypervisor::Clh);
        }
        if self.has_bin("firecracker") {
            out.push(Hypervisor::Fc);
        }
        if self.runtime_rs_bin.contains(SHIM)
            && self
                .configs
                .contains("runtime-rs/configuration-dragonball.toml")
        {
            out.push(Hypervisor::Dragonball);
        }
        out
    }

    /// Whether `path` (absolute, under the defaults directory) exists.
    pub fn has_config(&self, path: &str) -> bool {
        path.strip_prefix(&format!("{KATA_ROOT}/share/defaults/kata-containers/"))
            .is_some_and(|rel| self.configs.contains(rel))
    }
}

/// Fills the fields of this module from the probe's values and files.
pub(super) fn fill(
    facts: &mut HostFacts,
    kv: &BTreeMap<String, String>,
    blocks: &BTreeMap<String, String>,
) {
    let words = |k: &str| -> BTreeSet<String> {
        kv.get(k)
            .map(|v| v.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    };
    facts.kata_tree = KataTree {
        version_file: kv
            .get("kata_version_file")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty()),
        bin: words("kata_bin"),
        runtime_rs_bin: words("kata_rs_bin"),
        configs: words("kata_configs"),
        on_path: kv
            .iter()
            .filter_map(|(k, v)| {
                let tool = k.strip_prefix("on_path:")?;
                let path = v.trim();
                (!path.is_empty()).then(|| (tool.to_string(), path.to_string()))
            })
            .collect(),
    };
    facts.managed_digests = kv
        .iter()
        .filter_map(|(k, v)| {
            let path = k.strip_prefix("digest:")?;
            let digest = match v.trim() {
                "missing" | "" => None,
                d => Some(d.to_string()),
            };
            Some((path.to_string(), digest))
        })
        .collect();
    facts.last_provision = blocks.get("last-provision").and_then(|t| last_provision(t));
}

fn last_provision(text: &str) -> Option<LastProvision> {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().to_string())
    };
    Some(LastProvision {
        time: field("time")?,
        katafleet: field("katafleet").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_provision_needs_a_time() {
        let l = last_provision("time=2026-11-30T01:02:03Z\nkatafleet=0.1.0\n").unwrap();
        assert_eq!(
            (l.time.as_str(), l.katafleet.as_str()),
            ("2026-11-30T01:02:03Z", "0.1.0")
        );
        assert!(last_provision("katafleet=0.1.0\n").is_none());
    }

    #[test]
    fn runtimes_and_hypervisors_come_from_the_tree() {
        let tree = KataTree {
            bin: [
                "qemu-system-x86_64",
                "qemu-system-x86_64-snp-experimental",
                "cloud-hypervisor",
            ]
            .map(String::from)
            .into(),
            runtime_rs_bin: [SHIM.to_string()].into(),
            configs: ["runtime-rs/configuration-dragonball.toml".to_string()].into(),
            ..KataTree::default()
        };
        assert_eq!(tree.runtimes(), [Runtime::Rust]);
        assert_eq!(
            tree.hypervisors(),
            [Hypervisor::Qemu, Hypervisor::Clh, Hypervisor::Dragonball]
        );
        let only_variant = KataTree {
            bin: ["qemu-system-x86_64-tdx-experimental".to_string()].into(),
            ..KataTree::default()
        };
        assert!(only_variant.hypervisors().is_empty());
    }

    #[test]
    fn config_paths_are_matched_relative_to_the_defaults_dir() {
        let tree = KataTree {
            configs: ["runtime-rs/configuration-qemu-runtime-rs.toml".to_string()].into(),
            ..KataTree::default()
        };
        assert!(tree.has_config(
            "/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml"
        ));
        assert!(
            !tree.has_config("/opt/kata/share/defaults/kata-containers/configuration-qemu.toml")
        );
        assert!(!tree.has_config("runtime-rs/configuration-qemu-runtime-rs.toml"));
    }
}
