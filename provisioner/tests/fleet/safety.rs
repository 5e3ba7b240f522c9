//! A run never harms a host: on real daemons (Docker 28 and containerd 2.1
//! on sid), a container that runs before `provision` runs after it with the
//! same PID; a daemon that fails with the new configuration gets the old
//! one back byte-for-byte and runs again; a rerun with the fault still there
//! fails again, and converges once it is gone.
//!
//! The test hosts cannot start Kata VMs (see vm-tests/fleet/README.md), so
//! the workload is a plain runc container from a busybox image built here.

use crate::common::{json_hosts, stderr, stdout, Fleet};

const DAEMON_JSON: &str = "/etc/docker/daemon.json";
const CONTAINERD_MAIN: &str = "/etc/containerd/config.toml";
const CONTAINERD_DROPIN: &str = "/etc/containerd/conf.d/katafleet.toml";

/// `bb:latest` on host `i`: a static busybox with a few applets, imported
/// from a tar built on the controller (the hosts have no registry).
pub fn import_busybox(fleet: &Fleet, i: usize) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("busybox-static on the controller (.ci/run installs it)");
    for applet in ["sh", "sleep", "uname", "cat"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    let tar = dir.path().join("bb.tar");
    let ok = std::process::Command::new("tar")
        .args([
            "-C",
            root.to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            ".",
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok, "tar the busybox image");
    let out = fleet.sh_stdin(
        i,
        "docker import - bb:latest",
        &std::fs::read(&tar).unwrap(),
    );
    assert!(out.status.success(), "docker import: {}", stderr(&out));
}

fn sha(fleet: &Fleet, path: &str) -> String {
    fleet.sh_ok(0, &format!("sha256sum {path} 2>/dev/null || echo absent"))
}

fn provision(fleet: &Fleet, inv: &str) -> (i32, serde_json::Value, String) {
    let out = fleet.katafleet(&["provision", inv, "--force", "--json"]);
    let host = json_hosts(&out)[0].clone();
    (out.status.code().unwrap_or(-1), host, stderr(&out))
}

#[test]
fn a_running_container_survives_provision_with_the_same_pid() {
    let fleet = fleet_or_skip!(1, "sid");
    import_busybox(&fleet, 0);
    fleet.sh_ok(
        0,
        "docker run -d --network none --name keep bb:latest sleep 100000",
    );
    let pid = fleet.sh_ok(0, "docker inspect -f '{{.State.Pid}}' keep");
    let inv = fleet.inventory("", "");
    let (code, host, err) = provision(&fleet, inv.to_str().unwrap());
    assert_eq!(code, 0, "{host}\n{err}");
    assert_eq!(host["status"], "changed", "{host}");
    assert_eq!(
        fleet.sh_ok(
            0,
            "docker inspect -f '{{.State.Status}} {{.State.Pid}}' keep"
        ),
        format!("running {pid}"),
        "the container kept running through provision (Docker reloaded, containerd restarted)"
    );
    let runtimes = fleet.sh_ok(0, "docker info --format '{{json .Runtimes}}'");
    assert!(
        runtimes.contains("\"kata\":") && runtimes.contains("\"kata-qemu\":"),
        "dockerd took the runtimes without a restart: {runtimes}"
    );
    let steps: Vec<String> = host["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        steps.iter().any(|s| s.contains("reloads dockerd")),
        "the plan says Docker is reloaded, not restarted: {steps:?}"
    );
}

#[test]
fn a_docker_reload_that_fails_puts_daemon_json_back_and_keeps_containerd_owned() {
    let fleet = fleet_or_skip!(1, "sid");
    fleet.sh_ok(
        0,
        r#"mkdir -p /etc/docker && printf '{\n  "log-level": "warn"\n}\n' > /etc/docker/daemon.json && systemctl restart docker"#,
    );
    let before = sha(&fleet, DAEMON_JSON);
    // The fault: dockerd's reload fails, as a broken unit would make it.
    fleet.sh_ok(
        0,
        "mkdir -p /etc/systemd/system/docker.service.d && printf '[Service]\\nExecReload=\\nExecReload=/bin/false\\n' > /etc/systemd/system/docker.service.d/99-fault.conf && systemctl daemon-reload",
    );
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    let (code, host, err) = provision(&fleet, inv);
    assert_eq!(code, 1, "{host}\n{err}");
    assert_eq!(host["status"], "failed", "{host}");
    assert_eq!(host["stage"], "apply", "{host}");
    assert!(
        host["step"].as_u64().is_some(),
        "the failed step is named: {host}"
    );
    let error = host["error"].as_str().unwrap();
    assert!(
        error.contains("docker failed with the new configuration")
            && error.contains("runs with it"),
        "{error}"
    );
    assert_eq!(
        sha(&fleet, DAEMON_JSON),
        before,
        "daemon.json is back byte-for-byte"
    );
    fleet.sh_ok(0, "systemctl is-active docker");
    // containerd was wired in an earlier step: it stays, and it is recorded.
    let manifest = fleet.sh_ok(0, "cat /var/lib/katafleet/manifest.json");
    assert!(
        manifest.contains("\"containerd_handlers\": [\n    \"kata\""),
        "the containerd step is recorded as katafleet's: {manifest}"
    );
    assert!(
        !manifest.contains("\"docker_runtimes\": [\n    \"kata\""),
        "the reverted Docker step is not: {manifest}"
    );

    fleet.sh_ok(
        0,
        "rm /etc/systemd/system/docker.service.d/99-fault.conf && systemctl daemon-reload",
    );
    let (code, host, err) = provision(&fleet, inv);
    assert_eq!(code, 0, "{host}\n{err}");
    assert_eq!(host["status"], "changed", "{host}");
    let (code, host, _) = provision(&fleet, inv);
    assert_eq!((code, host["changed"].as_u64()), (0, Some(0)), "{host}");
}

#[test]
fn containerd_that_fails_with_the_new_config_gets_the_old_one_back_and_runs() {
    let fleet = fleet_or_skip!(1, "sid");
    // The fault: containerd refuses to start while any config mentions Kata.
    fleet.sh_ok(
        0,
        "mkdir -p /etc/systemd/system/containerd.service.d && printf '[Service]\\nExecStartPre=/bin/sh -c \"! grep -rqs kata /etc/containerd\"\\n' > /etc/systemd/system/containerd.service.d/99-fault.conf && systemctl daemon-reload",
    );
    let main_before = sha(&fleet, CONTAINERD_MAIN);
    let inv = fleet.inventory("", "[docker]\nenable = false\n");
    let inv = inv.to_str().unwrap();
    for attempt in ["first run", "rerun with the fault still there"] {
        let (code, host, err) = provision(&fleet, inv);
        assert_eq!(code, 1, "{attempt}: {host}\n{err}");
        assert_eq!(host["status"], "failed", "{attempt}, never ok: {host}");
        let error = host["error"].as_str().unwrap();
        assert!(
            error.contains("containerd failed with the new configuration, so the old one is back and containerd runs with it"),
            "{attempt}: {error}"
        );
        assert_eq!(sha(&fleet, CONTAINERD_MAIN), main_before, "{attempt}");
        assert!(
            sha(&fleet, CONTAINERD_DROPIN).contains("absent"),
            "{attempt}"
        );
        fleet.sh_ok(0, "systemctl is-active containerd");
    }
    fleet.sh_ok(
        0,
        "rm /etc/systemd/system/containerd.service.d/99-fault.conf && systemctl daemon-reload",
    );
    let (code, host, err) = provision(&fleet, inv);
    assert_eq!(code, 0, "{host}\n{err}");
    let out = fleet.katafleet(&["provision", inv, "--force"]);
    assert!(stdout(&out).contains("ok"), "{}", stdout(&out));
}

#[test]
fn a_second_run_on_a_host_that_is_being_changed_is_refused_cleanly() {
    let fleet = fleet_or_skip!(1);
    // Another run holds the host's lock (as a run in flight would), and a
    // killed run left a staging directory behind.
    fleet.sh_ok(
        0,
        "mkdir -p /var/lib/katafleet /opt/.katafleet-stage.left && setsid -f flock /var/lib/katafleet/lock sleep 600 >/dev/null 2>&1; sleep 0.5",
    );
    let config_before = sha(&fleet, CONTAINERD_MAIN);
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    let (code, host, err) = provision(&fleet, inv);
    assert_eq!(code, 1, "{host}\n{err}");
    assert!(
        host["error"]
            .as_str()
            .unwrap()
            .contains("another katafleet run is changing this host"),
        "{host}"
    );
    assert_eq!(
        sha(&fleet, CONTAINERD_MAIN),
        config_before,
        "nothing changed"
    );
    fleet.sh_ok(
        0,
        "test ! -e /opt/kata && test -d /opt/.katafleet-stage.left",
    );

    // Patterns that do not match this very shell's command line.
    fleet.sh_ok(
        0,
        "pkill -f '[f]lock /var/lib/katafleet/lock'; pkill -f '[s]leep 600'; true",
    );
    let (code, host, err) = provision(&fleet, inv);
    assert_eq!(code, 0, "{host}\n{err}");
    fleet.sh_ok(
        0,
        "test -d /opt/kata && ! ls -d /opt/.katafleet-stage.* 2>/dev/null",
    );
}

/// Digests of everything provision touches on a bookworm host (or `absent`).
fn touched(fleet: &Fleet) -> String {
    fleet.sh_ok(
        0,
        "for f in /etc/containerd/config.toml /etc/modules-load.d/katafleet.conf /var/lib/katafleet/manifest.json; do \
         if [ -e $f ]; then sha256sum $f; else echo \"absent $f\"; fi; done; \
         if [ -e /opt/kata ]; then echo '/opt/kata present'; else echo '/opt/kata absent'; fi",
    )
}

#[test]
fn a_host_that_fails_verification_after_apply_is_put_back_byte_for_byte() {
    let fleet = fleet_or_skip!(1);
    // The fault: something else on the host rewrites katafleet's modules
    // file once containerd restarts (as a config-management agent might).
    fleet.sh_ok(
        0,
        "mkdir -p /etc/systemd/system/containerd.service.d && printf '[Service]\\nExecStartPost=/bin/sh -c \"if [ ! -e /run/kf-fault-done ] && [ -e /etc/modules-load.d/katafleet.conf ]; then echo tampered >> /etc/modules-load.d/katafleet.conf; touch /run/kf-fault-done; fi\"\\n' > /etc/systemd/system/containerd.service.d/99-fault.conf && systemctl daemon-reload",
    );
    let before = touched(&fleet);
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    let (code, host, err) = provision(&fleet, inv);
    assert_eq!(code, 1, "{host}\n{err}");
    assert_eq!(host["status"], "rolled-back", "{host}");
    assert_eq!(host["stage"], "verify", "{host}");
    assert!(
        host["error"]
            .as_str()
            .unwrap()
            .contains("verification failed"),
        "{host}"
    );
    assert_eq!(
        touched(&fleet),
        before,
        "every file is as it was, and no release is left"
    );
    fleet.sh_ok(
        0,
        "systemctl is-active containerd && test ! -e /var/lib/katafleet/txn",
    );

    // The fault fired once; the next run converges and the one after is a no-op.
    let (code, host, err) = provision(&fleet, inv);
    assert_eq!(
        (code, host["status"].as_str()),
        (0, Some("changed")),
        "{host}\n{err}"
    );
    fleet.sh_ok(
        0,
        "test ! -e /var/lib/katafleet/txn && test ! -e /opt/.katafleet-previous",
    );
    let (code, host, _) = provision(&fleet, inv);
    assert_eq!((code, host["status"].as_str()), (0, Some("ok")), "{host}");
}

#[test]
fn a_full_disk_is_a_clear_error_before_anything_is_written() {
    let fleet = fleet_or_skip!(1);
    fleet.sh_ok(0, "mkdir -p /opt && mount -t tmpfs -o size=16m tmpfs /opt");
    let before = touched(&fleet);
    let inv = fleet.inventory("", "");
    let (code, host, err) = provision(&fleet, inv.to_str().unwrap());
    assert_eq!(code, 1, "{host}\n{err}");
    let error = host["error"].as_str().unwrap();
    assert!(
        error.contains("not enough space on the filesystem of /opt")
            && error.contains("nothing was written"),
        "{error}"
    );
    assert_eq!(host["step"], 1, "the install is the first step: {host}");
    assert_eq!(
        touched(&fleet),
        before,
        "containerd's config and the rest untouched"
    );
    assert_eq!(
        fleet.sh_ok(0, "ls -A /opt | wc -l").trim(),
        "0",
        "nothing in /opt"
    );
}
