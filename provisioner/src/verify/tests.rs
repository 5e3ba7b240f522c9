//! verify's judgement on recorded and synthesised host output (see
//! tests/fixtures/verify/README.md for which is which).

use base64::Engine;

use super::*;
use crate::facts::{ContainerdFacts, KataTree};
use crate::inventory::Desired;
use crate::script::wire;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/verify/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A `.transcript` in the wire protocol the host speaks.
fn wire(transcript: &str) -> String {
    let mut out = String::new();
    let mut body: Option<(String, String)> = None;
    let flush = |out: &mut String, body: &mut Option<(String, String)>| {
        if let Some((head, text)) = body.take() {
            let b64 = base64::engine::general_purpose::STANDARD.encode(text);
            out.push_str(&format!("@@block {head}\n{b64}\n@@end\n"));
        }
    };
    for line in transcript.lines().filter(|l| !l.starts_with("# ")) {
        if let Some(inner) = line
            .strip_prefix("=== ")
            .and_then(|l| l.strip_suffix(" ==="))
        {
            flush(&mut out, &mut body);
            if let Some(kv) = inner.strip_prefix("kv ") {
                out.push_str(&format!("@@kv {kv}\n"));
            } else {
                let (name, exit) = inner.split_once(" (exit ").unwrap();
                body = Some((
                    format!("{name} {}", exit.trim_end_matches(')')),
                    String::new(),
                ));
            }
        } else if let Some((_, text)) = body.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    flush(&mut out, &mut body);
    out
}

fn run(transcript: &str, t: &Target, host_kernel: &str) -> (Vec<Step>, Option<ContainerProof>) {
    container(
        t,
        host_kernel,
        &wire::Output::parse(&wire(&fixture(transcript))).unwrap(),
    )
}

fn ctr(handler: &str, config: &str) -> Target {
    Target {
        client: Client::Ctr,
        handler: handler.into(),
        shim: "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2".into(),
        config: Some(config.into()),
        hypervisor: hypervisor_of(Some(config)),
    }
}

#[test]
fn a_container_in_a_qemu_vm_under_ctr() {
    let t = ctr(
        "kata",
        "/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml",
    );
    let (steps, proof) = run("ctr-runtime-rs-qemu-ok.transcript", &t, "6.1.0-28-amd64");
    assert!(
        steps.iter().all(|s| s.status == StepStatus::Pass),
        "{steps:?}"
    );
    assert_eq!(
        steps[0].detail,
        "guest kernel 6.18.35, host kernel 6.1.0-28-amd64"
    );
    assert_eq!(
        steps[1].detail,
        "qemu-system-x86_64 (pid 3147) runs under the shim (pid 3120)"
    );
    let p = proof.unwrap();
    assert!(
        p.proc1_status.starts_with("Name:\tsleep\n"),
        "{}",
        p.proc1_status
    );
    assert_eq!(p.vmm.unwrap().relation, ps::Relation::Child);
}

#[test]
fn a_container_in_a_cloud_hypervisor_vm_under_docker() {
    let t = Target {
        client: Client::Docker,
        handler: "kata-clh".into(),
        shim: "/opt/kata/bin/containerd-shim-kata-v2".into(),
        config: Some("/opt/kata/share/defaults/kata-containers/configuration-clh.toml".into()),
        hypervisor: Some(Hypervisor::Clh),
    };
    let (steps, _) = run("docker-go-clh-ok.transcript", &t, "6.8.0-49-generic");
    assert!(
        steps.iter().all(|s| s.status == StepStatus::Pass),
        "{steps:?}"
    );
    assert_eq!(steps[1].name, "hypervisor docker/kata-clh");
    assert!(steps[1]
        .detail
        .starts_with("cloud-hypervisor (pid 4436) runs under the shim (pid 4410)"));
}

#[test]
fn dragonball_needs_no_separate_vmm() {
    let t = ctr(
        "kata-dragonball",
        "/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-dragonball.toml",
    );
    assert_eq!(t.hypervisor, Some(Hypervisor::Dragonball));
    let (steps, _) = run("ctr-dragonball-ok.transcript", &t, "6.1.0-28-amd64");
    assert_eq!(
        steps[1].detail,
        "dragonball runs inside the shim (pid 5120)"
    );
    // The same output with QEMU expected: no VMM under the shim is a failure.
    let qemu = ctr("kata-dragonball", "/x/configuration-qemu-runtime-rs.toml");
    let (steps, _) = run("ctr-dragonball-ok.transcript", &qemu, "6.1.0-28-amd64");
    assert_eq!(steps[1].status, StepStatus::Fail);
    assert!(steps[1]
        .detail
        .starts_with("no hypervisor process (qemu-system-*) under the shim (pid 5120)"));
}

#[test]
fn the_hosts_kernel_inside_means_no_vm() {
    let t = Target {
        client: Client::Docker,
        handler: "kata".into(),
        shim: "io.containerd.runc.v2".into(),
        config: None,
        hypervisor: None,
    };
    let (steps, proof) = run("docker-kata-is-runc.transcript", &t, "6.1.0-28-amd64");
    assert_eq!(steps.len(), 1, "stops at the first failure");
    assert_eq!(steps[0].status, StepStatus::Fail);
    assert_eq!(
        steps[0].detail,
        "the container runs the host's kernel (6.1.0-28-amd64): it is not in a VM"
    );
    assert_eq!(proof.unwrap().guest_kernel, "6.1.0-28-amd64");
}

#[test]
fn a_vm_that_cannot_start_is_diagnosed_with_evidence() {
    let t = ctr(
        "kata",
        "/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml",
    );
    let (steps, proof) = run("ctr-start-no-kvm.transcript", &t, "6.1.0-28-amd64");
    assert!(proof.is_none());
    assert_eq!(
        steps[0].detail,
        "no usable /dev/kvm: the device does not exist"
    );
    assert!(steps[0]
        .evidence
        .as_deref()
        .unwrap()
        .contains("Could not access KVM kernel module"));
}

fn installed_host() -> HostFacts {
    HostFacts {
        kata_tree: KataTree {
            bin: ["qemu-system-x86_64".to_string(), "kata-ctl".to_string()].into(),
            runtime_rs_bin: ["containerd-shim-kata-v2".to_string()].into(),
            ..KataTree::default()
        },
        ..HostFacts::default()
    }
}

fn check_block(exit: i32, output: &str) -> wire::Output {
    let b64 = base64::engine::general_purpose::STANDARD.encode(output);
    wire::Output::parse(&format!(
        "@@kv check_tool /opt/kata/bin/kata-ctl\n@@block kata-check {exit}\n{b64}\n@@end\n"
    ))
    .unwrap()
}

#[test]
fn the_check_tools_verdict_with_its_output_as_evidence() {
    let desired = Desired::sample();
    let out = check_block(1, &fixture("kata-ctl-check-nspawn.txt"));
    let s = host_check(&installed_host(), &desired, &out);
    assert_eq!(s.status, StepStatus::Fail);
    assert!(s.detail.starts_with("no usable /dev/kvm: the device does not exist (kata-ctl: ENOENT); also: Hardware virtualization not available"), "{}", s.detail);
    let evidence = s.evidence.unwrap();
    assert!(
        evidence.starts_with("$ /opt/kata/bin/kata-ctl ... (exit 1)"),
        "{evidence}"
    );
    assert!(evidence.contains("Error { context: \"KVM check failed\", source: ENOENT }"));
    let ok = host_check(
        &installed_host(),
        &desired,
        &check_block(0, &fixture("kata-ctl-check-ok.txt")),
    );
    assert_eq!(ok.status, StepStatus::Pass);
    assert_eq!(ok.detail, "kata-ctl found nothing that stops Kata (exit 0)");
}

#[test]
fn without_a_check_tool_katafleets_own_checks_decide() {
    let mut f = installed_host();
    f.kata_tree.bin.remove("kata-ctl");
    let s = host_check(&f, &Desired::sample(), &wire::Output::default());
    assert_eq!(s.status, StepStatus::Fail);
    assert!(s.detail.contains("no usable /dev/kvm"), "{}", s.detail);
    assert!(s.evidence.unwrap().starts_with("kata-ctl is not installed"));
    f.cpu_virt = Some("vmx".into());
    f.kvm = crate::facts::KvmDevice::Usable {
        mode: "660 root kvm".into(),
    };
    f.containerd = Some(ContainerdFacts::default());
    assert_eq!(
        host_check(&f, &Desired::sample(), &wire::Output::default()).status,
        StepStatus::Pass
    );
}

#[test]
fn no_kata_installed_and_command_not_found() {
    let s = host_check(
        &HostFacts::default(),
        &Desired::sample(),
        &wire::Output::default(),
    );
    assert_eq!(
        s.detail,
        "Kata's rust runtime is not installed in /opt/kata"
    );
    let gone = check_block(127, "sh: 1: /opt/kata/bin/kata-ctl: not found\n");
    let s = host_check(&installed_host(), &Desired::sample(), &gone);
    assert_eq!(s.detail, "kata-ctl: command not found");
}

#[test]
fn targets_follow_the_wiring_and_the_clients_present() {
    let dump = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-clh]\nruntime_type = \"io.containerd.kata.v2\"\nruntime_path = \"/opt/kata/runtime-rs/bin/containerd-shim-kata-v2\"\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-clh.options]\nConfigPath = \"/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-clh-runtime-rs.toml\"\n";
    let f = HostFacts {
        containerd: Some(ContainerdFacts {
            dump: Some(dump.into()),
            active: true,
            ..ContainerdFacts::default()
        }),
        ..HostFacts::default()
    };
    let out =
        wire::Output::parse("@@kv clients ctr docker \n@@kv docker_active inactive\n").unwrap();
    let (t, missing) = targets(&f, &out);
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].client, t[0].handler.as_str(), t[0].hypervisor),
        (Client::Ctr, "kata-clh", Some(Hypervisor::Clh))
    );
    assert!(missing.is_empty());
    let (t, missing) = targets(&f, &wire::Output::parse("@@kv clients \n").unwrap());
    assert!(t.is_empty());
    assert_eq!(
        missing,
        ["containerd runtime `kata-clh`: neither ctr nor nerdctl is installed"]
    );
}

#[test]
fn hypervisors_from_configuration_file_names() {
    let hv = |p: &str| hypervisor_of(Some(p));
    assert_eq!(
        hv("/x/configuration-qemu-runtime-rs.toml"),
        Some(Hypervisor::Qemu)
    );
    assert_eq!(
        hv("/x/configuration-qemu-nvidia-gpu-runtime-rs.toml"),
        Some(Hypervisor::Qemu)
    );
    assert_eq!(hv("/x/configuration-rs-fc.toml"), Some(Hypervisor::Fc));
    assert_eq!(hv("/x/configuration-fc.toml"), Some(Hypervisor::Fc));
    assert_eq!(hv("/x/configuration-clh.toml"), Some(Hypervisor::Clh));
    assert_eq!(
        hv("/x/configuration-dragonball.toml"),
        Some(Hypervisor::Dragonball)
    );
    assert_eq!(hv("/x/configuration-remote.toml"), None);
    assert_eq!(hypervisor_of(None), None);
}
