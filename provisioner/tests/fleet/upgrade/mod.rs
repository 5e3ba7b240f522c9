//! `katafleet upgrade` on real hosts, 4.2.0 → 4.3.0: a canary the new
//! release breaks stops the rollout and is put back byte-for-byte while
//! the others stay untouched; `max_fail_percentage` at its boundaries; a
//! rollout interrupted between batches and continued with `--resume`.
//! What an upgrade does to one host (`releases`): nothing when the version
//! is installed, a running Docker container survives it, and the 3.x
//! layout gives way to 4.x's.
//!
//! The fault is a systemd drop-in on chosen hosts that makes containerd
//! refuse to start while the 4.3.0 release is in place. There is no
//! Kubernetes cluster here: kubectl is a stand-in that records its calls.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{self, json_hosts, stderr, stdout, Fixture, Fleet};

mod releases;

/// The 4.3.0 fixture, next to 4.2.0's, so one `source` serves both.
fn newer() -> &'static Fixture {
    static NEWER: OnceLock<Fixture> = OnceLock::new();
    NEWER.get_or_init(|| {
        let built = common::build_fixture_version("upgrade-to", "4.3.0", &[]);
        let name = "kata-static-4.3.0-amd64.tar.zst";
        let base = &common::fixture().dir;
        std::fs::copy(built.dir.join(name), base.join(name)).unwrap();
        Fixture {
            dir: base.clone(),
            sha256: built.sha256,
        }
    })
}

/// containerd will not start on host `i` while Kata 4.3.0 is in /opt/kata.
fn break_430_on(fleet: &Fleet, i: usize) {
    fleet.sh_ok(
        i,
        "mkdir -p /etc/systemd/system/containerd.service.d && printf '[Service]\\nExecStartPre=/bin/sh -c \"! grep -q 4.3.0 /opt/kata/.katafleet-release\"\\n' > /etc/systemd/system/containerd.service.d/99-fault.conf && systemctl daemon-reload",
    );
}

/// Digests of every file an upgrade touches, the release /opt/kata is,
/// the releases kept, and whether containerd runs.
fn snapshot(fleet: &Fleet, i: usize) -> String {
    fleet.sh_ok(
        i,
        "sha256sum /etc/containerd/config.toml /etc/modules-load.d/katafleet.conf /var/lib/katafleet/manifest.json \
         /opt/kata/share/defaults/kata-containers/runtime-rs/config.d/50-katafleet.toml /opt/kata/.katafleet-release; \
         readlink /opt/kata; ls /opt/kata-releases; systemctl is-active containerd; true",
    )
}

fn release(fleet: &Fleet, i: usize) -> String {
    fleet
        .sh_ok(i, "sed -n 's/^version=//p' /opt/kata/.katafleet-release")
        .trim()
        .to_string()
}

/// A fleet of `n` hosts on Kata 4.2.0 (provisioned), and its inventory.
fn on_420(n: usize, suite: &str, tail: &str) -> Option<(Fleet, PathBuf)> {
    let fleet = match common::availability() {
        common::Availability::Run => Fleet::up(n, suite),
        common::Availability::Skip(why) => {
            eprintln!("SKIPPED: {why}");
            return None;
        }
        common::Availability::Fail(why) => panic!("{why}"),
    };
    let inv = fleet.inventory("", tail);
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    Some((fleet, inv))
}

/// `katafleet upgrade INV ARGS` with its state under the fleet's directory
/// and a stand-in kubectl on PATH.
fn upgrade(fleet: &Fleet, inv: &Path, args: &[&str]) -> Command {
    let mut all = vec!["upgrade", inv.to_str().unwrap(), "--force"];
    all.extend_from_slice(args);
    let mut cmd = fleet.katafleet_command(&all);
    let bin = kubectl_stub(fleet);
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("XDG_STATE_HOME", fleet.dir.path().join("state"))
        .env("PATH", format!("{}:{path}", bin.display()));
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run katafleet upgrade")
}

/// To 4.3.0 with its digest.
fn to_430() -> Vec<&'static str> {
    vec!["--to", "4.3.0", "--sha256", newer().sha256.as_str()]
}

