//! NixOS hosts are configured declaratively: katafleet writes its NixOS
//! module, the module's data and a settings file into /etc/nixos, builds the
//! system once, activates exactly that store path with
//! `switch-to-configuration test`, and makes it the boot default only once
//! the controller has verified the host (script/nixos.rs, script/apply.sh).
//! Nothing is installed into /opt; Kata comes from the host's nixpkgs.
//!
//! katafleet writes only to hosts whose running system is what
//! /etc/nixos/configuration.nix builds. Anything else (a flake, colmena,
//! deploy-rs, `nixos-rebuild -I`) would overwrite what katafleet activates
//! with its next deployment, or be overwritten by katafleet: those hosts are
//! refused, with the way to use the module there instead. What decides:
//! - `/etc/nixos/flake.nix`: `nixos-rebuild` builds the flake, not
//!   configuration.nix;
//! - a `deploy-rs-activate` in the system profile: deploy-rs wraps every
//!   system it deploys in a profile holding that script;
//! - `<nixos-config>` not on NIX_PATH: systems built by
//!   `nixpkgs.lib.nixosSystem` (flakes) set NIX_PATH to `nixpkgs=flake:nixpkgs`
//!   alone (nixos/modules/misc/nixpkgs-flake.nix); or pointing elsewhere;
//! - and, for every host that passes those, the running system
//!   (`/run/current-system`) must be the store path `<nixpkgs/nixos>`
//!   evaluates to with the host's own NIX_PATH. colmena leaves no mark on a
//!   host (it sets the system profile and runs switch-to-configuration), and
//!   this is what catches it, along with configuration.nix or channel
//!   changes nobody has applied yet, which katafleet would otherwise activate.

use super::{Action, Change, Plan, PlanError};
use crate::facts::{HostFacts, NixosEvaluation, NixosFacts, NixosPending};
use crate::inventory::Desired;
use crate::plan::{kata_defaults, templates};
use crate::release::{Runtime, Version};

pub const SETTINGS: &str = "/etc/nixos/katafleet.nix";
pub const MODULE: &str = "/etc/nixos/katafleet-module.nix";
/// The module imports it as `./katafleet-defaults.json`.
pub const DEFAULTS: &str = "/etc/nixos/katafleet-defaults.json";
pub const CONFIGURATION: &str = "/etc/nixos/configuration.nix";
pub const FLAKE: &str = "/etc/nixos/flake.nix";
/// Where an activation waits for the controller (the run's transaction).
pub const PENDING: &str = "/var/lib/katafleet/txn/nixos";

/// The NixOS module from katafleet's flake, written verbatim to hosts.
const MODULE_TEXT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../nix/module.nix"));

/// Files the probe must read on a NixOS host.
pub fn files_to_read() -> [&'static str; 5] {
    [SETTINGS, MODULE, DEFAULTS, CONFIGURATION, FLAKE]
}

/// What the files katafleet writes make of the inventory on this host.
struct Wiring {
    containerd: bool,
    docker: bool,
}

pub(super) fn plan(plan: &mut Plan, facts: &HostFacts, desired: &Desired) -> Result<(), PlanError> {
    let nixos = facts.nixos.clone().unwrap_or_default();
    not_managed_elsewhere(facts, &nixos)?;
    if let Some(fired) = &nixos.deadline_fired {
        plan.warnings.push(format!(
            "an earlier run's activation was never confirmed, and the host's rollback deadline acted on its own: {fired}"
        ));
    }
    if let Some(pending) = &nixos.pending {
        return finish(plan, facts, &nixos, pending);
    }
    let evaluation = built_from_configuration(&nixos)?;
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
    package(facts, desired, evaluation)?;
    let wiring = wiring(plan, facts, desired, evaluation)?;

    let mut files = Vec::new();
    files.extend(plan.file_write(facts, MODULE, MODULE_TEXT.to_string(), facts.file(MODULE)));
    files.extend(plan.file_write(
        facts,
        DEFAULTS,
        kata_defaults::TEXT.to_string(),
        facts.file(DEFAULTS),
    ));
    let settings = templates::nixos_settings(desired, wiring.containerd, wiring.docker);
    files.extend(plan.file_write(facts, SETTINGS, settings, facts.file(SETTINGS)));
    plan.manifest.containerd_handlers = if wiring.containerd {
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
        action: Action::NixosActivate { files },
        reason: "write the Kata NixOS configuration, build the system from it once and activate that store path \
                 with switch-to-configuration test (it becomes the boot default once the host is verified)"
            .into(),
        diff: Some(diff),
    });
    Ok(())
}

