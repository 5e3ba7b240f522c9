//! Is a host able to run Kata VMs? Each finding says what is wrong and what
//! to do about it. Pure: computed from facts.

use serde::Serialize;

use crate::facts::{HostFacts, KvmDevice};

mod host;
mod install;

pub use install::{assess_install, check};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Worth knowing, nothing to fix (e.g. Docker is not installed).
    Info,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub fn new(check: &'static str, status: Status, detail: String, fix: Option<String>) -> Self {
        Self {
            check,
            status,
            detail,
            fix,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub findings: Vec<Finding>,
}

impl Readiness {
    /// Failed checks that make installing pointless, as one line each.
    pub fn blockers(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f.status == Status::Fail)
            .map(|f| f.detail.clone())
            .collect()
    }

    pub fn is_ready(&self) -> bool {
        self.findings.iter().all(|f| f.status != Status::Fail)
    }
}

const MIN_KERNEL: (u32, u32) = (4, 15);
const MIN_MEMORY_KIB: u64 = 4 * 1024 * 1024;

pub fn assess(facts: &HostFacts) -> Readiness {
    let mut r = Readiness::default();
    let mut add = |check, status, detail: String, fix: Option<&str>| {
        r.findings
            .push(Finding::new(check, status, detail, fix.map(String::from)));
    };
    match &facts.cpu_virt {
        Some(flag) => add("cpu-virtualization", Status::Pass, format!("CPU has {flag}"), None),
        None => add(
            "cpu-virtualization",
            Status::Fail,
            "hardware virtualization not available (no vmx/svm CPU flag)".into(),
            Some("Hardware virtualization not available: enable VT-x/AMD-V in the BIOS, or nested virtualisation on the hypervisor host"),
        ),
    }
    match &facts.kvm {
        KvmDevice::Usable { mode } => add(
            "kvm-device",
            Status::Pass,
            format!("/dev/kvm usable ({mode})"),
            None,
        ),
        KvmDevice::Denied { mode } => add(
            "kvm-device",
            Status::Fail,
            format!("/dev/kvm cannot be opened read-write ({mode})"),
            Some("Permission denied: add the user that runs the runtime to the `kvm` group (usermod -aG kvm USER) and make /dev/kvm mode 660, group kvm"),
        ),
        KvmDevice::Missing => add(
            "kvm-device",
            Status::Fail,
            "no usable /dev/kvm".into(),
            Some("load kvm_intel or kvm_amd, and enable virtualization in the firmware"),
        ),
    }
    if let Some(kind) = &facts.container {
        add(
            "not-a-container",
            Status::Fail,
            format!("running inside a container ({kind}); Kata needs a VM or bare-metal host"),
            Some("run katafleet against the machine that hosts the container"),
        );
    }
    if let Some(vm) = &facts.virt_vm {
        add(
            "nested-virtualization",
            Status::Warn,
            format!("this host is a VM ({vm}); Kata needs nested virtualisation"),
            Some("enable nested virtualisation on the hypervisor host, or use bare metal"),
        );
    }
    if facts.modules.contains("vhost_vsock") {
        add(
            "vhost-vsock",
            Status::Pass,
            "vhost_vsock loaded".into(),
            None,
        );
    } else {
        add(
            "vhost-vsock",
            Status::Warn,
            "vhost_vsock not loaded".into(),
            Some("provision loads it with modprobe and persists it in /etc/modules-load.d"),
        );
    }
    if facts.modules.contains("vmw_vsock_vmci_transport") {
        add(
            "vmware-vsock",
            Status::Warn,
            "vmw_vsock_vmci_transport is loaded and conflicts with vhost_vsock".into(),
            Some("unload it (modprobe -r vmw_vsock_vmci_transport) and blacklist it"),
        );
    }
    if let Some((major, minor)) = kernel_version(&facts.kernel) {
        if (major, minor) < MIN_KERNEL {
            add(
                "kernel",
                Status::Warn,
                format!("kernel {} is older than 4.15", facts.kernel),
                Some("upgrade the host kernel to 4.15 or later (vhost_vsock needs it)"),
            );
        } else {
            add(
                "kernel",
                Status::Pass,
                format!("kernel {}", facts.kernel),
                None,
            );
        }
    }
    if facts.mem_kib > 0 && facts.mem_kib < MIN_MEMORY_KIB {
        add(
            "memory",
            Status::Warn,
            format!(
                "{} MiB of memory; 4 GiB or more is recommended",
                facts.mem_kib / 1024
            ),
            Some("give the host more memory, or lower default_memory_mib in [kata]"),
        );
    } else if facts.mem_kib > 0 {
        add(
            "memory",
            Status::Pass,
            format!("{} MiB of memory", facts.mem_kib / 1024),
            None,
        );
    }
    host::assess(facts, &mut r.findings);
    r
}

fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready_host() -> HostFacts {
        HostFacts {
            cpu_virt: Some("vmx".into()),
            kvm: KvmDevice::Usable {
                mode: "660 root kvm".into(),
            },
            kernel: "6.1.0-18-amd64".into(),
            mem_kib: 16 * 1024 * 1024,
            modules: ["kvm", "kvm_intel", "vhost", "vhost_net", "vhost_vsock"]
                .map(String::from)
                .into(),
            kvm_group: Some(Vec::new()),
            containerd: Some(crate::facts::ContainerdFacts {
                version_text: "containerd containerd.io 1.7.27".into(),
                active: true,
                ..Default::default()
            }),
            ..HostFacts::default()
        }
    }

    #[test]
    fn a_bare_metal_host_with_kvm_is_ready() {
        assert!(assess(&ready_host()).is_ready());
    }

    #[test]
    fn each_blocker_is_named() {
        type Mutation = fn(&mut HostFacts);
        let cases: [(&str, Mutation); 4] = [
            ("no vmx/svm", |f| f.cpu_virt = None),
            ("no usable /dev/kvm", |f| f.kvm = KvmDevice::Missing),
            ("cannot be opened read-write", |f| {
                f.kvm = KvmDevice::Denied {
                    mode: "600 root root".into(),
                }
            }),
            ("inside a container (systemd-nspawn)", |f| {
                f.container = Some("systemd-nspawn".into())
            }),
        ];
        for (want, mutate) in cases {
            let mut f = ready_host();
            mutate(&mut f);
            let r = assess(&f);
            assert!(!r.is_ready(), "{want}");
            assert!(
                r.blockers().iter().any(|b| b.contains(want)),
                "{want}: {:?}",
                r.blockers()
            );
        }
    }

    #[test]
    fn missing_vhost_vsock_and_vmware_conflict_are_warnings() {
        let mut f = ready_host();
        f.modules.remove("vhost_vsock");
        f.modules.insert("vmw_vsock_vmci_transport".into());
        let r = assess(&f);
        assert!(r.is_ready());
        let warned: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.status == Status::Warn)
            .map(|f| f.check)
            .collect();
        assert_eq!(warned, ["vhost-vsock", "vmware-vsock"]);
    }

    #[test]
    fn old_kernels_and_small_memory_warn() {
        let mut f = ready_host();
        f.kernel = "4.14.0".into();
        f.mem_kib = 2 * 1024 * 1024;
        let checks: Vec<_> = assess(&f)
            .findings
            .iter()
            .filter(|x| x.status == Status::Warn)
            .map(|x| x.check)
            .collect();
        assert_eq!(checks, ["kernel", "memory"]);
    }
}
