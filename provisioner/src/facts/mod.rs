//! Host facts: one read-only probe script per host, parsed into types.

pub mod footprint;
pub mod gather;
mod installed;
pub mod manifest;
pub(crate) mod parse;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::facts::footprint::Footprint;
use crate::facts::manifest::Manifest;
use crate::release::{Arch, Runtime, Version};

pub use installed::{KataTree, LastProvision, PATH_TOOLS};
pub use parse::{parse, split_probe, ParseError};

pub const CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";
pub const DOCKER_DAEMON_JSON: &str = "/etc/docker/daemon.json";

#[derive(Debug, Clone, Default, Serialize)]
pub struct HostFacts {
    pub os: OsInfo,
    pub uid: u32,
    pub machine: String,
    pub arch: Option<Arch>,
    pub kernel: String,
    pub cpu_virt: Option<String>,
    /// The CPU reports a hypervisor: this host is itself a VM.
    pub cpu_hypervisor: bool,
    pub virt_vm: Option<String>,
    pub container: Option<String>,
    pub kvm: KvmDevice,
    pub mem_kib: u64,
    pub modules: BTreeSet<String>,
    pub tools: BTreeSet<String>,
    pub selinux: Option<String>,
    /// Whether a `kvm` group exists, and its members.
    pub kvm_group: Option<Vec<String>>,
    /// The kata-containers version dnf offers (asked for only with method = "package").
    pub dnf_kata: Option<String>,
    /// The installed kata-containers rpm's version.
    pub rpm_kata: Option<String>,
    pub containerd: Option<ContainerdFacts>,
    pub docker: Option<DockerFacts>,
    pub kata_dir: bool,
    pub kata: Option<InstalledKata>,
    /// The release `katafleet rollback` would return to (from the last upgrade's record).
    pub previous_release: Option<InstalledKata>,
    /// Where /opt/kata points (`kata-releases/<id>`), when it is a symlink.
    pub kata_link: Option<String>,
    pub manifest: Manifest,
    /// Why /var/lib/katafleet/manifest.json could not be read, if it could not.
    pub manifest_error: Option<String>,
    /// What /opt/kata holds now, and which Kata tools are on PATH.
    pub kata_tree: KataTree,
    /// Current sha256 of each file the manifest records (None: it is gone).
    pub managed_digests: BTreeMap<String, Option<String>>,
    /// When katafleet last changed this host, and which version did.
    pub last_provision: Option<LastProvision>,
    /// A run left its transaction open (its controller went away before it
    /// could commit or put it back).
    pub txn_open: bool,
    /// katafleet's state directory and trees, saved originals, running sandboxes.
    pub footprint: Footprint,
    /// Contents of the extra files asked for; absent files are missing keys.
    pub files: BTreeMap<String, String>,
    /// On NixOS: where the running system comes from, and what katafleet left pending.
    pub nixos: Option<NixosFacts>,
    /// What the probe asked afresh that holds until the host boots again,
    /// in the form a changing script records it (see `parse::boot_record`);
    /// None when it came from that record already.
    #[serde(skip)]
    pub boot_record: Option<String>,
}

/// What a NixOS host tells about its system (see plan/nixos.rs for how
/// katafleet judges it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NixosFacts {
    /// NIX_PATH as the host's shells have it (from /etc/set-environment when
    /// the probe's environment had none).
    pub nix_path: String,
    /// Where `<nixos-config>` resolves (`nix-instantiate --find-file`); None
    /// when it does not, as on hosts built from a flake.
    pub nixos_config: Option<String>,
    /// `/run/current-system` and `/nix/var/nix/profiles/system`, resolved.
    pub current_system: Option<String>,
    pub boot_system: Option<String>,
    /// A deployment tool's mark on the system profile (`deploy-rs`).
    pub deployer: Option<String>,
    /// The activation an earlier run started and did not finish.
    pub pending: Option<NixosPending>,
    /// What the host-side rollback deadline did when an activation's commit
    /// never came (`at=`, `system=`, `result=` lines, on one line).
    pub deadline_fired: Option<String>,
    /// `<nixpkgs/nixos>` evaluated as the host builds it (only when planning).
    pub evaluation: Option<NixosEvaluation>,
    /// Why that evaluation failed (the end of Nix's output).
    pub evaluation_error: Option<String>,
}

/// /var/lib/katafleet/txn/nixos: a system katafleet built and activated
/// with `switch-to-configuration test`, not yet made the boot default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NixosPending {
    pub system: String,
    /// What /run/current-system was before.
    pub previous: String,
    /// `testing` (the activation had started) or `tested` (it succeeded).
    pub state: String,
}

/// What the host's `<nixos-config>` builds now, by its own nixpkgs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NixosEvaluation {
    /// The system's store path (`nix-instantiate '<nixpkgs/nixos>' -A system`).
    pub toplevel: String,
    /// The version of the Kata package the module would use (None: nixpkgs has none).
    pub kata: Option<String>,
    /// Whether the configuration enables containerd and Docker.
    pub containerd: bool,
    pub docker: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct OsInfo {
    pub family: OsFamily,
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    Ubuntu,
    Debian,
    Fedora,
    NixOS,
    #[default]
    Other,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum KvmDevice {
    #[default]
    Missing,
    /// Present but root cannot open it read-write.
    Denied {
        mode: String,
    },
    Usable {
        mode: String,
    },
}

/// A daemon's version as `major.minor.patch`, parsed from its `--version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SoftwareVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl std::fmt::Display for SoftwareVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ContainerdFacts {
    pub version: Option<SoftwareVersion>,
    pub version_text: String,
    pub active: bool,
    pub config: Option<String>,
    /// `containerd config dump`: the effective, merged configuration.
    pub dump: Option<String>,
    /// The CRI plugin's state in `ctr plugins ls` (`ok`, `error`, `skip`).
    pub cri_plugin: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DockerFacts {
    pub version: Option<SoftwareVersion>,
    pub version_text: String,
    pub active: bool,
    pub daemon_json: Option<String>,
    /// The runtimes the running dockerd lists (`docker info`); asked for
    /// only by uninstall, which must see katafleet's go.
    pub runtimes: Option<Vec<String>>,
}

/// What katafleet recorded in /opt/kata when it installed a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalledKata {
    pub version: Version,
    pub runtime: Runtime,
    pub sha256: String,
}

impl HostFacts {
    /// Facts gathered at the end of an apply script leave out what no run
    /// changes (`KF_AFTER_APPLY` in the probe); they come from `before`.
    pub fn keep_unchanged(mut self, before: &HostFacts) -> HostFacts {
        self.os = before.os.clone();
        self.uid = before.uid;
        self.machine = before.machine.clone();
        self.arch = before.arch;
        self.kernel = before.kernel.clone();
        self.cpu_virt = before.cpu_virt.clone();
        self.cpu_hypervisor = before.cpu_hypervisor;
        self.virt_vm = before.virt_vm.clone();
        self.container = before.container.clone();
        self.kvm = before.kvm.clone();
        self.mem_kib = before.mem_kib;
        self.selinux = before.selinux.clone();
        self.boot_record = before.boot_record.clone();
        self
    }

    pub fn has_tool(&self, tool: &str) -> bool {
        self.tools.contains(tool)
    }

    pub fn file(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }
}
