//! What uninstall does with each file katafleet owns: put back, removed,
//! left as the user has it, or refused with katafleet's entries in it.

use super::super::containerd::{self, DROPIN, MAIN_CONFIG};
use super::super::docker::DAEMON_JSON;
use super::super::{unified_diff, FileUndo, Undo};
use crate::facts::manifest::{backup_path, ManagedFile, Manifest};
use crate::facts::HostFacts;
use crate::release::checksums::Sha256;

/// What uninstall does with one file katafleet owns.
#[derive(Debug)]
pub(super) enum Fate {
    Undo {
        undo: FileUndo,
        diff: String,
        warning: Option<String>,
    },
    /// Left as it is, with the reason.
    Leave(String),
    Refuse(String),
}

pub(super) fn fate(facts: &HostFacts, path: &str, record: &ManagedFile, force: bool) -> Fate {
    let text = facts.file(path);
    let now = match facts.managed_digests.get(path) {
        Some(digest) => digest.clone(),
        None => text.map(|t| Sha256::of(t.as_bytes()).hex().to_string()),
    };
    let saved = record.backup.clone().unwrap_or_else(|| backup_path(path));
    // The probe reads a backup where katafleet saves it, and nowhere else.
    let backup = facts
        .footprint
        .backups
        .get(path)
        .filter(|_| saved == backup_path(path));
    let restore = |now: Option<String>, from: &str| {
        backup.map(|b| {
            (
                FileUndo {
                    path: path.to_string(),
                    sha256: now,
                    undo: Undo::Restore {
                        backup: saved.clone(),
                        sha256: b.sha256.clone(),
                    },
                },
                unified_diff(path, from, &b.content),
            )
        })
    };
    let Some(now) = now else {
        if record.created {
            return Fate::Leave("already gone".into());
        }
        return match restore(None, "").filter(|_| force) {
            Some((undo, diff)) => Fate::Undo {
                undo,
                diff,
                warning: Some(format!(
                    "--force: {path} had been deleted since katafleet edited it; the original saved before that edit is put back"
                )),
            },
            None => Fate::Leave(format!(
                "deleted since katafleet edited it: left deleted (the original saved in {saved} goes with katafleet's state; --force puts it back instead)"
            )),
        };
    };
    let text = text.unwrap_or_default();
    let drifted = now != record.sha256;
    if record.created {
        if drifted && !force {
            return Fate::Refuse(format!(
                "{path} changed since katafleet created it, so it is not removed: delete it yourself, or use --force to remove it"
            ));
        }
        return Fate::Undo {
            undo: FileUndo {
                path: path.to_string(),
                sha256: Some(now),
                undo: Undo::Remove,
            },
            diff: unified_diff(path, text, ""),
            warning: drifted.then(|| {
                format!("--force: {path} had changed since katafleet created it; it is removed all the same")
            }),
        };
    }
    let entries = ours_in(path, text, &facts.manifest);
    if entries.is_empty() && (drifted || backup.is_none()) {
        return Fate::Leave(
            "changed since katafleet wrote it, and none of katafleet's entries are left in it: left as it is".into(),
        );
    }
    if drifted && !force {
        return Fate::Refuse(format!(
            "{path} changed since katafleet wrote it, so it is not put back: remove katafleet's entries from it yourself ({}), or use --force to put back the original katafleet saved before its first edit (your later changes to it are lost)",
            entries.join(", ")
        ));
    }
    match restore(Some(now), text) {
        Some((undo, diff)) => Fate::Undo {
            undo,
            diff,
            warning: drifted.then(|| {
                format!("--force: {path} had changed since katafleet wrote it; the original saved before katafleet's first edit is put back, and the later changes are gone")
            }),
        },
        None => Fate::Refuse(format!(
            "{path}: the original katafleet saved before editing it ({saved}) is missing, so it cannot be put back: remove katafleet's entries from it yourself ({})",
            entries.join(", ")
        )),
    }
}

/// What katafleet put into a file it edited, as the user would find it.
fn ours_in(path: &str, text: &str, manifest: &Manifest) -> Vec<String> {
    match path {
        MAIN_CONFIG => {
            let mut found = containerd::runtime_tables(text, &manifest.containerd_handlers);
            if containerd::imports(text).iter().any(|i| i == DROPIN) {
                found.push(format!("\"{DROPIN}\" in `imports`"));
            }
            found
        }
        DAEMON_JSON => {
            let json: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
            manifest
                .docker_runtimes
                .iter()
                .filter(|r| json["runtimes"].get(r.as_str()).is_some())
                .map(|r| format!("`runtimes.{r}`"))
                .collect()
        }
        _ => vec!["katafleet's edits".into()],
    }
}
