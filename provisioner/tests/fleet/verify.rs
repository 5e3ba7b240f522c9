//! `katafleet verify` on real hosts. Kata VMs cannot start on the test
//! hosts (nspawn containers without usable KVM), so verify must fail there,
//! at its first step, with the precise diagnosis and the evidence, and it
//! must collect the host's logs. The success path is tested in
//! `src/proof/tests.rs` with outputs of a successful run (synthesised from
//! the documented formats; see tests/fixtures/verify/README.md).

use crate::common::{self, json_hosts, stderr, stdout};
use serde_json::Value;

fn provision(fleet: &common::Fleet, inv: &str) {
    let p = fleet.katafleet(&["provision", inv, "--force"]);
    assert_eq!(p.status.code(), Some(0), "{}{}", stdout(&p), stderr(&p));
}

fn verify(fleet: &common::Fleet, inv: &str) -> Value {
    let out = fleet.katafleet_look(&["verify", inv, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    json_hosts(&out)[0].clone()
}

/// An inventory that installs `fixture` instead of the default one.
fn inventory_with(fleet: &common::Fleet, fixture: &common::Fixture, kata_extra: &str) -> String {
    let inv = fleet.inventory(kata_extra, "");
    let default = common::fixture();
    let text = std::fs::read_to_string(&inv)
        .unwrap()
        .replace(default.sha256.as_str(), &fixture.sha256)
        .replace(default.dir.to_str().unwrap(), fixture.dir.to_str().unwrap());
    std::fs::write(&inv, text).unwrap();
    inv.to_str().unwrap().to_string()
}

fn first_step(h: &Value) -> &Value {
    &h["steps"][0]
}

#[test]
fn verify_before_provision_says_kata_is_missing() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let h = verify(&fleet, inv.to_str().unwrap());
    assert_eq!(h["status"], "fail");
    assert_eq!(
        first_step(&h)["detail"],
        "Kata's rust runtime is not installed in /opt/kata"
    );
    assert_eq!(first_step(&h)["fix"], "run katafleet provision");
}

#[test]
fn verify_without_a_check_tool_fails_on_the_missing_kvm_and_collects_logs() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    provision(&fleet, inv);
    let h = verify(&fleet, inv);
    assert_eq!(h["status"], "fail", "{h}");
    let step = first_step(&h);
    assert_eq!(step["name"], "kata-check");
    assert_eq!(step["status"], "fail");
    // kata-static ships no kata-ctl, so katafleet's own checks decide.
    let detail = step["detail"].as_str().unwrap();
    assert!(detail.contains("no usable /dev/kvm"), "{step}");
    assert!(
        detail.contains("inside a container (systemd-nspawn)"),
        "{step}"
    );
    assert!(
        step["evidence"]
            .as_str()
            .unwrap()
            .starts_with("kata-ctl is not installed"),
        "{step}"
    );
    assert_eq!(
        h["steps"].as_array().unwrap().len(),
        1,
        "stops at the first failure"
    );
    assert_eq!(h["error"].as_str(), Some(detail));

    let logs = h["logs"].as_str().expect("logs were collected");
    let text = std::fs::read_to_string(logs).unwrap();
    assert!(
        text.contains("===== containerd.log (exit 0) ====="),
        "{text}"
    );
    assert!(text.contains("containerd"), "{text}");
    assert!(
        logs.starts_with(fleet.dir.path().join("logs").to_str().unwrap()),
        "{logs}"
    );
    let containers = fleet.sh_ok(0, "ctr -n katafleet containers ls -q");
    assert!(
        containers.trim().is_empty(),
        "no container may start after a failed check: {containers}"
    );
}

#[test]
fn verify_with_kata_ctl_fails_with_the_tools_own_output() {
    let fleet = fleet_or_skip!(1);
    let tools = common::build_fixture("tools", &["--with-tools"]);
    let inv = inventory_with(&fleet, &tools, "");
    provision(&fleet, &inv);
    let h = verify(&fleet, &inv);
    let step = first_step(&h);
    let detail = step["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("no usable /dev/kvm: the device does not exist (kata-ctl: ENOENT)"),
        "{step}"
    );
    assert!(
        detail.contains("Hardware virtualization not available"),
        "{step}"
    );
    let evidence = step["evidence"].as_str().unwrap();
    assert!(
        evidence.starts_with("$ /opt/kata/bin/kata-ctl ... (exit 1)"),
        "{evidence}"
    );
    assert!(
        evidence.contains("Error { context: \"KVM check failed\", source: ENOENT }"),
        "{evidence}"
    );
    assert!(
        step["fix"]
            .as_str()
            .unwrap()
            .contains("nested virtualisation"),
        "{step}"
    );

    // The table shows the same diagnosis, the evidence and where the logs are.
    let out = fleet.katafleet_look(&["verify", &inv]);
    let text = stdout(&out);
    assert!(
        text.contains("1. FAIL  kata-check: no usable /dev/kvm"),
        "{text}"
    );
    assert!(
        text.contains("evidence:") && text.contains("| ") && text.contains("KVM check failed"),
        "{text}"
    );
    assert!(text.contains("Kata and daemon logs: "), "{text}");
}

#[test]
fn verify_with_the_go_runtime_runs_kata_runtime_check() {
    let fleet = fleet_or_skip!(1);
    let go = common::build_fixture("go", &["--runtime", "go"]);
    // The Go runtime's asset is kata-go-static from 4.1 on.
    std::fs::rename(
        go.dir
            .join(format!("kata-static-{}-amd64.tar.zst", common::VERSION)),
        go.dir
            .join(format!("kata-go-static-{}-amd64.tar.zst", common::VERSION)),
    )
    .unwrap();
    let inv = inventory_with(&fleet, &go, "runtime = \"go\"");
    provision(&fleet, &inv);
    let h = verify(&fleet, &inv);
    let step = first_step(&h);
    assert_eq!(
        step["detail"].as_str().unwrap().split("; also: ").next(),
        Some("Hardware virtualization not available (no vmx/svm CPU flag)"),
        "{step}"
    );
    let evidence = step["evidence"].as_str().unwrap();
    assert!(
        evidence.starts_with("$ /opt/kata/bin/kata-runtime ... (exit 1)"),
        "{evidence}"
    );
    assert!(
        evidence.contains("ERROR: System is not capable of running Kata Containers"),
        "{evidence}"
    );
}
