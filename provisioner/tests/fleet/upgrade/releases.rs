//! What an upgrade does to one host: nothing when the version asked for is
//! installed (a dry run included), a running Docker container survives it,
//! and a 3.x layout gives way to 4.x's, with the shim rewired and the way
//! back kept.

use super::*;

#[test]
fn an_upgrade_to_the_installed_version_changes_nothing() {
    let Some((fleet, inv)) = on_420(1, "bookworm", "") else {
        return;
    };
    let before = snapshot(&fleet, 0);
    let since = |f: &Fleet| {
        f.sh_ok(
            0,
            "systemctl show -p ActiveEnterTimestampMonotonic containerd",
        )
    };
    let started = since(&fleet);

    // The dry run of the real upgrade shows its batches and plan, and
    // neither changes the host nor writes a state.
    let out = run(upgrade(
        &fleet,
        &inv,
        &[&to_430()[..], &["--dry-run"]].concat(),
    ));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("replace Kata 4.2.0 with kata-static-4.3.0-amd64.tar.zst"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  batch 1: {}\n", fleet.host(0))),
        "{text}"
    );
    assert!(state_file(&fleet).is_none(), "a dry run writes no state");

    // To the inventory's own version, 4.2.0: already there.
    let out = run(upgrade(&fleet, &inv, &["--json"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let host = &json_hosts(&out)[0];
    assert_eq!(
        (host["status"].as_str(), host["changed"].as_u64()),
        (Some("ok"), Some(0)),
        "{host}"
    );
    assert_eq!(snapshot(&fleet, 0), before);
    assert_eq!(since(&fleet), started, "containerd was not restarted");
}

#[test]
fn a_running_docker_container_survives_an_upgrade() {
    let Some((fleet, inv)) = on_420(1, "sid", "") else {
        return;
    };
    crate::safety::import_busybox(&fleet, 0);
    fleet.sh_ok(
        0,
        "docker run -d --network none --name keep bb:latest sleep 100000",
    );
    let pid = fleet.sh_ok(0, "docker inspect -f '{{.State.Pid}}' keep");
    let out = run(upgrade(
        &fleet,
        &inv,
        &[&to_430()[..], &["--json"]].concat(),
    ));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let host = &json_hosts(&out)[0];
    assert_eq!(host["status"], "upgraded", "{host}");
    let steps: Vec<&str> = host["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"].as_str().unwrap())
        .collect();
    assert!(
        steps.iter().any(|s| s.starts_with("restart containerd")),
        "containerd was restarted against the new release: {steps:?}"
    );
    assert_eq!(release(&fleet, 0), "4.3.0");
    assert_eq!(
        fleet.sh_ok(
            0,
            "docker inspect -f '{{.State.Status}} {{.State.Pid}}' keep"
        ),
        format!("running {pid}"),
        "the container kept running through the upgrade"
    );
    let runtimes = fleet.sh_ok(0, "docker info --format '{{json .Runtimes}}'");
    assert!(runtimes.contains("\"kata\":"), "{runtimes}");
}

#[test]
fn an_upgrade_from_the_3x_layout_to_the_4x_layout_rewires_the_shim_and_rolls_back() {
    let fleet = fleet_or_skip!(1);
    // Kata 3.x: one kata-static with both runtimes, the Go runtime the
    // default (shim in /opt/kata/bin); 4.x: runtime-rs (runtime-rs/bin).
    let old = common::build_fixture_version("v3", "3.32.0", &["--runtime", "both"]);
    let new_name = format!("kata-static-{}-amd64.tar.zst", common::VERSION);
    std::fs::copy(
        common::fixture().dir.join(&new_name),
        old.dir.join(&new_name),
    )
    .unwrap();
    let inv = fleet.inventory("runtime = \"go\"", "");
    let at_4x = std::fs::read_to_string(&inv).unwrap().replace(
        common::fixture().dir.to_str().unwrap(),
        old.dir.to_str().unwrap(),
    );
    let at_3x = at_4x
        .replace(
            &format!("version = \"{}\"", common::VERSION),
            "version = \"3.32.0\"",
        )
        .replace(common::fixture().sha256.as_str(), &old.sha256);
    std::fs::write(&inv, &at_3x).unwrap();
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let config_3x = fleet.sh_ok(0, "cat /etc/containerd/config.toml");
    assert!(
        config_3x.contains("runtime_path = \"/opt/kata/bin/containerd-shim-kata-v2\""),
        "{config_3x}"
    );
    let before = fleet.sh_ok(
        0,
        "sha256sum /etc/containerd/config.toml /var/lib/katafleet/manifest.json; readlink /opt/kata",
    );

    // The 4.x release with the default runtime (runtime-rs).
    std::fs::write(&inv, at_4x.replace("runtime = \"go\"\n", "")).unwrap();
    let out = run(upgrade(&fleet, &inv, &["--json"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(statuses(&out), ["upgraded"], "{}", stdout(&out));
    let config_4x = fleet.sh_ok(0, "cat /etc/containerd/config.toml");
    assert!(
        config_4x.contains("runtime_path = \"/opt/kata/runtime-rs/bin/containerd-shim-kata-v2\""),
        "the handlers follow the new layout: {config_4x}"
    );
    assert_eq!(release(&fleet, 0), common::VERSION);
    let again = fleet.katafleet(&["plan", inv.to_str().unwrap(), "--force"]);
    assert!(stdout(&again).contains("no changes"), "{}", stdout(&again));

    // And back to the 3.x layout, byte-for-byte.
    let out = fleet.katafleet_look(&["rollback", inv.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        fleet.sh_ok(
            0,
            "sha256sum /etc/containerd/config.toml /var/lib/katafleet/manifest.json; readlink /opt/kata",
        ),
        before
    );
    assert_eq!(release(&fleet, 0), "3.32.0");
    fleet.sh_ok(0, "systemctl is-active containerd");
}
