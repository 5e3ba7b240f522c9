//! Rollouts in waves against replayed hosts: a failed wave stops the rest,
//! `max_failures` is tolerated, and which broken-off upgrade is put back.

use super::*;

#[tokio::test]
async fn a_rollout_stops_after_a_failed_wave_and_skips_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(
        ReplayConnector::new()
            .host("h1", vec![probe(&converged())])
            .unreachable("h2", "no route to host")
            .host("h3", vec![probe(&converged())])
            .host("h4", vec![probe(&converged())]),
    );
    let run = run(Mode::Provision, &connector, dir.path());
    let hosts: Vec<Host> = ["h1", "h2", "h3", "h4"].iter().map(|h| host(h)).collect();
    // --batch-size 1 (no --max-failures): waves of one, no failure tolerated.
    let rollout = Rollout::waves(1, 0);
    let reports = rolled_out(&run, &hosts, rollout).await;
    let skipped = some("not attempted: the rollout stopped after 1 failed host(s)");
    let got: Vec<_> = reports.iter().map(outcome).collect();
    assert_eq!(
        got,
        [
            (HostStatus::Ok, None),
            (
                HostStatus::Unreachable,
                some("cannot connect to h2: no route to host")
            ),
            (HostStatus::Skipped, skipped.clone()),
            (HostStatus::Skipped, skipped),
        ]
    );
    assert_eq!(failed_at(&reports[3]), Some((Stage::Rollout, None)));
    let mut connected = connector.connected();
    connected.sort();
    assert_eq!(connected, ["h1"], "skipped hosts are never contacted");
}

#[tokio::test]
async fn a_rollout_tolerates_up_to_max_failures() {
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(
        ReplayConnector::new()
            .unreachable("h1", "no route to host")
            .host("h2", vec![probe(&converged())]),
    );
    let run = run(Mode::Provision, &connector, dir.path());
    let rollout = Rollout::waves(1, 1);
    let reports = rolled_out(&run, &[host("h1"), host("h2")], rollout).await;
    assert_eq!(reports[1].status, HostStatus::Ok);
}

fn change(action: Action) -> crate::plan::Change {
    crate::plan::Change {
        action,
        reason: String::new(),
        diff: None,
    }
}

#[test]
fn only_a_step_after_the_release_swap_puts_an_upgrade_back() {
    let install = Action::InstallKata {
        asset: crate::release::Asset {
            version: crate::release::Version::new(4, 3, 0),
            runtime: crate::release::Runtime::Rust,
            arch: crate::release::Arch::Amd64,
        },
        sha256: "0".repeat(64).parse().unwrap(),
        replaces_foreign: false,
        delivery: crate::plan::Delivery::Streamed,
    };
    let plan = crate::plan::Plan {
        changes: vec![change(install), change(Action::RecordOwnership)],
        ..crate::plan::Plan::default()
    };
    assert!(crate::run::pipeline::broke_off_after_swap(&plan, Some(2)));
    // The install itself failing leaves the old release in place.
    assert!(!crate::run::pipeline::broke_off_after_swap(&plan, Some(1)));
    assert!(!crate::run::pipeline::broke_off_after_swap(&plan, None));
    let no_install = crate::plan::Plan {
        changes: vec![change(Action::RecordOwnership)],
        ..crate::plan::Plan::default()
    };
    assert!(!crate::run::pipeline::broke_off_after_swap(
        &no_install,
        Some(1)
    ));
}
