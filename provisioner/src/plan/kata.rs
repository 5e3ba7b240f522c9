//! The Kata release itself and its configuration drop-in.

use super::{Action, Change, Plan, PlanError};
use crate::facts::HostFacts;
use crate::facts::OsFamily;
use crate::inventory::{Desired, InstallMethod};
use crate::plan::templates;
use crate::release::{checksums, Asset, Layout};

/// `method = "package"` is honoured only where a package of the pinned
/// version exists; elsewhere the static release is used, and the plan says why.
pub(super) fn resolve_method(plan: &mut Plan, facts: &HostFacts, desired: &Desired) -> Desired {
    let mut effective = desired.clone();
    if desired.kata.method != InstallMethod::Package {
        return effective;
    }
    let pinned = desired.kata.version.to_string();
    let why = match facts.os.family {
        OsFamily::Fedora => match facts.dnf_kata.as_deref() {
            Some(offered) if offered == pinned => {
                // Fedora builds the Go runtime.
                effective.kata.runtime = crate::release::Runtime::Go;
                return effective;
            }
            Some(offered) => format!("Fedora's repository offers kata-containers {offered}, not the pinned {pinned}"),
            None => "dnf offers no kata-containers package here".to_string(),
        },
        OsFamily::Debian | OsFamily::Ubuntu => "Debian and Ubuntu have no official Kata package (the openSUSE OBS apt repositories served Kata 1.x only and are dead since 2.0)".to_string(),
        _ => format!("there is no supported Kata package for {}", facts.os.pretty_name),
    };
    plan.warnings.push(format!(
        "method = \"package\": {why}; installing the static release instead"
    ));
    effective.kata.method = InstallMethod::Static;
    effective
}

/// Plans the release install; returns whether /opt/kata will be replaced.
pub(super) fn install(
    plan: &mut Plan,
    facts: &HostFacts,
    desired: &Desired,
    asset: &Asset,
) -> Result<bool, PlanError> {
    if desired.kata.method == InstallMethod::Package {
        package(plan, facts, desired);
        return Ok(false);
    }
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
        "kata {} ({} runtime)",
        asset.version,
        desired.kata.runtime.name()
    );
    match &facts.kata {
        Some(installed) if installed.version == asset.version && installed.runtime == asset.runtime && installed.sha256 == sha256.hex() => {
            plan.noop(what, format!("{} is installed from the pinned asset", asset.version));
            return Ok(false);
        }
        Some(installed) => plan.push(Change {
            action: Action::InstallKata { asset: asset.clone(), sha256, replaces_foreign: false },
            reason: format!("replace Kata {} with {}", installed.version, asset.file_name()),
            diff: None,
        }),
        None => plan.push(Change {
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

fn package(plan: &mut Plan, facts: &HostFacts, desired: &Desired) {
    let version = desired.kata.version.to_string();
    if facts.rpm_kata.as_deref() == Some(version.as_str()) {
        plan.noop("kata-containers package", format!("{version} is installed"));
        return;
    }
    plan.push(Change {
        action: Action::InstallPackage {
            version: version.clone(),
            shim: desired.kata.layout(desired.kata.hypervisor).shim,
        },
        reason: format!("install Fedora's kata-containers {version} with dnf"),
        diff: None,
    });
}

/// Settings go in a `config.d` drop-in, never into the shipped file.
pub(super) fn dropin(plan: &mut Plan, facts: &HostFacts, desired: &Desired, installing: bool) {
    let layout = desired.kata.layout(desired.kata.hypervisor);
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
