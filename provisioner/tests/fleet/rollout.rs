//! Fleet-wide changes on real hosts: rolling waves that stop on failure, a
//! release fetched once over HTTP for every host, and upgrades that swap the
//! release while the wiring stays.

use crate::common::{self, json_hosts, stderr, stdout};

const SHIM: &str = "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2";

#[test]
fn a_rolling_rollout_stops_after_the_first_failed_wave() {
    let fleet = fleet_or_skip!(3);
    fleet.sh_ok(
        0,
        "systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh; true",
    );
    let inv = fleet.inventory("", "");
    let out = fleet.katafleet(&[
        "provision",
        inv.to_str().unwrap(),
        "--force",
        "--json",
        "--batch-size",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let status: Vec<_> = json_hosts(&out)
        .iter()
        .map(|h| h["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(status, ["unreachable", "skipped", "skipped"]);
    let skipped = &json_hosts(&out)[1];
    assert!(
        skipped["error"]
            .as_str()
            .unwrap()
            .contains("rollout stopped after 1 failed host"),
        "{skipped}"
    );
    for i in 1..3 {
        assert_eq!(
            fleet.sh(i, "test -e /opt/kata").status.code(),
            Some(1),
            "host {i} was touched"
        );
    }

    let tolerant = fleet.katafleet(&[
        "provision",
        inv.to_str().unwrap(),
        "--force",
        "--json",
        "--batch-size",
        "1",
        "--max-failures",
        "1",
    ]);
    let status: Vec<_> = json_hosts(&tolerant)
        .iter()
        .map(|h| h["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(status, ["unreachable", "changed", "changed"]);
}

#[test]
fn an_http_source_is_downloaded_once_for_the_whole_fleet_and_cached() {
    let fleet = fleet_or_skip!(2);
    let fixture = common::fixture();
    let port = 18000 + (std::process::id() % 1000) as u16;
    // A real HTTP server on the controller side (the hub namespace), as a
    // stand-in for GitHub's release downloads, which this sandbox cannot reach.
    let log = fleet.dir.path().join("http.log");
    let mut server = std::process::Command::new(common::repo_root().join("vm-tests/fleet/fleet"))
        .args([
            "run",
            &fleet.name,
            "--",
            "python3",
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(&fixture.dir)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let inv = fleet.inventory("", "");
    let text = std::fs::read_to_string(&inv).unwrap().replace(
        &format!("{}/{{asset}}", fixture.dir.display()),
        &format!("http://127.0.0.1:{port}/{{asset}}"),
    );
    std::fs::write(&inv, text).unwrap();
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = std::fs::read_to_string(&log).unwrap();
    let gets = requests
        .lines()
        .filter(|l| l.contains("GET /") && l.contains(".tar.zst"))
        .count();
    assert_eq!(gets, 1, "one download for two hosts: {requests}");
    let cached = fleet
        .dir
        .path()
        .join("cache")
        .join(&fixture.sha256)
        .join("kata-static-4.2.0-amd64.tar.zst");
    assert!(cached.is_file(), "cached by digest at {}", cached.display());
    for i in 0..2 {
        fleet.sh_ok(i, &format!("test -x {SHIM}"));
    }
}

#[test]
fn an_upgrade_swaps_the_release_and_keeps_the_wiring() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let config_before = fleet.sh_ok(0, "cat /etc/containerd/config.toml");

    let newer = common::build_fixture_version("upgrade", "4.3.0", &[]);
    let fixture = common::fixture();
    let text = std::fs::read_to_string(&inv)
        .unwrap()
        .replace("version = \"4.2.0\"", "version = \"4.3.0\"")
        .replace(fixture.sha256.as_str(), &newer.sha256)
        .replace(fixture.dir.to_str().unwrap(), newer.dir.to_str().unwrap());
    std::fs::write(&inv, text).unwrap();
    let plan = fleet.katafleet(&["plan", inv.to_str().unwrap(), "--force"]);
    assert!(
        stdout(&plan).contains("replace Kata 4.2.0 with kata-static-4.3.0-amd64.tar.zst"),
        "{}",
        stdout(&plan)
    );
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(fleet
        .sh_ok(0, "cat /opt/kata/.katafleet-release")
        .contains("version=4.3.0"));
    fleet.sh_ok(
        0,
        "test -f /opt/kata/share/defaults/kata-containers/runtime-rs/config.d/50-katafleet.toml",
    );
    assert_eq!(
        fleet.sh_ok(0, "cat /etc/containerd/config.toml"),
        config_before,
        "the wiring did not need to change"
    );
    assert_eq!(
        fleet
            .sh(0, "ls -d /opt/.katafleet-stage.* 2>/dev/null")
            .stdout
            .len(),
        0,
        "no staging left behind"
    );
}

/// Digests of every file an upgrade touches, and which release /opt/kata is.
fn upgrade_state(fleet: &common::Fleet) -> String {
    fleet.sh_ok(
        0,
        "sha256sum /etc/containerd/config.toml /etc/modules-load.d/katafleet.conf /var/lib/katafleet/manifest.json \
         /opt/kata/share/defaults/kata-containers/runtime-rs/config.d/50-katafleet.toml; \
         readlink /opt/kata; grep version= /opt/kata/.katafleet-release",
    )
}

#[test]
fn rollback_after_an_upgrade_puts_every_file_and_the_release_back() {
    let fleet = fleet_or_skip!(1);
    // A user-edited config, so "byte-for-byte" covers the user's own bytes.
    fleet.sh_ok(
        0,
        "printf '\\n# the operator was here\\n[debug]\\n  level = \"info\"\\n' >> /etc/containerd/config.toml && systemctl restart containerd",
    );
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    let out = fleet.katafleet(&["provision", inv, "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let before = upgrade_state(&fleet);
    assert!(before.contains("kata-releases/4.2.0-rust-"), "{before}");

    // Nothing to roll back before any upgrade, and it says so.
    let out = fleet.katafleet_look(&["rollback", inv, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        json_hosts(&out)[0]["error"]
            .as_str()
            .unwrap()
            .contains("no upgrade of this host is recorded"),
        "{}",
        stdout(&out)
    );

    let newer = common::build_fixture_version("rollback", "4.3.0", &[]);
    let fixture = common::fixture();
    let text = std::fs::read_to_string(inv)
        .unwrap()
        .replace("version = \"4.2.0\"", "version = \"4.3.0\"")
        .replace(fixture.sha256.as_str(), &newer.sha256)
        .replace(fixture.dir.to_str().unwrap(), newer.dir.to_str().unwrap());
    std::fs::write(inv, text).unwrap();
    let out = fleet.katafleet(&["provision", inv, "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let upgraded = upgrade_state(&fleet);
    assert!(upgraded.contains("version=4.3.0"), "{upgraded}");
    // The release rollback returns to is kept beside the current one.
    fleet.sh_ok(
        0,
        "ls -d /opt/kata-releases/4.2.0-rust-* /opt/kata-releases/4.3.0-rust-*",
    );

    let dry = fleet.katafleet_look(&["rollback", inv, "--dry-run"]);
    assert!(
        stdout(&dry).contains("roll back from Kata 4.3.0 to Kata 4.2.0"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(
        upgrade_state(&fleet),
        upgraded,
        "the dry run changed nothing"
    );

    let out = fleet.katafleet_look(&["rollback", inv, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(json_hosts(&out)[0]["status"], "changed", "{}", stdout(&out));
    assert_eq!(
        upgrade_state(&fleet),
        before,
        "every file, the record and the release are as before the upgrade"
    );
    fleet.sh_ok(
        0,
        "systemctl is-active containerd && test ! -e /var/lib/katafleet/txn",
    );
}
