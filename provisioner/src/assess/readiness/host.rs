//! Readiness findings about the host's software: kernel modules, the `kvm`
//! group, SELinux, and the container managers that would start Kata.

use super::{Finding, Status};
use crate::facts::{HostFacts, KvmDevice, OsFamily, SoftwareVersion};

/// Docker takes a shim by absolute path (`runtimeType`) from 24 on.
const DOCKER_SHIM_PATHS_SINCE: u32 = 24;

pub(super) fn assess(facts: &HostFacts, out: &mut Vec<Finding>) {
    let mut add = |check, status, detail: String, fix: Option<String>| {
        out.push(Finding::new(check, status, detail, fix))
    };
    modules(facts, &mut add);
    kvm_group(facts, &mut add);
    selinux(facts, &mut add);
    managers(facts, &mut add);
}

type Add<'a> = dyn FnMut(&'static str, Status, String, Option<String>) + 'a;

/// kvm, the vendor module and vhost/vhost_net (vhost_vsock has its own check).
fn modules(facts: &HostFacts, add: &mut Add) {
    let mut wanted = vec!["kvm"];
    match facts.cpu_virt.as_deref() {
        Some("vmx") => wanted.push("kvm_intel"),
        Some("svm") => wanted.push("kvm_amd"),
        _ => {}
    }
    wanted.extend(["vhost", "vhost_net"]);
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|m| !facts.modules.contains(*m))
        .collect();
    if missing.is_empty() {
        add(
            "kernel-modules",
            Status::Pass,
            format!("{} loaded", wanted.join(", ")),
            None,
        );
        return;
    }
    let fix = match &facts.container {
        Some(kind) => format!(
            "modules cannot be loaded inside a container ({kind}): load them on the machine that runs it"
        ),
        None => format!(
            "provision loads and persists them; by hand: modprobe -a {}",
            missing.join(" ")
        ),
    };
    add(
        "kernel-modules",
        Status::Warn,
        format!("kernel modules not loaded: {}", missing.join(", ")),
        Some(fix),
    );
}

/// Who may open /dev/kvm besides root: members of its group.
fn kvm_group(facts: &HostFacts, add: &mut Add) {
    let mode = match &facts.kvm {
        KvmDevice::Missing => return,
        KvmDevice::Denied { mode } | KvmDevice::Usable { mode } => mode,
    };
    let device_group = mode.split_whitespace().nth(2).unwrap_or_default();
    match &facts.kvm_group {
        None => add(
            "kvm-group",
            Status::Warn,
            format!("there is no `kvm` group, so only root can use /dev/kvm ({mode})"),
            Some(udev_fix("groupadd -r kvm, then ")),
        ),
        Some(_) if !device_group.is_empty() && device_group != "kvm" => add(
            "kvm-group",
            Status::Warn,
            format!("/dev/kvm belongs to group `{device_group}`, not `kvm` ({mode}): members of `kvm` cannot open it"),
            Some(udev_fix("")),
        ),
        Some(members) if members.is_empty() => add(
            "kvm-group",
            Status::Pass,
            "`kvm` group exists (no members besides root)".into(),
            None,
        ),
        Some(members) => add(
            "kvm-group",
            Status::Pass,
            format!("`kvm` group members: {}", members.join(", ")),
            None,
        ),
    }
}

fn udev_fix(first: &str) -> String {
    format!(
        "{first}chgrp kvm /dev/kvm && chmod 660 /dev/kvm; persist it with the udev rule KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0660\""
    )
}

/// Fedora ships SELinux enforcing; labels under /opt/kata decide whether the
/// VMM may start.
fn selinux(facts: &HostFacts, add: &mut Add) {
    let Some(mode) = facts.selinux.as_deref() else {
        return;
    };
    match mode.to_ascii_lowercase().as_str() {
        "enforcing" => add(
            "selinux",
            Status::Warn,
            format!(
                "SELinux is enforcing{}: the VMM and shim under /opt/kata must carry container labels or their start is denied",
                if facts.os.family == OsFamily::Fedora { " (Fedora's default)" } else { "" }
            ),
            Some(
                "run `restorecon -R /opt/kata` with a container-selinux that labels /opt/kata/bin (container_runtime_exec_t); after a failed start, `ausearch -m avc -ts recent` shows the denial"
                    .into(),
            ),
        ),
        other => add(
            "selinux",
            Status::Pass,
            format!("SELinux is {other}"),
            None,
        ),
    }
}

/// containerd and Docker: what is there to start Kata containers with.
fn managers(facts: &HostFacts, add: &mut Add) {
    if facts.containerd.is_none() && facts.docker.is_none() {
        add(
            "container-manager",
            Status::Fail,
            "neither containerd nor Docker is installed: nothing on this host can start a Kata container".into(),
            Some("install containerd (apt install containerd, dnf install containerd) and provision again".into()),
        );
        return;
    }
    match &facts.containerd {
        Some(c) => daemon(
            add,
            "containerd",
            "containerd",
            c.version,
            &c.version_text,
            c.active,
        ),
        None => add(
            "containerd",
            Status::Info,
            "containerd is not installed (Docker runs Kata through its own containerd)".into(),
            None,
        ),
    }
    match &facts.docker {
        Some(d) => {
            daemon(
                add,
                "docker",
                "Docker",
                d.version,
                &d.version_text,
                d.active,
            );
            if let Some(v) = d.version.filter(|v| v.major < DOCKER_SHIM_PATHS_SINCE) {
                add(
                    "docker-version",
                    Status::Warn,
                    format!("Docker {v} is older than {DOCKER_SHIM_PATHS_SINCE}: it cannot name a shim by path, so katafleet does not wire Kata into it"),
                    Some("upgrade to Docker 24 or later, or start Kata containers through containerd (ctr, nerdctl, Kubernetes)".into()),
                );
            }
        }
        None => add(
            "docker",
            Status::Info,
            "Docker is not installed (optional)".into(),
            None,
        ),
    }
}

