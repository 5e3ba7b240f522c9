//! Facts + desired state → a plan. Pure: no I/O, so `plan` is the dry run
//! and every rule is covered by table tests.

pub(crate) mod containerd;
pub mod debug;
mod diff;
mod docker;
mod kata;
pub mod kata_defaults;
mod modules;
mod planner;
pub mod nixos;
pub mod templates;
pub mod uninstall;
mod users;

use serde::Serialize;

use crate::assess::readiness::{self, Readiness};
use crate::facts::manifest::{backup_path, ManagedFile, Manifest, MANIFEST_PATH};
use crate::facts::HostFacts;
use crate::inventory::Desired;
use crate::release::checksums::Sha256;
use crate::release::Asset;

pub use containerd::{cri_disabled, effective_has_runtime, handlers, Handler, Schema};

/// Files the facts probe must read for this desired state (beyond the fixed ones).
pub fn files_to_read(desired: &Desired) -> Vec<String> {
    let mut files = vec![
        modules::MODULES_LOAD_FILE.to_string(),
        containerd::DROPIN.to_string(),
    ];
    files.extend(nixos::files_to_read().map(String::from));
    let static_layout = crate::release::Layout::new(desired.kata.runtime, desired.kata.hypervisor);
    files.push(kata::dropin_path(&static_layout));
    if desired.kata.method == crate::inventory::InstallMethod::Package {
        files.push(kata::dropin_path(&crate::release::Layout::packaged(
            desired.kata.hypervisor,
        )));
    }
    files.push(debug::dropin_path(desired));
    files
}

/// The drop-in body katafleet owns in containerd's conf.d.
pub fn containerd_dropin_tables(handlers: &[Handler]) -> String {
    containerd::dropin_tables(handlers)
}
pub use diff::unified_diff;
pub use planner::Planner;

/// A daemon whose configuration katafleet writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Containerd,
    Docker,
}

impl Service {
    pub fn unit(self) -> &'static str {
        match self {
            Service::Containerd => "containerd",
            Service::Docker => "docker",
        }
    }
}

/// How a written config is checked before its service restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Validation {
    /// `containerd --config FILE config dump` must succeed.
    ContainerdDump { main_config: String },
    /// The file must parse as JSON on the host (`dockerd` has no validate
    /// mode before 23); a bad file is reverted when the restart fails.
    None,
}

/// What the daemon must show once it runs with the new configuration;
/// otherwise the old files go back and it runs with those again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Handlers the daemon must list (`config dump`, `docker info`).
    pub handlers: Vec<String>,
    /// containerd's CRI plugin must load (it is not disabled in the config).
    pub cri: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileWrite {
    pub path: String,
    /// Shown (plan JSON, logs) with secrets masked; written as it is.
    #[serde(serialize_with = "crate::redact::serialize")]
    pub content: String,
    pub mode: u32,
    /// Save the user's original once before the first edit.
    pub backup: bool,
}

/// How the release reaches the host (`[kata] fetch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Delivery {
    /// Streamed by the controller over the host's SSH session.
    Streamed,
    /// Downloaded by the host itself from `url`.
    Downloaded { url: String },
}

