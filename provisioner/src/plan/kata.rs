//! The Kata release itself and its configuration drop-in.

use super::{Action, Change, Plan, PlanError};
use crate::facts::HostFacts;
use crate::inventory::Desired;
use crate::release::{checksums, Asset, Layout};
use crate::templates;

/// Plans the release install; returns whether /opt/kata will be replaced.
pub(super) fn install(
    plan: &mut Plan,
    facts: &HostFacts,
    desired: &Desired,
    asset: &Asset,
) -> Result<bool, PlanError> {
    let sha256 = match &desired.kata.sha256 {
        Some(s) => s.clone(),
        None => checksums::known(asset).ok_or_else(|| PlanError::NoChecksum {
            asset: asset.file_name(),
        })?,
    };
    for tool in [
        "tar",
        "sha256sum",
        "head",
        "mktemp",
        asset.compression().tool(),
    ] {
        if !facts.has_tool(tool) {
            return Err(PlanError::MissingTool(tool.to_string()));
        }
    }
    let what = format!(
        "Kata {} ({:?} runtime)",
        asset.version, desired.kata.runtime
    )
    .to_lowercase();
    match &facts.kata {
        Some(installed) if installed.version == asset.version && installed.runtime == asset.runtime && installed.sha256 == sha256.hex() => {
            plan.noop(what, format!("{} is installed from the pinned asset", asset.version));
            return Ok(false);
        }
        Some(installed) => plan.changes.push(Change {
            action: Action::InstallKata { asset: asset.clone(), sha256, replaces_foreign: false },
            reason: format!("replace Kata {} with {}", installed.version, asset.file_name()),
            diff: None,
        }),
        None => plan.changes.push(Change {
            action: Action::InstallKata { asset: asset.clone(), sha256, replaces_foreign: facts.kata_dir },
            reason: if facts.kata_dir {
                format!("install {} (the /opt/kata katafleet did not install is kept as /opt/kata.katafleet-orig)", asset.file_name())
            } else {
                format!("install {}", asset.file_name())
            },
            diff: None,
        }),
    }
    Ok(true)
}

/// Settings go in a `config.d` drop-in, never into the shipped file.
pub(super) fn dropin(plan: &mut Plan, facts: &HostFacts, desired: &Desired, installing: bool) {
    let layout = Layout::new(desired.kata.runtime, desired.kata.hypervisor);
    let path = dropin_path(&layout);
    let content = templates::kata_dropin(&desired.kata);
    if installing {
        // The new tree replaces config.d, so the drop-in is written afresh.
        let mut host = facts.clone();
        host.files.remove(&path);
        plan.write_file(&host, &path, content, "Kata settings for this host");
    } else {
        plan.write_file(facts, &path, content, "Kata settings for this host");
    }
}

pub fn dropin_path(layout: &Layout) -> String {
    format!("{}/50-katafleet.toml", layout.config_dropin_dir)
}
