//! From what Kata's check tools and the container clients print to a plain
//! diagnosis and its fix. The patterns are the tools' own message texts
//! (kata-ctl 4.x `src/tools/kata-ctl`, kata-runtime `kata-check.go`, ctr,
//! Docker); the troubleshooting answers are the well-known ones.

use serde::Serialize;

/// Why something failed, in one line, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    pub what: String,
    pub fix: String,
}

fn d(what: impl Into<String>, fix: impl Into<String>) -> Diagnosis {
    Diagnosis {
        what: what.into(),
        fix: fix.into(),
    }
}

const NO_KVM_FIX: &str = "load kvm_intel or kvm_amd and enable VT-x/AMD-V in the firmware; in a VM, enable nested virtualisation on the hypervisor host; in a container, Kata cannot run";
const KVM_GROUP_FIX: &str = "Permission denied: add the user that runs the runtime to the `kvm` group (usermod -aG kvm USER) and make /dev/kvm mode 660, group kvm";
const HW_VIRT_FIX: &str = "Hardware virtualization not available: enable VT-x/AMD-V in the BIOS, or nested virtualisation on the hypervisor host";

/// Every problem a check tool's output names, most decisive first (KVM,
/// then CPU, then kernel modules).
pub fn check_output(output: &str) -> Vec<Diagnosis> {
    let mut kvm = Vec::new();
    let mut cpu = Vec::new();
    let mut modules = Vec::new();
    for line in output.lines() {
        if line.contains("Another hypervisor is running")
            || line.contains("reason=\"another hypervisor running\"")
        {
            kvm.push(d(
                "another hypervisor holds the CPU's virtualization (KVM_CREATE_VM: EBUSY)",
                "stop the other hypervisor on this host (VirtualBox, VMware, a running libvirt VM)",
            ));
        } else if line.contains("KVM API version is not correct") {
            kvm.push(d(
                "the kernel's KVM API version is not 12",
                "use a kernel with a standard KVM",
            ));
        } else if line.contains("Will not perform kvm checks as non root user")
            || line.contains("Please consider running with sudo or as root")
        {
            kvm.push(d(
                "the check ran as a non-root user, so it could not check KVM",
                "run katafleet with become = \"sudo\" or as root",
            ));
        } else if let Some(source) = between(line, "\"KVM check failed\", source: ", " }") {
            kvm.push(kvm_errno(source.trim_matches('"'), "kata-ctl"));
        } else if let Some(e) = between(line, "cannot open kvm device: ", "\"") {
            kvm.push(kvm_errno(e, "kata-runtime"));
        } else if let Some(flags) = between(line, "Missing CPU flags [", "]") {
            if flags.contains("vmx") || flags.contains("svm") {
                cpu.push(d(
                    "Hardware virtualization not available (no vmx/svm CPU flag)",
                    HW_VIRT_FIX,
                ));
            }
        } else if line.contains("CPU property not found")
            && (line.contains("name=vmx") || line.contains("name=svm"))
        {
            cpu.push(d(
                "Hardware virtualization not available (no vmx/svm CPU flag)",
                HW_VIRT_FIX,
            ));
        } else if let Some(m) = between(
            line,
            "The kernel module `",
            "` exist but is not already loaded",
        ) {
            modules.push(module(m));
        } else if let Some(m) = between(line, "msg=\"kernel property ", " not found\"") {
            modules.push(module(m));
        } else if let Some(m) = between(line, "modinfo: ERROR: Module ", " not found") {
            modules.push(d(
                format!("kernel module {m} is not available in this kernel"),
                format!("install a kernel that has {m} (modinfo {m})"),
            ));
        }
    }
    let mut all = kvm;
    all.extend(cpu);
    all.extend(modules);
    all.dedup();
    all
}

fn module(m: &str) -> Diagnosis {
    d(
        format!("kernel module {m} is not loaded"),
        format!("modprobe {m} (provision loads and persists it)"),
    )
}

