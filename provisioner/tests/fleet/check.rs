//! `katafleet check` on real hosts. The test hosts are nspawn containers
//! without usable KVM, so they are not ready, and check must say exactly
//! why, with the fix, and change nothing. After a (forced) provision it also
//! judges the installed tree against the inventory.

use crate::common::{json_hosts, stderr, stdout};
use serde_json::Value;

fn finding<'a>(host: &'a Value, check: &str) -> Vec<&'a Value> {
    host["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings: {host}"))
        .iter()
        .filter(|f| f["check"] == check)
        .collect()
}

#[test]
fn check_names_every_blocker_with_its_fix_and_changes_nothing() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let before = fleet.sh_ok(0, "sha256sum /etc/containerd/config.toml; ls /opt /var/lib");
    let out = fleet.katafleet_look(&["check", inv.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let h = &json_hosts(&out)[0];
    assert_eq!(h["status"], "fail", "{h}");
    assert_eq!(h["ready"], false, "{h}");
    assert!(h["os"].as_str().unwrap().starts_with("Debian GNU/Linux 12"));

    let cpu = finding(h, "cpu-virtualization")[0];
    assert_eq!(cpu["status"], "fail");
    assert!(
        cpu["fix"]
            .as_str()
            .unwrap()
            .contains("enable VT-x/AMD-V in the BIOS"),
        "{cpu}"
    );
    let kvm = finding(h, "kvm-device")[0];
    assert_eq!(
        (kvm["status"].as_str(), kvm["detail"].as_str()),
        (Some("fail"), Some("no usable /dev/kvm"))
    );
    let container = finding(h, "not-a-container")[0];
    assert!(container["detail"]
        .as_str()
        .unwrap()
        .contains("inside a container (systemd-nspawn)"));
    let containerd = finding(h, "containerd")[0];
    assert_eq!(containerd["status"], "pass");
    assert_eq!(containerd["detail"], "containerd 1.6.20, running");
    let modules = finding(h, "kernel-modules")[0];
    assert_eq!(modules["status"], "warn");
    assert!(
        modules["detail"].as_str().unwrap().contains("vhost_net"),
        "{modules}"
    );
    assert!(
        modules["fix"]
            .as_str()
            .unwrap()
            .contains("inside a container"),
        "{modules}"
    );
    assert_eq!(finding(h, "kata-installed")[0]["status"], "info");
    assert!(finding(h, "docker")[0]["detail"]
        .as_str()
        .unwrap()
        .contains("not installed"));
    // Every failed or warned check says what to do.
    for f in h["findings"].as_array().unwrap() {
        if f["status"] == "fail" || f["status"] == "warn" {
            assert!(
                f["fix"].as_str().is_some_and(|x| !x.is_empty()),
                "no fix: {f}"
            );
        }
    }

    // The table says the same; nothing on the host changed.
    let table = fleet.katafleet_look(&["check", inv.to_str().unwrap()]);
    let text = stdout(&table);
    assert!(text.contains("FAIL  kvm-device"), "{text}");
    assert!(
        text.contains("fix: Hardware virtualization not available"),
        "{text}"
    );
    let last = text.lines().last().unwrap();
    assert!(
        last.contains(" no ") && last.contains(fleet.host(0)),
        "{text}"
    );
    assert_eq!(
        fleet.sh_ok(0, "sha256sum /etc/containerd/config.toml; ls /opt /var/lib"),
        before,
        "check changed the host"
    );
}

#[test]
fn check_after_provision_finds_a_missing_hypervisor_and_tools_off_path() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    let p = fleet.katafleet(&["provision", inv, "--force"]);
    assert_eq!(p.status.code(), Some(0), "{}{}", stdout(&p), stderr(&p));

    let out = fleet.katafleet_look(&["check", inv, "--json"]);
    let h = &json_hosts(&out)[0];
    let k = finding(h, "kata-installed")[0];
    assert_eq!(
        k["detail"], "Kata 4.2.0 (rust runtime), installed by katafleet",
        "{k}"
    );
    let hv = finding(h, "hypervisor")[0];
    assert_eq!(hv["status"], "pass", "{hv}");
    let shim = finding(h, "on-path")
        .into_iter()
        .find(|f| {
            f["detail"]
                .as_str()
                .unwrap()
                .starts_with("containerd-shim-kata-v2")
        })
        .unwrap();
    assert_eq!(shim["status"], "info");
    assert!(shim["fix"]
        .as_str()
        .unwrap()
        .starts_with("ln -sf /opt/kata/runtime-rs/bin/containerd-shim-kata-v2 /usr/local/bin/"));

    // "QEMU not found": the binary is gone from the release on the host.
    fleet.sh_ok(0, "rm /opt/kata/bin/qemu-system-x86_64");
    let out = fleet.katafleet_look(&["check", inv, "--json"]);
    let h = &json_hosts(&out)[0];
    let hv = finding(h, "hypervisor")[0];
    assert_eq!(hv["status"], "fail", "{hv}");
    assert_eq!(
        hv["detail"],
        "QEMU not found: /opt/kata/bin/qemu-system-x86_64 is missing"
    );
    let fix = hv["fix"].as_str().unwrap();
    assert!(
        fix.contains("wrong hypervisor (`qemu`)") && fix.contains("ships: clh, dragonball"),
        "{fix}"
    );

    // With the shim linked onto PATH the way the fix says, that finding passes.
    fleet.sh_ok(0, "ln -sf /opt/kata/runtime-rs/bin/containerd-shim-kata-v2 /usr/local/bin/containerd-shim-kata-v2");
    let out = fleet.katafleet_look(&["check", inv, "--json"]);
    let h = &json_hosts(&out)[0];
    assert!(finding(h, "on-path").iter().any(|f| f["status"] == "pass"
        && f["detail"]
            == "containerd-shim-kata-v2 is on PATH (/usr/local/bin/containerd-shim-kata-v2)"));
}

#[test]
fn check_reports_an_unreachable_host_and_keeps_going() {
    let fleet = fleet_or_skip!(1);
    let tail = "\n[[hosts]]\nname = \"gone\"\naddress = \"10.250.9.9\"\n";
    let inv = fleet.inventory("", tail);
    let out = fleet.katafleet_look(&["check", inv.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let hosts = json_hosts(&out);
    assert_eq!(
        hosts[0]["status"], "fail",
        "the reachable host is still judged"
    );
    assert_eq!(hosts[1]["status"], "unreachable");
    assert!(
        hosts[1]["error"].as_str().unwrap().contains("10.250.9.9"),
        "{}",
        hosts[1]
    );
}
