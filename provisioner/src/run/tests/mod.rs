//! The pipeline and rollouts against replayed hosts: what each kind of
//! failure turns into, without a fleet. The host is the fleet's bookworm
//! host after an older provision (tests/fixtures/facts), which still needs
//! one change: containerd's default runtime spelled out.

use std::sync::Arc;

use base64::Engine;

use crate::commands::provision::rolled_out;
use crate::inventory::{Connection, Desired, Host};
use crate::plan::{Action, PlanOptions, Planner};
use crate::release::cache::AssetStore;
use crate::run::error::Stage;
use crate::run::interrupt::Interrupt;
use crate::run::log::RunLog;
use crate::run::pipeline::{HostReport, HostStatus, Mode, Run};
use crate::run::progress;
use crate::run::rollout::Rollout;
use crate::transport::replay::{Exchange, ReplayConnector};
use crate::transport::{Connector, Payload, ScriptOutput, Transport, TransportError};

pub(crate) const PROVISIONED: &str =
    include_str!("../../../tests/fixtures/facts/debian12-nspawn-provisioned.txt");
/// The digest of the release that transcript's host has installed.
const SHA256: &str = "ac7429e6c4f82be0c00132fb8df9433eb14a2fa03b1292bf30bffd04a4a0bffa";

pub(crate) fn desired() -> Desired {
    let mut d = Desired::sample();
    d.kata.sha256 = Some(SHA256.parse().expect("a digest"));
    d
}

pub(crate) fn host(name: &str) -> Host {
    Host {
        name: name.into(),
        node_name: name.into(),
        groups: Vec::new(),
        connection: Connection::local_for_tests(),
        desired: desired(),
    }
}

/// The transcript once the pending change is applied: the containerd
/// config the plan writes, and the ownership record it leaves, in place of
/// the old ones.
pub(crate) fn converged() -> String {
    let facts = crate::facts::parse(PROVISIONED).expect("the fixture parses");
    let plan = crate::plan::plan(&facts, &desired(), PlanOptions { force: true }).expect("a plan");
    let [change] = plan.changes.as_slice() else {
        panic!("expected one pending change: {:?}", plan.changes);
    };
    let Action::Configure { files, .. } = &change.action else {
        panic!("expected the containerd change: {change:?}");
    };
    let text = with_block(PROVISIONED, "containerd-config", &files[0].content);
    with_block(&text, "manifest", &plan.manifest.to_json())
}

/// `transcript` with file block `name` holding `content`.
fn with_block(transcript: &str, name: &str, content: &str) -> String {
    let open = format!("@@file {name}\n");
    let (head, rest) = transcript
        .split_once(&open)
        .unwrap_or_else(|| panic!("no block {name}"));
    let (_, tail) = rest.split_once("@@end\n").expect("the block ends");
    let b64 = base64::engine::general_purpose::STANDARD.encode(content);
    format!("{head}{open}{b64}\n@@end\n{tail}")
}

pub(crate) fn probe(transcript: &str) -> Exchange {
    Exchange::ok(transcript).expecting("@@katafleet-probe")
}

pub(crate) fn apply(stdout: &str, code: i32) -> Exchange {
    Exchange::exit(code, stdout).expecting("kf_begin 1")
}

/// A run over replayed hosts; nothing is drawn, logs go to `dir`.
fn run(mode: Mode, connector: &Arc<ReplayConnector>, dir: &std::path::Path) -> Arc<Run> {
    let (progress, _drawing) = progress::start(&[], true);
    Arc::new(Run {
        mode,
        planner: Planner::Provision,
        options: PlanOptions { force: true },
        parallel: 4,
        assets: Arc::new(AssetStore::new(dir.join("cache"))),
        log: RunLog::create(&dir.join("logs")).expect("a log directory"),
        progress,
        connector: connector.clone(),
        interrupt: Interrupt::never(),
    })
}

async fn provision(connector: ReplayConnector, hosts: &[&str]) -> Vec<HostReport> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let connector = Arc::new(connector);
    let hosts: Vec<Host> = hosts.iter().map(|h| host(h)).collect();
    run(Mode::Provision, &connector, dir.path())
        .all(hosts)
        .await
}

fn outcome(r: &HostReport) -> (HostStatus, Option<String>) {
    (r.status, r.error.as_ref().map(|e| e.to_string()))
}

/// The stage the host failed in, and the step for an apply failure.
fn failed_at(r: &HostReport) -> Option<(Stage, Option<usize>)> {
    r.error.as_ref().map(|e| (e.stage(), e.step()))
}

fn some(text: &str) -> Option<String> {
    Some(text.to_string())
}

#[tokio::test]
async fn an_applied_and_verified_change_is_changed() {
    let after = format!(
        "@@begin 1\n@@step 1 changed configured and restarted containerd\n@@after-facts\n{}",
        converged()
    );
    let connector = ReplayConnector::new().host("h1", vec![probe(PROVISIONED), apply(&after, 0)]);
    let reports = provision(connector, &["h1"]).await;
    assert_eq!(outcome(&reports[0]), (HostStatus::Changed, None));
    assert_eq!(reports[0].changed, 1);
}

#[tokio::test]
async fn a_converged_host_gets_only_the_probe() {
    // A second exchange would be answered with an error; there is none to answer.
    let connector = ReplayConnector::new().host("h1", vec![probe(&converged())]);
    let reports = provision(connector, &["h1"]).await;
    assert_eq!(outcome(&reports[0]), (HostStatus::Ok, None));
}

