//! A rollout's state on the controller, so an interrupted or stopped
//! upgrade can go on with `--resume`: the target version, and per host its
//! status, the version it is on and why it failed. It is rewritten
//! atomically (temp file, fsync, rename; mode 0600) after every host.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::release::checksums::Sha256;
use crate::release::Version;
use crate::report::status::HostStatus;
use crate::run::pipeline::HostReport;

/// What the state file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutState {
    /// The inventory, as an absolute path.
    pub inventory: PathBuf,
    /// The version every host is being moved to.
    pub target: String,
    pub started_unix: u64,
    pub updated_unix: u64,
    pub hosts: BTreeMap<String, HostState>,
    /// Why the last run of this rollout stopped early, if it did.
    pub stopped: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostState {
    pub status: HostStatus,
    /// The Kata version on the host as far as katafleet knows: the target
    /// once it is done, the one it found otherwise (None: never seen).
    pub version: Option<String>,
    pub error: Option<String>,
}

impl HostState {
    /// At the target and verified: `--resume` leaves it alone.
    pub fn is_done(&self) -> bool {
        matches!(
            self.status,
            HostStatus::Upgraded | HostStatus::Ok | HostStatus::Changed
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot write the rollout state {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the rollout state {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the rollout state {path} is damaged ({reason}); remove it to start the rollout afresh"
    )]
    Damaged { path: PathBuf, reason: String },
}

/// `<state home>/rollouts/<stem>-<digest of the inventory's path>-<version>.json`:
/// one file per inventory and target, even for inventories with one name.
pub fn path_for(state_home: &Path, inventory: &Path, target: Version) -> PathBuf {
    let absolute = std::fs::canonicalize(inventory).unwrap_or_else(|_| inventory.to_path_buf());
    let stem = inventory
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "inventory".into());
    let digest = Sha256::of(absolute.to_string_lossy().as_bytes());
    let short = &digest.hex()[..8];
    state_home
        .join("rollouts")
        .join(format!("{stem}-{short}-{target}.json"))
}

impl RolloutState {
    pub fn new(inventory: &Path, target: Version) -> Self {
        let now = now();
        Self {
            inventory: std::fs::canonicalize(inventory).unwrap_or_else(|_| inventory.to_path_buf()),
            target: target.to_string(),
            started_unix: now,
            updated_unix: now,
            hosts: BTreeMap::new(),
            stopped: None,
        }
    }

    /// The state at `path`; None when there is none.
    pub fn load(path: &Path) -> Result<Option<Self>, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.into(),
                    source,
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StateError::Damaged {
                path: path.into(),
                reason: e.to_string(),
            })
    }

    /// Records how a host ended this run. A host the rollout did not start
    /// keeps what an earlier run recorded for it.
    pub fn record(&mut self, report: &HostReport, target: Version) {
        let not_started = report.status == HostStatus::Skipped;
        if not_started && self.hosts.contains_key(&report.name) {
            return;
        }
        let done = matches!(
            report.status,
            HostStatus::Upgraded | HostStatus::Ok | HostStatus::Changed
        ) && report.error.is_none();
        let version = if done {
            Some(target.to_string())
        } else {
            report.kata_before.map(|v| v.to_string())
        };
        self.hosts.insert(
            report.name.clone(),
            HostState {
                status: report.status,
                version,
                error: report.error.as_ref().map(|e| e.to_string()),
            },
        );
        self.updated_unix = now();
    }

    /// Hosts at the target already, by name.
    pub fn done(&self) -> impl Iterator<Item = &str> {
        self.hosts
            .iter()
            .filter(|(_, h)| h.is_done())
            .map(|(n, _)| n.as_str())
    }

    /// Writes the state atomically, readable by its owner only.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let err = |source| StateError::Write {
            path: path.into(),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        create_private_dir(dir).map_err(err)?;
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        // tempfile creates the file with mode 0600.
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        tmp.write_all(text.as_bytes()).map_err(err)?;
        tmp.write_all(b"\n").map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(path).map_err(|e| err(e.error))?;
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The state of a running rollout, saved after every host.
pub struct StateFile {
    pub path: PathBuf,
    target: Version,
    state: Mutex<RolloutState>,
}

