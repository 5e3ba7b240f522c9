//! `katafleet debug on|off` on a real host: a drop-in written through the
//! apply machinery (recorded in the manifest, so status sees no drift),
//! idempotent, containerd's level only with --containerd (and containerd
//! restarted and running afterwards).

use crate::common::{self, json_hosts, stderr, stdout};

const DROPIN: &str =
    "/opt/kata/share/defaults/kata-containers/runtime-rs/config.d/60-katafleet-debug.toml";

fn debug(fleet: &common::Fleet, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["debug"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = fleet.katafleet_look(&all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    json_hosts(&out)[0].clone()
}

#[test]
fn debug_on_and_off_through_a_dropin_and_containerds_level() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();

    // Before Kata is installed there is nothing to configure, and it says so.
    let out = fleet.katafleet_look(&["debug", "on", inv, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(json_hosts(&out)[0]["error"]
        .as_str()
        .unwrap()
        .contains("run katafleet provision first"));

    let p = fleet.katafleet(&["provision", inv, "--force"]);
    assert_eq!(p.status.code(), Some(0), "{}", stderr(&p));
    let pid = fleet.sh_ok(0, "systemctl show -p MainPID --value containerd");

    // The dry run shows the drop-in's diff and writes nothing.
    let dry = fleet.katafleet_look(&["debug", "on", inv, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("+enable_debug = true"),
        "{}",
        stdout(&dry)
    );
    fleet.sh_ok(0, &format!("test ! -e {DROPIN}"));

    let h = debug(&fleet, &["on", inv]);
    assert_eq!(h["changed"], 1, "{h}");
    assert_eq!(h["dropin"], DROPIN);
    assert!(h["logs"][0].as_str().unwrap().contains("journalctl"), "{h}");
    let text = fleet.sh_ok(0, &format!("cat {DROPIN}"));
    assert!(text.contains("[runtime]\nenable_debug = true"), "{text}");
    assert!(
        text.contains("[hypervisor.qemu]\nenable_debug = true"),
        "{text}"
    );
    assert_eq!(
        fleet.sh_ok(0, "systemctl show -p MainPID --value containerd"),
        pid,
        "a Kata drop-in needs no containerd restart"
    );
    let manifest = fleet.sh_ok(0, "cat /var/lib/katafleet/manifest.json");
    assert!(manifest.contains(DROPIN), "{manifest}");
    assert_eq!(
        debug(&fleet, &["on", inv])["changed"],
        0,
        "a second run changes nothing"
    );
    let status = fleet.katafleet_look(&["status", inv, "--json"]);
    assert_eq!(json_hosts(&status)[0]["drift"], serde_json::json!([]));

    // containerd's level: set, validated, restarted; then taken away again.
    let h = debug(&fleet, &["on", inv, "--containerd"]);
    assert_eq!(h["changed"], 1, "{h}");
    let config = fleet.sh_ok(0, "cat /etc/containerd/config.toml");
    assert!(config.contains("[debug]\nlevel = \"debug\""), "{config}");
    assert!(
        config.contains("runtimes.kata]"),
        "the rest of the config stays: {config}"
    );
    fleet.sh_ok(0, "systemctl is-active containerd");
    assert_ne!(
        fleet.sh_ok(0, "systemctl show -p MainPID --value containerd"),
        pid,
        "containerd restarted"
    );

    let h = debug(&fleet, &["off", inv, "--containerd"]);
    assert_eq!(h["changed"], 2, "{h}");
    let text = fleet.sh_ok(0, &format!("cat {DROPIN}"));
    assert!(text.contains("[runtime]\nenable_debug = false"), "{text}");
    let config = fleet.sh_ok(0, "cat /etc/containerd/config.toml");
    assert!(!config.contains("[debug]"), "{config}");
    fleet.sh_ok(0, "systemctl is-active containerd");
}
