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

/// How long an activated system waits for the controller's commit before
/// the host puts the previous one back by itself: verification, then a
/// fresh connection (paced, retried) and the commit fit well within it.
pub const ROLLBACK_DEADLINE_SECS: u32 = 180;

/// Step `id`: save, write, build once, `switch-to-configuration test`, arm
/// the host-side rollback deadline; a failure puts the files (and, once
/// activated, the previous system) back.
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
    // The deadline script is this script's own helpers (it runs from a
    // file, `$0`) plus what the deadline does: they cross the link once.
    // Without them (not run from a file) nothing is armed, and it says so.
    let _ = writeln!(
        s,
        "if grep -qx '{end}' \"$0\" 2>/dev/null; then\n    {{ echo {DEADLINE_LOCK_WAIT}; sed '/^{end}$/q' \"$0\"; cat <<'{DEADLINE_EOF}'\n{DEADLINE_BODY}{DEADLINE_EOF}\n    }} >\"$KF_RUN/deadline.sh\"\nfi",
        end = super::HELPERS_END,
    );
    let _ = writeln!(
        s,
        "kf_nixos_activate {id} {ROLLBACK_DEADLINE_SECS} {paths} || exit 1"
    );
}

const DEADLINE_EOF: &str = "KF_DEADLINE_SCRIPT_END";

/// What the host runs when the rollback deadline runs out (`sh SCRIPT ID`):
/// unless the activation armed with ID was committed or reverted meanwhile,
/// its transaction is reverted, and what happened is left for the next run
/// in `$KF_DEADLINE_FIRED`. It waits for the host lock, so a commit in
/// flight finishes first.
pub fn deadline_script() -> String {
    format!(
        "{DEADLINE_LOCK_WAIT}\n{}{DEADLINE_BODY}",
        super::changing_script()
    )
}

/// The deadline waits this long for a run holding the host lock.
const DEADLINE_LOCK_WAIT: &str = "KF_LOCK_WAIT=900";

/// What the deadline does, after the helpers.
const DEADLINE_BODY: &str = r#"kf_aid=$1
rm -f "$0.pid"
if [ "$(kf_nixos_get armed)" != "$kf_aid" ]; then rm -f "$0"; exit 0; fi
kf_sys=$(kf_nixos_get system)
if kf_out=$(kf_txn_revert 2>&1); then
    kf_what="no commit came within the deadline, so the previous system is back: $kf_out"
else
    kf_what="no commit came within the deadline, and putting the previous system back failed: $kf_out"
fi
printf 'at=%s
system=%s
result=%s
' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$kf_sys" "$(kf_oneline "$kf_what")" >"$KF_DEADLINE_FIRED"
sync
rm -f "$0"
"#;

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