fn daemon(
    add: &mut Add,
    check: &'static str,
    name: &str,
    version: Option<SoftwareVersion>,
    text: &str,
    active: bool,
) {
    let version = version.map_or_else(|| format!("`{text}`"), |v| v.to_string());
    if active {
        add(
            check,
            Status::Pass,
            format!("{name} {version}, running"),
            None,
        );
    } else {
        add(
            check,
            Status::Warn,
            format!("{name} {version} is installed but not running"),
            Some(format!("systemctl enable --now {}", check)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ContainerdFacts, DockerFacts};

    fn findings(f: &HostFacts) -> Vec<Finding> {
        let mut out = Vec::new();
        assess(f, &mut out);
        out
    }

    fn one(f: &HostFacts, check: &str) -> Finding {
        findings(f)
            .into_iter()
            .find(|x| x.check == check)
            .unwrap_or_else(|| panic!("no `{check}` finding in {:?}", findings(f)))
    }

    fn host() -> HostFacts {
        HostFacts {
            cpu_virt: Some("svm".into()),
            kvm: KvmDevice::Usable {
                mode: "660 root kvm".into(),
            },
            kvm_group: Some(vec!["ops".into()]),
            modules: ["kvm", "kvm_amd", "vhost", "vhost_net"]
                .map(String::from)
                .into(),
            containerd: Some(ContainerdFacts {
                version: Some(SoftwareVersion {
                    major: 2,
                    minor: 1,
                    patch: 9,
                }),
                active: true,
                ..ContainerdFacts::default()
            }),
            ..HostFacts::default()
        }
    }

    #[test]
    fn a_complete_host_passes_every_software_check() {
        let all = findings(&host());
        let not_pass: Vec<_> = all
            .iter()
            .filter(|f| !matches!(f.status, Status::Pass | Status::Info))
            .collect();
        assert!(not_pass.is_empty(), "{not_pass:?}");
        assert_eq!(
            one(&host(), "containerd").detail,
            "containerd 2.1.9, running"
        );
        assert_eq!(one(&host(), "kvm-group").detail, "`kvm` group members: ops");
        assert_eq!(one(&host(), "docker").status, Status::Info);
    }

    #[test]
    fn missing_modules_are_named_with_modprobe_or_the_container_caveat() {
        let mut f = host();
        f.modules = ["kvm".to_string()].into();
        let m = one(&f, "kernel-modules");
        assert_eq!(m.status, Status::Warn);
        assert_eq!(
            m.detail,
            "kernel modules not loaded: kvm_amd, vhost, vhost_net"
        );
        assert!(m
            .fix
            .unwrap()
            .contains("modprobe -a kvm_amd vhost vhost_net"));
        f.container = Some("docker".into());
        assert!(one(&f, "kernel-modules")
            .fix
            .unwrap()
            .contains("inside a container (docker)"));
    }

    #[test]
    fn kvm_device_outside_the_kvm_group_or_no_group_warns() {
        let mut f = host();
        f.kvm = KvmDevice::Denied {
            mode: "600 root root".into(),
        };
        let g = one(&f, "kvm-group");
        assert_eq!(g.status, Status::Warn);
        assert!(g.detail.contains("group `root`, not `kvm`"), "{}", g.detail);
        assert!(g.fix.unwrap().contains("chgrp kvm /dev/kvm"));
        f.kvm_group = None;
        assert!(one(&f, "kvm-group")
            .detail
            .contains("there is no `kvm` group"));
        f.kvm = KvmDevice::Missing;
        assert!(findings(&f).iter().all(|x| x.check != "kvm-group"));
    }

    #[test]
    fn selinux_enforcing_on_fedora_warns_with_the_relabel_fix() {
        let mut f = host();
        f.os.family = OsFamily::Fedora;
        f.selinux = Some("Enforcing".into());
        let s = one(&f, "selinux");
        assert_eq!(s.status, Status::Warn);
        assert!(s.detail.contains("Fedora's default"), "{}", s.detail);
        assert!(s.fix.unwrap().contains("restorecon -R /opt/kata"));
        f.selinux = Some("Permissive".into());
        assert_eq!(one(&f, "selinux").status, Status::Pass);
        f.selinux = None;
        assert!(findings(&f).iter().all(|x| x.check != "selinux"));
    }

    #[test]
    fn no_container_manager_is_a_failure_and_old_docker_a_warning() {
        let mut f = host();
        f.containerd = None;
        let m = one(&f, "container-manager");
        assert_eq!(m.status, Status::Fail);
        f.docker = Some(DockerFacts {
            version: Some(SoftwareVersion {
                major: 20,
                minor: 10,
                patch: 24,
            }),
            active: false,
            ..DockerFacts::default()
        });
        assert!(findings(&f).iter().all(|x| x.check != "container-manager"));
        assert_eq!(one(&f, "docker").status, Status::Warn);
        assert!(one(&f, "docker-version")
            .detail
            .starts_with("Docker 20.10.24 is older than 24"));
    }
}
