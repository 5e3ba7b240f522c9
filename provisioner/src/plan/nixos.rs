//! NixOS hosts are configured declaratively: katafleet writes a NixOS module,
//! the module's data and a settings file into /etc/nixos and lets
//! `nixos-rebuild` do the rest. Nothing is installed into /opt.

use super::{Action, Change, Plan, PlanError};
use crate::facts::HostFacts;
use crate::inventory::Desired;
use crate::plan::{kata_defaults, templates};

pub const SETTINGS: &str = "/etc/nixos/katafleet.nix";
pub const MODULE: &str = "/etc/nixos/katafleet-module.nix";
/// The module imports it as `./katafleet-defaults.json`.
pub const DEFAULTS: &str = "/etc/nixos/katafleet-defaults.json";
pub const CONFIGURATION: &str = "/etc/nixos/configuration.nix";
pub const FLAKE: &str = "/etc/nixos/flake.nix";

/// The NixOS module from katafleet's flake, written verbatim to hosts.
const MODULE_TEXT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../nix/module.nix"));

/// Files the probe must read on a NixOS host.
pub fn files_to_read() -> [&'static str; 5] {
    [SETTINGS, MODULE, DEFAULTS, CONFIGURATION, FLAKE]
}

pub(super) fn plan(plan: &mut Plan, facts: &HostFacts, desired: &Desired) -> Result<(), PlanError> {
    if facts.file(FLAKE).is_some() {
        return Err(PlanError::NixOs(format!(
            "this host's configuration is a flake ({FLAKE}), which katafleet does not edit; add katafleet's module to it instead: \
             put `nixosModules.default` from katafleet's flake (or the file katafleet would write, {MODULE}) in the host's `modules`, \
             set `virtualisation.kata-containers.enable = true`, and run nixos-rebuild"
        )));
    }
    let Some(configuration) = facts.file(CONFIGURATION) else {
        return Err(PlanError::NixOs(format!(
            "{CONFIGURATION} does not exist; katafleet only configures hosts built from it"
        )));
    };
    if !configuration.contains("katafleet.nix") {
        return Err(PlanError::NixOs(format!(
            "{CONFIGURATION} does not import ./katafleet.nix; add \
             `imports = [ ] ++ (if builtins.pathExists ./katafleet.nix then [ ./katafleet.nix ] else [ ]);` \
             (or `./katafleet.nix` once the file exists) and run katafleet again"
        )));
    }
    let mut files = Vec::new();
    files.extend(plan.file_write(facts, MODULE, MODULE_TEXT.to_string(), facts.file(MODULE)));
    files.extend(plan.file_write(
        facts,
        DEFAULTS,
        kata_defaults::TEXT.to_string(),
        facts.file(DEFAULTS),
    ));
    let settings = templates::nixos_settings(desired, desired.containerd, desired.docker);
    files.extend(plan.file_write(facts, SETTINGS, settings, facts.file(SETTINGS)));
    // The same handlers as on every other host: `kata` and one per shim.
    plan.manifest.containerd_handlers = if desired.containerd {
        super::handlers(desired)
            .into_iter()
            .map(|h| h.name)
            .collect()
    } else {
        Vec::new()
    };
    if files.is_empty() {
        return Ok(());
    }
    let diff = files
        .iter()
        .map(|f| super::unified_diff(&f.path, facts.file(&f.path).unwrap_or(""), &f.content))
        .collect();
    plan.push(Change {
        action: Action::NixosRebuild { files },
        reason: "write the Kata NixOS configuration and activate it with nixos-rebuild test".into(),
        diff: Some(diff),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::OsFamily;

    fn nixos(configuration: Option<&str>) -> HostFacts {
        let mut f = HostFacts::default();
        f.os.family = OsFamily::NixOS;
        if let Some(c) = configuration {
            f.files.insert(CONFIGURATION.into(), c.into());
        }
        f
    }

    fn run(facts: &HostFacts) -> Result<Plan, PlanError> {
        let mut p = Plan::default();
        plan(&mut p, facts, &Desired::sample()).map(|_| p)
    }

    #[test]
    fn writes_module_and_settings_when_imported() {
        let p = run(&nixos(Some(
            "{ imports = [ ./hardware-configuration.nix ./katafleet.nix ]; }",
        )))
        .unwrap();
        let Action::NixosRebuild { files } = &p.changes[0].action else {
            panic!("{:?}", p.changes)
        };
        let paths: Vec<_> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, [MODULE, DEFAULTS, SETTINGS]);
        assert_eq!(files[1].content, kata_defaults::TEXT);
        for want in [
            "virtualisation.kata-containers",
            "memory = 2048;",
            "shims = [ \"qemu\" ];",
        ] {
            assert!(files[2].content.contains(want), "{}", files[2].content);
        }
        assert_eq!(p.manifest.containerd_handlers, ["kata", "kata-qemu"]);
    }

    #[test]
    fn unchanged_files_mean_no_rebuild() {
        let mut f = nixos(Some("imports = [ ./katafleet.nix ];"));
        let first = run(&f).unwrap();
        let Action::NixosRebuild { files } = &first.changes[0].action else {
            panic!()
        };
        for w in files {
            f.files.insert(w.path.clone(), w.content.clone());
        }
        assert!(run(&f).unwrap().changes.is_empty());
    }

    #[test]
    fn refuses_flakes_and_unimported_settings_with_the_fix() {
        let mut flake = nixos(Some("imports = [ ./katafleet.nix ];"));
        flake
            .files
            .insert(FLAKE.into(), "{ outputs = _: {}; }".into());
        assert!(run(&flake).unwrap_err().to_string().contains("is a flake"));
        let err = run(&nixos(Some("{ imports = [ ]; }")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not import ./katafleet.nix"), "{err}");
    }
}
