//! What the running daemons report about their runtimes: `ctr plugins ls`,
//! `crictl info` and `docker info --format '{{json .Runtimes}}'`.

use std::collections::BTreeSet;

use serde_json::Value;

/// The script that asks them; runs after the probe in the same round trip.
pub use crate::script::daemons::STATUS as SCRIPT;

/// Status (`ok`, `skip`, `error`) of the CRI plugin that holds the runtimes:
/// `io.containerd.grpc.v1 cri` on 1.x, `io.containerd.cri.v1 runtime` on 2.x.
/// None when `ctr plugins ls` lists neither (CRI disabled).
pub fn cri_status(ctr_plugins: &str) -> Option<String> {
    let mut grpc_cri = None;
    for line in ctr_plugins.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (Some(kind), Some(id), Some(status)) = (cols.first(), cols.get(1), cols.last()) else {
            continue;
        };
        match (*kind, *id) {
            ("io.containerd.cri.v1", "runtime") => return Some(status.to_string()),
            ("io.containerd.grpc.v1", "cri") => grpc_cri = Some(status.to_string()),
            _ => {}
        }
    }
    grpc_cri
}

/// The error message `ctr plugins ls -d` gives for a plugin that failed to load.
pub fn plugin_error(detail: &str) -> Option<String> {
    for line in detail.lines() {
        if let Some(m) = line.trim().strip_prefix("Message:") {
            return Some(m.trim().to_string()).filter(|m| !m.is_empty());
        }
    }
    None
}

/// Runtime names in `crictl info`'s config (`config.containerd.runtimes`).
pub fn crictl_runtimes(info: &str) -> Option<BTreeSet<String>> {
    let v: Value = serde_json::from_str(info).ok()?;
    find_runtimes(&v)
}

fn find_runtimes(v: &Value) -> Option<BTreeSet<String>> {
    let obj = v.as_object()?;
    if let Some(rt) = obj
        .get("containerd")
        .and_then(|c| c.get("runtimes"))
        .and_then(Value::as_object)
    {
        return Some(rt.keys().cloned().collect());
    }
    obj.values().find_map(find_runtimes)
}

/// Runtime names from `docker info --format '{{json .Runtimes}}'`.
pub fn docker_runtimes(json: &str) -> Option<BTreeSet<String>> {
    let v: Value = serde_json::from_str(json.trim()).ok()?;
    Some(v.as_object()?.keys().cloned().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ctr plugins ls` on the test fleet's bookworm host (containerd 1.6.20), shortened.
    const CTR_1_6: &str =
        "TYPE                                  ID                       PLATFORMS      STATUS    
io.containerd.content.v1              content                  -              ok        
io.containerd.snapshotter.v1          btrfs                    linux/amd64    skip      
io.containerd.grpc.v1                 cri                      linux/amd64    ok        
";
    /// containerd 2.1: the runtimes live in the `io.containerd.cri.v1 runtime` plugin.
    const CTR_2_1: &str =
        "TYPE                                      ID                       PLATFORMS      STATUS
io.containerd.cri.v1                      runtime                  linux/amd64    error
io.containerd.grpc.v1                     cri                      -              ok
";

    #[test]
    fn cri_plugin_status_by_generation() {
        assert_eq!(cri_status(CTR_1_6).as_deref(), Some("ok"));
        assert_eq!(cri_status(CTR_2_1).as_deref(), Some("error"));
        assert_eq!(cri_status("TYPE ID PLATFORMS STATUS\n"), None);
    }

    #[test]
    fn the_load_error_of_a_failed_plugin() {
        // `ctr plugins ls -d id==cri` on a test host after a 1.6 config lost its runc runtime.
        let detail = "Type:          io.containerd.grpc.v1
ID:            cri
Platforms:     linux/amd64
Error:        
               Code:        Unknown
               Message:     invalid plugin config: no corresponding runtime configured in `containerd.runtimes` for `containerd` `default_runtime_name = \"runc\"
";
        assert_eq!(
            plugin_error(detail).as_deref(),
            Some("invalid plugin config: no corresponding runtime configured in `containerd.runtimes` for `containerd` `default_runtime_name = \"runc\"")
        );
        assert_eq!(plugin_error("Type: x\nID: cri\n"), None);
    }

    #[test]
    fn runtime_names_from_crictl_and_docker() {
        let crictl = r#"{"status":{"conditions":[]},"config":{"containerd":{"snapshotter":"overlayfs","runtimes":{"kata":{"runtimeType":"io.containerd.kata.v2"},"runc":{}}}}}"#;
        let names = crictl_runtimes(crictl).unwrap();
        assert!(names.contains("kata") && names.contains("runc"));
        let docker = "{\"io.containerd.runc.v2\":{\"path\":\"runc\"},\"kata\":{\"runtimeType\":\"/opt/kata/runtime-rs/bin/containerd-shim-kata-v2\"},\"runc\":{\"path\":\"runc\"}}\n";
        assert!(docker_runtimes(docker).unwrap().contains("kata"));
        assert!(docker_runtimes("Cannot connect to the Docker daemon").is_none());
    }
}
