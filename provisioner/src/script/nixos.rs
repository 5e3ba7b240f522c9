//! NixOS activation in two steps: `nixos-rebuild test` with the new files,
//! then, once the controller has verified the host, `switch` to make it the
//! boot default, or a rollback to the boot profile when verification failed.

use std::fmt::Write as _;

use super::quote as q;
use super::write_cmds;
use crate::plan::FileWrite;

/// Where the files' previous versions wait for a possible rollback.
const PREVIOUS: &str = "/var/lib/katafleet/nixos-previous";
/// The system the host boots into: `nixos-rebuild test` does not change it.
const BOOT_PROFILE: &str = "/nix/var/nix/profiles/system/bin/switch-to-configuration";

/// Step `id`: save, write, `nixos-rebuild test`; on failure restore and reactivate.
pub fn test_step(s: &mut String, id: usize, files: &[FileWrite]) {
    let paths: Vec<String> = files.iter().map(|f| q(&f.path)).collect();
    let paths = paths.join(" ");
    let _ = writeln!(s, "rm -rf {PREVIOUS} && mkdir -p {PREVIOUS}");
    for f in files {
        let p = q(&f.path);
        let _ = writeln!(
            s,
            "kf_keep {p}; if [ -e {p} ]; then mkdir -p \"$(dirname {PREVIOUS}{p})\" && cp -p {p} {PREVIOUS}{p}; else mkdir -p \"$(dirname {PREVIOUS}{p})\" && : >{PREVIOUS}{p}.absent; fi"
        );
    }
    let writes: Vec<String> = files.iter().map(write_cmds).collect();
    let _ = writeln!(
        s,
        "if ! {{ {}; }}; then kf_revert {paths}; kf_report {id} failed 'cannot write the NixOS configuration; nothing changed'; exit 1; fi",
        writes.join(" && ")
    );
    let _ = writeln!(
        s,
        "if ! nixos-rebuild test >\"$KF_RUN/rebuild.log\" 2>&1; then kf_revert {paths}; {BOOT_PROFILE} test >/dev/null 2>&1; \
         kf_report {id} failed \"nixos-rebuild test failed, so the previous files and system are back: $(tail -n 15 \"$KF_RUN/rebuild.log\")\"; exit 1; fi\n\
         kf_report {id} changed 'activated with nixos-rebuild test (switch follows verification)'"
    );
}

/// After verification passed: make the tested configuration the boot default.
pub fn switch_script() -> String {
    format!(
        "{}\nkf_begin 1\nif ! kf_out=$(nixos-rebuild switch 2>&1); then kf_report 1 failed \"nixos-rebuild switch failed: $(printf '%s' \"$kf_out\" | tail -n 15)\"; exit 1; fi\nrm -rf {PREVIOUS}\nkf_report 1 changed 'nixos-rebuild switch'\n",
        super::changing_script()
    )
}

/// After verification failed: put the files back and reactivate the boot profile.
pub fn rollback_script(files: &[String]) -> String {
    let mut s = format!("{}\nkf_begin 1\n", super::changing_script());
    for f in files {
        let p = q(f);
        let _ = writeln!(
            s,
            "if [ -e {PREVIOUS}{p}.absent ]; then rm -f {p}; elif [ -e {PREVIOUS}{p} ]; then cp -p {PREVIOUS}{p} {p}; fi"
        );
    }
    let _ = writeln!(
        s,
        "{BOOT_PROFILE} test >/dev/null 2>&1; rm -rf {PREVIOUS}\nkf_report 1 changed 'rolled back to the boot configuration'"
    );
    s
}
