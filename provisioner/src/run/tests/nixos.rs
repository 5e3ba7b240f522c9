//! NixOS on the replayed host: the activation committed over a fresh
//! connection, put back when it fails, and a pending one settled first.

use super::*;

const NIXOS: &str = include_str!("../../../tests/golden/nixos/facts.txt");
/// The same host after a run that activated its system and was cut off.
const NIXOS_PENDING: &str = include_str!("../../../tests/golden/nixos-pending/facts.txt");
const TESTED: &str =
    "/nix/store/w4l6ibd5d0pnkxqvh4ra3xvz3ai1cyn9-nixos-system-nix-1-25.05.20250920.0147c2f";

fn nixos_host() -> Host {
    let mut h = host("n1");
    h.desired.kata.kvm_users = vec!["alice".into()];
    h
}

/// `transcript` without file block `name`.
fn without_block(transcript: &str, name: &str) -> String {
    let open = format!("@@file {name}\n");
    let (head, rest) = transcript
        .split_once(&open)
        .unwrap_or_else(|| panic!("no block {name}"));
    let (_, tail) = rest.split_once("@@end\n").expect("the block ends");
    format!("{head}{tail}")
}

/// What the host shows right after this run's activation: the pending
/// transcript, whose configuration now builds the system it runs.
fn nixos_activated() -> String {
    with_block(
        NIXOS_PENDING,
        "nixos-eval",
        &format!("{{\"containerd\":true,\"docker\":false,\"kata\":\"4.2.0\",\"toplevel\":\"{TESTED}\"}}\n"),
    )
}

/// A NixOS provision; `sessions` are the host's connections in order (the
/// commit comes over a fresh one).
async fn provision_nixos(sessions: Vec<Vec<Exchange>>) -> (HostReport, Vec<String>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let connector = Arc::new(
        sessions
            .into_iter()
            .fold(ReplayConnector::new(), |c, s| c.host("n1", s)),
    );
    let report = run(Mode::Provision, &connector, dir.path())
        .all(vec![nixos_host()])
        .await
        .remove(0);
    let seen = connector.seen("n1");
    let seen = seen.lock().unwrap();
    assert!(seen.unexpected.is_empty(), "{:?}", seen.unexpected);
    (report, seen.scripts.clone())
}

fn activated(after: &str) -> Exchange {
    apply(
        &format!("@@begin 1\n@@step 1 changed built {TESTED} once and activated it with switch-to-configuration test\n@@after-facts\n{after}"),
        0,
    )
    .expecting("kf_nixos_activate 1")
}

#[tokio::test]
async fn a_verified_nixos_activation_becomes_the_boot_default() {
    let (report, scripts) = provision_nixos(vec![
        vec![probe(NIXOS), activated(&nixos_activated())],
        vec![Exchange::ok("@@begin 1\n@@step 1 ok verified\n").expecting("kf_txn_commit")],
    ])
    .await;
    assert_eq!(outcome(&report), (HostStatus::Changed, None));
    assert_eq!(scripts.len(), 3);
    // The host puts the previous system back by itself unless the commit
    // comes in time.
    assert!(
        scripts[1].contains("kf_nixos_activate 1 180 "),
        "{}",
        scripts[1]
    );
    // Built once, in the apply script; nixos-rebuild builds nothing.
    assert!(!scripts
        .iter()
        .any(|s| s.contains("nixos-rebuild test") || s.contains("nixos-rebuild switch")));
}

#[tokio::test]
async fn a_nixos_boot_default_that_cannot_be_set_fails_the_host() {
    let (report, _) = provision_nixos(vec![
        vec![probe(NIXOS), activated(&nixos_activated())],
        vec![Exchange::exit(
            1,
            "@@begin 1\n@@step 1 failed nix-env --set failed: disk full\n",
        )
        .expecting("kf_txn_commit")],
    ])
    .await;
    assert_eq!(report.status, HostStatus::Failed);
    assert_eq!(failed_at(&report), Some((Stage::Activate, None)));
    let error = report.error.unwrap().to_string();
    assert!(
        error.contains("committing it failed") && error.contains("disk full"),
        "{error}"
    );
}

#[tokio::test]
async fn a_nixos_host_that_refuses_a_fresh_connection_after_activation_is_put_back() {
    // The new system broke sshd for new logins; the old connection still
    // works, and carries the revert.
    let (report, scripts) = provision_nixos(vec![vec![
        probe(NIXOS),
        activated(&nixos_activated()),
        Exchange::ok("@@begin 1\n@@step 1 changed put back\n").expecting("kf_txn_revert"),
    ]])
    .await;
    assert_eq!(report.status, HostStatus::RolledBack);
    assert_eq!(failed_at(&report), Some((Stage::Activate, None)));
    let error = report.error.unwrap().to_string();
    assert!(error.contains("a fresh SSH connection"), "{error}");
    assert!(!scripts
        .iter()
        .any(|s| s.contains("kf_txn_commit 2>&1); then kf_report 1 failed \"$kf_out\"")));
}

#[tokio::test]
async fn a_nixos_activation_that_fails_verification_is_put_back() {
    // containerd does not show the handlers after the activation.
    let after = with_block(&nixos_activated(), "containerd-dump", "version = 3\n");
    let (report, _) = provision_nixos(vec![vec![
        probe(NIXOS),
        activated(&after),
        Exchange::ok("@@begin 1\n@@step 1 changed put back\n").expecting("kf_txn_revert"),
    ]])
    .await;
    assert_eq!(report.status, HostStatus::RolledBack);
    assert_eq!(failed_at(&report), Some((Stage::Verify, None)));
}

#[tokio::test]
async fn a_pending_nixos_activation_is_settled_before_anything_else() {
    // Settled by switching to it; afterwards nothing is left to change.
    let settled = without_block(&nixos_activated(), "nixos-pending");
    let (report, scripts) = provision_nixos(vec![vec![
        probe(NIXOS_PENDING),
        Exchange::ok(&format!(
            "@@begin 1\n@@step 1 changed finished the pending activation: {TESTED} is the boot default now\n@@after-facts\n{settled}"
        ))
        .expecting("kf_txn_commit"),
    ]])
    .await;
    assert_eq!(outcome(&report), (HostStatus::Changed, None));
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("left a NixOS activation pending")
                && w.contains("is the boot default now")),
        "{:?}",
        report.warnings
    );
    // The settling script belongs to the earlier run's transaction.
    assert!(!scripts[1].contains("\nkf_txn_begin\n"), "{}", scripts[1]);
}

#[tokio::test]
async fn plan_mode_shows_how_a_pending_activation_would_be_settled() {
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(ReplayConnector::new().host("n1", vec![probe(NIXOS_PENDING)]));
    let report = run(Mode::Plan, &connector, dir.path())
        .all(vec![nixos_host()])
        .await
        .remove(0);
    assert_eq!(report.status, HostStatus::Changed);
    let plan = report.plan.expect("a plan");
    assert!(matches!(
        plan.changes[0].action,
        Action::NixosFinish { switch: true, .. }
    ));
}
