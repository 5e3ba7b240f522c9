//! The host's process table (`ps -eo pid=,ppid=,args=`) and the question
//! verify asks of it: which hypervisor process belongs to a sandbox's shim?

use serde::Serialize;

use crate::release::Hypervisor;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub args: String,
}

impl Proc {
    /// The executable's base name (`/opt/kata/bin/qemu-system-x86_64` → `qemu-system-x86_64`).
    pub fn exe(&self) -> &str {
        let first = self.args.split_whitespace().next().unwrap_or_default();
        first.rsplit('/').next().unwrap_or(first)
    }
}

pub fn parse(text: &str) -> Vec<Proc> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let pid = it.next()?.parse().ok()?;
            let ppid = it.next()?.parse().ok()?;
            let args: Vec<&str> = it.collect();
            Some(Proc {
                pid,
                ppid,
                args: args.join(" "),
            })
        })
        .collect()
}

/// How the VMM process relates to the shim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// A child (or grandchild) of the shim.
    Child,
    /// Not under the shim (the Go runtime daemonizes QEMU), but started for this sandbox.
    Daemonized,
    /// Dragonball: the VMM runs inside the shim process.
    InsideShim,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VmmProcess {
    pub shim_pid: u32,
    pub pid: u32,
    pub exe: String,
    pub relation: Relation,
}

/// Whether an executable is the VMM of `hv` (any VMM when `hv` is unknown).
fn is_vmm(exe: &str, hv: Option<Hypervisor>) -> bool {
    let qemu = exe.starts_with("qemu-system-") || exe.starts_with("qemu-kvm");
    let clh = exe == "cloud-hypervisor";
    let fc = exe == "firecracker" || exe == "jailer";
    match hv {
        Some(Hypervisor::Qemu) => qemu,
        Some(Hypervisor::Clh) => clh,
        Some(Hypervisor::Fc) => fc,
        Some(Hypervisor::Dragonball) => false,
        None => qemu || clh || fc,
    }
}

/// The shim started for `sandbox` (containerd passes `-id <sandbox>`).
pub fn shim<'a>(procs: &'a [Proc], sandbox: &str) -> Option<&'a Proc> {
    procs.iter().find(|p| {
        p.exe().starts_with("containerd-shim-kata")
            && p.args.split_whitespace().any(|w| w == sandbox)
    })
}

/// Finds the sandbox's VMM: a descendant of its shim, else a VMM whose
/// command line names the sandbox; dragonball is the shim itself.
pub fn vmm(procs: &[Proc], sandbox: &str, hv: Option<Hypervisor>) -> Result<VmmProcess, String> {
    let Some(shim) = shim(procs, sandbox) else {
        return Err(format!(
            "no containerd-shim-kata-v2 process for sandbox {sandbox}: the container did not run under Kata"
        ));
    };
    if hv == Some(Hypervisor::Dragonball) {
        return Ok(VmmProcess {
            shim_pid: shim.pid,
            pid: shim.pid,
            exe: shim.exe().to_string(),
            relation: Relation::InsideShim,
        });
    }
    let mut frontier = vec![shim.pid];
    while let Some(parent) = frontier.pop() {
        for p in procs.iter().filter(|p| p.ppid == parent) {
            if is_vmm(p.exe(), hv) {
                return Ok(VmmProcess {
                    shim_pid: shim.pid,
                    pid: p.pid,
                    exe: p.exe().to_string(),
                    relation: Relation::Child,
                });
            }
            frontier.push(p.pid);
        }
    }
    if let Some(p) = procs
        .iter()
        .find(|p| is_vmm(p.exe(), hv) && p.args.contains(sandbox))
    {
        return Ok(VmmProcess {
            shim_pid: shim.pid,
            pid: p.pid,
            exe: p.exe().to_string(),
            relation: Relation::Daemonized,
        });
    }
    let wanted = match hv {
        Some(Hypervisor::Qemu) => "qemu-system-*",
        Some(Hypervisor::Clh) => "cloud-hypervisor",
        Some(Hypervisor::Fc) => "firecracker",
        _ => "qemu, cloud-hypervisor or firecracker",
    };
    Err(format!(
        "no hypervisor process ({wanted}) under the shim (pid {}): the container did not run in a VM",
        shim.pid
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SANDBOX: &str = "katafleet-verify-77-1";

    fn table(lines: &[&str]) -> Vec<Proc> {
        parse(&lines.join("\n"))
    }

    fn shim_line() -> String {
        format!("  900     1 /opt/kata/runtime-rs/bin/containerd-shim-kata-v2 -namespace katafleet -address /run/containerd/containerd.sock -publish-binary /usr/bin/containerd -id {SANDBOX}")
    }

    #[test]
    fn qemu_as_a_child_of_the_shim() {
        let qemu = format!("  910   900 /opt/kata/bin/qemu-system-x86_64 -name sandbox-{SANDBOX} -machine q35,accel=kvm");
        let procs = table(&["    1     0 /sbin/init", &shim_line(), &qemu]);
        let v = vmm(&procs, SANDBOX, Some(Hypervisor::Qemu)).unwrap();
        assert_eq!(
            (v.pid, v.exe.as_str(), v.relation),
            (910, "qemu-system-x86_64", Relation::Child)
        );
    }

    #[test]
    fn a_daemonized_qemu_is_found_by_its_sandbox_name() {
        let qemu = format!(
            "  910     1 /opt/kata/bin/qemu-system-x86_64 -name sandbox-{SANDBOX} -daemonize"
        );
        let procs = table(&[&shim_line(), &qemu]);
        assert_eq!(
            vmm(&procs, SANDBOX, Some(Hypervisor::Qemu))
                .unwrap()
                .relation,
            Relation::Daemonized
        );
    }

    #[test]
    fn no_vmm_or_no_shim_is_a_failure_that_says_so() {
        let other = "  920   900 /opt/kata/libexec/virtiofsd --fd=3";
        let e = vmm(
            &table(&[&shim_line(), other]),
            SANDBOX,
            Some(Hypervisor::Clh),
        )
        .unwrap_err();
        assert_eq!(e, "no hypervisor process (cloud-hypervisor) under the shim (pid 900): the container did not run in a VM");
        let e = vmm(&table(&["  1 0 /sbin/init"]), SANDBOX, None).unwrap_err();
        assert!(
            e.starts_with("no containerd-shim-kata-v2 process for sandbox"),
            "{e}"
        );
    }

    #[test]
    fn dragonball_runs_inside_the_shim() {
        let v = vmm(
            &table(&[&shim_line()]),
            SANDBOX,
            Some(Hypervisor::Dragonball),
        )
        .unwrap();
        assert_eq!((v.pid, v.relation), (900, Relation::InsideShim));
    }
}
