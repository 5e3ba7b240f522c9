//! Wiring Kata into containerd: which schema and plugin id the host's config
//! uses, where katafleet's runtimes go for that containerd version, and
//! reconciling handlers katafleet added before.

mod edit;

use super::{Action, Change, Plan, PlanError, Validation};
use crate::facts::{HostFacts, SoftwareVersion};
use crate::inventory::Desired;
use crate::plan::templates;

pub use edit::{cri_disabled, dropin_tables, effective_has_runtime, imports, runtime_tables};

pub const MAIN_CONFIG: &str = crate::facts::CONTAINERD_CONFIG;
pub const DROPIN: &str = "/etc/containerd/conf.d/katafleet.toml";
const CONF_D_GLOB: &str = "/etc/containerd/conf.d/*.toml";

/// The config schema, from the file's top-level `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    V1,
    V2,
    /// Versions 3 and 4 share the plugin layout.
    V3,
}

impl Schema {
    pub fn from_version(version: i64) -> Self {
        match version {
            i64::MIN..=1 => Schema::V1,
            2 => Schema::V2,
            _ => Schema::V3,
        }
    }

    /// The CRI plugin that holds `containerd.runtimes`.
    pub fn cri_plugin(self) -> &'static str {
        match self {
            Schema::V1 => "cri",
            Schema::V2 => "io.containerd.grpc.v1.cri",
            Schema::V3 => "io.containerd.cri.v1.runtime",
        }
    }

    /// The schema a containerd of this version writes for a new file.
    fn native(version: SoftwareVersion) -> (i64, Schema) {
        if version.major >= 2 {
            (3, Schema::V3)
        } else {
            (2, Schema::V2)
        }
    }
}

/// One runtime handler as containerd's CRI plugin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handler {
    pub name: String,
    pub shim: String,
    pub config_path: String,
}

/// `kata` for the host's hypervisor, then `kata-<hypervisor>` for every shim.
/// Docker's runtimes use the same names.
pub fn handlers(desired: &Desired) -> Vec<Handler> {
    let kata = &desired.kata;
    let handler = |name: String, hv| {
        let layout = kata.layout(hv);
        Handler {
            name,
            shim: layout.shim,
            config_path: layout.config_file,
        }
    };
    let name = &crate::plan::kata_defaults::get().handler;
    let mut all = vec![handler(name.clone(), kata.hypervisor)];
    for hv in &kata.shims {
        all.push(handler(format!("{name}-{}", hv.name()), *hv));
    }
    all
}

pub fn names(handlers: &[Handler]) -> String {
    let quoted: Vec<String> = handlers.iter().map(|h| format!("`{}`", h.name)).collect();
    quoted.join(", ")
}

/// Where katafleet's runtimes go, by containerd version (see domain facts:
/// 1.x merges imports shallowly, so it is edited in place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    InPlace,
    DropIn { import: Import },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Import {
    /// The main config already imports conf.d (or 2.2+ defaults do).
    Covered,
    /// Add the drop-in to the main config's `imports`.
    Add,
}

fn placement(version: SoftwareVersion, main: Option<&str>) -> Placement {
    if version.major < 2 {
        return Placement::InPlace;
    }
    let imports = main.map(edit::imports).unwrap_or_default();
    let covered = imports.iter().any(|i| i == DROPIN || i == CONF_D_GLOB)
        || (main.is_none() && (version.major, version.minor) >= (2, 2));
    Placement::DropIn {
        import: if covered {
            Import::Covered
        } else {
            Import::Add
        },
    }
}

/// `swapped`: the plan replaces the release katafleet installed before, so a
/// running containerd is restarted against the new one even when its
/// configuration stays (the restart is what proves the new release).
pub(super) fn wire(
    plan: &mut Plan,
    facts: &HostFacts,
    desired: &Desired,
    swapped: bool,
) -> Result<(), PlanError> {
    if !desired.containerd {
        plan.noop(
            "containerd",
            "disabled in the inventory ([containerd] enable = false)",
        );
        return Ok(());
    }
    let Some(containerd) = &facts.containerd else {
        plan.noop("containerd", "not installed on this host");
        plan.warnings.push(
            "containerd is not installed: no Kata handler was wired for Kubernetes or ctr".into(),
        );
        return Ok(());
    };
    let version = containerd.version.ok_or_else(|| {
        PlanError::Containerd(format!(
            "cannot read containerd's version from `{}`",
            containerd.version_text
        ))
    })?;
    let main = containerd.config.as_deref();
    let wanted = handlers(desired);
    let owned = facts.manifest.containerd_handlers.clone();
    let mut files = Vec::new();
    // The main config's new text, when it must change.
    let mut main_new = None;
    match placement(version, main) {
        Placement::InPlace => {
            let (number, schema) = Schema::native(version);
            let default = edit::default_runtime(containerd.dump.as_deref());
            main_new = Some(edit::with_runtimes(
                main,
                number,
                schema,
                &wanted,
                &owned,
                Some(&default),
            )?);
        }
        Placement::DropIn { import } => {
            let dropin = templates::containerd_dropin(&wanted);
            files.extend(plan.file_write(facts, DROPIN, dropin, facts.file(DROPIN)));
            if import == Import::Add {
                main_new = Some(edit::with_import(main, DROPIN)?);
            }
        }
    }
    if main.is_some_and(edit::cri_disabled) {
        if desired.enable_cri {
            let base = main_new.as_deref().or(main).unwrap_or_default();
            main_new = Some(edit::without_disabled_cri(base)?);
        } else {
            plan.warnings.push(format!(
                "{MAIN_CONFIG} disables the CRI plugin (disabled_plugins = [\"cri\"], as Docker's containerd.io ships it): Kubernetes will not see the Kata runtime; set [containerd] enable_cri = true to re-enable it"
            ));
        }
    }
    if let Some(text) = main_new {
        files.extend(plan.file_write(facts, MAIN_CONFIG, text, main));
    }
    plan.manifest.containerd_handlers = wanted.iter().map(|h| h.name.clone()).collect();
    let effective_main = files
        .iter()
        .find(|f| f.path == MAIN_CONFIG)
        .map(|f| f.content.as_str())
        .or(main);
    // A disabled CRI plugin hides every runtime from `config dump`.
    let cri = !effective_main.is_some_and(edit::cri_disabled);
    let health = super::Health {
        handlers: if cri {
            plan.manifest.containerd_handlers.clone()
        } else {
            Vec::new()
        },
        cri,
    };
    if files.is_empty() {
        if swapped && containerd.active {
            plan.push(Change {
                action: Action::Restart {
                    service: super::Service::Containerd,
                    health,
                },
                reason: format!(
                    "restart containerd {version} so it runs against Kata {} (its configuration stays; running containers keep running)",
                    desired.kata.version
                ),
                diff: None,
            });
        }
        return Ok(());
    }
    let diff = files
        .iter()
        .map(|f| super::unified_diff(&f.path, facts.file(&f.path).unwrap_or(""), &f.content))
        .collect::<String>();
    plan.push(Change {
        action: Action::Configure {
            service: super::Service::Containerd,
            files,
            validation: Validation::ContainerdDump {
                main_config: MAIN_CONFIG.into(),
            },
            health,
        },
        reason: format!(
            "wire the Kata runtimes {} into containerd {version} (restarts containerd; running containers keep running)",
            names(&wanted)
        ),
        diff: Some(diff),
    });
    Ok(())
}

#[cfg(test)]
mod tests;
