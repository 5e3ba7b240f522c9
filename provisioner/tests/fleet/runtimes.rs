//! Every runtime wired correctly on real daemons: containerd 1.6 (bookworm)
//! and 2.1 with Docker 28 (sid), configs with no file, a disabled CRI, shims
//! added and removed, and hypervisors a release does not ship.

use crate::common::{self, json_hosts, stderr, stdout};

fn provision(fleet: &common::Fleet, inv: &std::path::Path) -> serde_json::Value {
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    let hosts = json_hosts(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    hosts[0].clone()
}

#[test]
fn containerd_without_a_config_gets_a_minimal_valid_one() {
    let fleet = fleet_or_skip!(1);
    fleet.sh_ok(
        0,
        "rm -f /etc/containerd/config.toml && systemctl restart containerd",
    );
    let inv = fleet.inventory("", "");
    let h = provision(&fleet, &inv);
    assert_eq!(h["status"], "changed", "{h}");
    let config = fleet.sh_ok(0, "cat /etc/containerd/config.toml");
    assert!(config.contains("version = 2"), "{config}");
    let dump = fleet.sh_ok(0, "containerd config dump");
    assert!(dump.contains("containerd.runtimes.kata]"), "{dump}");
    assert!(dump.contains("containerd.runtimes.kata-qemu]"), "{dump}");
    fleet.sh_ok(0, "systemctl is-active containerd");
    let manifest = fleet.sh_ok(0, "cat /var/lib/katafleet/manifest.json");
    assert!(
        manifest.contains("\"created\": true"),
        "katafleet created the file: {manifest}"
    );
}

#[test]
fn a_disabled_cri_is_reported_and_enable_cri_turns_it_back_on() {
    let fleet = fleet_or_skip!(1);
    // What Docker's containerd.io package ships.
    fleet.sh_ok(0, "printf '# containerd.io default\\ndisabled_plugins = [\"cri\"]\\n' > /etc/containerd/config.toml && systemctl restart containerd");
    let inv = fleet.inventory("", "");
    let h = provision(&fleet, &inv);
    assert!(
        h["warnings"]
            .to_string()
            .contains("Kubernetes will not see"),
        "{h}"
    );
    let dump = fleet.sh_ok(0, "containerd config dump");
    assert!(
        !dump.contains("runtimes.kata]"),
        "CRI is off, so the runtime is invisible: {dump}"
    );

    let inv = fleet.inventory("", "\n[containerd]\nenable_cri = true\n");
    let h = provision(&fleet, &inv);
    assert!(
        !h["warnings"]
            .to_string()
            .contains("Kubernetes will not see"),
        "{h}"
    );
    let dump = fleet.sh_ok(0, "containerd config dump");
    assert!(
        dump.contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]"),
        "{dump}"
    );
}

#[test]
fn containerd_2_and_docker_28_keep_user_settings_and_see_every_shim() {
    let fleet = fleet_or_skip!(1, "sid");
    fleet.sh_ok(
        0,
        r#"mkdir -p /etc/docker && printf '{\n  "log-level": "warn",\n  "max-concurrent-downloads": 2\n}\n' > /etc/docker/daemon.json && systemctl restart docker"#,
    );
    let inv = fleet.inventory("shims = [\"qemu\", \"clh\"]", "");
    let h = provision(&fleet, &inv);
    assert_eq!(h["status"], "changed", "{h}");

    let main = fleet.sh_ok(0, "cat /etc/containerd/config.toml");
    assert!(
        main.contains("/etc/containerd/conf.d/katafleet.toml"),
        "imports the drop-in: {main}"
    );
    let dump = fleet.sh_ok(0, "containerd config dump");
    for name in ["kata", "kata-qemu", "kata-clh"] {
        assert!(
            dump.contains(&format!(
                "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.{name}]"
            )) || dump.contains(&format!(
                "[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.{name}]"
            )),
            "{name} missing from containerd 2.1's effective config: {dump}"
        );
    }
    assert!(
        dump.contains("conf_dir = '/etc/cni/net.d'")
            || dump.contains("conf_dir = \"/etc/cni/net.d\""),
        "user CNI setting kept: {dump}"
    );

    let daemon: serde_json::Value =
        serde_json::from_str(&fleet.sh_ok(0, "cat /etc/docker/daemon.json")).unwrap();
    let keys: Vec<_> = daemon.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["log-level", "max-concurrent-downloads", "runtimes"]);
    assert!(daemon.get("default-runtime").is_none());
    let runtimes = fleet.sh_ok(0, "docker info --format '{{json .Runtimes}}'");
    for name in ["\"kata\"", "\"kata-qemu\"", "\"kata-clh\"", "\"runc\""] {
        assert!(
            runtimes.contains(name),
            "dockerd does not see {name}: {runtimes}"
        );
    }

    // Reconcile: dropping a shim removes its handler everywhere, and nothing else.
    let inv = fleet.inventory("shims = [\"qemu\"]", "");
    let h = provision(&fleet, &inv);
    assert_eq!(h["status"], "changed", "{h}");
    let dump = fleet.sh_ok(0, "containerd config dump");
    assert!(!dump.contains("runtimes.kata-clh]"), "{dump}");
    assert!(dump.contains("runtimes.kata-qemu]"), "{dump}");
    let runtimes = fleet.sh_ok(0, "docker info --format '{{json .Runtimes}}'");
    assert!(
        !runtimes.contains("kata-clh") && runtimes.contains("kata-qemu"),
        "{runtimes}"
    );
    let daemon = fleet.sh_ok(0, "cat /etc/docker/daemon.json");
    assert!(daemon.contains("\"log-level\": \"warn\""), "{daemon}");

    let again = provision(&fleet, &inv);
    assert_eq!(again["status"], "ok", "{again}");
    assert_eq!(again["changed"], 0, "{again}");
}

#[test]
fn a_hypervisor_the_release_lacks_fails_at_plan_time() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("shims = [\"qemu\", \"fc\"]", "");
    let out = fleet.katafleet(&["plan", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let h = &json_hosts(&out)[0];
    assert!(
        h["error"]
            .as_str()
            .unwrap()
            .contains("ships no firecracker"),
        "{h}"
    );
    assert_eq!(fleet.sh(0, "test -e /opt/kata").status.code(), Some(1));
}

#[test]
fn kvm_users_join_the_kvm_group_once() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("kvm_users = [\"kf\"]", "");
    provision(&fleet, &inv);
    let groups = fleet.sh_ok(0, "id -nG kf");
    assert!(groups.split_whitespace().any(|g| g == "kvm"), "{groups}");
    let again = provision(&fleet, &inv);
    assert_eq!(again["changed"], 0, "{again}");

    let inv = fleet.inventory("kvm_users = [\"nobody-here\"]", "");
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(json_hosts(&out)[0]["error"]
        .as_str()
        .unwrap()
        .contains("no user nobody-here"));
}
