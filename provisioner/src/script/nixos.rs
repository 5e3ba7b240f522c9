//! NixOS activation, done once and exactly: the apply step writes the files,
//! builds the system from them once (`nix-instantiate '<nixpkgs/nixos>' -A
//! system` with the host's NIX_PATH, then `nix-store --realise`), records the
//! store path and the previous `/run/current-system` in the run's
//! transaction (`$KF_TXN/nixos`), and activates exactly that path with its
//! `switch-to-configuration test`. The controller then verifies the host and
//! commits (`nix-env --set` of the system profile, the path's
//! `switch-to-configuration boot`) or reverts (the previous system's own
//! `switch-to-configuration test`, the files back): `kf_txn_commit` and
//! `kf_txn_revert` in apply.sh. A record a run leaves behind is what the
//! probe reports as pending, and [`finish_script`] settles it.

use std::fmt::Write as _;

use super::quote as q;
use super::write_cmds;
use crate::plan::FileWrite;

/// Step `id`: save, write, build once, `switch-to-configuration test`; a
/// failure puts the files (and, once activated, the previous system) back.
pub fn activate_step(s: &mut String, id: usize, files: &[FileWrite]) {
    let paths: Vec<String> = files.iter().map(|f| q(&f.path)).collect();
    let paths = paths.join(" ");
    for f in files {
        let _ = writeln!(s, "kf_keep {}", q(&f.path));
    }
    let writes: Vec<String> = files.iter().map(write_cmds).collect();
    let _ = writeln!(
        s,
        "if ! {{ {}; }}; then kf_revert {paths}; kf_report {id} failed 'cannot write the NixOS configuration; nothing changed'; exit 1; fi",
        writes.join(" && ")
    );
    let _ = writeln!(s, "kf_nixos_activate {id} {paths} || exit 1");
}

/// Settles the activation an earlier run left pending: `switch` makes it the
/// boot default, otherwise the previous system and files come back.
pub fn finish_script(switch: bool, system: &str, previous: &str) -> String {
    let mut s = super::changing_script();
    let _ = writeln!(
        s,
        "kf_begin 1\n\
         kf_sys={}; kf_prev={}\n\
         if [ \"$(kf_nixos_get system)\" != \"$kf_sys\" ]; then kf_report 1 failed \"the pending activation of $kf_sys is no longer recorded in $KF_TXN/nixos; nothing was changed\"; exit 1; fi",
        q(system),
        q(previous),
    );
    if switch {
        s.push_str(
            "if ! kf_out=$(kf_txn_commit 2>&1); then kf_report 1 failed \"finishing the pending activation of $kf_sys failed: $kf_out\"; exit 1; fi\n\
             kf_report 1 changed \"finished the pending activation: $kf_sys is the boot default now\"\n",
        );
    } else {
        s.push_str(
            "if ! kf_out=$(kf_txn_revert 2>&1); then kf_report 1 failed \"rolling the pending activation of $kf_sys back to $kf_prev failed: $kf_out\"; exit 1; fi\n\
             kf_report 1 changed \"rolled the pending activation of $kf_sys back: $kf_out\"\n",
        );
    }
    s.push_str("exit 0\n");
    s
}
