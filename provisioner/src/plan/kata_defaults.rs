//! What katafleet and its NixOS module must agree on, kept once in
//! nix/katafleet-defaults.json: the handler name, the Kata annotations a pod
//! may set (GHSA-rr59-xxvx-96qr), and per hypervisor the names, files and
//! systems the module knows. The module reads the same file with
//! `lib.importJSON`; katafleet compiles it in and writes it next to the
//! module on NixOS hosts (/etc/nixos/katafleet-defaults.json).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::release::{Arch, Hypervisor};

/// The file as katafleet ships it (and writes it to NixOS hosts).
pub const TEXT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../nix/katafleet-defaults.json"
));

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KataDefaults {
    /// The handler of the default hypervisor; the others are `<handler>-<short>`.
    pub handler: String,
    /// Kata hypervisor annotations pods may set (`enable_annotations`).
    pub annotations: Vec<String>,
    /// What containerd's `pod_annotations` prefixes each annotation with.
    pub pod_annotation_prefix: String,
    /// By the name the NixOS module uses (`cloud-hypervisor`, not `clh`).
    pub hypervisors: BTreeMap<String, HypervisorDefaults>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HypervisorDefaults {
    /// katafleet's name, and the suffix of its handler (`kata-clh`).
    pub short: String,
    /// Its `[hypervisor.<section>]` table in Kata's configuration.
    pub section: String,
    pub runtime_rs_config: String,
    /// The Nix systems nixpkgs' runtime-rs ships its configuration for.
    pub runtime_rs_systems: Vec<String>,
    /// The Go runtime's configuration, if nixpkgs builds one.
    pub go_config: Option<String>,
    pub min_memory_mib: u32,
}

/// The compiled-in data; the file is part of the build, so a broken one is
/// a build bug the tests catch.
pub fn get() -> &'static KataDefaults {
    static DEFAULTS: OnceLock<KataDefaults> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        serde_json::from_str(TEXT).expect("nix/katafleet-defaults.json is valid and complete")
    })
}

impl KataDefaults {
    /// containerd's `pod_annotations` for every Kata handler.
    pub fn pod_annotations(&self) -> Vec<String> {
        self.annotations
            .iter()
            .map(|a| format!("{}{a}", self.pod_annotation_prefix))
            .collect()
    }

    /// The module's name for a hypervisor, and its data.
    pub fn nixos(&self, hypervisor: Hypervisor) -> (&str, &HypervisorDefaults) {
        self.hypervisors
            .iter()
            .find(|(_, h)| h.short == hypervisor.name())
            .map(|(name, h)| (name.as_str(), h))
            .expect("every hypervisor is in nix/katafleet-defaults.json (a test checks)")
    }
}

/// The Nix system string of an architecture the NixOS module supports.
pub fn nix_system(arch: Arch) -> Option<&'static str> {
    match arch {
        Arch::Amd64 => Some("x86_64-linux"),
        Arch::Arm64 => Some("aarch64-linux"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_hypervisor_is_described_once_and_the_same_way() {
        let d = get();
        let all = Hypervisor::value_variants();
        assert_eq!(d.hypervisors.len(), all.len(), "{:?}", d.hypervisors.keys());
        for hv in all {
            let (_, h) = d.nixos(*hv);
            assert_eq!(h.section, hv.config_section(), "{hv:?}");
        }
    }

    #[test]
    fn the_allowlist_is_sizing_only() {
        let d = get();
        assert_eq!(d.handler, "kata");
        assert_eq!(d.annotations, ["default_memory", "default_vcpus"]);
        assert_eq!(
            d.pod_annotations(),
            [
                "io.katacontainers.config.hypervisor.default_memory",
                "io.katacontainers.config.hypervisor.default_vcpus"
            ]
        );
        assert!(!d.annotations.iter().any(|a| a.contains('*')));
    }
}
