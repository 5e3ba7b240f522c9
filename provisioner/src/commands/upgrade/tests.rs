//! The upgrade's own pieces against replayed hosts: the target, the state
//! written as each host finishes, `--resume`, and the node drained before
//! anything changes.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::batch::{Batches, Pauses};
use super::{in_inventory_order, retarget};
use crate::inventory::{BatchSize, Pause};
use crate::kubernetes::{Kubectl, NodeDrain};
use crate::release::cache::AssetStore;
use crate::release::Version;
use crate::report::status::HostStatus;
use crate::run::error::Stage;
use crate::run::interrupt::Interrupt;
use crate::run::log::RunLog;
use crate::run::pipeline::Mode;
use crate::run::rollout::drive::{drive, RunBatch};
use crate::run::rollout::state::{RolloutState, StateFile};
use crate::run::rollout::{Budget, Rollout};
use crate::run::tests::{apply, converged, host, probe, PROVISIONED};
use crate::transport::replay::ReplayConnector;

const V43: Version = Version::new(4, 3, 0);

fn batches(dir: &Path, connector: &Arc<ReplayConnector>, state: Option<Arc<StateFile>>) -> Batches {
    Batches {
        mode: Mode::Provision,
        force: true,
        parallel: 4,
        assets: Arc::new(AssetStore::new(dir.join("cache"))),
        log: RunLog::create(&dir.join("logs")).unwrap(),
        connector: connector.clone(),
        gate: None,
        state,
        quiet: true,
        interrupt: Interrupt::never(),
    }
}

#[test]
fn the_target_is_the_inventorys_version_or_to_with_a_digest() {
    let mut hosts = vec![host("a"), host("b")];
    assert_eq!(retarget(&mut hosts, None, None), Ok(Version::new(4, 2, 0)));
    // The inventory's pin belongs to its version, so it stays for --to 4.2.0...
    let pin = hosts[0].desired.kata.sha256.clone();
    assert_eq!(
        retarget(&mut hosts, Some(Version::new(4, 2, 0)), None),
        Ok(Version::new(4, 2, 0))
    );
    assert_eq!(hosts[0].desired.kata.sha256, pin);
    // ...and is no digest of 4.3.0, which katafleet does not know either.
    let e = retarget(&mut hosts.clone(), Some(V43), None).unwrap_err();
    assert!(
        e.contains("no sha256 for Kata 4.3.0") && e.contains("--sha256"),
        "{e}"
    );
    let sum = "1".repeat(64).parse().unwrap();
    assert_eq!(retarget(&mut hosts, Some(V43), Some(&sum)), Ok(V43));
    assert_eq!(hosts[1].desired.kata.version, V43);
    assert_eq!(hosts[1].desired.kata.sha256, Some(sum));
    // 3.2.0's digests are in katafleet's table.
    assert!(retarget(&mut [host("a")], Some(Version::new(3, 2, 0)), None).is_ok());
}

#[test]
fn hosts_that_want_different_versions_need_to() {
    let mut hosts = vec![host("a"), host("b")];
    hosts[1].desired.kata.version = V43;
    let e = retarget(&mut hosts, None, None).unwrap_err();
    assert!(e.contains("different Kata versions (4.2.0, 4.3.0)"), "{e}");
}

#[tokio::test]
async fn each_host_is_in_the_state_as_soon_as_it_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(
        ReplayConnector::new()
            .host("h1", vec![probe(&converged())])
            .unreachable("h2", "no route to host"),
    );
    let path = dir.path().join("state.json");
    let target = Version::new(4, 2, 0);
    let state = Arc::new(
        StateFile::create(
            path.clone(),
            target,
            RolloutState::new(Path::new("inv.toml"), target),
        )
        .unwrap(),
    );
    // One batch, and no end-of-run save: only the per-host callback wrote.
    let reports = batches(dir.path(), &connector, Some(state))
        .run(vec![host("h1"), host("h2")])
        .await;
    assert_eq!(reports[0].status, HostStatus::Ok);
    let saved = RolloutState::load(&path).unwrap().unwrap();
    assert_eq!(saved.hosts["h1"].status, HostStatus::Ok);
    assert_eq!(saved.hosts["h1"].version.as_deref(), Some("4.2.0"));
    assert_eq!(saved.hosts["h2"].status, HostStatus::Unreachable);
    assert!(saved.hosts["h2"]
        .error
        .as_deref()
        .unwrap()
        .contains("no route to host"));
    assert_eq!(saved.done().collect::<Vec<_>>(), ["h1"]);
}

