//! What katafleet left on a host besides the files its manifest lists, and
//! what stops it from leaving: its state directory, its trees in /opt, the
//! saved originals of the files it edited, running Kata sandboxes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// Entries of /var/lib/katafleet; None when there is no such directory.
    pub state: Option<BTreeSet<String>>,
    /// Entries of /opt that are Kata's or katafleet's: `kata`,
    /// `kata-releases`, `kata.katafleet-orig`, `.kata.new` and `.katafleet-*`.
    pub opt: BTreeSet<String>,
    /// /opt/kata carries katafleet's release marker (`.katafleet-release`).
    pub kata_marked: bool,
    /// Pids of running `containerd-shim-kata-v2` processes: Kata sandboxes.
    pub kata_shims: Vec<u32>,
    /// Saved originals of the files katafleet edited, by the file's path
    /// (read only when a planner asks for them: see `probe::Purpose`).
    pub backups: BTreeMap<String, Backup>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    /// Shown (facts JSON) with secrets masked.
    #[serde(serialize_with = "crate::redact::serialize")]
    pub content: String,
    /// sha256 of the backup's bytes, as the host computed it.
    pub sha256: String,
}

/// Fills the footprint from the probe's values and files.
pub(super) fn fill(kv: &BTreeMap<String, String>, blocks: &BTreeMap<String, String>) -> Footprint {
    let words = |k: &str| -> Option<BTreeSet<String>> {
        kv.get(k)
            .map(|v| v.split_whitespace().map(String::from).collect())
    };
    let backups = blocks
        .iter()
        .filter_map(|(name, content)| {
            let path = name.strip_prefix("backup:")?;
            let sha256 = kv.get(&format!("backup_digest:{path}"))?.trim();
            Some((
                path.to_string(),
                Backup {
                    content: content.clone(),
                    sha256: sha256.to_string(),
                },
            ))
        })
        .collect();
    Footprint {
        state: words("state_entries"),
        opt: words("opt_entries").unwrap_or_default(),
        kata_marked: blocks.contains_key("kata-marker"),
        kata_shims: kv
            .get("kata_shims")
            .map(|v| {
                v.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default(),
        backups,
    }
}
