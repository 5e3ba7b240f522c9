//! The facts probe as sent to a host: the prelude, the files this desired
//! state needs read, then probe.sh, then whatever the caller adds (still
//! one round trip).

use super::quote;
use crate::inventory::{Desired, InstallMethod};

const PROBE: &str = include_str!("probe.sh");

/// The probe's body, without the prelude (apply appends it to its own script).
pub fn body(desired: &Desired) -> String {
    let files: Vec<String> = crate::plan::files_to_read(desired)
        .iter()
        .map(|f| quote(f))
        .collect();
    // Repository metadata is slow, so dnf is asked only when a package is wanted.
    let dnf = u8::from(desired.kata.method == InstallMethod::Package);
    format!("set -- {}\nKF_QUERY_DNF={dnf}\n{PROBE}", files.join(" "))
}

/// The whole probe script, followed by `extra` (which may use the prelude).
pub fn script(desired: &Desired, extra: &str) -> String {
    super::with_prelude(&format!("{}\n{extra}", body(desired)))
}
