//! Readiness of an installed Kata for what the inventory asks: the runtime,
//! each hypervisor's binary and configuration, and the tools operators (and
//! `ctr`) look up on PATH. These turn the well-known troubleshooting answers
//! ("kata-runtime: command not found", "QEMU not found") into findings.

use super::{Finding, Readiness, Status};
use crate::facts::HostFacts;
use crate::inventory::{Desired, InstallMethod};
use crate::release::{Arch, Hypervisor, Layout, Runtime, KATA_ROOT};

/// Everything `check` reports: the host's readiness, then the installed
/// Kata against the inventory.
pub fn check(facts: &HostFacts, desired: &Desired) -> Readiness {
    let mut r = super::assess(facts);
    r.findings.extend(assess_install(facts, desired));
    r
}

/// Findings that depend on the inventory; one `Info` when Kata is absent.
pub fn assess_install(facts: &HostFacts, desired: &Desired) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |check, status, detail: String, fix: Option<String>| {
        out.push(Finding::new(check, status, detail, fix))
    };
    let kata = &desired.kata;
    kvm_users(facts, &kata.kvm_users, &mut add);
    if kata.method == InstallMethod::Package {
        on_path(facts, "containerd-shim-kata-v2", "/usr/bin", &mut add);
        return out;
    }
    let tree = &facts.kata_tree;
    if tree.runtimes().is_empty() {
        add(
            "kata-installed",
            Status::Info,
            format!(
                "Kata is not installed in {KATA_ROOT} (provision installs {})",
                kata.version
            ),
            None,
        );
        return out;
    }
    let found = match (&facts.kata, &tree.version_file) {
        (Some(k), _) => format!(
            "Kata {} ({} runtime), installed by katafleet",
            k.version,
            runtime_name(k.runtime)
        ),
        (None, Some(v)) => format!("Kata {v} in {KATA_ROOT}, not installed by katafleet"),
        (None, None) => format!("a Kata tree without a VERSION file in {KATA_ROOT}"),
    };
    if tree.runtimes().contains(&kata.runtime) {
        add("kata-installed", Status::Pass, found, None);
    } else {
        add(
            "kata-installed",
            Status::Fail,
            format!(
                "{found}, but it has no {} runtime shim ({})",
                runtime_name(kata.runtime),
                Layout::new(kata.runtime, kata.hypervisor).shim
            ),
            Some(format!(
                "install the release that holds it ({}), or set runtime = \"{}\" in [kata]",
                match kata.runtime {
                    Runtime::Rust => "kata-static",
                    Runtime::Go => "kata-go-static from 4.1",
                },
                runtime_name(tree.runtimes()[0])
            )),
        );
    }
    let arch = facts.arch.unwrap_or(Arch::Amd64);
    for hv in kata.hypervisors() {
        hypervisor(facts, kata.runtime, hv, arch, &mut add);
    }
    match kata.runtime {
        Runtime::Go => on_path(facts, "kata-runtime", &format!("{KATA_ROOT}/bin"), &mut add),
        Runtime::Rust => {
            if tree.has_bin("kata-ctl") {
                on_path(facts, "kata-ctl", &format!("{KATA_ROOT}/bin"), &mut add);
            }
        }
    }
    let shim_dir = match kata.runtime {
        Runtime::Rust => format!("{KATA_ROOT}/runtime-rs/bin"),
        Runtime::Go => format!("{KATA_ROOT}/bin"),
    };
    on_path(facts, "containerd-shim-kata-v2", &shim_dir, &mut add);
    out
}

type Add<'a> = dyn FnMut(&'static str, Status, String, Option<String>) + 'a;

fn runtime_name(r: Runtime) -> &'static str {
    match r {
        Runtime::Rust => "rust",
        Runtime::Go => "go",
    }
}

/// How the hypervisor is named in error messages ("QEMU not found").
pub fn display_name(hv: Hypervisor) -> &'static str {
    match hv {
        Hypervisor::Qemu => "QEMU",
        Hypervisor::Clh => "Cloud Hypervisor",
        Hypervisor::Fc => "Firecracker",
        Hypervisor::Dragonball => "Dragonball",
    }
}

fn hypervisor(facts: &HostFacts, runtime: Runtime, hv: Hypervisor, arch: Arch, add: &mut Add) {
    let tree = &facts.kata_tree;
    let available: Vec<&str> = tree.hypervisors().iter().map(|h| h.name()).collect();
    let available = if available.is_empty() {
        "none".to_string()
    } else {
        available.join(", ")
    };
    let config = Layout::new(runtime, hv).config_file;
    if let Some(binary) = hv.vmm_binary(arch) {
        if !tree.has_bin(&binary) {
            add(
                "hypervisor",
                Status::Fail,
                format!(
                    "{} not found: {KATA_ROOT}/bin/{binary} is missing",
                    display_name(hv)
                ),
                Some(format!(
                    "the release has no {binary}, or the inventory names the wrong hypervisor (`{}`); this release ships: {available}",
                    hv.name()
                )),
            );
            return;
        }
    }
    if !tree.has_config(&config) {
        add(
            "hypervisor",
            Status::Fail,
            format!(
                "{} configuration not found: {config} is missing",
                display_name(hv)
            ),
            Some(format!(
                "this release has no `{}` configuration for the {} runtime; it ships: {available}",
                hv.name(),
                runtime_name(runtime)
            )),
        );
        return;
    }
    let detail = match hv.vmm_binary(arch) {
        Some(binary) => format!("{} present ({KATA_ROOT}/bin/{binary})", display_name(hv)),
        None => "Dragonball is built into the runtime-rs shim".to_string(),
    };
    add("hypervisor", Status::Pass, detail, None);
}

/// The inventory's `kvm_users` must be in the `kvm` group to open /dev/kvm.
fn kvm_users(facts: &HostFacts, users: &[String], add: &mut Add) {
    let members = facts.kvm_group.clone().unwrap_or_default();
    let missing: Vec<&str> = users
        .iter()
        .filter(|u| !members.contains(u))
        .map(String::as_str)
        .collect();
    if users.is_empty() {
        return;
    }
    if missing.is_empty() {
        add(
            "kvm-users",
            Status::Pass,
            format!("in the `kvm` group: {}", users.join(", ")),
            None,
        );
    } else {
        add(
            "kvm-users",
            Status::Warn,
            format!(
                "not in the `kvm` group, so /dev/kvm gives them Permission denied: {}",
                missing.join(", ")
            ),
            Some(format!(
                "provision adds them (kvm_users); by hand: usermod -aG kvm {}",
                missing.join(" ")
            )),
        );
    }
}

/// A tool that is installed but that a shell (or containerd) cannot find.
fn on_path(facts: &HostFacts, tool: &str, dir: &str, add: &mut Add) {
    if let Some(found) = facts.kata_tree.on_path.get(tool) {
        add(
            "on-path",
            Status::Pass,
            format!("{tool} is on PATH ({found})"),
            None,
        );
        return;
    }
    let is_shim = tool == "containerd-shim-kata-v2";
    add(
        "on-path",
        if is_shim { Status::Info } else { Status::Warn },
        if is_shim {
            format!("{tool} is not on PATH: `ctr run --runtime io.containerd.kata.v2` cannot find it (containerd's CRI and Docker use the absolute path katafleet wires)")
        } else {
            format!("`{tool}: command not found`: {dir} is not on PATH")
        },
        Some(format!(
            "ln -sf {dir}/{tool} /usr/local/bin/{tool} (or add {dir} to PATH)"
        )),
    );
}

#[cfg(test)]
mod tests;
