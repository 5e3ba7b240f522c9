//! What every host command does around its own work: read the inventory,
//! pick the hosts, open the run's log directory, listen for Ctrl-C and
//! SIGTERM, run the job on every host through the fan-out with progress on
//! stderr.

use crate::exit::ExitStatus;
use std::sync::Arc;

use anyhow::Context;

use super::args::HostArgs;
use crate::inventory::{self, Host, Inventory, InventoryError};
use crate::run::fanout::{Fanout, HostJob};
use crate::run::interrupt::Interrupt;
use crate::run::{log as runlog, progress};

/// A loaded inventory, the selected hosts and this run's log directory.
pub struct Session {
    pub inventory: Inventory,
    pub hosts: Vec<Host>,
    pub log: runlog::RunLog,
    pub parallel: usize,
    /// Raised by the first Ctrl-C or SIGTERM (see `run::interrupt`).
    pub interrupt: Interrupt,
}

/// Loads the inventory and selects hosts. A usage or inventory error is
/// printed and returned as the exit code.
pub fn open(args: &HostArgs) -> anyhow::Result<Result<Session, ExitStatus>> {
    let inventory = match inventory::load(&args.inventory) {
        Ok(inv) => inv,
        Err(e @ (InventoryError::Invalid { .. } | InventoryError::Read { .. })) => {
            eprintln!("{e}");
            return Ok(Err(ExitStatus::Usage));
        }
    };
    let hosts = match inventory::select(&inventory.hosts, args.limit.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Err(ExitStatus::Usage));
        }
    };
    let log = runlog::RunLog::create(&args.log_dir.clone().unwrap_or_else(runlog::default_dir))
        .context("cannot create the run's log directory")?;
    let parallel = args.parallel.map_or(inventory.parallel, usize::from);
    Ok(Ok(Session {
        inventory,
        hosts,
        log,
        parallel,
        interrupt: Interrupt::on_signals(),
    }))
}

impl Session {
    /// Runs `job` on every selected host; reports come back in inventory order.
    pub async fn run<J: HostJob>(&self, job: J) -> Vec<J::Report> {
        let names: Vec<String> = self.hosts.iter().map(|h| h.name.clone()).collect();
        let (progress, drawing) = progress::start(&names, false);
        let fanout = Fanout {
            parallel: self.parallel,
            log: self.log.clone(),
            progress,
            connector: Arc::new(crate::transport::Paced::new(
                crate::transport::Direct,
                self.inventory.handshakes,
            )),
            interrupt: self.interrupt.clone(),
        };
        let reports = fanout.each(Arc::new(job), self.hosts.clone()).await;
        // The last sender goes with the fan-out; then the display can finish.
        drop(fanout);
        let _ = drawing.await;
        reports
    }
}

/// Prints the results (one JSON document, or `render`'s text and where the
/// logs are) and returns the exit code: 1 when any host fell short, 130
/// when the run was interrupted.
pub fn report<D: serde::Serialize>(
    session: &Session,
    results: &[crate::run::inspect::HostResult<D>],
    json: bool,
    render: impl Fn(&[crate::run::inspect::HostResult<D>]) -> String,
) -> ExitStatus {
    if json {
        println!("{}", crate::redact::text(&crate::report::json(results)));
    } else {
        print!("{}", crate::redact::text(&render(results)));
        eprintln!("logs: {}", session.log.dir.display());
    }
    session
        .interrupt
        .status(crate::run::inspect::exit_status(results))
}
