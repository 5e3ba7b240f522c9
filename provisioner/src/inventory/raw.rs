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
    pub drain_timeout_secs: S<i64>,
}

/// `[verify]`: see `inventory/verify.rs`.
#[derive(Debug, Default, Deserialize)]
pub struct RawVerify {
    pub image: S<String>,
    pub image_archive: S<String>,
    pub bench_runs: S<i64>,
}

/// `[rollout]`: see `inventory/rollout.rs`.
#[derive(Debug, Default, Deserialize)]
pub struct RawRollout {
    pub serial: S<RawSerial>,
    pub max_fail_percentage: S<i64>,
    pub pause_between_batches: S<RawPause>,
}

/// `serial`: one batch size, or a list of them (the last one repeats).
#[derive(Debug)]
pub enum RawSerial {
    One(RawBatch),
    Many(Vec<Spanned<RawBatch>>),
}

/// A batch size as written: a number of hosts, or text such as `"10%"`.
#[derive(Debug, Clone, PartialEq)]
pub enum RawBatch {
    Hosts(i64),
    Text(String),
}

/// `pause_between_batches`: seconds, or a word (`"confirm"`).
#[derive(Debug, Clone, PartialEq)]
pub enum RawPause {
    Seconds(i64),
    Word(String),
}

/// Numbers and strings are told apart by the visitor, not by an untagged
/// enum, so the spans of list items survive.
mod number_or_text {
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};
    use toml::Spanned;

    use super::{RawBatch, RawPause, RawSerial};

    const BATCH: &str = "a number of hosts or a percentage such as \"10%\"";

    struct Batch;
    impl<'de> Visitor<'de> for Batch {
        type Value = RawBatch;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(BATCH)
        }
        fn visit_i64<E: Error>(self, n: i64) -> Result<RawBatch, E> {
            Ok(RawBatch::Hosts(n))
        }
        fn visit_u64<E: Error>(self, n: u64) -> Result<RawBatch, E> {
            Ok(RawBatch::Hosts(i64::try_from(n).unwrap_or(i64::MAX)))
        }
        fn visit_str<E: Error>(self, s: &str) -> Result<RawBatch, E> {
            Ok(RawBatch::Text(s.to_string()))
        }
    }

    impl<'de> Deserialize<'de> for RawBatch {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Batch)
        }
    }

    struct Serial;
    impl<'de> Visitor<'de> for Serial {
        type Value = RawSerial;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "{BATCH}, or a list of them")
        }
        fn visit_i64<E: Error>(self, n: i64) -> Result<RawSerial, E> {
            Batch.visit_i64(n).map(RawSerial::One)
        }
        fn visit_u64<E: Error>(self, n: u64) -> Result<RawSerial, E> {
            Batch.visit_u64(n).map(RawSerial::One)
        }
        fn visit_str<E: Error>(self, s: &str) -> Result<RawSerial, E> {
            Batch.visit_str(s).map(RawSerial::One)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawSerial, A::Error> {
            let mut all = Vec::new();
            while let Some(item) = seq.next_element::<Spanned<RawBatch>>()? {
                all.push(item);
            }
            Ok(RawSerial::Many(all))
        }
    }

    impl<'de> Deserialize<'de> for RawSerial {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Serial)
        }
    }

    struct Pause;
    impl<'de> Visitor<'de> for Pause {
        type Value = RawPause;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number of seconds or \"confirm\"")
        }
        fn visit_i64<E: Error>(self, n: i64) -> Result<RawPause, E> {
            Ok(RawPause::Seconds(n))
        }
        fn visit_u64<E: Error>(self, n: u64) -> Result<RawPause, E> {
            Ok(RawPause::Seconds(i64::try_from(n).unwrap_or(i64::MAX)))
        }
        fn visit_str<E: Error>(self, s: &str) -> Result<RawPause, E> {
            Ok(RawPause::Word(s.to_string()))
        }
    }

    impl<'de> Deserialize<'de> for RawPause {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Pause)
        }
    }
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
    Rollout,
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
            Section::Rollout => fields::<RawRollout>(),
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
            (Section::Root, "rollout") => Some(Section::Rollout),
            (Section::Group | Section::Host, "kata") => Some(Section::Kata),
            _ => None,
        }
    }
}

pub const ROOT_KEYS: [&str; 9] = [
    "defaults",
    "kata",
    "containerd",
    "docker",
    "kubernetes",
    "verify",
    "rollout",
    "groups",
    "hosts",
];
