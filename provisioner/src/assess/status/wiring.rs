//! Which Kata runtimes a host's daemons are configured with, read from
//! containerd's effective config (`containerd config dump`) and Docker's
//! daemon.json. Used by `status` and by `verify` (which runs a container
//! under each of them).

use serde::Serialize;

use crate::plan::Schema;

/// One configured Kata runtime handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Wired {
    pub name: String,
    /// The shim: `runtime_path` (containerd) or `runtimeType` (Docker); empty
    /// when containerd resolves it from `runtime_type` on PATH.
    pub shim: String,
    /// `options.ConfigPath`, when set.
    pub config_path: Option<String>,
    /// Docker's pre-2.0 `"path": ".../kata-runtime"` form, broken since Kata 2.0.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub legacy_path: bool,
}

/// Kata runtimes (`runtime_type = "io.containerd.kata*"`) in a config dump,
/// under whichever CRI plugin id the schema uses.
pub fn containerd(dump: &str) -> Vec<Wired> {
    let Ok(doc) = dump.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for schema in [Schema::V1, Schema::V2, Schema::V3] {
        let runtimes = doc
            .get("plugins")
            .and_then(|p| p.get(schema.cri_plugin()))
            .and_then(|c| c.get("containerd"))
            .and_then(|c| c.get("runtimes"))
            .and_then(|r| r.as_table());
        for (name, rt) in runtimes.into_iter().flatten() {
            let s = |k: &str| rt.get(k).and_then(|v| v.as_str()).map(String::from);
            if !s("runtime_type").is_some_and(|t| t.starts_with("io.containerd.kata")) {
                continue;
            }
            out.push(Wired {
                name: name.clone(),
                shim: s("runtime_path").unwrap_or_default(),
                config_path: rt
                    .get("options")
                    .and_then(|o| o.get("ConfigPath"))
                    .and_then(|v| v.as_str())
                    .map(String::from),
                legacy_path: false,
            });
        }
    }
    out
}

/// Kata runtimes in daemon.json: a `runtimeType` or `path` that names Kata.
pub fn docker(daemon_json: &str) -> Vec<Wired> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(daemon_json) else {
        return Vec::new();
    };
    let Some(runtimes) = v.get("runtimes").and_then(|r| r.as_object()) else {
        return Vec::new();
    };
    runtimes
        .iter()
        .filter_map(|(name, rt)| {
            let s = |k: &str| rt.get(k).and_then(|v| v.as_str()).map(String::from);
            let (shim, legacy_path) = match (s("runtimeType"), s("path")) {
                (Some(t), _) => (t, false),
                (None, Some(p)) => (p, true),
                (None, None) => return None,
            };
            if !(shim.contains("kata") || name.starts_with("kata")) {
                return None;
            }
            Some(Wired {
                name: name.clone(),
                shim,
                config_path: rt
                    .get("options")
                    .and_then(|o| o.get("ConfigPath"))
                    .and_then(|v| v.as_str())
                    .map(String::from),
                legacy_path,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kata_runtimes_from_a_1_6_dump_and_a_2_1_dump() {
        let v2 = r#"
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]
  runtime_type = "io.containerd.kata.v2"
  runtime_path = "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata.options]
    ConfigPath = "/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml"
"#;
        let w = containerd(v2);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].name, "kata");
        assert_eq!(
            w[0].shim,
            "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2"
        );
        assert!(w[0]
            .config_path
            .as_deref()
            .unwrap()
            .ends_with("configuration-qemu-runtime-rs.toml"));
        let v3 = r#"
version = 3
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kata-clh]
  runtime_type = 'io.containerd.kata.v2'
"#;
        let w = containerd(v3);
        assert_eq!((w[0].name.as_str(), w[0].shim.as_str()), ("kata-clh", ""));
        assert!(containerd("not toml [").is_empty());
    }

    #[test]
    fn kata_runtimes_from_daemon_json_including_the_broken_legacy_form() {
        let j = r#"{"runtimes":{
            "kata":{"runtimeType":"/opt/kata/runtime-rs/bin/containerd-shim-kata-v2","options":{"ConfigPath":"/c.toml"}},
            "kata-old":{"path":"/usr/bin/kata-runtime"},
            "crun":{"path":"/usr/bin/crun"}}}"#;
        let w = docker(j);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].config_path.as_deref(), Some("/c.toml"));
        assert!(!w[0].legacy_path && w[1].legacy_path);
        assert!(docker("{}").is_empty());
    }
}