#[tokio::test]
async fn a_transaction_left_open_on_a_verified_host_is_committed() {
    // A run whose controller went away finished on the host: nothing is
    // left to change, and the next run settles what that run left.
    let left_open = converged().replace("@@end-probe", "@@kv txn_open yes\n@@end-probe");
    let commit =
        Exchange::ok("@@begin 1\n@@step 1 ok verified; the previous state is no longer kept\n")
            .expecting("kf_txn_commit");
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(ReplayConnector::new().host("h1", vec![probe(&left_open), commit]));
    let reports = run(Mode::Provision, &connector, dir.path())
        .all(vec![host("h1")])
        .await;
    assert_eq!(outcome(&reports[0]), (HostStatus::Ok, None));
    assert!(
        !reports[0].warnings.iter().any(|w| w.contains("settling")),
        "{:?}",
        reports[0].warnings
    );
    let seen = connector.seen("h1");
    let seen = seen.lock().unwrap();
    assert_eq!((seen.scripts.len(), seen.unexpected.len()), (2, 0));
}

#[tokio::test]
async fn plan_mode_never_sends_the_apply_script() {
    let dir = tempfile::tempdir().unwrap();
    let connector = Arc::new(ReplayConnector::new().host("h1", vec![probe(PROVISIONED)]));
    let reports = run(Mode::Plan, &connector, dir.path())
        .all(vec![host("h1")])
        .await;
    assert_eq!(outcome(&reports[0]), (HostStatus::Changed, None));
    assert_eq!(connector.seen("h1").lock().unwrap().scripts.len(), 1);
}

#[tokio::test]
async fn an_unreachable_host_is_unreachable_with_the_connect_error() {
    let connector = ReplayConnector::new().unreachable(
        "h1",
        "ssh: connect to host 10.0.0.1 port 22: Connection refused",
    );
    let reports = provision(connector, &["h1"]).await;
    assert_eq!(
        outcome(&reports[0]),
        (
            HostStatus::Unreachable,
            some("cannot connect to h1: ssh: connect to host 10.0.0.1 port 22: Connection refused")
        )
    );
    assert_eq!(failed_at(&reports[0]), Some((Stage::Connect, None)));
}

#[tokio::test]
async fn a_failed_step_fails_the_host_with_that_steps_message() {
    let message = "containerd rejected the new configuration, so the old one is back and containerd was not restarted: invalid plugin config";
    let connector = ReplayConnector::new().host(
        "h1",
        vec![
            probe(PROVISIONED),
            apply(&format!("@@begin 1\n@@step 1 failed {message}\n"), 1),
        ],
    );
    let reports = provision(connector, &["h1"]).await;
    assert_eq!(outcome(&reports[0]), (HostStatus::Failed, some(message)));
    assert_eq!(failed_at(&reports[0]), Some((Stage::Apply, Some(1))));
}

#[tokio::test]
async fn a_host_still_differing_after_apply_fails_verification() {
    // Every step reports success, but the facts afterwards are the old ones.
    let after = format!(
        "@@begin 1\n@@step 1 changed configured and restarted containerd\n@@after-facts\n{PROVISIONED}"
    );
    let connector = ReplayConnector::new().host("h1", vec![probe(PROVISIONED), apply(&after, 0)]);
    let reports = provision(connector, &["h1"]).await;
    assert_eq!(
        outcome(&reports[0]),
        (
            HostStatus::Failed,
            some("verification failed: still differs from the inventory after apply: wire the Kata runtimes `kata`, `kata-qemu` into containerd 1.6.20 (restarts containerd; running containers keep running)")
        )
    );
    assert_eq!(failed_at(&reports[0]), Some((Stage::Verify, None)));
}

#[tokio::test]
async fn a_hung_step_fails_the_host_with_the_timeout() {
    let connector =
        ReplayConnector::new().host("h1", vec![probe(PROVISIONED), Exchange::timeout(600)]);
    let reports = provision(connector, &["h1"]).await;
    assert_eq!(
        outcome(&reports[0]),
        (
            HostStatus::Failed,
            some("h1: timed out after 600 s before the first step (waiting for the host's lock, or starting); the host may still be working on it; its own deadline stops it within 30 s")
        )
    );
    assert_eq!(failed_at(&reports[0]), Some((Stage::Apply, None)));
}

#[tokio::test]
async fn a_step_that_hangs_is_named_and_what_it_printed_is_logged() {
    let partial = "@@begin 1\nstill restarting containerd\n";
    let connector = ReplayConnector::new().host(
        "h1",
        vec![probe(PROVISIONED), Exchange::timeout_after(600, partial)],
    );
    let reports = provision_keeping_logs(connector, &["h1"]).await;
    let (report, log) = &reports[0];
    let error = report
        .error
        .as_ref()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.starts_with("h1: timed out after 600 s in step 1 'wire the Kata runtimes")
            && error.ends_with(
                "the host may still be working on it; its own deadline stops it within 30 s"
            ),
        "{error}"
    );
    assert_eq!(failed_at(report), Some((Stage::Apply, Some(1))));
    assert!(
        log.contains("===== apply stdout (until it broke off) =====\n@@begin 1\nstill restarting containerd\n"),
        "what the host streamed before the deadline is in its log:\n{log}"
    );
}

/// Like `provision`, also returning each host's log.
async fn provision_keeping_logs(
    connector: ReplayConnector,
    hosts: &[&str],
) -> Vec<(HostReport, String)> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let connector = Arc::new(connector);
    let hosts: Vec<Host> = hosts.iter().map(|h| host(h)).collect();
    let reports = run(Mode::Provision, &connector, dir.path())
        .all(hosts)
        .await;
    reports
        .into_iter()
        .map(|r| {
            let log = std::fs::read_to_string(&r.log).unwrap_or_default();
            (r, log)
        })
        .collect()
}

mod interrupt;
mod nixos;
mod rollout;