/// A kubectl that records each call in `kubectl.log` and succeeds.
fn kubectl_stub(fleet: &Fleet) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = fleet.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = fleet.dir.path().join("kubectl.log");
    let program = bin.join("kubectl");
    std::fs::write(
        &program,
        format!("#!/bin/sh\nshift 2\necho \"$*\" >>'{}'\n", log.display()),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn kubectl_calls(fleet: &Fleet) -> Vec<String> {
    std::fs::read_to_string(fleet.dir.path().join("kubectl.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn statuses(out: &Output) -> Vec<String> {
    json_hosts(out)
        .iter()
        .map(|h| h["status"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn rollout(out: &Output) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)));
    v["rollout"].clone()
}

/// The rollout's state file (there is one per inventory and target).
fn state_file(fleet: &Fleet) -> Option<PathBuf> {
    let dir = fleet.dir.path().join("state/katafleet/rollouts");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with("-4.3.0.json"))
}

fn state(fleet: &Fleet) -> serde_json::Value {
    let path = state_file(fleet).expect("a rollout state file");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_canary_the_new_release_breaks_stops_the_rollout_and_is_put_back() {
    let Some((fleet, inv)) = on_420(
        3,
        "bookworm",
        "\n[kubernetes]\nkubeconfig = \"kubeconfig\"\n",
    ) else {
        return;
    };
    break_430_on(&fleet, 0);
    let before: Vec<String> = (0..3).map(|i| snapshot(&fleet, i)).collect();
    assert!(
        before[0].contains("kata-releases/4.2.0-rust-") && before[0].contains("\nactive"),
        "{}",
        before[0]
    );

    let out = run(upgrade(
        &fleet,
        &inv,
        &[&to_430()[..], &["--json"]].concat(),
    ));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        statuses(&out),
        ["rolled-back", "skipped", "skipped"],
        "{}",
        stdout(&out)
    );
    let canary = &json_hosts(&out)[0];
    assert_eq!(canary["stage"], "apply", "{canary}");
    assert!(
        canary["error"]
            .as_str()
            .unwrap()
            .contains("containerd failed to come up with the new Kata release in place"),
        "{canary}"
    );
    let skipped = json_hosts(&out)[1]["error"].as_str().unwrap().to_string();
    assert!(
        skipped.contains("the rollout stopped before batch 2: 1 of 3 host(s) failed"),
        "{skipped}"
    );
    let r = rollout(&out);
    assert_eq!(
        (r["batches_done"].as_u64(), r["failed"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(
        r["batches"][0][0],
        fleet.host(0),
        "the canary is the first host: {r}"
    );

    assert_eq!(
        snapshot(&fleet, 0),
        before[0],
        "the canary is back on 4.2.0 byte-for-byte, containerd running"
    );
    assert_eq!(release(&fleet, 0), "4.2.0");
    fleet.sh_ok(0, "test ! -e /var/lib/katafleet/txn");
    for (i, was) in before.iter().enumerate().skip(1) {
        assert_eq!(&snapshot(&fleet, i), was, "host {i} was untouched");
    }
    // The canary's node was drained before anything changed and handed
    // back after the rollback; no other node was touched.
    let node = fleet.host(0);
    assert_eq!(
        kubectl_calls(&fleet),
        [
            format!("cordon {node} --request-timeout=30s"),
            format!("drain {node} --ignore-daemonsets --delete-emptydir-data --timeout=300s"),
            format!("uncordon {node} --request-timeout=30s"),
        ]
    );
    let saved = state(&fleet);
    assert_eq!(saved["hosts"][node]["status"], "rolled-back", "{saved}");
    assert_eq!(saved["hosts"][node]["version"], "4.2.0", "{saved}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(state_file(&fleet).unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn max_fail_percentage_lets_exactly_the_budget_fail_and_stops_one_over() {
    // 25% of 4 hosts: one failed host is exactly the budget, two are over.
    let Some((fleet, inv)) = on_420(
        4,
        "bookworm",
        "\n[rollout]\nserial = 1\nmax_fail_percentage = 25\n",
    ) else {
        return;
    };
    break_430_on(&fleet, 0);
    break_430_on(&fleet, 2);
    let last = snapshot(&fleet, 3);
    let out = run(upgrade(
        &fleet,
        &inv,
        &[&to_430()[..], &["--json"]].concat(),
    ));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        statuses(&out),
        ["rolled-back", "upgraded", "rolled-back", "skipped"],
        "{}",
        stdout(&out)
    );
    let r = rollout(&out);
    assert_eq!(
        (r["batches_done"].as_u64(), r["failures_allowed"].as_u64()),
        (Some(3), Some(1)),
        "{r}"
    );
    assert!(
        r["stopped"]
            .as_str()
            .unwrap()
            .starts_with("2 of 4 host(s) failed, over the budget"),
        "{r}"
    );
    assert_eq!(
        [0, 1, 2].map(|i| release(&fleet, i)),
        ["4.2.0", "4.3.0", "4.2.0"]
    );
    assert_eq!(
        snapshot(&fleet, 3),
        last,
        "the host after the stop was untouched"
    );
}

#[test]
fn an_interrupted_rollout_resumes_with_only_the_hosts_left() {
    let Some((fleet, inv)) = on_420(
        3,
        "bookworm",
        "\n[rollout]\nserial = [1, \"100%\"]\npause_between_batches = 10\n",
    ) else {
        return;
    };
    let mut cmd = upgrade(&fleet, &inv, &to_430());
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // The canary's result is in the state as soon as it finishes; the
    // pause before the next batch is the window for Ctrl-C.
    let canary = fleet.host(0).to_string();
    let started = Instant::now();
    loop {
        let done = state_file(&fleet)
            .is_some_and(|_| state(&fleet)["hosts"][&canary]["status"] == "upgraded");
        if done {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the canary never finished"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "SIGINT sent");
    let out = child.wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert!(
        out.status.code() == Some(130) || out.status.signal() == Some(2),
        "interrupted: {:?}\n{}",
        out.status,
        stderr(&out)
    );
    assert_eq!(
        [0, 1, 2].map(|i| release(&fleet, i)),
        ["4.3.0", "4.2.0", "4.2.0"]
    );
    let canary_run = fleet.sh_ok(0, "cat /var/lib/katafleet/last-provision");

    let out = run(upgrade(
        &fleet,
        &inv,
        &[&to_430()[..], &["--resume", "--json"]].concat(),
    ));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        statuses(&out),
        ["skipped", "upgraded", "upgraded"],
        "{}",
        stdout(&out)
    );
    assert_eq!(json_hosts(&out)[0]["error"], "done earlier in this rollout");
    let r = rollout(&out);
    assert_eq!(r["done_earlier"][0], canary, "{r}");
    assert_eq!(
        r["batches"].as_array().unwrap().len(),
        2,
        "a canary again, then the rest: {r}"
    );
    assert_eq!(
        [0, 1, 2].map(|i| release(&fleet, i)),
        ["4.3.0", "4.3.0", "4.3.0"]
    );
    assert_eq!(
        fleet.sh_ok(0, "cat /var/lib/katafleet/last-provision"),
        canary_run,
        "the canary was not touched again"
    );
    let saved = state(&fleet);
    for i in 0..3 {
        assert_eq!(saved["hosts"][fleet.host(i)]["version"], "4.3.0", "{saved}");
    }
}