/// Refuses hosts whose system something other than configuration.nix builds.
fn not_managed_elsewhere(facts: &HostFacts, nixos: &NixosFacts) -> Result<(), PlanError> {
    let why = if facts.file(FLAKE).is_some() {
        format!("this host's configuration is a flake ({FLAKE}), which nixos-rebuild builds instead of {CONFIGURATION}")
    } else if let Some(tool) = &nixos.deployer {
        format!(
            "this host is deployed by {tool} (its system profile holds {tool}'s activation script)"
        )
    } else if facts.nixos.is_none() {
        "the probe found no /etc/NIXOS, so katafleet cannot tell what builds this host's system"
            .into()
    } else {
        match nixos.nixos_config.as_deref() {
            None => format!(
                "`<nixos-config>` is not on this host's NIX_PATH (`{}`), as on hosts built from a flake \
                 (nixpkgs.lib.nixosSystem leaves only `nixpkgs=flake:nixpkgs` there)",
                nixos.nix_path
            ),
            Some(path) if path != CONFIGURATION => format!(
                "this host's `<nixos-config>` is {path}, not {CONFIGURATION}"
            ),
            Some(_) => return Ok(()),
        }
    };
    Err(PlanError::NixOs(format!(
        "{why}. katafleet writes only to NixOS hosts built from {CONFIGURATION} and changes nothing here \
         (check, status and verify still work). Use katafleet's NixOS module where this host's configuration \
         is made instead: add `inputs.katafleet.nixosModules.default` to the host's `modules` in your flake \
         (or import the module file, nix/module.nix, with nix/katafleet-defaults.json beside it), set \
         `virtualisation.kata-containers.enable = true` and the inventory's settings (hypervisor, shims, \
         memory, vcpus, containerd.enable, docker.enable), and deploy it the way this host is deployed"
    )))
}

/// The running system must be what configuration.nix builds now.
fn built_from_configuration(nixos: &NixosFacts) -> Result<&NixosEvaluation, PlanError> {
    let Some(evaluation) = &nixos.evaluation else {
        return Err(PlanError::NixOs(match &nixos.evaluation_error {
            Some(error) => format!(
                "evaluating this host's system as nixos-rebuild would (`nix-instantiate '<nixpkgs/nixos>' -A system`) \
                 failed, so katafleet cannot tell whether {CONFIGURATION} builds it, and could not build it either; \
                 `nixos-rebuild build` shows the same error: {error}"
            ),
            None => "this host's NixOS system was not evaluated (the facts were gathered for reading only)".into(),
        }));
    };
    let current = nixos.current_system.as_deref().unwrap_or("(none)");
    if evaluation.toplevel != current {
        return Err(PlanError::NixOs(format!(
            "the running system ({current}) is not what {CONFIGURATION} builds now ({}): either something else \
             deploys this host (colmena, deploy-rs, a flake, `nixos-rebuild -I` or `--flake`), and then add \
             `inputs.katafleet.nixosModules.default` to that configuration instead; or {CONFIGURATION} or the \
             channel changed since the last nixos-rebuild, and katafleet would activate those changes too: \
             run `nixos-rebuild switch` first, then katafleet again. katafleet changed nothing here",
            evaluation.toplevel
        )));
    }
    Ok(evaluation)
}

/// On NixOS Kata is nixpkgs' package: the inventory must ask for what it is.
fn package(
    facts: &HostFacts,
    desired: &Desired,
    evaluation: &NixosEvaluation,
) -> Result<(), PlanError> {
    let kata = &desired.kata;
    let Some(text) = evaluation.kata.as_deref() else {
        return Err(PlanError::NixOs(
            "this host's nixpkgs has no kata-runtime package, and on NixOS katafleet takes Kata from nixpkgs \
             (it installs no release tarball there): move the host to a nixpkgs that has kata-runtime"
                .into(),
        ));
    };
    let version = text.parse::<Version>().map_err(|_| {
        PlanError::NixOs(format!(
            "cannot read the version of this host's kata-runtime package (`{text}`)"
        ))
    })?;
    let pin = format!("set `version = \"{version}\"` for this host (in [hosts.kata] or its group)");
    if version != kata.version {
        return Err(PlanError::NixOs(format!(
            "the inventory pins Kata {}, but this host's nixpkgs ships kata-runtime {version}, and on NixOS \
             katafleet uses that package (it installs no release tarball there): {pin}, or move the host's \
             nixpkgs to one with kata-runtime {}",
            kata.version, kata.version
        )));
    }
    let runtime = if version.major >= 4 {
        Runtime::Rust
    } else {
        Runtime::Go
    };
    let name = |r: Runtime| match r {
        Runtime::Rust => "rust",
        Runtime::Go => "go",
    };
    if runtime != kata.runtime {
        return Err(PlanError::NixOs(format!(
            "this host's kata-runtime {version} is the {} runtime (nixpkgs builds runtime-rs from 4.0 and the Go \
             runtime before), but the inventory asks for runtime = \"{}\": set runtime = \"{}\" for this host",
            if runtime == Runtime::Rust { "Rust (runtime-rs)" } else { "Go" },
            name(kata.runtime),
            name(runtime)
        )));
    }
    let defaults = kata_defaults::get();
    let arch = facts
        .arch
        .ok_or_else(|| PlanError::UnsupportedArch(facts.machine.clone()))?;
    let Some(system) = kata_defaults::nix_system(arch) else {
        return Err(PlanError::NixOs(format!(
            "katafleet's NixOS module supports x86_64-linux and aarch64-linux, not {}",
            facts.machine
        )));
    };
    let shipped = |h: &kata_defaults::HypervisorDefaults| match runtime {
        Runtime::Rust => h.runtime_rs_systems.iter().any(|s| s == system),
        Runtime::Go => h.go_config.is_some(),
    };
    for hv in kata.hypervisors() {
        let (_, h) = defaults.nixos(hv);
        if !shipped(h) {
            let choices: Vec<&str> = defaults
                .hypervisors
                .values()
                .filter(|h| shipped(h))
                .map(|h| h.short.as_str())
                .collect();
            return Err(PlanError::NixOs(format!(
                "this host's kata-runtime {version} ({}) ships no configuration for {} on {system}, so neither \
                 `hypervisor` nor `shims` can name it here; choose from: {}",
                if runtime == Runtime::Rust { "runtime-rs" } else { "the Go runtime" },
                hv.name(),
                choices.join(", ")
            )));
        }
        if kata.memory_mib < h.min_memory_mib {
            return Err(PlanError::NixOs(format!(
                "default_memory_mib = {} is below Kata's minimum for {} ({} MiB)",
                kata.memory_mib,
                hv.name(),
                h.min_memory_mib
            )));
        }
    }
    Ok(())
}