#[tokio::test]
async fn resume_goes_on_with_the_hosts_not_done_and_reports_the_rest_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let target = Version::new(4, 2, 0);
    let mut earlier = RolloutState::new(Path::new("inv.toml"), target);
    let mut done = crate::run::pipeline::HostReport::not_attempted("h1", String::new());
    done.status = HostStatus::Ok;
    done.error = None;
    earlier.record(&done, target);
    let all = vec![host("h1"), host("h2"), host("h3")];
    let names: std::collections::BTreeSet<String> = earlier.done().map(String::from).collect();
    let (done_earlier, todo): (Vec<_>, Vec<_>) =
        all.iter().cloned().partition(|h| names.contains(&h.name));
    // h1 is never contacted: the replay has no answer for it.
    let connector = Arc::new(
        ReplayConnector::new()
            .host("h2", vec![probe(&converged())])
            .host("h3", vec![probe(&converged())]),
    );
    let rollout = Rollout {
        serial: vec![BatchSize::Hosts(1), BatchSize::Percent(100)],
        budget: Budget::Percent(0),
    };
    let pauses = Pauses {
        interrupt: Interrupt::never(),
        pause: Pause::Seconds(0),
        tty: false,
    };
    let mut b = batches(dir.path(), &connector, None);
    let (reports, driven) = drive(&rollout, &todo, all.len(), &mut b, &pauses).await;
    assert_eq!(driven.batches, [vec!["h2"], vec!["h3"]]);
    let reports = in_inventory_order(&all, reports, &done_earlier);
    let got: Vec<_> = reports
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.status,
                r.error.as_ref().map(|e| e.to_string()),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "h1",
                HostStatus::Skipped,
                Some("done earlier in this rollout".to_string())
            ),
            ("h2", HostStatus::Ok, None),
            ("h3", HostStatus::Ok, None),
        ]
    );
    let mut connected = connector.connected();
    connected.sort();
    assert_eq!(connected, ["h2", "h3"]);
}

/// A stand-in kubectl that logs its arguments and fails `drain` when told.
fn kubectl(dir: &Path, drain_fails: bool) -> Kubectl {
    use std::os::unix::fs::PermissionsExt;
    let program = dir.join("kubectl");
    let fail = if drain_fails {
        "case $3 in drain) echo 'error when evicting pods: global timeout reached: 5s' >&2; exit 1;; esac"
    } else {
        ""
    };
    std::fs::write(
        &program,
        format!(
            "#!/bin/sh\necho \"$3\" >>'{}'\n{fail}\n",
            dir.join("calls").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    Kubectl {
        program,
        kubeconfig: dir.join("kubeconfig"),
    }
}

fn calls(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("calls")).unwrap_or_default()
}

#[tokio::test]
async fn a_drain_that_times_out_fails_the_host_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    // The host still needs a change, so it would be applied after the gate.
    let connector = Arc::new(ReplayConnector::new().host("h1", vec![probe(PROVISIONED)]));
    let mut b = batches(dir.path(), &connector, None);
    b.gate = Some(Arc::new(NodeDrain::new(
        kubectl(dir.path(), true),
        Duration::from_secs(5),
    )));
    let reports = b.run(vec![host("h1")]).await;
    let r = &reports[0];
    assert_eq!(r.status, HostStatus::Failed);
    let e = r.error.as_ref().unwrap();
    assert_eq!(e.stage(), Stage::Kubernetes);
    assert!(e.to_string().contains("global timeout reached"), "{e}");
    assert_eq!(
        connector.seen("h1").lock().unwrap().scripts.len(),
        1,
        "only the probe"
    );
    assert_eq!(calls(dir.path()), "cordon\ndrain\n");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("node h1 stays cordoned")),
        "{:?}",
        r.warnings
    );
}

