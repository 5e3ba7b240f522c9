//! What katafleet left on a host besides the files its manifest lists, and
//! what stops it from leaving: its state directory, its trees in /opt, the
//! saved originals of the files it edited, running Kata sandboxes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::release::KATA_ROOT;

/// Where katafleet keeps the releases /opt/kata links to.
pub const RELEASES_DIR: &str = "/opt/kata-releases";
/// A foreign /opt/kata that katafleet set aside when it first installed.
pub const FOREIGN_ASIDE: &str = "/opt/kata.katafleet-orig";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Footprint {
    /// Entries of /var/lib/katafleet; None when there is no such directory.
    pub state: Option<BTreeSet<String>>,
    /// Entries of /opt that are Kata's or katafleet's: `kata`,
    /// `kata-releases`, `kata.katafleet-orig` and `.katafleet-*`.
    pub opt: BTreeSet<String>,
    /// Where /opt/kata points, when it is a symlink.
    pub kata_link: Option<String>,
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
    pub content: String,
    /// sha256 of the backup's bytes, as the host computed it.
    pub sha256: String,
}

impl Footprint {
    /// Whether /opt/kata is katafleet's: its marker is there, or it is a
    /// link into katafleet's releases directory.
    pub fn kata_is_ours(&self) -> bool {
        self.opt.contains("kata")
            && (self.kata_marked
                || self.kata_link.as_deref().is_some_and(|l| {
                    l.starts_with(&format!("{RELEASES_DIR}/")) || l.starts_with("kata-releases/")
                }))
    }

    /// The trees under /opt that are katafleet's to remove (absolute paths).
    pub fn our_trees(&self) -> Vec<String> {
        let mut trees = Vec::new();
        if self.kata_is_ours() {
            trees.push(KATA_ROOT.to_string());
        }
        trees.extend(
            self.opt
                .iter()
                .filter(|e| *e == "kata-releases" || e.starts_with(".katafleet-"))
                .map(|e| format!("/opt/{e}")),
        );
        trees
    }

    pub fn foreign_aside(&self) -> bool {
        self.opt.contains("kata.katafleet-orig")
    }
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
        kata_link: kv
            .get("kata_link")
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(entries: &[&str]) -> Footprint {
        Footprint {
            opt: entries.iter().map(|e| e.to_string()).collect(),
            ..Footprint::default()
        }
    }

    #[test]
    fn an_unmarked_opt_kata_is_never_ours() {
        let f = opt(&["kata"]);
        assert!(!f.kata_is_ours());
        assert!(f.our_trees().is_empty());
        let linked_elsewhere = Footprint {
            kata_link: Some("/srv/kata".into()),
            ..opt(&["kata"])
        };
        assert!(!linked_elsewhere.kata_is_ours());
    }

    #[test]
    fn a_marked_tree_or_a_link_into_the_releases_is_ours() {
        let marked = Footprint {
            kata_marked: true,
            ..opt(&["kata", ".katafleet-previous", "kata.katafleet-orig"])
        };
        assert_eq!(
            marked.our_trees(),
            ["/opt/kata", "/opt/.katafleet-previous"]
        );
        assert!(marked.foreign_aside());
        for link in ["/opt/kata-releases/4.2.0-rust", "kata-releases/4.2.0-rust"] {
            let linked = Footprint {
                kata_link: Some(link.into()),
                ..opt(&["kata", "kata-releases"])
            };
            assert_eq!(
                linked.our_trees(),
                ["/opt/kata", "/opt/kata-releases"],
                "{link}"
            );
        }
    }
}
