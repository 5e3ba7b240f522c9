//! Kernel modules Kata needs, persisted in /etc/modules-load.d and loaded now.

use super::{Action, Change, Plan};
use crate::facts::HostFacts;
use crate::plan::templates;

pub const MODULES_LOAD_FILE: &str = "/etc/modules-load.d/katafleet.conf";

/// kvm plus the vendor module, then the vhost family vsock needs.
pub fn wanted(facts: &HostFacts) -> Vec<String> {
    let mut m = vec!["kvm"];
    match facts.cpu_virt.as_deref() {
        Some("vmx") => m.push("kvm_intel"),
        Some("svm") => m.push("kvm_amd"),
        _ => {}
    }
    m.extend(["vhost", "vhost_net", "vhost_vsock"]);
    m.into_iter().map(String::from).collect()
}

pub(super) fn persist_and_load(plan: &mut Plan, facts: &HostFacts) {
    let modules = wanted(facts);
    let content = templates::modules_load(&modules);
    plan.write_file(
        facts,
        MODULES_LOAD_FILE,
        content,
        "persist the kernel modules Kata needs across reboots",
    );
    let missing: Vec<String> = modules
        .into_iter()
        .filter(|m| !facts.modules.contains(m))
        .collect();
    if missing.is_empty() {
        plan.noop("kernel modules", "all loaded");
    } else if let Some(kind) = &facts.container {
        // modprobe cannot work from inside a container; say so instead of failing each run.
        plan.noop(
            "kernel modules",
            format!("cannot load modules inside a container ({kind})"),
        );
        plan.warnings.push(format!(
            "kernel modules not loaded: {} (the container's host kernel must provide them)",
            missing.join(", ")
        ));
    } else {
        plan.push(Change {
            action: Action::LoadModules {
                modules: missing.clone(),
            },
            reason: format!("load {}", missing.join(", ")),
            diff: None,
        });
    }
}
