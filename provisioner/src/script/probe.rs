//! The facts probe as sent to a host: the prelude, the files this desired
//! state needs read, then probe.sh, then whatever the caller adds (still
//! one round trip).

use super::quote;
use crate::facts::HostFacts;
use crate::inventory::{Desired, InstallMethod};

const PROBE: &str = concat!(
    include_str!("probe_containerd.sh"),
    include_str!("probe.sh")
);

/// What the facts are for: planning needs the slow questions answered too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `plan`, `provision`, `debug`: also evaluate a NixOS host's system.
    Plan,
    /// `check`, `status`, `verify`: only what is cheap to read.
    Inspect,
    /// `uninstall`: also every file the manifest lists, the saved originals
    /// of those katafleet edited, and the runtimes dockerd lists, which it
    /// diffs and checks against, in the same round trip.
    Uninstall,
}

/// The probe's body, without the prelude (apply appends it to its own script).
pub fn body(desired: &Desired, purpose: Purpose) -> String {
    let files: Vec<String> = crate::plan::files_to_read(desired)
        .iter()
        .map(|f| quote(f))
        .collect();
    // Repository metadata is slow, so dnf is asked only when a package is wanted.
    let dnf = u8::from(desired.kata.method == InstallMethod::Package);
    // So is evaluating a NixOS system, which only the planner needs.
    let nixos = u8::from(purpose == Purpose::Plan);
    let owned = u8::from(purpose == Purpose::Uninstall);
    // Planning may reuse containerd's answers a changing script recorded
    // (the key decides); check, status, verify and uninstall ask afresh.
    let cached = u8::from(purpose == Purpose::Plan);
    format!(
        "set -- {}\nKF_QUERY_DNF={dnf}\nKF_QUERY_NIXOS={nixos}\nKF_READ_OWNED={owned}\nKF_CACHED={cached}\n{PROBE}",
        files.join(" ")
    )
}

/// The probe at the end of an apply script. What the run cannot have
/// changed is taken from the facts `before` it instead of asked again (see
/// `HostFacts::keep_unchanged`): the OS, CPU, virtualisation and memory
/// (KF_AFTER_APPLY), and the containerd and Docker versions (a run that
/// installs a package may pull in another daemon, so then they are asked).
/// What holds until the host boots again goes along, for the host to
/// record (KF_KNOWN_BOOT).
pub fn after_apply_body(
    desired: &Desired,
    purpose: Purpose,
    before: &HostFacts,
    installs_packages: bool,
) -> String {
    let mut known = String::new();
    if let Some(record) = &before.boot_record {
        known.push_str(&format!("KF_KNOWN_BOOT={}\n", quote(record)));
    }
    if !installs_packages {
        if let Some(c) = &before.containerd {
            known.push_str(&format!("KF_KNOWN_CONTAINERD={}\n", quote(&c.version_text)));
        }
        if let Some(d) = &before.docker {
            known.push_str(&format!("KF_KNOWN_DOCKER={}\n", quote(&d.version_text)));
        }
    }
    format!("KF_AFTER_APPLY=1\n{known}{}", body(desired, purpose))
}

/// The whole probe script, followed by `extra` (which may use the prelude).
pub fn script(desired: &Desired, purpose: Purpose, extra: &str) -> String {
    super::with_prelude(&format!("{}\n{extra}", body(desired, purpose)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_after_apply_probe_carries_the_boot_record_for_the_host_to_keep() {
        let record = "boot b00t\nvirt_container it's $(odd)";
        let mut before = HostFacts {
            boot_record: Some(record.into()),
            ..HostFacts::default()
        };
        let body = after_apply_body(&Desired::sample(), Purpose::Plan, &before, false);
        // What a host's shell makes of the assignments before the probe.
        let (assignments, _) = body.split_once("set -- ").expect("the probe's arguments");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{assignments}printf '%s' \"$KF_KNOWN_BOOT\""))
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), record);

        before.boot_record = None;
        let body = after_apply_body(&Desired::sample(), Purpose::Plan, &before, false);
        assert!(!body.contains("KF_KNOWN_BOOT="), "nothing to record");
    }
}
