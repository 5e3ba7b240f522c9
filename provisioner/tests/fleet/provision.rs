//! End to end on real hosts: plan, provision, idempotence, config
//! preservation, refusal of bad releases, and unreachable hosts. The hosts
//! are nspawn containers without usable KVM, so they are reported not ready
//! and provisioned with --force, exactly as the guide requires.

use crate::common::{self, json_hosts, stderr, stdout};

const SHIM: &str = "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2";

#[test]
fn plan_shows_diffs_and_changes_nothing() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let before = fleet.sh_ok(0, "sha256sum /etc/containerd/config.toml; ls /opt");
    let out = fleet.katafleet(&["plan", inv.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(
        text.contains("install kata-static-4.2.0-amd64.tar.zst"),
        "{text}"
    );
    assert!(text.contains("+++ b/etc/containerd/config.toml"), "{text}");
    assert!(
        text.contains("+[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]"),
        "{text}"
    );
    assert!(text.contains("+vhost_vsock"), "{text}");
    // Not ready (no KVM in a container) is reported, not hidden.
    assert!(
        text.contains("running inside a container (systemd-nspawn)"),
        "{text}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a host that is not ready fails the plan"
    );
    assert_eq!(
        fleet.sh_ok(0, "sha256sum /etc/containerd/config.toml; ls /opt"),
        before,
        "plan changed the host"
    );
    assert!(fleet.sh(0, "test -e /var/lib/katafleet").status.code() == Some(1));
}

#[test]
fn provision_installs_wires_and_a_second_run_changes_nothing() {
    let fleet = fleet_or_skip!(2);
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();

    let refused = fleet.katafleet(&["provision", inv, "--json"]);
    assert_eq!(refused.status.code(), Some(1));
    for h in json_hosts(&refused) {
        assert_eq!(h["status"], "failed", "{h}");
        assert!(
            h["error"].as_str().unwrap().contains("no usable /dev/kvm"),
            "{h}"
        );
    }
    assert_eq!(
        fleet.sh(0, "test -e /opt/kata").status.code(),
        Some(1),
        "refused host was changed"
    );

    let first = fleet.katafleet(&["provision", inv, "--force", "--json"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    for h in json_hosts(&first) {
        assert_eq!(h["status"], "changed", "{h}");
        assert!(h["changed"].as_u64().unwrap() >= 3, "{h}");
        let warnings = h["warnings"].to_string();
        assert!(warnings.contains("not ready"), "{h}");
    }
    for i in 0..2 {
        fleet.sh_ok(i, &format!("test -x {SHIM}"));
        let marker = fleet.sh_ok(i, "cat /opt/kata/.katafleet-release");
        assert!(marker.contains("version=4.2.0"), "{marker}");
        let dump = fleet.sh_ok(i, "containerd config dump");
        assert!(
            dump.contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]"),
            "{dump}"
        );
        assert!(dump.contains(SHIM), "{dump}");
        fleet.sh_ok(i, "systemctl is-active containerd");
        let modules = fleet.sh_ok(i, "cat /etc/modules-load.d/katafleet.conf");
        assert!(modules.lines().any(|l| l == "vhost_vsock"), "{modules}");
        let dropin = fleet.sh_ok(
            i,
            "cat /opt/kata/share/defaults/kata-containers/runtime-rs/config.d/50-katafleet.toml",
        );
        assert!(dropin.contains("[hypervisor.qemu]"), "{dropin}");
        let manifest = fleet.sh_ok(i, "cat /var/lib/katafleet/manifest.json");
        assert!(
            manifest.contains("/etc/containerd/config.toml"),
            "{manifest}"
        );
    }

    let second = fleet.katafleet(&["provision", inv, "--force", "--json"]);
    assert_eq!(second.status.code(), Some(0));
    for h in json_hosts(&second) {
        assert_eq!(h["status"], "ok", "{h}");
        assert_eq!(h["changed"], 0, "{h}");
    }
}

#[test]
fn user_settings_and_comments_in_containerd_config_survive() {
    let fleet = fleet_or_skip!(1);
    user_settings_survive(&fleet);
}

/// containerd 1.7 (Debian 13) is edited in place too, and must accept it.
#[test]
fn user_settings_survive_on_containerd_1_7() {
    let fleet = fleet_or_skip!(1, "trixie");
    assert!(fleet.sh_ok(0, "containerd --version").contains(" 1.7."));
    user_settings_survive(&fleet);
}

fn user_settings_survive(fleet: &common::Fleet) {
    fleet.sh_ok(
        0,
        r#"containerd config default > /etc/containerd/config.toml &&
           sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml &&
           sed -i '1i # operator note: keep SystemdCgroup on' /etc/containerd/config.toml &&
           systemctl restart containerd"#,
    );
    let original = fleet.sh_ok(0, "cat /etc/containerd/config.toml");
    let inv = fleet.inventory("", "");
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let after = fleet.sh_ok(0, "cat /etc/containerd/config.toml");
    assert!(
        after.starts_with("# operator note: keep SystemdCgroup on"),
        "{after}"
    );
    assert!(after.contains("SystemdCgroup = true"), "{after}");
    let dump = fleet.sh_ok(0, "containerd config dump");
    assert!(dump.contains("SystemdCgroup = true"), "{dump}");
    assert!(dump.contains("containerd.runtimes.kata]"), "{dump}");
    assert!(dump.contains("containerd.runtimes.runc]"), "{dump}");
    let backup = fleet.sh_ok(
        0,
        "cat /var/lib/katafleet/backup/etc/containerd/config.toml",
    );
    assert_eq!(
        backup, original,
        "the one-time backup is the user's original"
    );
}

#[test]
fn a_wrong_sha256_installs_nothing() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let text = std::fs::read_to_string(&inv).unwrap();
    let good = &common::fixture().sha256;
    std::fs::write(&inv, text.replace(good.as_str(), &"0".repeat(64))).unwrap();
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let h = &json_hosts(&out)[0];
    assert_eq!(h["status"], "failed");
    assert!(
        h["error"].as_str().unwrap().contains("checksum mismatch"),
        "{h}"
    );
    assert_eq!(
        fleet.sh(0, "test -e /opt/kata").status.code(),
        Some(1),
        "something was installed"
    );
    assert_eq!(
        fleet
            .sh(0, "grep -q kata /etc/containerd/config.toml")
            .status
            .code(),
        Some(1),
        "config changed"
    );
}

#[test]
fn a_tarball_with_dot_dot_entries_is_refused() {
    let fleet = fleet_or_skip!(1);
    let evil = common::build_fixture("evil", &["--evil"]);
    let inv = fleet.inventory("", "");
    let text = std::fs::read_to_string(&inv).unwrap();
    let fixture = common::fixture();
    let text = text
        .replace(fixture.sha256.as_str(), &evil.sha256)
        .replace(fixture.dir.to_str().unwrap(), evil.dir.to_str().unwrap());
    std::fs::write(&inv, text).unwrap();
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let h = &json_hosts(&out)[0];
    assert!(
        h["error"].as_str().unwrap().contains("outside opt/kata"),
        "{h}"
    );
    assert_eq!(
        fleet
            .sh(0, "test -e /opt/kata || test -e /etc/katafleet-evil")
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn a_host_with_sshd_down_is_unreachable_while_the_rest_succeed() {
    let fleet = fleet_or_skip!(3);
    fleet.sh_ok(
        1,
        "systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh; true",
    );
    let inv = fleet.inventory("", "");
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an unreachable host makes the run fail"
    );
    let hosts = json_hosts(&out);
    let status: Vec<_> = hosts
        .iter()
        .map(|h| (h["name"].as_str().unwrap().to_string(), h["status"].clone()))
        .collect();
    assert_eq!(status[0].1, "changed", "{status:?}");
    assert_eq!(status[1].1, "unreachable", "{status:?}");
    assert_eq!(status[2].1, "changed", "{status:?}");
    assert!(
        hosts[1]["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{}",
        hosts[1]
    );
}

#[test]
fn become_sudo_provisions_as_an_unprivileged_user() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let text = std::fs::read_to_string(&inv)
        .unwrap()
        .replace("user = \"root\"", "user = \"kf\"\nbecome = \"sudo\"");
    std::fs::write(&inv, text).unwrap();
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_hosts(&out)[0]["status"], "changed");
    assert!(
        fleet
            .sh_ok(0, "stat -c %U /opt/kata/.katafleet-release")
            .trim()
            == "root"
    );
}

#[test]
fn a_config_containerd_rejects_is_put_back_and_containerd_keeps_running() {
    let fleet = fleet_or_skip!(1);
    // containerd is running with its good config; the file on disk now has a
    // value containerd cannot load, so katafleet's edit of it cannot validate.
    fleet.sh_ok(
        0,
        "printf 'version = 2\\noom_score = \"high\"\\n' > /etc/containerd/config.toml",
    );
    let before = fleet.sh_ok(
        0,
        "cat /etc/containerd/config.toml; systemctl show -p MainPID containerd",
    );
    let inv = fleet.inventory("", "");
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let h = &json_hosts(&out)[0];
    let error = h["error"].as_str().unwrap();
    assert!(
        error.contains("containerd rejected the new configuration"),
        "{h}"
    );
    assert!(
        error.contains("Can't convert high"),
        "the daemon's own reason is shown: {h}"
    );
    let after = fleet.sh_ok(
        0,
        "cat /etc/containerd/config.toml; systemctl show -p MainPID containerd",
    );
    assert_eq!(after, before, "file restored and containerd not restarted");
    fleet.sh_ok(0, "systemctl is-active containerd");
}

/// Regression: Debian's config.toml names no runtime, and containerd 1.6
/// replaces its built-in runtimes with the file's; adding only `kata` made
/// the CRI plugin fail to load (no runtime for default_runtime_name "runc").
#[test]
fn containerd_1_6_cri_plugin_still_loads_after_provision() {
    let fleet = fleet_or_skip!(1);
    let plugins =
        |f: &common::Fleet| f.sh_ok(0, "ctr plugins ls | awk '$2 == \"cri\" {print $NF}'");
    assert_eq!(plugins(&fleet).trim(), "ok");
    let inv = fleet.inventory("", "");
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        plugins(&fleet).trim(),
        "ok",
        "the CRI plugin must still load"
    );
    let dump = fleet.sh_ok(0, "containerd config dump");
    assert!(
        dump.contains("runtimes.runc]") && dump.contains("runtimes.kata]"),
        "{dump}"
    );
}
