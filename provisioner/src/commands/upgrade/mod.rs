//! `katafleet upgrade INVENTORY [--to VERSION]`: a rolling upgrade. The
//! selected hosts go in the batches of `[rollout]` (a canary first), each
//! through the provision pipeline (facts, readiness, the new release, the
//! configs re-rendered, restart, verify, rollback when verification fails),
//! with its Kubernetes node drained first when there is a kubeconfig. The
//! rollout stops once failures exceed `max_fail_percentage`; its state is
//! saved after every host so `--resume` continues where it stopped.

mod batch;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::args::HostArgs;
use super::session;
use crate::exit::ExitStatus;
use crate::inventory::Host;
use crate::kubernetes::{Kubectl, NodeDrain};
use crate::release::cache::AssetStore;
use crate::release::checksums::{self, Sha256};
use crate::release::Version;
use crate::report::rollout::RolloutSummary;
use crate::run::pipeline::{HostReport, Mode};
use crate::run::rollout::drive::drive;
use crate::run::rollout::state::{self, RolloutState, StateFile};
use crate::run::rollout::{Budget, Rollout};
use crate::{release, report};

pub use batch::mark_upgraded;

#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    pub hosts: HostArgs,
    /// The Kata version to move to (default: the inventory's [kata] version).
    #[arg(long, value_name = "VERSION")]
    pub to: Option<Version>,
    /// The release asset's sha256 for --to (needed unless katafleet knows
    /// the version's digest or the inventory pins it for that version).
    #[arg(long, value_name = "SUM", requires = "to")]
    pub sha256: Option<Sha256>,
    /// Print the batches and each host's plan; change nothing, write no state.
    #[arg(long)]
    pub dry_run: bool,
    /// Continue the interrupted or stopped rollout of this inventory to this
    /// version: hosts it already upgraded are left alone.
    #[arg(long)]
    pub resume: bool,
    /// Upgrade even hosts that are not ready for Kata (they are still reported).
    #[arg(long)]
    pub force: bool,
    /// Where fetched release assets are cached (default: ~/.cache/katafleet/assets).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