/// kata-ctl prints the errno name (`ENOENT`), kata-runtime its text.
fn kvm_errno(e: &str, tool: &str) -> Diagnosis {
    match e {
        "ENOENT" | "no such file or directory" => d(
            format!("no usable /dev/kvm: the device does not exist ({tool}: {e})"),
            NO_KVM_FIX,
        ),
        "EACCES" | "EPERM" | "permission denied" | "operation not permitted" => d(
            format!("Permission denied opening /dev/kvm ({tool}: {e})"),
            KVM_GROUP_FIX,
        ),
        other => d(
            format!("no usable /dev/kvm: opening it fails ({tool}: {other})"),
            NO_KVM_FIX,
        ),
    }
}

/// A tool that could not be run at all (`sh: 1: kata-runtime: not found`).
pub fn not_found(tool: &str, dir: &str) -> Diagnosis {
    d(
        format!("{tool}: command not found"),
        format!("the runtime is not on PATH or not installed: ln -sf {dir}/{tool} /usr/local/bin/{tool}, or install the release that ships it"),
    )
}

/// Why a container did not start (or did not answer), from the client's output.
pub fn container_output(output: &str, client: &str, handler: &str) -> Diagnosis {
    let lower = output.to_lowercase();
    let has = |s: &str| lower.contains(s);
    if (has("/dev/kvm") && (has("no such file") || has("enoent")))
        || has("could not access kvm kernel module")
        || has("failed to initialize kvm")
    {
        return d("no usable /dev/kvm: the device does not exist", NO_KVM_FIX);
    }
    if has("/dev/kvm") && has("permission denied") {
        return d("Permission denied opening /dev/kvm", KVM_GROUP_FIX);
    }
    for (vmm, name) in [
        ("qemu", "QEMU"),
        ("cloud-hypervisor", "Cloud Hypervisor"),
        ("firecracker", "Firecracker"),
    ] {
        if has(vmm) && (has("not found") || has("no such file") || has("does not exist")) {
            return d(
                format!("{name} not found: the hypervisor binary the configuration names is missing"),
                "the release lacks this hypervisor, or the configuration (handler) names the wrong one: run katafleet check for what the release ships",
            );
        }
    }
    if has("invalid custom binary path")
        || has("failed to resolve runtime path")
        || (has("containerd-shim-kata-v2") && has("not found"))
    {
        return d(
            "the Kata shim was not found",
            "ctr looks up io.containerd.kata.v2 as containerd-shim-kata-v2 on PATH; katafleet passes the absolute shim path, so check that it exists (katafleet status)",
        );
    }
    if has("unknown or invalid runtime name") || has("unknown runtime") {
        return d(
            format!("the daemon does not know runtime `{handler}`"),
            "restart the daemon so it reads its configuration (katafleet status shows what it sees)",
        );
    }
    if has("vsock")
        || has("dead agent")
        || has("timed out connecting")
        || has("context deadline exceeded")
    {
        return d(
            "the VM started but its agent never answered over vsock",
            "load vhost_vsock (and unload vmw_vsock_vmci_transport on VMware); under nested virtualisation the host hypervisor must support it",
        );
    }
    let registry =
        has("not found") || has("connection refused") || has("no such host") || has("i/o timeout");
    if has("failed to resolve reference") || (has("pull") && registry) {
        return d(
            "the test image could not be pulled",
            "set [verify] image to a registry the host can reach, or [verify] image_archive to an image archive on the controller",
        );
    }
    if has("failed to mount") && (has("invalid argument") || has("overlay")) {
        return d(
            "containerd's snapshotter could not mount the image's layers",
            "overlayfs cannot sit on this filesystem (e.g. overlay on overlay inside a container): put /var/lib/containerd on ext4 or xfs",
        );
    }
    if has("is a test fixture") {
        return d(
            "the shim is katafleet's test fixture stand-in, which cannot start a VM",
            "install a real Kata release",
        );
    }
    let last = output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output");
    d(
        format!("{client} could not run a container under `{handler}`: {last}"),
        "see the Kata and containerd logs collected for this host",
    )
}

/// The text between `start` and the next `end` on a line.
fn between<'a>(line: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &line[line.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

#[cfg(test)]
mod tests;
