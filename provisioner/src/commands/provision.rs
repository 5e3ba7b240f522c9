//! `plan` and `provision`: the same pipeline, stopping before or after apply.

use crate::exit::ExitStatus;
use std::sync::Arc;

use super::args::RunArgs;
use super::session::{self, Session};
use crate::assess::readiness;
use crate::inventory::Host;
use crate::plan::{PlanOptions, Planner};
use crate::release::cache::AssetStore;
use crate::run::pipeline::{HostReport, HostStatus, Mode, Run};
use crate::run::progress;
use crate::{kubernetes, redact, release, report};

pub async fn run(args: RunArgs, mode: Mode) -> anyhow::Result<ExitStatus> {
    let session = match session::open(&args.hosts)? {
        Ok(s) => s,
        Err(status) => return Ok(status),
    };
    let (inv, hosts) = (&session.inventory, &session.hosts);
    let cache_dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(release::fetch::default_cache_dir);
    let options = PlanOptions { force: args.force };
    let reports = pipeline(
        &session,
        mode,
        Planner::Provision,
        options,
        cache_dir,
        args.rollout(),
    )
    .await;
    // Interrupted: no new step, and the cluster is not told about hosts
    // that may be half done.
    let kube_ok = match (&inv.kubernetes.kubeconfig, mode) {
        (Some(_), Mode::Provision) if session.interrupt.is_set() => {
            eprintln!("kubernetes: skipped: the run was interrupted");
            true
        }
        (Some(kubeconfig), Mode::Provision) if inv.kubernetes.runtime_classes => {
            kubernetes_step(kubeconfig, hosts, &reports).await
        }
        _ => true,
    };
    print_reports(&session, &reports, args.hosts.json, mode);
    Ok(session
        .interrupt
        .status(report::exit_status(&reports).max(ExitStatus::hosts(!kube_ok))))
}

/// The results on stdout: the plans (dry run) and the table, or `--json`.
pub(super) fn print_reports(session: &Session, reports: &[HostReport], json: bool, mode: Mode) {
    // Diffs and file contents are masked where they are made; this catches
    // secrets in anything else a host said (errors quoting a config line).
    if json {
        println!("{}", redact::text(&report::provision_json(reports)));
    } else {
        if mode == Mode::Plan {
            print!("{}", redact::text(&report::plan_text(reports)));
        }
        print!("{}", redact::text(&report::summary_table(reports)));
        eprintln!("logs: {}", session.log.dir.display());
    }
}

/// A planner that installs nothing (debug, rollback, uninstall) on every
/// selected host at once, changing nothing with `dry_run`. Readiness is
/// provision's concern, so debug and rollback pass `force`; uninstall's
/// --force is its own.
pub(super) async fn run_planner(
    session: &Session,
    planner: Planner,
    dry_run: bool,
    options: PlanOptions,
) -> (Mode, Vec<HostReport>) {
    let mode = if dry_run { Mode::Plan } else { Mode::Provision };
    let reports = pipeline(
        session,
        mode,
        planner,
        options,
        release::fetch::default_cache_dir(),
        crate::run::rollout::Rollout::default(),
    )
    .await;
    (mode, reports)
}

/// Every selected host through the pipeline, wave by wave, with progress.
pub(super) async fn pipeline(
    session: &Session,
    mode: Mode,
    planner: Planner,
    options: PlanOptions,
    cache_dir: std::path::PathBuf,
    rollout: crate::run::rollout::Rollout,
) -> Vec<HostReport> {
    let names: Vec<String> = session.hosts.iter().map(|h| h.name.clone()).collect();
    let (progress, drawing) = progress::start(&names, false);
    let run = Arc::new(Run {
        mode,
        planner,
        options,
        parallel: session.parallel,
        assets: Arc::new(AssetStore::new(cache_dir)),
        log: session.log.clone(),
        progress,
        connector: Arc::new(crate::transport::Paced::new(
            crate::transport::Direct,
            session.inventory.handshakes,
        )),
        interrupt: session.interrupt.clone(),
    });
    let reports = rolled_out(&run, &session.hosts, rollout).await;
    // Dropping the last sender lets the progress display finish.
    drop(run);
    let _ = drawing.await;
    reports
}

/// Runs the hosts wave by wave; hosts after a stop are reported, not touched.
pub(crate) async fn rolled_out(
    run: &Arc<Run>,
    hosts: &[Host],
    rollout: crate::run::rollout::Rollout,
) -> Vec<HostReport> {
    let mut reports: Vec<HostReport> = Vec::with_capacity(hosts.len());
    for wave in rollout.batches(hosts.len(), hosts.len()) {
        let failures = reports.iter().filter(|r| r.status.is_failure()).count();
        if !rollout.may_continue(failures, hosts.len()) {
            let reason =
                format!("not attempted: the rollout stopped after {failures} failed host(s)");
            reports.extend(
                hosts[wave]
                    .iter()
                    .map(|h| HostReport::not_attempted(&h.name, reason.clone())),
            );
            continue;
        }
        reports.extend(run.clone().all(hosts[wave].to_vec()).await);
    }
    reports
}

/// Applies the RuntimeClasses, then labels the nodes whose hosts verified and
/// can really run Kata. Returns false when kubectl failed.
async fn kubernetes_step(
    kubeconfig: &std::path::Path,
    hosts: &[Host],
    reports: &[HostReport],
) -> bool {
    let mut ok = true;
    match kubernetes::apply(kubeconfig, &kubernetes::runtime_classes(hosts)).await {
        Ok(out) => eprint!("kubernetes: {out}"),
        Err(e) => {
            eprintln!("kubernetes: {e}");
            return false;
        }
    }
    for (host, report) in hosts.iter().zip(reports) {
        let verified =
            matches!(report.status, HostStatus::Ok | HostStatus::Changed) && report.error.is_none();
        let ready = report
            .facts
            .as_ref()
            .is_some_and(|f| readiness::assess(f).is_ready());
        if !(verified && ready) {
            eprintln!(
                "kubernetes: node {} not labelled: the host is not verified and ready",
                host.node_name
            );
            continue;
        }
        if let Err(e) = kubernetes::label(kubeconfig, &host.node_name).await {
            eprintln!("kubernetes: {e}");
            ok = false;
        }
    }
    ok
}
