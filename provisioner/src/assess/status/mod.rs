//! `status`: what is on a host now. Pure: computed from the facts and from
//! what the running daemons report (see `daemons`), so every rule is tested
//! with fixture outputs.

pub mod daemons;
pub mod wiring;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::facts::{HostFacts, LastProvision};
use crate::inventory::Desired;
use crate::release::{Hypervisor, Runtime, KATA_ROOT};
use crate::script::wire::Output;
pub use wiring::Wired;

#[derive(Debug, Clone, Serialize)]
pub struct HostState {
    pub kata: Option<KataState>,
    pub hypervisors: Vec<Hypervisor>,
    pub containerd: Option<Manager>,
    pub docker: Option<Manager>,
    /// The Kata-related kernel modules that are loaded.
    pub modules: Vec<String>,
    pub drift: Vec<Drift>,
    pub last_provision: Option<LastProvision>,
    /// Why this host falls short; empty when it does not.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KataState {
    pub version: String,
    pub runtimes: Vec<Runtime>,
    pub installed_by_katafleet: bool,
}

/// containerd or Docker: its version, whether it runs, its Kata handlers.
#[derive(Debug, Clone, Serialize)]
pub struct Manager {
    pub version: String,
    pub running: bool,
    pub handlers: Vec<HandlerState>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HandlerState {
    #[serde(flatten)]
    pub wired: Wired,
    pub seen: Seen,
}

/// Whether the running daemon has the handler, and how we know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "how", rename_all = "lowercase")]
pub enum Seen {
    Yes(String),
    No(String),
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub path: String,
    pub change: DriftKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftKind {
    /// The content differs from what katafleet last wrote.
    Modified,
    /// The file is gone.
    Deleted,
    /// The probe gave no digest for it: nothing is known, which is not "unchanged".
    Unread,
}

const MODULES: [&str; 7] = [
    "kvm",
    "kvm_intel",
    "kvm_amd",
    "vhost",
    "vhost_net",
    "vhost_vsock",
    "vmw_vsock_vmci_transport",
];

pub fn assess(facts: &HostFacts, desired: &Desired, daemons: &Output) -> HostState {
    let tree = &facts.kata_tree;
    let kata = match (&facts.kata, &tree.version_file) {
        (Some(k), _) => Some(KataState {
            version: k.version.to_string(),
            runtimes: tree.runtimes(),
            installed_by_katafleet: true,
        }),
        (None, Some(v)) => Some(KataState {
            version: v.clone(),
            runtimes: tree.runtimes(),
            installed_by_katafleet: false,
        }),
        (None, None) if !tree.runtimes().is_empty() => Some(KataState {
            version: "unknown".into(),
            runtimes: tree.runtimes(),
            installed_by_katafleet: false,
        }),
        (None, None) => None,
    };
    let mut state = HostState {
        kata,
        hypervisors: tree.hypervisors(),
        containerd: containerd(facts, daemons),
        docker: docker(facts, daemons),
        modules: MODULES
            .iter()
            .filter(|m| facts.modules.contains(**m))
            .map(|m| m.to_string())
            .collect(),
        drift: drift(facts),
        last_provision: facts.last_provision.clone(),
        problems: Vec::new(),
    };
    state.problems = problems(&state, facts, desired);
    state
}

fn containerd(facts: &HostFacts, daemons: &Output) -> Option<Manager> {
    let c = facts.containerd.as_ref()?;
    let cri_off = c.config.as_deref().is_some_and(crate::plan::cri_disabled);
    let crictl = daemons
        .block("crictl-info")
        .filter(|b| b.ok())
        .and_then(|b| daemons::crictl_runtimes(&b.output));
    let cri = daemons
        .block("ctr-plugins")
        .filter(|b| b.ok())
        .map(|b| daemons::cri_status(&b.output));
    let cri_error = daemons
        .block("ctr-cri-detail")
        .and_then(|b| daemons::plugin_error(&b.output));
    let number = |k| daemons.value(k).and_then(|v| v.parse::<i64>().ok());
    let restart_pending = matches!(
        (number("containerd_config_mtime"), number("containerd_since")),
        (Some(changed), Some(since)) if changed > since
    );
    let seen = |name: &str| -> Seen {
        if !c.active {
            return Seen::No("containerd is not running".into());
        }
        if cri_off {
            return Seen::No("the CRI plugin is disabled (disabled_plugins in config.toml): Kubernetes and crictl cannot use it".into());
        }
        if let Some(names) = &crictl {
            return if names.contains(name) {
                Seen::Yes("listed by crictl info".into())
            } else {
                Seen::No(
                    "the running containerd does not list it (crictl info): restart containerd"
                        .into(),
                )
            };
        }
        match &cri {
            Some(None) => Seen::No("containerd's CRI plugin is not loaded (ctr plugins ls)".into()),
            Some(Some(s)) if s != "ok" => Seen::No(match &cri_error {
                Some(e) => format!("containerd's CRI plugin failed to load: {e}"),
                None => format!("containerd's CRI plugin failed to load (status `{s}` in ctr plugins ls)"),
            }),
            Some(Some(_)) if restart_pending => Seen::No(
                "the config changed after containerd started: restart containerd".into(),
            ),
            Some(Some(_)) => Seen::Yes(
                "CRI plugin ok (ctr plugins ls) and containerd started after its config was written".into(),
            ),
            None => Seen::Unknown("neither crictl nor ctr could ask the running containerd".into()),
        }
    };
    let handlers = c
        .dump
        .as_deref()
        .map(wiring::containerd)
        .unwrap_or_default();
    Some(manager(
        handlers,
        seen,
        version_text(c.version, &c.version_text),
        c.active,
    ))
}

fn docker(facts: &HostFacts, daemons: &Output) -> Option<Manager> {
    let d = facts.docker.as_ref()?;
    let listed = daemons.block("docker-runtimes");
    let names = listed
        .filter(|b| b.ok())
        .and_then(|b| daemons::docker_runtimes(&b.output));
    let seen = |name: &str| {
        match (&names, listed) {
        _ if !d.active => Seen::No("dockerd is not running".into()),
        (Some(names), _) if names.contains(name) => Seen::Yes("listed by docker info".into()),
        (Some(_), _) => Seen::No("dockerd does not list it (docker info): reload it with `systemctl reload docker` (a restart would stop every container)".into()),
        (None, Some(b)) => Seen::Unknown(format!(
            "docker info failed: {}",
            b.output.lines().next().unwrap_or_default()
        )),
        (None, None) => Seen::Unknown("no docker CLI to ask dockerd".into()),
    }
    };
    let handlers = d
        .daemon_json
        .as_deref()
        .map(wiring::docker)
        .unwrap_or_default();
    Some(manager(
        handlers,
        seen,
        version_text(d.version, &d.version_text),
        d.active,
    ))
}

/// A daemon's wired handlers, each with whether the running daemon sees it.
fn manager(
    wired: Vec<Wired>,
    seen: impl Fn(&str) -> Seen,
    version: String,
    running: bool,
) -> Manager {
    let handlers = wired
        .into_iter()
        .map(|wired| HandlerState {
            seen: seen(&wired.name),
            wired,
        })
        .collect();
    Manager {
        version,
        running,
        handlers,
    }
}

fn version_text(v: Option<crate::facts::SoftwareVersion>, text: &str) -> String {
    v.map_or_else(|| text.to_string(), |v| v.to_string())
}

/// Files katafleet wrote whose digest is no longer the one it recorded.
pub fn drift(facts: &HostFacts) -> Vec<Drift> {
    facts
        .manifest
        .files
        .iter()
        .filter_map(|(path, owned)| {
            let change = match facts.managed_digests.get(path) {
                None => DriftKind::Unread,
                Some(None) => DriftKind::Deleted,
                Some(Some(now)) if *now != owned.sha256 => DriftKind::Modified,
                Some(Some(_)) => return None,
            };
            Some(Drift {
                path: path.clone(),
                change,
            })
        })
        .collect()
}

fn problems(state: &HostState, facts: &HostFacts, desired: &Desired) -> Vec<String> {
    let mut out = Vec::new();
    if state.kata.is_none() && desired.kata.method == crate::inventory::InstallMethod::Static {
        out.push(format!(
            "Kata is not installed in {KATA_ROOT} (run katafleet provision)"
        ));
    }
    let wanted: Vec<String> = crate::plan::handlers(desired)
        .into_iter()
        .map(|h| h.name)
        .collect();
    let managers = [
        ("containerd", &state.containerd, desired.containerd),
        (
            "Docker",
            &state.docker,
            desired.docker
                && facts
                    .docker
                    .as_ref()
                    .and_then(|d| d.version)
                    .is_some_and(|v| v.major >= 24),
        ),
    ];
    for (label, manager, enabled) in managers {
        let Some(m) = manager else { continue };
        let have: BTreeSet<&str> = m.handlers.iter().map(|h| h.wired.name.as_str()).collect();
        if enabled {
            for name in wanted.iter().filter(|n| !have.contains(n.as_str())) {
                out.push(format!("{label}: runtime `{name}` from the inventory is not configured (run katafleet provision)"));
            }
        }
        for h in &m.handlers {
            if let Seen::No(why) = &h.seen {
                out.push(format!(
                    "{label} does not see runtime `{}`: {why}",
                    h.wired.name
                ));
            }
            if h.wired.legacy_path {
                out.push(format!("{label}: runtime `{}` uses \"path\": {}, which broke with Kata 2.0; use \"runtimeType\" with the shim", h.wired.name, h.wired.shim));
            } else if let Some(missing) = missing_shim(&h.wired.shim, facts) {
                out.push(format!(
                    "{label}: runtime `{}` points at {missing}, which does not exist",
                    h.wired.name
                ));
            }
        }
    }
    for d in &state.drift {
        out.push(match d.change {
            DriftKind::Modified => format!("drift: {} changed since katafleet wrote it", d.path),
            DriftKind::Deleted => format!("drift: {} was deleted since katafleet wrote it", d.path),
            DriftKind::Unread => format!(
                "drift: {} could not be read on the host, so whether it changed is unknown",
                d.path
            ),
        });
    }
    out
}

/// A shim path under /opt/kata that the tree does not have.
fn missing_shim(shim: &str, facts: &HostFacts) -> Option<String> {
    let tree = &facts.kata_tree;
    let rest = shim.strip_prefix(KATA_ROOT)?;
    let present = match rest.rsplit_once('/') {
        Some(("/runtime-rs/bin", name)) => tree.runtime_rs_bin.contains(name),
        Some(("/bin", name)) => tree.bin.contains(name),
        _ => true,
    };
    (!present).then(|| shim.to_string())
}

#[cfg(test)]
mod tests;
