//! `verify`: proof that containers really run in VMs, judged from what the
//! host printed. Pure: every rule is tested with recorded (and, for a real
//! KVM host, synthesised) outputs in tests/fixtures/verify/.
//!
//! In order, stopping at the first failure: 1. the release's own check
//! (`kata-ctl check all` / `kata-runtime check --no-network-checks`);
//! 2. a container under each wired handler, whose kernel must differ from
//! the host's; 3. its VMM process under the shim; 4. with --bench, start
//! times against runc.

mod after_apply;
mod after_uninstall;
pub mod bench;
mod check;
pub mod diagnose;
pub mod ps;
pub(crate) use crate::script::proof as scripts;

use serde::Serialize;

use crate::assess::status::wiring;
use crate::facts::HostFacts;
use crate::release::Hypervisor;
use crate::script::wire::Output;
pub use after_apply::{after_apply, VerifyError};
pub use after_uninstall::after_uninstall;
pub use bench::Bench;
pub use check::host_check;
pub use scripts::{Client, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Pass,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: String,
    pub status: StepStatus,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// What the host printed that the verdict rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

impl Step {
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status: StepStatus::Pass,
            detail: detail.into(),
            fix: None,
            evidence: None,
        }
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            status: StepStatus::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
            evidence: None,
        }
    }

    pub fn with_evidence(mut self, evidence: impl Into<String>) -> Self {
        self.evidence = Some(evidence.into());
        self
    }
}

/// What one container showed from inside and outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerProof {
    pub client: Client,
    pub handler: String,
    pub host_kernel: String,
    pub guest_kernel: String,
    /// `/proc/1/status` inside the container.
    pub proc1_status: String,
    pub vmm: Option<ps::VmmProcess>,
}

/// Everything verify established on one host.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Proof {
    pub steps: Vec<Step>,
    pub containers: Vec<ContainerProof>,
    pub bench: Option<Bench>,
    /// Where the Kata and daemon logs of a failed host were saved.
    pub logs: Option<String>,
}

impl Proof {
    pub fn failure(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.status == StepStatus::Fail)
    }
}

/// Verification of a run of `planner`: `before` is the plan it applied,
/// `again` the plan made afresh from `after`.
pub fn after_run(
    planner: crate::plan::Planner,
    after: &HostFacts,
    desired: &crate::inventory::Desired,
    before: &crate::plan::Plan,
    again: Result<crate::plan::Plan, crate::plan::PlanError>,
) -> Result<(), VerifyError> {
    match planner {
        crate::plan::Planner::Uninstall => after_uninstall(after, before, again),
        crate::plan::Planner::Provision
        | crate::plan::Planner::Debug(_)
        | crate::plan::Planner::Rollback => after_apply(after, desired, again),
    }
}

pub(crate) fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no output")
}

/// The hypervisor a configuration file is for, from its upstream name.
pub fn hypervisor_of(config: Option<&str>) -> Option<Hypervisor> {
    let name = config?.rsplit('/').next()?;
    if name.contains("dragonball") {
        Some(Hypervisor::Dragonball)
    } else if name.contains("clh") {
        Some(Hypervisor::Clh)
    } else if name.contains("rs-fc") || name.contains("-fc") {
        Some(Hypervisor::Fc)
    } else if name.contains("qemu") {
        Some(Hypervisor::Qemu)
    } else {
        None
    }
}

/// Every wired handler with the client that will start its container:
/// containerd's through ctr (nerdctl when there is no ctr), Docker's through
/// docker. Also says which wired handlers have no client.
pub fn targets(facts: &HostFacts, out: &Output) -> (Vec<Target>, Vec<String>) {
    let clients: Vec<&str> = out
        .value("clients")
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let mut targets = Vec::new();
    let mut unreachable = Vec::new();
    if let Some(c) = &facts.containerd {
        let client = if clients.contains(&"ctr") {
            Some(Client::Ctr)
        } else if clients.contains(&"nerdctl") {
            Some(Client::Nerdctl)
        } else {
            None
        };
        for w in c
            .dump
            .as_deref()
            .map(wiring::containerd)
            .unwrap_or_default()
        {
            match client {
                Some(client) => targets.push(Target {
                    client,
                    hypervisor: hypervisor_of(w.config_path.as_deref()),
                    handler: w.name,
                    shim: w.shim,
                    config: w.config_path,
                }),
                None => unreachable.push(format!(
                    "containerd runtime `{}`: neither ctr nor nerdctl is installed",
                    w.name
                )),
            }
        }
    }
    if let Some(d) = &facts.docker {
        let usable = clients.contains(&"docker") && out.value("docker_active") == Some("active");
        for w in d
            .daemon_json
            .as_deref()
            .map(wiring::docker)
            .unwrap_or_default()
        {
            if w.legacy_path {
                continue;
            }
            if usable {
                targets.push(Target {
                    client: Client::Docker,
                    hypervisor: hypervisor_of(w.config_path.as_deref()),
                    handler: w.name,
                    shim: w.shim,
                    config: w.config_path,
                });
            } else {
                unreachable.push(format!(
                    "Docker runtime `{}`: no running dockerd with a docker CLI",
                    w.name
                ));
            }
        }
    }
    (targets, unreachable)
}

