//! `plan` and `provision`: the same pipeline, stopping before or after apply.

use std::sync::Arc;

use anyhow::Context;

use crate::assets::AssetStore;
use crate::cli::RunArgs;
use crate::inventory::{self, InventoryError};
use crate::pipeline::{Mode, Run};
use crate::plan::PlanOptions;
use crate::{progress, release, report, runlog};

/// Exit code for usage and inventory errors.
pub const USAGE_ERROR: i32 = 2;

pub async fn run(args: RunArgs, mode: Mode) -> anyhow::Result<i32> {
    let inv = match inventory::load(&args.inventory) {
        Ok(inv) => inv,
        Err(e @ InventoryError::Invalid { .. }) | Err(e @ InventoryError::Read { .. }) => {
            eprintln!("{e}");
            return Ok(USAGE_ERROR);
        }
    };
    let hosts = match inventory::select(&inv.hosts, args.limit.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(USAGE_ERROR);
        }
    };
    let log = runlog::RunLog::create(&args.log_dir.clone().unwrap_or_else(runlog::default_dir))
        .context("cannot create the run's log directory")?;
    let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    let (progress, drawing) = progress::start(&names, false);
    let run = Arc::new(Run {
        mode,
        options: PlanOptions { force: args.force },
        parallel: args.parallel.map_or(inv.parallel, usize::from),
        assets: Arc::new(AssetStore::new(
            args.cache_dir
                .clone()
                .unwrap_or_else(release::fetch::default_cache_dir),
        )),
        log: log.clone(),
        progress,
    });
    let reports = run.clone().all(hosts).await;
    // Dropping the last sender lets the progress display finish.
    drop(run);
    let _ = drawing.await;
    if args.json {
        println!("{}", report::json(&reports));
    } else {
        if mode == Mode::Plan {
            print!("{}", report::plan_text(&reports));
        }
        print!("{}", report::summary_table(&reports));
        eprintln!("logs: {}", log.dir.display());
    }
    Ok(report::exit_code(&reports))
}