impl Delivery {
    /// How the plan text says the release travels.
    pub fn describe(&self) -> String {
        match self {
            Delivery::Streamed => "streamed from the controller".to_string(),
            Delivery::Downloaded { url } => format!("downloaded by the host from {url}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    InstallKata {
        asset: Asset,
        sha256: Sha256,
        replaces_foreign: bool,
        delivery: Delivery,
    },
    WriteFile(FileWrite),
    /// Files for one service, validated together, then one restart
    /// (containerd) or reload (Docker), then its health check.
    Configure {
        service: Service,
        files: Vec<FileWrite>,
        validation: Validation,
        health: Health,
    },
    LoadModules {
        modules: Vec<String>,
    },
    /// `dnf install kata-containers-<version>` (method = "package" on Fedora).
    InstallPackage {
        version: String,
        shim: String,
    },
    AddToGroup {
        user: String,
        group: String,
    },
    /// NixOS: write the /etc/nixos files, build the system once and activate
    /// that store path with `switch-to-configuration test`. The activation
    /// stays pending in the run's transaction: once the controller has
    /// verified the host it becomes the boot default, otherwise the previous
    /// system and files come back.
    NixosActivate {
        files: Vec<FileWrite>,
    },
    /// NixOS: settle an activation an earlier run left pending: make it the
    /// boot default (`switch`), or put the previous system and files back.
    NixosFinish {
        switch: bool,
        system: String,
        previous: String,
    },
    /// A restart with nothing to write: containerd comes up against a
    /// release that replaced the one it ran with, then its health check.
    Restart {
        service: Service,
        health: Health,
    },
    /// Only the ownership record changes (written after every step anyway).
    RecordOwnership,
    /// Undo the last upgrade's transaction (`katafleet rollback`).
    RollBack,
    /// A service's files as they were before katafleet, validated together,
    /// then one restart (containerd) or reload (Docker) and its health check,
    /// which also requires the handlers in `gone` to be gone. With `interim`,
    /// the daemon reloads with that file first, and the files go back after:
    /// dockerd's reload keeps the runtimes of a daemon.json without
    /// `runtimes`, so it reloads once with `"runtimes": {}`.
    Unwire {
        service: Service,
        files: Vec<FileUndo>,
        validation: Validation,
        health: Health,
        gone: Vec<String>,
        interim: Option<FileWrite>,
    },
    /// One file no service reads, put back or removed.
    UndoFile(FileUndo),
    /// Release trees out of /opt (each an absolute path); with
    /// `restore_foreign`, the /opt/kata katafleet set aside comes back.
    RemoveTrees {
        trees: Vec<String>,
        restore_foreign: bool,
    },
    RemoveFromGroup {
        user: String,
        group: String,
    },
    /// A group katafleet created, now without members.
    RemoveGroup {
        group: String,
    },
    /// katafleet's state directory goes (its record, the saved originals, the lock).
    RemoveState,
}

/// What becomes of a file katafleet owns when it leaves a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileUndo {
    pub path: String,
    /// The file's sha256 when planned (None: it is absent); a file that
    /// changed since is left alone.
    pub sha256: Option<String>,
    pub undo: Undo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "to", rename_all = "kebab-case")]