/// Steps 2 and 3 for one target, from its container script's output.
pub fn container(
    t: &Target,
    host_kernel: &str,
    out: &Output,
) -> (Vec<Step>, Option<ContainerProof>) {
    let name = format!("container {}/{}", t.client.name(), t.handler);
    let Some(start) = out.block("start") else {
        return (
            vec![Step::fail(
                name,
                "the container script did not run",
                "see the host's log of this run",
            )],
            None,
        );
    };
    if !start.ok() {
        let d = diagnose::container_output(&start.output, t.client.name(), &t.handler);
        let evidence = format!("start (exit {}):\n{}", start.exit, start.output.trim_end());
        return (
            vec![Step::fail(name, d.what, d.fix).with_evidence(evidence)],
            None,
        );
    }
    let Some(exec) = out.block("exec").filter(|e| e.ok()) else {
        let output = out
            .block("exec")
            .map(|e| e.output.as_str())
            .unwrap_or("no output");
        let d = diagnose::container_output(output, t.client.name(), &t.handler);
        return (
            vec![Step::fail(
                name,
                format!(
                    "the container started but running `uname -r` in it failed: {}",
                    d.what
                ),
                d.fix,
            )
            .with_evidence(output.trim_end().to_string())],
            None,
        );
    };
    let (before, proc1) = exec
        .output
        .split_once("@@proc1")
        .unwrap_or((&exec.output, ""));
    let guest = last_line(before).to_string();
    let mut proof = ContainerProof {
        client: t.client,
        handler: t.handler.clone(),
        host_kernel: host_kernel.to_string(),
        guest_kernel: guest.clone(),
        proc1_status: proc1.trim_start_matches('\n').to_string(),
        vmm: None,
    };
    if guest == host_kernel {
        return (
            vec![Step::fail(
                name,
                format!("the container runs the host's kernel ({guest}): it is not in a VM"),
                format!("the runtime `{}` does not start Kata: check its runtime_type / runtimeType (katafleet status)", t.handler),
            )
            .with_evidence(exec.output.trim_end().to_string())],
            Some(proof),
        );
    }
    let mut steps = vec![Step::pass(
        name,
        format!("guest kernel {guest}, host kernel {host_kernel}"),
    )];
    let vmm_step = format!("hypervisor {}/{}", t.client.name(), t.handler);
    let sandbox = out.value("sandbox").unwrap_or_default();
    let procs = ps::parse(
        out.block("ps")
            .map(|b| b.output.as_str())
            .unwrap_or_default(),
    );
    match ps::vmm(&procs, sandbox, t.hypervisor) {
        Ok(v) => {
            let how = match v.relation {
                ps::Relation::Child => format!("{} (pid {}) runs under the shim (pid {})", v.exe, v.pid, v.shim_pid),
                ps::Relation::Daemonized => format!("{} (pid {}) runs for sandbox {sandbox}, daemonized outside the shim (pid {})", v.exe, v.pid, v.shim_pid),
                ps::Relation::InsideShim => format!("dragonball runs inside the shim (pid {})", v.shim_pid),
            };
            steps.push(Step::pass(vmm_step, how));
            proof.vmm = Some(v);
        }
        Err(e) => steps.push(
            Step::fail(vmm_step, e, "the handler's configuration must name a hypervisor that starts a VM (katafleet check)")
                .with_evidence(out.block("ps").map(|b| b.output.clone()).unwrap_or_default()),
        ),
    }
    (steps, Some(proof))
}

#[cfg(test)]
mod tests;