pub async fn run(opts: Opts) -> anyhow::Result<ExitStatus> {
    let mut session = match session::open(&opts.hosts)? {
        Ok(s) => s,
        Err(status) => return Ok(status),
    };
    let target = match retarget(&mut session.hosts, opts.to, opts.sha256.as_ref()) {
        Ok(v) => v,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(ExitStatus::Usage);
        }
    };
    let inventory_path = &opts.hosts.inventory;
    let state_path = state::path_for(&crate::run::log::state_home(), inventory_path, target);
    let earlier = RolloutState::load(&state_path)?;
    let earlier = match (opts.resume, earlier) {
        (true, Some(s)) => Some(s),
        (true, None) => {
            eprintln!(
                "error: there is no rollout of {} to Kata {target} to resume ({} does not exist); run without --resume to start one",
                inventory_path.display(),
                state_path.display()
            );
            return Ok(ExitStatus::Usage);
        }
        (false, Some(_)) if !opts.dry_run => {
            eprintln!(
                "note: starting the rollout to Kata {target} afresh; the state of an earlier one ({}) is replaced (--resume continues it instead)",
                state_path.display()
            );
            None
        }
        (false, _) => None,
    };
    let done: BTreeSet<String> = earlier
        .as_ref()
        .map(|s| s.done().map(String::from).collect())
        .unwrap_or_default();
    let selected = session.hosts.len();
    let (done_earlier, todo): (Vec<Host>, Vec<Host>) = session
        .hosts
        .iter()
        .cloned()
        .partition(|h| done.contains(&h.name));
    let settings = session.inventory.rollout.clone();
    let rollout = Rollout {
        serial: settings.serial.clone(),
        budget: Budget::Percent(settings.max_fail_percentage),
    };

    let state = if opts.dry_run {
        None
    } else {
        let start = earlier.unwrap_or_else(|| RolloutState::new(inventory_path, target));
        Some(Arc::new(
            StateFile::create(state_path.clone(), target, start)
                .context("cannot keep the rollout's state, so no host was touched")?,
        ))
    };
    let kube = &session.inventory.kubernetes;
    let gate = match (&kube.kubeconfig, opts.dry_run) {
        (Some(kubeconfig), false) => Some(Arc::new(NodeDrain::new(
            Kubectl::new(kubeconfig),
            kube.drain_timeout,
        ))),
        _ => None,
    };
    let mut batches = batch::Batches {
        mode: if opts.dry_run {
            Mode::Plan
        } else {
            Mode::Provision
        },
        force: opts.force,
        parallel: session.parallel,
        assets: Arc::new(AssetStore::new(
            opts.cache_dir
                .clone()
                .unwrap_or_else(release::fetch::default_cache_dir),
        )),
        log: session.log.clone(),
        connector: Arc::new(crate::transport::Direct),
        gate,
        state: state.clone(),
        quiet: false,
        interrupt: session.interrupt.clone(),
    };

    let (reports, driven) = if opts.dry_run {
        // Every host is planned at once; the batches are only shown.
        use crate::run::rollout::drive::RunBatch;
        let driven = crate::run::rollout::drive::Driven {
            batches: rollout
                .batches(todo.len(), selected)
                .into_iter()
                .map(|r| todo[r].iter().map(|h| h.name.clone()).collect())
                .collect(),
            batches_done: 0,
            failed: 0,
            stopped: None,
        };
        (batches.run(todo.clone()).await, driven)
    } else {
        let pauses = batch::Pauses {
            pause: settings.pause,
            tty: std::io::IsTerminal::is_terminal(&std::io::stdin()),
            interrupt: session.interrupt.clone(),
        };
        drive(&rollout, &todo, selected, &mut batches, &pauses).await
    };
    if let Some(state) = &state {
        if let Err(e) = state.finish(&reports, driven.stopped.clone()) {
            eprintln!("warning: {e}");
        }
    }

    let reports = in_inventory_order(&session.hosts, reports, &done_earlier);
    let summary = RolloutSummary {
        target: target.to_string(),
        hosts: selected,
        max_fail_percentage: settings.max_fail_percentage,
        failures_allowed: settings.max_fail_percentage as usize * selected / 100,
        done_earlier: done_earlier.iter().map(|h| h.name.clone()).collect(),
        dry_run: opts.dry_run,
        state_file: state.as_ref().map(|s| s.path.display().to_string()),
        driven,
    };
    if opts.hosts.json {
        println!("{}", report::rollout::json(&summary, &reports));
    } else {
        if opts.dry_run {
            print!("{}", report::plan_text(&reports));
        }
        print!("{}", report::summary_table(&reports));
        print!("{}", report::rollout::text(&summary, &reports));
        eprintln!("logs: {}", session.log.dir.display());
    }
    let stopped = summary.driven.stopped.is_some();
    Ok(session
        .interrupt
        .status(report::exit_status(&reports).max(ExitStatus::hosts(stopped))))
}

/// Points every selected host at the target release and returns it; a
/// usage error says why there is no single target with a digest.
fn retarget(
    hosts: &mut [Host],
    to: Option<Version>,
    sha256: Option<&Sha256>,
) -> Result<Version, String> {
    let Some(to) = to else {
        let versions: BTreeSet<Version> = hosts.iter().map(|h| h.desired.kata.version).collect();
        let mut all = versions.iter();
        return match (all.next(), all.next()) {
            (Some(v), None) => Ok(*v),
            _ => {
                let listed: Vec<String> = versions.iter().map(Version::to_string).collect();
                Err(format!(
                    "the selected hosts want different Kata versions ({}); upgrade one at a time with --limit, or pass --to",
                    listed.join(", ")
                ))
            }
        };
    };
    for host in hosts.iter_mut() {
        let kata = &mut host.desired.kata;
        // A pin belongs to the version it was written with.
        let pinned = if kata.version == to {
            kata.sha256.clone()
        } else {
            None
        };
        kata.sha256 = sha256.cloned().or(pinned);
        kata.version = to;
    }
    let unpinned = hosts.iter().any(|h| h.desired.kata.sha256.is_none());
    if unpinned && !checksums::knows_version(to) {
        return Err(format!(
            "no sha256 for Kata {to}: katafleet has no known checksum for it and the inventory pins none for it; pass the release asset's digest with --sha256"
        ));
    }
    Ok(to)
}

/// This run's reports and the hosts done earlier, in the inventory's order.
fn in_inventory_order(
    hosts: &[Host],
    mut reports: Vec<HostReport>,
    done_earlier: &[Host],
) -> Vec<HostReport> {
    reports.extend(
        done_earlier
            .iter()
            .map(|h| HostReport::not_attempted(&h.name, "done earlier in this rollout".into())),
    );
    let position = |name: &str| hosts.iter().position(|h| h.name == name);
    reports.sort_by_key(|r| position(&r.name));
    reports
}

#[cfg(test)]
mod tests;
