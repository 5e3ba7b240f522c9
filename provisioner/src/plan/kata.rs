//! The Kata release itself and its configuration drop-in.

use super::{Action, Change, Delivery, Plan, PlanError};
use crate::facts::HostFacts;
use crate::facts::OsFamily;
use crate::inventory::{Desired, InstallMethod, ReleaseFetch};
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
    let delivery = match desired.kata.fetch {
        ReleaseFetch::Controller => Delivery::Streamed,
        ReleaseFetch::Host => {
            if !facts.has_tool("curl") && !facts.has_tool("wget") {
                return Err(PlanError::NoDownloader);
            }
            Delivery::Downloaded {
                url: asset.expand(&desired.kata.source),
            }
        }
    };
    let route = delivery.describe();
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
            action: Action::InstallKata { asset: asset.clone(), sha256, replaces_foreign: false, delivery },
            reason: format!("replace Kata {} with {}, {route}", installed.version, asset.file_name()),
            diff: None,
        }),
        None => plan.push(Change {
            action: Action::InstallKata { asset: asset.clone(), sha256, replaces_foreign: facts.kata_dir, delivery },
            reason: if facts.kata_dir {
                format!("install {}, {route} (the /opt/kata katafleet did not install is kept as /opt/kata.katafleet-orig)", asset.file_name())
            } else {
                format!("install {}, {route}", asset.file_name())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::ReleaseFetch;
    use crate::release::{Arch, Version};

    fn host(tools: &[&str]) -> HostFacts {
        HostFacts {
            tools: tools.iter().map(|t| t.to_string()).collect(),
            ..HostFacts::default()
        }
    }

    fn planned(facts: &HostFacts, fetch: ReleaseFetch) -> Result<Change, PlanError> {
        let mut desired = Desired::sample();
        desired.kata.fetch = fetch;
        desired.kata.source = "https://mirror.example/{version}/{asset}".into();
        desired.kata.sha256 = Some("a".repeat(64).parse().unwrap());
        let asset = Asset {
            version: Version::new(4, 2, 0),
            runtime: desired.kata.runtime,
            arch: Arch::Amd64,
        };
        let mut plan = Plan::default();
        install(&mut plan, facts, &desired, &asset)?;
        Ok(plan.changes.remove(0))
    }

    const BASE: [&str; 5] = ["tar", "sha256sum", "head", "mktemp", "zstd"];

    #[test]
    fn the_plan_says_which_way_the_release_travels() {
        let streamed = planned(&host(&BASE), ReleaseFetch::Controller).unwrap();
        assert!(matches!(
            streamed.action,
            Action::InstallKata {
                delivery: Delivery::Streamed,
                ..
            }
        ));
        assert!(
            streamed.reason.ends_with("streamed from the controller"),
            "{}",
            streamed.reason
        );

        let mut tools = BASE.to_vec();
        tools.push("wget");
        let downloaded = planned(&host(&tools), ReleaseFetch::Host).unwrap();
        let url = "https://mirror.example/4.2.0/kata-static-4.2.0-amd64.tar.zst";
        assert_eq!(
            downloaded.action,
            Action::InstallKata {
                asset: Asset {
                    version: Version::new(4, 2, 0),
                    runtime: crate::release::Runtime::Rust,
                    arch: Arch::Amd64
                },
                sha256: "a".repeat(64).parse().unwrap(),
                replaces_foreign: false,
                delivery: Delivery::Downloaded { url: url.into() },
            }
        );
        assert!(
            downloaded
                .reason
                .contains(&format!("downloaded by the host from {url}")),
            "{}",
            downloaded.reason
        );
    }

    #[test]
    fn a_host_without_curl_or_wget_cannot_download_the_release_itself() {
        let e = planned(&host(&BASE), ReleaseFetch::Host).unwrap_err();
        assert!(matches!(e, PlanError::NoDownloader), "{e}");
        assert!(e.to_string().contains("neither curl nor wget"), "{e}");
        // The controller's way needs neither.
        assert!(planned(&host(&BASE), ReleaseFetch::Controller).is_ok());
    }
}
