//! `debug on|off` as a plan, applied by the same machinery as provision
//! (atomic writes, backups, manifest records, restarts only when a file
//! changed): Kata's `enable_debug` in a `config.d` drop-in that sorts after
//! katafleet's settings, and, when asked, containerd's `[debug] level`.
//! Pure: facts in, plan out.

use serde::Serialize;
use toml_edit::{value, DocumentMut, Item, Table};

use crate::facts::{HostFacts, CONTAINERD_CONFIG};
use crate::inventory::{Desired, InstallMethod};
use crate::plan::{unified_diff, Action, Change, Plan, Service, Validation};
use crate::release::{Layout, Runtime};

/// Sorts after `50-katafleet.toml`, so it wins over the inventory's `debug`.
pub const DROPIN_NAME: &str = "60-katafleet-debug.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub on: bool,
    /// Also set containerd's log level (debug / back to its default).
    pub containerd: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DebugError {
    #[error("Kata is not installed here ({0} is missing): run katafleet provision first")]
    NotInstalled(String),
    #[error("containerd is not installed on this host, so its debug level cannot be set")]
    NoContainerd,
    #[error("containerd has no {CONTAINERD_CONFIG} to set its log level in: run katafleet provision first, or write one with `containerd config default`")]
    NoContainerdConfig,
    #[error("{CONTAINERD_CONFIG} is not valid TOML, so katafleet leaves it alone: {0}")]
    BadContainerdConfig(String),
}

/// The configuration files Kata reads for this host, and its drop-in dir.
pub fn layout(desired: &Desired) -> Layout {
    match desired.kata.method {
        InstallMethod::Package => Layout::packaged(desired.kata.hypervisor),
        InstallMethod::Static => Layout::new(desired.kata.runtime, desired.kata.hypervisor),
    }
}

pub fn dropin_path(desired: &Desired) -> String {
    format!("{}/{DROPIN_NAME}", layout(desired).config_dropin_dir)
}

/// `enable_debug` for every wired hypervisor's section, the agent and the runtime.
pub fn dropin(desired: &Desired, on: bool) -> String {
    let mut s = format!(
        "# katafleet: Kata debug logging, set by `katafleet debug {}`.\n\
         # Sorts after 50-katafleet.toml, so it overrides [kata] debug there.\n",
        if on { "on" } else { "off" }
    );
    for hv in desired.kata.hypervisors() {
        s.push_str(&format!(
            "\n[hypervisor.{}]\nenable_debug = {on}\n",
            hv.config_section()
        ));
    }
    s.push_str(&format!(
        "\n[agent.kata]\nenable_debug = {on}\n\n[runtime]\nenable_debug = {on}\n"
    ));
    s
}

/// The plan for one host; `current` is the drop-in's content now, if any.
pub fn plan(
    facts: &HostFacts,
    desired: &Desired,
    req: Request,
    current: Option<&str>,
) -> Result<Plan, DebugError> {
    let layout = layout(desired);
    if desired.kata.method == InstallMethod::Static
        && !facts.kata_tree.has_config(&layout.config_file)
    {
        return Err(DebugError::NotInstalled(layout.config_file));
    }
    let mut plan = Plan {
        manifest: facts.manifest.clone(),
        ..Plan::default()
    };
    let path = dropin_path(desired);
    let mut host = facts.clone();
    match current {
        Some(text) => host.files.insert(path.clone(), text.to_string()),
        None => host.files.remove(&path),
    };
    let word = if req.on { "on" } else { "off" };
    plan.write_file(
        &host,
        &path,
        dropin(desired, req.on),
        &format!("turn Kata debug logging {word} (new sandboxes pick it up; nothing restarts)"),
    );
    if req.containerd {
        containerd(&mut plan, facts, req.on)?;
    }
    Ok(plan)
}

/// containerd's `[debug] level`: "debug" for on; for off, the key goes
/// (containerd's default is info) if katafleet's "debug" is what is there.
fn containerd(plan: &mut Plan, facts: &HostFacts, on: bool) -> Result<(), DebugError> {
    let c = facts.containerd.as_ref().ok_or(DebugError::NoContainerd)?;
    let Some(main) = c.config.as_deref() else {
        return if on {
            Err(DebugError::NoContainerdConfig)
        } else {
            Ok(())
        };
    };
    let mut doc: DocumentMut = main
        .parse()
        .map_err(|e: toml_edit::TomlError| DebugError::BadContainerdConfig(e.to_string()))?;
    if on {
        let debug = doc
            .entry("debug")
            .or_insert_with(|| Item::Table(Table::new()));
        if let Some(t) = debug.as_table_mut() {
            t.insert("level", value("debug"));
        }
    } else if let Some(t) = doc.get_mut("debug").and_then(Item::as_table_mut) {
        if t.get("level").and_then(Item::as_str) == Some("debug") {
            t.remove("level");
        }
        if t.is_empty() {
            doc.remove("debug");
        }
    }
    let text = doc.to_string();
    let Some(write) = plan.file_write(facts, CONTAINERD_CONFIG, text, Some(main)) else {
        return Ok(());
    };
    let diff = unified_diff(CONTAINERD_CONFIG, main, &write.content);
    let cri = !crate::plan::cri_disabled(&write.content);
    plan.push(Change {
        action: Action::Configure {
            service: Service::Containerd,
            files: vec![write],
            validation: Validation::ContainerdDump {
                main_config: CONTAINERD_CONFIG.into(),
            },
            health: crate::plan::Health {
                // A disabled CRI plugin hides every runtime from `config dump`.
                handlers: if cri {
                    facts.manifest.containerd_handlers.clone()
                } else {
                    Vec::new()
                },
                cri,
            },
        },
        reason: format!(
            "set containerd's log level to {} (restarts containerd)",
            if on { "debug" } else { "its default" }
        ),
        diff: Some(diff),
    });
    Ok(())
}

/// Where the logs go, as commands to read them.
pub fn where_logs_go(desired: &Desired, containerd_debug: bool, docker: bool) -> Vec<String> {
    let mut out = Vec::new();
    match desired.kata.runtime {
        Runtime::Go => out.push(
            "Kata (Go shim, agent, hypervisor): journalctl -t kata (also in containerd's log when containerd runs at debug level)".into(),
        ),
        Runtime::Rust => out.push(format!(
            "Kata (runtime-rs shim, agent, hypervisor): journalctl -u containerd, and journalctl -t kata; the shim logs through containerd, which passes them on only at debug level{}",
            if containerd_debug { "" } else { " (add --containerd)" }
        )),
    }
    out.push("containerd: journalctl -u containerd".into());
    if docker {
        out.push("Docker: journalctl -u docker".into());
    }
    out
}

/// What `debug` reports per host.
#[derive(Debug, Clone, Serialize)]
pub struct DebugDetail {
    pub debug: bool,
    pub dropin: String,
    pub changed: usize,
    pub changes: Vec<String>,
    pub logs: Vec<String>,
}

#[cfg(test)]
mod tests;
