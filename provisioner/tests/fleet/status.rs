//! `katafleet status` on real hosts: what is installed, which handlers the
//! running daemons see (checked against the daemons themselves), drift of
//! the files katafleet wrote, and the last provision.

use crate::common::{self, json_hosts, stderr, stdout};
use serde_json::Value;

fn status(fleet: &common::Fleet, inv: &str) -> (Option<i32>, Value) {
    let out = fleet.katafleet_look(&["status", inv, "--json"]);
    let hosts = json_hosts(&out);
    (out.status.code(), hosts[0].clone())
}

fn provision(fleet: &common::Fleet, inv: &str) {
    let p = fleet.katafleet(&["provision", inv, "--force"]);
    assert_eq!(p.status.code(), Some(0), "{}{}", stdout(&p), stderr(&p));
}

fn problems(h: &Value) -> Vec<String> {
    h["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems array: {h}"))
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn status_shows_what_is_installed_what_containerd_sees_and_drift() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();

    let (code, h) = status(&fleet, inv);
    assert_eq!(code, Some(1), "{h}");
    assert!(h["kata"].is_null(), "{h}");
    assert!(
        problems(&h)[0].starts_with("Kata is not installed in /opt/kata"),
        "{h}"
    );
    assert_eq!(h["last_provision"], Value::Null);

    provision(&fleet, inv);
    let (_, h) = status(&fleet, inv);
    assert_eq!(h["kata"]["version"], "4.2.0", "{h}");
    assert_eq!(h["kata"]["runtimes"], serde_json::json!(["rust"]));
    assert_eq!(h["kata"]["installed_by_katafleet"], true);
    assert!(
        h["hypervisors"]
            .as_array()
            .unwrap()
            .contains(&Value::from("qemu")),
        "{h}"
    );
    assert!(
        h["last_provision"]["time"]
            .as_str()
            .unwrap()
            .starts_with("20"),
        "{h}"
    );
    let c = &h["containerd"];
    assert_eq!(c["version"], "1.6.20");
    assert_eq!(c["running"], true);
    let handlers = c["handlers"].as_array().unwrap();
    let kata = handlers
        .iter()
        .find(|x| x["name"] == "kata")
        .expect("kata handler");
    assert_eq!(
        kata["shim"],
        "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2"
    );

    // Whether containerd sees it must agree with containerd itself.
    let cri = fleet.sh_ok(0, "ctr plugins ls | awk '$2 == \"cri\" {print $4}'");
    if cri.trim() == "ok" {
        assert_eq!(kata["seen"]["state"], "yes", "{kata}");
    } else {
        let why = fleet.sh_ok(0, "ctr plugins ls -d id==cri | sed -n 's/^ *Message: *//p'");
        assert_eq!(kata["seen"]["state"], "no", "{kata}");
        let how = kata["seen"]["how"].as_str().unwrap();
        assert!(how.contains(why.trim()), "{how} vs containerd's own {why}");
        assert!(problems(&h)
            .iter()
            .any(|p| p.starts_with("containerd does not see runtime `kata`")));
    }
    assert!(h["drift"].as_array().unwrap().is_empty(), "{h}");

    // Drift: one file edited, one deleted behind katafleet's back.
    fleet.sh_ok(0, "echo nbd >> /etc/modules-load.d/katafleet.conf && rm /opt/kata/share/defaults/kata-containers/runtime-rs/config.d/50-katafleet.toml");
    let (code, h) = status(&fleet, inv);
    assert_eq!(code, Some(1));
    let drift = h["drift"].as_array().unwrap();
    assert!(
        drift.contains(
            &serde_json::json!({"path": "/etc/modules-load.d/katafleet.conf", "change": "modified"})
        ),
        "{h}"
    );
    assert!(drift.contains(&serde_json::json!({"path": "/opt/kata/share/defaults/kata-containers/runtime-rs/config.d/50-katafleet.toml", "change": "deleted"})), "{h}");
    assert!(problems(&h).contains(
        &"drift: /etc/modules-load.d/katafleet.conf changed since katafleet wrote it".to_string()
    ));

    // The table carries the same answers.
    let out = fleet.katafleet_look(&["status", inv]);
    let text = stdout(&out);
    assert!(
        text.contains(
            "drift:       /etc/modules-load.d/katafleet.conf changed since katafleet wrote it"
        ),
        "{text}"
    );
    assert!(
        text.lines().last().unwrap().contains("4.2.0 (rust)"),
        "{text}"
    );
}

#[test]
fn status_on_containerd_2_and_docker_28_asks_the_daemons() {
    let fleet = fleet_or_skip!(1, "sid");
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    provision(&fleet, inv);
    let (_, h) = status(&fleet, inv);
    let docker = &h["docker"];
    assert!(
        docker["version"].as_str().unwrap().starts_with("28."),
        "{h}"
    );
    let listed = fleet.sh_ok(0, "docker info --format '{{json .Runtimes}}'");
    for handler in docker["handlers"].as_array().unwrap() {
        let name = handler["name"].as_str().unwrap();
        let want = if listed.contains(&format!("\"{name}\"")) {
            "yes"
        } else {
            "no"
        };
        assert_eq!(
            handler["seen"]["state"], want,
            "{handler} vs docker info {listed}"
        );
    }
    assert!(
        docker["handlers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["name"] == "kata"),
        "{h}"
    );
    assert_eq!(
        h["containerd"]["version"]
            .as_str()
            .unwrap()
            .split('.')
            .next(),
        Some("2")
    );

    // Docker stopped: its runtimes are not seen, and status says why.
    fleet.sh_ok(0, "systemctl stop docker.socket docker.service");
    let (code, h) = status(&fleet, inv);
    assert_eq!(code, Some(1));
    assert!(
        problems(&h)
            .iter()
            .any(|p| p == "Docker does not see runtime `kata`: dockerd is not running"),
        "{h}"
    );
}