/// containerd as the inventory says; Docker only where the host's own
/// configuration runs it (as on other hosts, where katafleet wires Docker only
/// where it is installed), behind the same version gates.
fn wiring(
    plan: &mut Plan,
    facts: &HostFacts,
    desired: &Desired,
    evaluation: &NixosEvaluation,
) -> Result<Wiring, PlanError> {
    let docker = desired.docker && evaluation.docker;
    if desired.docker && !evaluation.docker {
        plan.noop(
            "docker",
            "this host's NixOS configuration does not enable Docker (virtualisation.docker.enable), so there is nothing to wire",
        );
    }
    if docker {
        let found = facts.docker.as_ref().and_then(|d| d.version);
        let Some(version) = found else {
            return Err(PlanError::Docker(format!(
                "this host's NixOS configuration enables Docker, but katafleet cannot read its version ({})",
                facts
                    .docker
                    .as_ref()
                    .map_or("dockerd is not on PATH", |d| d.version_text.as_str())
            )));
        };
        super::docker::check_versions(version, desired)?;
    }
    Ok(Wiring {
        containerd: desired.containerd,
        docker,
    })
}

/// An activation an earlier run left pending: the controller never decided.
/// Decide now, from what the host shows: switch to it when it runs and
/// verifies (as `verify::after_apply` checks a fresh activation), otherwise
/// put the previous system and files back.
fn finish(
    plan: &mut Plan,
    facts: &HostFacts,
    nixos: &NixosFacts,
    pending: &NixosPending,
) -> Result<(), PlanError> {
    let current = nixos.current_system.as_deref().unwrap_or("(none)");
    let record = format!(
        "an earlier katafleet run built and activated {} ({}) but never made it the boot default",
        pending.system,
        if pending.state == "tested" {
            "switch-to-configuration test succeeded"
        } else {
            "it was interrupted while switch-to-configuration test ran"
        }
    );
    let (switch, reason) = if current == pending.system {
        match verifies(facts) {
            Ok(()) => (
                true,
                format!("{record}; it runs and verifies now: make it the boot default (nix-env --set, switch-to-configuration boot)"),
            ),
            Err(problem) => (
                false,
                format!(
                    "{record}; it runs, but {problem}: roll back to {} (its switch-to-configuration test) and put the previous files back",
                    pending.previous
                ),
            ),
        }
    } else if current == pending.previous {
        (
            false,
            format!(
                "{record}; the host runs the previous system {current} again (it rebooted, or someone reactivated it): \
                 put the previous files back and reactivate {current}"
            ),
        )
    } else {
        return Err(PlanError::NixOs(format!(
            "{record}, and the host now runs {current}, neither that system nor the one before ({}); katafleet will \
             not guess which should stay: check the host, then remove {PENDING} to drop the record (the files \
             katafleet wrote stay as they are)",
            pending.previous
        )));
    };
    plan.push(Change {
        action: Action::NixosFinish {
            switch,
            system: pending.system.clone(),
            previous: pending.previous.clone(),
        },
        reason,
        diff: None,
    });
    Ok(())
}

/// What `verify::after_apply` checks of a fresh activation, for the one a run left.
fn verifies(facts: &HostFacts) -> Result<(), String> {
    let handlers = &facts.manifest.containerd_handlers;
    if handlers.is_empty() {
        return Ok(());
    }
    let Some(containerd) = &facts.containerd else {
        return Err("containerd, which should hold its Kata handlers, is not on this host".into());
    };
    if containerd.cri_plugin.as_deref() == Some("error") {
        return Err("containerd's CRI plugin failed to load (`ctr plugins ls` says error)".into());
    }
    if let Some(dump) = &containerd.dump {
        if let Some(missing) = handlers
            .iter()
            .find(|h| !super::effective_has_runtime(dump, h))
        {
            return Err(format!(
                "containerd's effective config (`containerd config dump`) has no runtime `{missing}`"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
