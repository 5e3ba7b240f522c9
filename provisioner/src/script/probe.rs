//! The facts probe as sent to a host: the prelude, the files this desired
//! state needs read, then probe.sh, then whatever the caller adds (still
//! one round trip).

use super::quote;
use crate::inventory::{Desired, InstallMethod};

const PROBE: &str = include_str!("probe.sh");

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
    format!(
        "set -- {}\nKF_QUERY_DNF={dnf}\nKF_QUERY_NIXOS={nixos}\nKF_READ_OWNED={owned}\n{PROBE}",
        files.join(" ")
    )
}

/// The whole probe script, followed by `extra` (which may use the prelude).
pub fn script(desired: &Desired, purpose: Purpose, extra: &str) -> String {
    super::with_prelude(&format!("{}\n{extra}", body(desired, purpose)))
}
