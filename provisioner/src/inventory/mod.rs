//! The inventory: which hosts to manage, how to reach them, and what Kata
//! setup each should end up with. Parsing reports every problem at once.

pub mod diagnostic;
mod layers;
mod raw;
mod rollout;
mod select;
mod ssh;
mod validate;
mod validator;
pub mod values;
mod verify;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ValueEnum;
use serde::Serialize;

use crate::inventory::diagnostic::SourceFile;
use crate::release::checksums::Sha256;
use crate::release::{Hypervisor, Runtime, Version};

pub use rollout::{BatchSize, Pause, RolloutSettings};
pub use select::select;
pub use verify::VerifySettings;

#[derive(Debug, Clone)]
pub struct Inventory {
    pub path: PathBuf,
    pub parallel: usize,
    /// SSH handshakes in flight at once (`[defaults] handshakes`): a bastion's
    /// sshd drops connections beyond `MaxStartups` (10 by default).
    pub handshakes: usize,
    pub hosts: Vec<Host>,
    pub kubernetes: KubernetesSettings,
    pub verify: VerifySettings,
    /// How `upgrade` goes through the hosts.
    pub rollout: RolloutSettings,
}

/// How long `kubectl drain` may take before the host's upgrade fails.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct KubernetesSettings {
    pub runtime_classes: bool,
    /// With a kubeconfig, provision applies RuntimeClasses and labels nodes,
    /// and upgrade drains each node first.
    pub kubeconfig: Option<PathBuf>,
    /// `kubectl drain --timeout` during an upgrade.
    pub drain_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    /// The Kubernetes node this host is (defaults to `name`).
    pub node_name: String,
    pub groups: Vec<String>,
    pub connection: Connection,
    pub desired: Desired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// Run on the controller itself, without SSH.
    Local,
    Remote(String),
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub address: Address,
    /// Only when the inventory sets one: otherwise the user's ssh config
    /// (`Port`) decides, and ssh's default of 22 after it.
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_file: Option<PathBuf>,
    /// `[user@]host[:port]` hops, in order, reached with ssh's ProxyJump.
    pub proxy_jump: Option<String>,
    /// An ssh client config file (`ssh -F`) used instead of ~/.ssh/config;
    /// also what the jump hosts are reached with.
    pub ssh_config: Option<PathBuf>,
    pub known_hosts: KnownHostsPolicy,
    pub known_hosts_file: Option<PathBuf>,
    pub become_: Become,
    pub connect_timeout: Duration,
    pub step_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KnownHostsPolicy {
    /// The host key must already be in known_hosts.
    Strict,
    /// Unknown hosts are added on first contact; changed keys are refused.
    AcceptNew,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Become {
    None,
    /// Every step runs through non-interactive `sudo -n`.
    Sudo,
}

/// What a host should look like when katafleet is done with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Desired {
    pub kata: KataSpec,
    pub containerd: bool,
    /// Re-enable containerd's CRI plugin where Docker's containerd.io disabled it.
    pub enable_cri: bool,
    pub docker: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KataSpec {
    pub version: Version,
    pub runtime: Runtime,
    pub hypervisor: Hypervisor,
    /// URL template or absolute local path template with `{version}`/`{asset}`.
    pub source: String,
    /// None means "use katafleet's table of known digests".
    #[serde(skip)]
    pub sha256: Option<Sha256>,
    pub memory_mib: u32,
    pub vcpus: u32,
    pub debug: bool,
    /// Extra handlers `kata-<shim>`, one per hypervisor (default: the hypervisor).
    pub shims: Vec<Hypervisor>,
    /// Users added to the `kvm` group.
    pub kvm_users: Vec<String>,
    pub method: InstallMethod,
    /// Which side downloads the release.
    pub fetch: ReleaseFetch,
}

/// Who downloads the release from `source`. Either way the controller
/// inspects the archive (once per fleet, cached by digest) before any host
/// extracts it, and the host checks the pinned sha256 while extracting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseFetch {
    /// The controller streams the release to each host over SSH.
    Controller,
    /// Each host downloads it with curl or wget; only scripts go over SSH.
    Host,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InstallMethod {
    /// The official static tarball into /opt/kata (every distro).
    Static,
    /// The distribution's package (Fedora's `kata-containers`), when its version matches.
    Package,
}

impl KataSpec {
    /// Where this spec's runtime lives for one hypervisor.
    pub fn layout(&self, hypervisor: Hypervisor) -> crate::release::Layout {
        match self.method {
            InstallMethod::Static => crate::release::Layout::new(self.runtime, hypervisor),
            InstallMethod::Package => crate::release::Layout::packaged(hypervisor),
        }
    }

    /// Every hypervisor wired: the default one first, then the other shims.
    pub fn hypervisors(&self) -> Vec<Hypervisor> {
        let mut all = vec![self.hypervisor];
        all.extend(self.shims.iter().filter(|h| **h != self.hypervisor));
        all
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Already rendered with locations; `count` problems in all.
    #[error("{rendered}\n{count} problem(s) in {path}")]
    Invalid {
        path: PathBuf,
        rendered: String,
        count: usize,
    },
}

/// Reads and validates an inventory file.
pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
    let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&SourceFile::new(path, text))
}

/// Validates inventory text; every problem is reported, each with its location.
pub fn parse(file: &SourceFile) -> Result<Inventory, InventoryError> {
    validate::validate(file).map_err(|diags| InventoryError::Invalid {
        path: file.path.clone(),
        rendered: file.render_all(&diags),
        count: diags.len(),
    })
}

impl Connection {
    /// How many jump hosts `proxy_jump` names (validated: comma-separated
    /// `[user@]host[:port]`, none empty).
    pub fn jump_hops(&self) -> u32 {
        self.proxy_jump
            .as_deref()
            .map_or(0, |hops| hops.split(',').count())
            .try_into()
            .unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
impl Connection {
    pub fn local_for_tests() -> Self {
        Connection {
            address: Address::Local,
            port: None,
            user: None,
            identity_file: None,
            proxy_jump: None,
            ssh_config: None,
            known_hosts: KnownHostsPolicy::Strict,
            known_hosts_file: None,
            become_: Become::None,
            connect_timeout: Duration::from_secs(1),
            step_timeout: Duration::from_secs(1),
        }
    }
}

#[cfg(test)]
impl Desired {
    /// Kata 4.2.0, runtime-rs, qemu, containerd and Docker on: a baseline for tests.
    pub fn sample() -> Self {
        Desired {
            kata: KataSpec {
                version: Version::new(4, 2, 0),
                runtime: Runtime::Rust,
                hypervisor: Hypervisor::Qemu,
                source: String::new(),
                sha256: None,
                memory_mib: 2048,
                vcpus: 1,
                debug: false,
                shims: vec![Hypervisor::Qemu],
                kvm_users: Vec::new(),
                method: InstallMethod::Static,
                fetch: ReleaseFetch::Controller,
            },
            containerd: true,
            enable_cri: false,
            docker: true,
        }
    }
}