#[tokio::test]
async fn a_drained_node_is_uncordoned_once_its_host_verified() {
    let dir = tempfile::tempdir().unwrap();
    let after = format!(
        "@@begin 1\n@@step 1 changed configured and restarted containerd\n@@after-facts\n{}",
        converged()
    );
    let connector = Arc::new(
        ReplayConnector::new()
            .host(
                "h1",
                vec![
                    probe(PROVISIONED),
                    apply(&after, 0),
                    crate::transport::replay::Exchange::ok("@@begin 1\n@@step 1 ok verified\n"),
                ],
            )
            .host("h2", vec![probe(&converged())]),
    );
    let mut b = batches(dir.path(), &connector, None);
    b.gate = Some(Arc::new(NodeDrain::new(
        kubectl(dir.path(), false),
        Duration::from_secs(5),
    )));
    let reports = b.run(vec![host("h1")]).await;
    // A change that installs no release is `changed`, not `upgraded`.
    assert_eq!(
        reports[0].status,
        HostStatus::Changed,
        "{:?}",
        reports[0].error
    );
    assert_eq!(calls(dir.path()), "cordon\ndrain\nuncordon\n");
    // Nothing to change: the node is never cordoned.
    let reports = b.run(vec![host("h2")]).await;
    assert_eq!(reports[0].status, HostStatus::Ok);
    assert_eq!(calls(dir.path()), "cordon\ndrain\nuncordon\n");
}

#[test]
fn only_a_verified_release_install_is_upgraded() {
    let mut r = crate::run::pipeline::HostReport::not_attempted("h", String::new());
    r.status = HostStatus::Changed;
    r.error = None;
    super::mark_upgraded(&mut r);
    assert_eq!(r.status, HostStatus::Changed, "no plan, no release");
}

#[tokio::test]
async fn confirm_without_a_terminal_stops_after_the_first_batch_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(ReplayConnector::new().host("h1", vec![probe(&converged())]));
    let rollout = Rollout {
        serial: vec![BatchSize::Hosts(1)],
        budget: Budget::Percent(0),
    };
    let pauses = Pauses {
        interrupt: Interrupt::never(),
        pause: Pause::Confirm,
        tty: false,
    };
    let mut b = batches(dir.path(), &connector, None);
    let (reports, driven) = drive(&rollout, &[host("h1"), host("h2")], 2, &mut b, &pauses).await;
    assert_eq!(reports[0].status, HostStatus::Ok);
    assert_eq!(reports[1].status, HostStatus::Skipped);
    let why = driven.stopped.unwrap();
    assert!(
        why.contains("asks on a terminal, and stdin is not one"),
        "{why}"
    );
    assert!(
        reports[1]
            .error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("not started: the rollout stopped before batch 2"),
        "{:?}",
        reports[1].error
    );
    assert_eq!(connector.connected(), ["h1"]);
}

#[tokio::test]
async fn an_interrupt_during_the_pause_ends_it_and_starts_no_batch() {
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(ReplayConnector::new().host("h1", vec![probe(&converged())]));
    let rollout = Rollout {
        serial: vec![BatchSize::Hosts(1)],
        budget: Budget::Percent(0),
    };
    let interrupt = Interrupt::never();
    let pauses = Pauses {
        interrupt: interrupt.clone(),
        pause: Pause::Seconds(600),
        tty: false,
    };
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        interrupt.set();
    });
    let started = std::time::Instant::now();
    let mut b = batches(dir.path(), &connector, None);
    let (reports, driven) = drive(&rollout, &[host("h1"), host("h2")], 2, &mut b, &pauses).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reports[0].status, HostStatus::Ok);
    assert_eq!(reports[1].status, HostStatus::Skipped);
    let why = driven.stopped.unwrap();
    assert!(
        why.contains("interrupted") && why.contains("--resume"),
        "{why}"
    );
    assert_eq!(connector.connected(), ["h1"]);
}
