//! The inventory as written: every value keeps its span so validation can
//! point at it. Enum-like values stay strings here and are parsed (with
//! "did you mean") during validation.

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Option<Spanned<T>>;

/// Connection keys, shared by `[defaults]`, `[groups.NAME]` and `[[hosts]]`.
#[derive(Debug, Default, Deserialize)]
pub struct RawDefaults {
    pub user: S<String>,
    pub port: S<i64>,
    pub identity_file: S<String>,
    pub known_hosts: S<String>,
    pub known_hosts_file: S<String>,
    #[serde(rename = "become")]
    pub become_: S<String>,
    pub parallel: S<i64>,
    pub connect_timeout_secs: S<i64>,
    pub step_timeout_secs: S<i64>,
    pub proxy_jump: S<String>,
    pub ssh_config: S<String>,
    pub handshakes: S<i64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawKata {
    pub version: S<String>,
    pub runtime: S<String>,
    pub hypervisor: S<String>,
    pub source: S<String>,
    pub sha256: S<String>,
    pub default_memory_mib: S<i64>,
    pub default_vcpus: S<i64>,
    pub debug: S<bool>,
    pub shims: Option<Vec<Spanned<String>>>,
    pub kvm_users: Option<Vec<Spanned<String>>>,
    pub method: S<String>,
    pub fetch: S<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawContainerd {
    pub enable: S<bool>,
    pub enable_cri: S<bool>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct RawDocker {
    pub enable: S<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawKubernetes {
    pub runtime_classes: S<bool>,
    pub kubeconfig: S<String>,
}

/// `[verify]`: see `inventory/verify.rs`.
#[derive(Debug, Default, Deserialize)]
pub struct RawVerify {
    pub image: S<String>,
    pub image_archive: S<String>,
    pub bench_runs: S<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawGroup {
    pub user: S<String>,
    pub port: S<i64>,
    pub proxy_jump: S<String>,
    #[serde(rename = "become")]
    pub become_: S<String>,
    pub kata: Option<RawKata>,
    pub containerd: Option<RawContainerd>,
    pub docker: Option<RawDocker>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawHost {
    pub name: S<String>,
    pub address: S<String>,
    pub port: S<i64>,
    pub user: S<String>,
    pub identity_file: S<String>,
    pub proxy_jump: S<String>,
    #[serde(rename = "become")]
    pub become_: S<String>,
    #[serde(default)]
    pub groups: Vec<Spanned<String>>,
    /// The Kubernetes node name, when it differs from `name`.
    pub node_name: S<String>,
    pub kata: Option<RawKata>,
    pub containerd: Option<RawContainerd>,
    pub docker: Option<RawDocker>,
}

/// Which raw type describes a table, so unknown keys can be found at any depth.
#[derive(Debug, Clone, Copy)]
pub enum Section {
    Root,
    Defaults,
    Kata,
    Containerd,
    Docker,
    Kubernetes,
    Verify,
    Group,
    Host,
}

impl Section {
    pub fn keys(self) -> &'static [&'static str] {
        use serde_aux::serde_introspection::serde_introspect as fields;
        match self {
            Section::Root => &ROOT_KEYS,
            Section::Defaults => fields::<RawDefaults>(),
            Section::Kata => fields::<RawKata>(),
            Section::Containerd => fields::<RawContainerd>(),
            Section::Docker => fields::<RawDocker>(),
            Section::Kubernetes => fields::<RawKubernetes>(),
            Section::Verify => fields::<RawVerify>(),
            Section::Group => fields::<RawGroup>(),
            Section::Host => fields::<RawHost>(),
        }
    }

    /// The section a nested table key opens, if it is a table of ours.
    pub fn child(self, key: &str) -> Option<Section> {
        match (self, key) {
            (Section::Root, "defaults") => Some(Section::Defaults),
            (Section::Root, "kata") => Some(Section::Kata),
            (Section::Root | Section::Group | Section::Host, "containerd") => {
                Some(Section::Containerd)
            }
            (Section::Root | Section::Group | Section::Host, "docker") => Some(Section::Docker),
            (Section::Root, "kubernetes") => Some(Section::Kubernetes),
            (Section::Root, "verify") => Some(Section::Verify),
            (Section::Group | Section::Host, "kata") => Some(Section::Kata),
            _ => None,
        }
    }
}

pub const ROOT_KEYS: [&str; 8] = [
    "defaults",
    "kata",
    "containerd",
    "docker",
    "kubernetes",
    "verify",
    "groups",
    "hosts",
];