pub enum Undo {
    /// The user's original, saved before katafleet's first edit, goes back
    /// byte for byte; the backup must still hash to `sha256`.
    Restore { backup: String, sha256: String },
    /// katafleet created the file: it goes.
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub action: Action,
    pub reason: String,
    /// Unified diffs of every file this change writes.
    pub diff: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoOp {
    pub what: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub noops: Vec<NoOp>,
    pub warnings: Vec<String>,
    /// What the host's manifest must say once the changes are applied.
    pub manifest: Manifest,
    /// What the manifest says once each change is done (one per change),
    /// so ownership is recorded step by step and no interruption loses it.
    #[serde(skip)]
    pub owned_after: Vec<Manifest>,
    pub readiness: Readiness,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Adds a change; what katafleet owns once it is done is recorded with it.
    pub(crate) fn push(&mut self, change: Change) {
        self.changes.push(change);
        self.owned_after.push(self.manifest.clone());
    }

    /// A run with nothing else to do still puts the record back in step.
    fn record_ownership(&mut self, facts: &HostFacts) {
        let unreadable = facts.manifest_error.is_some();
        if self.changes.is_empty() && (self.manifest != facts.manifest || unreadable) {
            self.push(Change {
                action: Action::RecordOwnership,
                reason: format!(
                    "record what katafleet owns here in {MANIFEST_PATH} (the record was out of step with the host)"
                ),
                diff: None,
            });
        }
    }

    fn noop(&mut self, what: impl Into<String>, reason: impl Into<String>) {
        self.noops.push(NoOp {
            what: what.into(),
            reason: reason.into(),
        });
    }
}

/// Why a host cannot be planned; nothing is changed on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("unsupported CPU architecture `{0}` (Kata ships amd64, arm64, s390x and ppc64le)")]
    UnsupportedArch(String),
    #[error("no sha256 is known for {asset}; pin it with `sha256 = \"...\"` in [kata]")]
    NoChecksum { asset: String },
    #[error("host not ready for Kata: {0} (use --force to install anyway)")]
    NotReady(String),
    #[error("the host lacks `{0}`, which installing Kata needs")]
    MissingTool(String),
    #[error("the host has neither curl nor wget, so it cannot download the release itself (fetch = \"host\"); install one, or use fetch = \"controller\"")]
    NoDownloader,
    #[error("{0}")]
    Containerd(String),
    #[error("{0}")]
    Docker(String),
    #[error("{0}")]
    NixOs(String),
    #[error("{0}")]
    Hypervisor(String),
    #[error(transparent)]
    Debug(#[from] debug::DebugError),
    #[error("{0}")]
    Rollback(String),
    #[error(transparent)]
    Uninstall(#[from] uninstall::Refusal),
}

/// Options of a run that change what a plan may do.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Install even where the host is not ready for Kata.
    pub force: bool,
}

/// The pure planner.
pub fn plan(facts: &HostFacts, desired: &Desired, opts: PlanOptions) -> Result<Plan, PlanError> {
    let mut plan = Plan {
        manifest: facts.manifest.clone(),
        ..Plan::default()
    };

    let arch = facts
        .arch
        .ok_or_else(|| PlanError::UnsupportedArch(facts.machine.clone()))?;
    if let Some(e) = &facts.manifest_error {
        plan.warnings.push(format!(
            "the record of what katafleet owns ({MANIFEST_PATH}) is unreadable ({e}); this run rebuilds it from what it finds (katafleet's marked runtimes and its own files), and the saved originals in /var/lib/katafleet/backup are kept"
        ));
    }
    plan.readiness = readiness::assess(facts);
    let blockers = plan.readiness.blockers();
    if !blockers.is_empty() {
        if !opts.force {
            return Err(PlanError::NotReady(blockers.join("; ")));
        }
        plan.warnings
            .extend(blockers.iter().map(|b| format!("not ready: {b}")));
    }
    if facts.os.family == crate::facts::OsFamily::NixOS {
        nixos::plan(&mut plan, facts, desired)?;
        plan.record_ownership(facts);
        return Ok(plan);
    }
    let desired = &kata::resolve_method(&mut plan, facts, desired);
    for hv in desired.kata.hypervisors() {
        crate::release::check_hypervisor(desired.kata.version, desired.kata.runtime, hv)
            .map_err(PlanError::Hypervisor)?;
    }
    let asset = Asset {
        version: desired.kata.version,
        runtime: desired.kata.runtime,
        arch,
    };
    let installing = kata::install(&mut plan, facts, desired, &asset)?;
    kata::dropin(&mut plan, facts, desired, installing);
    modules::persist_and_load(&mut plan, facts);
    users::kvm_group(&mut plan, facts, &desired.kata.kvm_users);
    // An upgrade: the release katafleet installed before is replaced.
    let swapped = installing && facts.kata.is_some();
    containerd::wire(&mut plan, facts, desired, swapped)?;
    docker::wire(&mut plan, facts, desired)?;
    plan.record_ownership(facts);
    Ok(plan)
}

impl Plan {
    /// Adds a file write, with its diff and a manifest record.
    pub(crate) fn write_file(
        &mut self,
        facts: &HostFacts,
        path: &str,
        content: String,
        reason: &str,
    ) -> Option<FileWrite> {
        let current = facts.file(path);
        let write = self.file_write(facts, path, content, current)?;
        let diff = unified_diff(path, current.unwrap_or(""), &write.content);
        self.push(Change {
            action: Action::WriteFile(write.clone()),
            reason: reason.into(),
            diff: Some(diff),
        });
        Some(write)
    }

    /// The write needed to make `path` hold `content`, recording ownership;
    /// None (and a no-op) when it already does.
    pub(crate) fn file_write(
        &mut self,
        facts: &HostFacts,
        path: &str,
        content: String,
        current: Option<&str>,
    ) -> Option<FileWrite> {
        let owned = facts.manifest.files.get(path).cloned();
        let digest = Sha256::of(content.as_bytes()).hex().to_string();
        let record = ManagedFile {
            sha256: digest,
            created: owned.as_ref().map_or(current.is_none(), |o| o.created),
            backup: match &owned {
                Some(o) => o.backup.clone(),
                None => current.is_some().then(|| backup_path(path)),
            },
        };
        self.manifest.files.insert(path.to_string(), record);
        if current == Some(content.as_str()) {
            self.noop(path, "already has the desired content");
            return None;
        }
        Some(FileWrite {
            path: path.to_string(),
            content,
            mode: 0o644,
            backup: current.is_some() && owned.is_none(),
        })
    }
}