impl StateFile {
    /// Starts from `state` and writes it at once, so a controller that
    /// cannot keep the state fails before any host changes.
    pub fn create(path: PathBuf, target: Version, state: RolloutState) -> Result<Self, StateError> {
        state.save(&path)?;
        Ok(Self {
            path,
            target,
            state: Mutex::new(state),
        })
    }

    /// Records one host and saves the whole state.
    pub fn host_done(&self, report: &HostReport) -> Result<(), StateError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.record(report, self.target);
        state.save(&self.path)
    }

    /// Records how the run ended: every report, and why it stopped.
    pub fn finish(
        &self,
        reports: &[HostReport],
        stopped: Option<String>,
    ) -> Result<(), StateError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for r in reports {
            state.record(r, self.target);
        }
        state.stopped = stopped;
        state.save(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::error::HostError;

    fn report(name: &str, status: HostStatus) -> HostReport {
        let mut r = HostReport::failed(name, HostError::Internal("x".into()));
        r.status = status;
        if status != HostStatus::Failed {
            r.error = None;
        }
        r.kata_before = Some(Version::new(4, 2, 0));
        r
    }

    #[test]
    fn one_file_per_inventory_and_target() {
        let home = Path::new("/state");
        let a = path_for(home, Path::new("/a/inventory.toml"), Version::new(4, 3, 0));
        let b = path_for(home, Path::new("/b/inventory.toml"), Version::new(4, 3, 0));
        assert_ne!(a, b);
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("inventory-") && name.ends_with("-4.3.0.json"),
            "{name}"
        );
        assert_eq!(a.parent().unwrap(), Path::new("/state/rollouts"));
    }

    #[test]
    fn hosts_are_recorded_with_their_version_and_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rollouts/inv-1-4.3.0.json");
        let target = Version::new(4, 3, 0);
        let file = StateFile::create(
            path.clone(),
            target,
            RolloutState::new(Path::new("inv.toml"), target),
        )
        .unwrap();
        file.host_done(&report("a", HostStatus::Upgraded)).unwrap();
        file.host_done(&report("b", HostStatus::Failed)).unwrap();
        let loaded = RolloutState::load(&path).unwrap().unwrap();
        assert_eq!(loaded.hosts["a"].version.as_deref(), Some("4.3.0"));
        assert_eq!(loaded.hosts["b"].version.as_deref(), Some("4.2.0"));
        assert_eq!(loaded.hosts["b"].error.as_deref(), Some("x"));
        assert_eq!(loaded.done().collect::<Vec<_>>(), ["a"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temp file is left next to the state");
    }

    #[test]
    fn a_host_not_started_keeps_what_an_earlier_run_said() {
        let target = Version::new(4, 3, 0);
        let mut state = RolloutState::new(Path::new("inv.toml"), target);
        state.record(&report("a", HostStatus::RolledBack), target);
        state.record(&report("a", HostStatus::Skipped), target);
        assert_eq!(state.hosts["a"].status, HostStatus::RolledBack);
        state.record(&report("b", HostStatus::Skipped), target);
        assert_eq!(state.hosts["b"].status, HostStatus::Skipped);
    }

    #[test]
    fn a_missing_state_is_none_and_a_damaged_one_says_how_to_start_afresh() {
        let dir = tempfile::tempdir().unwrap();
        assert!(RolloutState::load(&dir.path().join("none.json"))
            .unwrap()
            .is_none());
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{").unwrap();
        let e = RolloutState::load(&bad).unwrap_err().to_string();
        assert!(e.contains("remove it to start the rollout afresh"), "{e}");
    }
}
