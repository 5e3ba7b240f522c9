//! What katafleet owns on a host, stored at /var/lib/katafleet/manifest.json.
//! Uninstall and reconcile touch only what is recorded here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const STATE_DIR: &str = "/var/lib/katafleet";
pub const MANIFEST_PATH: &str = "/var/lib/katafleet/manifest.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Files katafleet wrote, by absolute path.
    #[serde(default)]
    pub files: BTreeMap<String, ManagedFile>,
    /// containerd runtime handlers katafleet added.
    #[serde(default)]
    pub containerd_handlers: Vec<String>,
    /// Docker runtimes katafleet added to daemon.json.
    #[serde(default)]
    pub docker_runtimes: Vec<String>,
    /// Users katafleet added to the `kvm` group (members it found there are
    /// not recorded: uninstall removes exactly these memberships).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kvm_members_added: Vec<String>,
    /// katafleet created the `kvm` group itself (the host had none).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kvm_group_created: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedFile {
    /// Digest of the content katafleet last wrote, to detect drift.
    pub sha256: String,
    /// True when katafleet created the file, false when it edited the user's.
    pub created: bool,
    /// Where the user's original was saved before the first edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

impl Manifest {
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Whether katafleet records nothing at all here.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
            && self.containerd_handlers.is_empty()
            && self.docker_runtimes.is_empty()
            && self.kvm_members_added.is_empty()
            && !self.kvm_group_created
    }

    pub fn owns(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }
}

/// Where the one-time backup of a user's file is kept.
pub fn backup_path(path: &str) -> String {
    format!("{STATE_DIR}/backup{path}")
}
