//! The verify report as operators read it, from the synthesised outputs of
//! a successful run (tests/fixtures/verify/README.md) and a recorded failure.

use base64::Engine;

use super::*;
use crate::release::Hypervisor;
use crate::verify::{Client, Target};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/verify/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn block(name: &str, exit: i32, text: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
    format!("@@block {name} {exit}\n{b64}\n@@end\n")
}

/// The qemu transcript, in the wire protocol (see src/proof/tests.rs).
fn qemu_run() -> wire::Output {
    let t = fixture("ctr-runtime-rs-qemu-ok.transcript");
    let exec = t
        .split("=== exec (exit 0) ===\n")
        .nth(1)
        .unwrap()
        .split("=== ps")
        .next()
        .unwrap();
    let ps = t.split("=== ps (exit 0) ===\n").nth(1).unwrap();
    wire::Output::parse(&format!(
        "{}@@kv sandbox katafleet-verify-ctr-kata\n{}{}",
        block("start", 0, ""),
        block("exec", 0, exec),
        block("ps", 0, ps)
    ))
    .unwrap()
}

fn result(proof: Proof, status: Verdict) -> HostResult<Proof> {
    HostResult {
        name: "node-1".into(),
        os: "Debian GNU/Linux 12 (bookworm)".into(),
        status,
        error: proof.failure().map(|s| s.detail.clone()),
        detail: Some(proof),
        elapsed_secs: 3.2,
        log: String::new(),
    }
}

#[test]
fn a_verified_host_shows_each_step_and_the_bench() {
    let target = Target {
        client: Client::Ctr,
        handler: "kata".into(),
        shim: "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2".into(),
        config: Some("/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml".into()),
        hypervisor: Some(Hypervisor::Qemu),
    };
    let mut proof = Proof::default();
    proof.steps.push(Step::pass(
        "kata-check",
        "kata-ctl found nothing that stops Kata (exit 0)",
    ));
    let (steps, container) = proof::container(&target, "6.1.0-28-amd64", &qemu_run());
    proof.steps.extend(steps);
    proof.containers.extend(container);
    let bench = "@@bench runc 310000\n@@bench runc 290000\n@@bench runc 300000\n@@bench kata 1200000\n@@bench kata 1100000\n@@bench kata 1500000\n";
    let b = proof::bench::compare("ctr", "kata", &wire::Output::parse(bench).unwrap()).unwrap();
    proof.steps.push(Step::pass("bench", b.summary()));
    proof.bench = Some(b);
    let text = render(&[result(proof, Verdict::Pass)]);
    println!("{text}");
    for want in [
        "  1. ok    kata-check: kata-ctl found nothing that stops Kata (exit 0)",
        "  2. ok    container ctr/kata: guest kernel 6.18.35, host kernel 6.1.0-28-amd64",
        "  3. ok    hypervisor ctr/kata: qemu-system-x86_64 (pid 3147) runs under the shim (pid 3120)",
        "  ctr/kata: /proc/1/status inside: Name:\tsleep ...",
        "  4. ok    bench: ctr/kata, 3 runs each: runc 0.300s median, 0.310s p90; Kata 1.200s median, 1.500s p90; Kata/runc 4x",
        "node-1  Debian GNU/Linux 12 (bookworm)  yes       -            -",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn a_failed_host_shows_the_fix_evidence_and_logs() {
    let mut proof = Proof::default();
    proof.steps.push(
        Step::fail(
            "kata-check",
            "no usable /dev/kvm: the device does not exist (kata-ctl: ENOENT); also: x",
            "load kvm",
        )
        .with_evidence("$ /opt/kata/bin/kata-ctl ... (exit 1)\nERRO Error"),
    );
    proof.logs = Some("/runs/run-1/node-1.kata-logs.txt".into());
    let text = render(&[result(proof, Verdict::Fail)]);
    for want in [
        "  1. FAIL  kata-check: no usable /dev/kvm",
        "           fix: load kvm",
        "             | ERRO Error",
        "  Kata and daemon logs: /runs/run-1/node-1.kata-logs.txt",
        "no        kata-check   no usable /dev/kvm: the device does not exist (kata-ctl: ENOENT)\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}
