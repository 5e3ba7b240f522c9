//! A service's configuration as shell: its files written (provision) or put
//! back as they were before katafleet (uninstall), validated, then one
//! restart (containerd) or reload (Docker) with its health check; any
//! failure puts the previous files back and the daemon runs with them.

use std::fmt::Write as _;

use super::{quote as q, write_cmds};
use crate::facts::CONTAINERD_CONFIG;
use crate::plan::{FileUndo, FileWrite, Health, Service, Undo, Validation};

/// Write a service's files, validate, restart; any failure puts the old
/// files back (and restarts again if the restart was what failed).
pub(super) fn configure(
    s: &mut String,
    id: usize,
    service: Service,
    files: &[FileWrite],
    validation: &Validation,
    health: &Health,
) {
    let unit = service.unit();
    let paths: Vec<String> = files.iter().map(|f| q(&f.path)).collect();
    let paths = paths.join(" ");
    for f in files {
        let _ = writeln!(s, "kf_keep {}", q(&f.path));
    }
    let writes: Vec<String> = files.iter().map(write_cmds).collect();
    let _ = writeln!(
        s,
        "if ! {{ {}; }}; then kf_revert {paths}; kf_report {id} failed {}; exit 1; fi",
        writes.join(" && "),
        q(&format!(
            "cannot write the {unit} configuration; nothing changed"
        ))
    );
    let check = match validation {
        Validation::ContainerdDump { main_config } => {
            containerd_validation(main_config, false)
        }
        Validation::None => {
            "if dockerd --help 2>&1 | grep -q -- --validate; then timeout 30 dockerd --validate --config-file /etc/docker/daemon.json; fi".to_string()
        }
    };
    let did = match service {
        Service::Containerd => "restarted",
        Service::Docker => "reloaded",
    };
    activate(
        s,
        id,
        service,
        &paths,
        &check,
        Checks { health, gone: &[] },
        None,
        &format!("configured and {did} {unit}; running containers keep running"),
    );
}

/// A service's files back as they were before katafleet (each unchanged
/// since planned), validated, then restarted or reloaded without the
/// handlers katafleet added; any failure puts katafleet's files back. With
/// an interim file, the daemon takes that first and the files go back after.
pub(super) fn unwire(
    s: &mut String,
    id: usize,
    service: Service,
    files: &[FileUndo],
    validation: &Validation,
    checks: Checks,
    interim: Option<&FileWrite>,
) {
    let unit = service.unit();
    let paths: Vec<String> = files.iter().map(|f| q(&f.path)).collect();
    let paths = paths.join(" ");
    for f in files {
        let _ = writeln!(s, "kf_keep {}", q(&f.path));
    }
    let unchanged: Vec<String> = files.iter().map(unchanged_cmd).collect();
    let undos: Vec<String> = files.iter().map(undo_cmd).collect();
    let first = match interim {
        Some(w) => format!("{} && {}", unchanged.join(" && "), write_cmds(w)),
        None => format!("{} && {}", unchanged.join(" && "), undos.join(" && ")),
    };
    let _ = writeln!(
        s,
        "if ! kf_out=$({{ {first}; }} 2>&1); then kf_revert {paths}; kf_report {id} failed \"cannot put the {unit} configuration back, so nothing changed: $kf_out\"; exit 1; fi",
    );
    // A main config that goes leaves the daemon on its defaults: nothing to validate.
    let check = match validation {
        Validation::ContainerdDump { main_config } => containerd_validation(main_config, true),
        Validation::None => {
            "if [ -e /etc/docker/daemon.json ] && dockerd --help 2>&1 | grep -q -- --validate; then timeout 30 dockerd --validate --config-file /etc/docker/daemon.json; fi".to_string()
        }
    };
    let did = match service {
        Service::Containerd => "restarted",
        Service::Docker => "reloaded",
    };
    let after = interim.map(|_| undos.join(" && "));
    activate(
        s,
        id,
        service,
        &paths,
        &check,
        checks,
        after.as_deref(),
        &format!("put the {unit} configuration back as it was before katafleet and {did} {unit}; running containers keep running"),
    );
}

/// `containerd --config FILE config dump` (only if FILE exists, when
/// `if_present`: without it containerd runs on its defaults). The dump of
/// the file containerd reads by default is kept as `$KF_RUN/validated-dump`,
/// and an older one dropped first: the restart's check then reads it
/// instead of running containerd once more.
fn containerd_validation(main_config: &str, if_present: bool) -> String {
    let file = q(main_config);
    let (keep, dump_to) = if main_config == CONTAINERD_CONFIG {
        ("kf_unseen; ", " >\"$KF_RUN/validated-dump\"")
    } else {
        ("", "")
    };
    let dump = format!("timeout 30 containerd --config {file} config dump{dump_to}");
    if if_present {
        format!("{{ {keep}if [ -e {file} ]; then {dump}; fi; }}")
    } else {
        format!("{{ {keep}{dump}; }}")
    }
}

/// What a daemon must show after its restart or reload.
pub(super) struct Checks<'a> {
    pub health: &'a Health,
    /// Handlers it must no longer list.
    pub gone: &'a [String],
}

/// Validation, then the restart (containerd) or reload (Docker) and its
/// health check; `after` runs once the daemon took the files (then the
/// files written last go back).
#[allow(clippy::too_many_arguments)]
fn activate(
    s: &mut String,
    id: usize,
    service: Service,
    paths: &str,
    check: &str,
    checks: Checks,
    after: Option<&str>,
    done: &str,
) {
    let unit = service.unit();
    let Checks { health, gone } = checks;
    let _ = writeln!(
        s,
        "if ! kf_out=$({check} 2>&1 >/dev/null); then kf_revert {paths}; kf_report {id} failed \"{unit} rejected the new configuration, so the old one is back and {unit} was not touched: $kf_out\"; exit 1; fi"
    );
    let handlers: Vec<String> = health.handlers.iter().map(|h| q(h)).collect();
    let handlers = handlers.join(" ");
    let gone: Vec<String> = gone.iter().map(|h| q(h)).collect();
    // Put back: the old files, then the daemon with them; a daemon left down
    // is its own failure, never "the old one is back".
    let (mut activate, again, lacks) = match service {
        Service::Containerd => (
            format!("kf_containerd_restart {} {handlers}", u8::from(health.cri)),
            "kf_containerd_restart 0".to_string(),
            "kf_containerd_lacks",
        ),
        Service::Docker => (
            format!("kf_docker_reload {handlers}"),
            "kf_docker_back".to_string(),
            "kf_docker_lacks",
        ),
    };
    if !gone.is_empty() {
        activate = format!("{{ {activate} && {lacks} {}; }}", gone.join(" "));
    }
    // The files that go back once the daemon dropped katafleet's handlers.
    let (after_running, after_stopped) = match after {
        Some(cmds) => (
            format!(
                "\x20   if ! kf_out=$({{ {cmds}; }} 2>&1); then kf_revert {paths}; {again} >/dev/null 2>&1; kf_report {id} failed \"cannot put the {unit} configuration back, so katafleet's is back: $kf_out\"; exit 1; fi\n"
            ),
            format!(
                "\x20   if ! kf_out=$({{ {cmds}; }} 2>&1); then kf_revert {paths}; kf_report {id} failed \"cannot put the {unit} configuration back, so katafleet's is back: $kf_out\"; exit 1; fi\n"
            ),
        ),
        None => (String::new(), String::new()),
    };
    let _ = writeln!(
        s,
        "if kf_running {unit}; then\n\
         \x20   if ! {activate} >\"$KF_RUN/activate.log\" 2>&1; then\n\
         \x20       kf_revert {paths}\n\
         \x20       if ! {again} >\"$KF_RUN/again.log\" 2>&1; then\n\
         \x20           kf_report {id} failed \"{unit} failed with the new configuration ($(cat \"$KF_RUN/activate.log\")), and again after the old one was put back ($(cat \"$KF_RUN/again.log\")): {unit} may be DOWN on this host\"; exit 1\n\
         \x20       fi\n\
         \x20       kf_report {id} failed \"{unit} failed with the new configuration, so the old one is back and {unit} runs with it: $(cat \"$KF_RUN/activate.log\")\"; exit 1\n\
         \x20   fi\n\
         {after_running}\
         \x20   echo {unit} >>\"$KF_TXN/services\"\n\
         \x20   kf_report {id} changed {}\n\
         else\n\
         {after_stopped}\
         \x20   kf_report {id} warn \"configured {unit}; $KF_NOTE\"\n\
         fi",
        q(done)
    );
}

/// The shell that puts one file back or removes it, once it is checked
/// to be what was planned.
pub(super) fn undo_cmds(u: &FileUndo) -> String {
    format!("{} && {}", unchanged_cmd(u), undo_cmd(u))
}

/// The file must still be what the plan was made from.
fn unchanged_cmd(u: &FileUndo) -> String {
    let now = u.sha256.as_deref().unwrap_or("absent");
    format!("kf_unchanged {} {}", q(&u.path), q(now))
}

fn undo_cmd(u: &FileUndo) -> String {
    match &u.undo {
        Undo::Restore { backup, sha256 } => {
            format!("kf_put_back {} {} {}", q(&u.path), q(backup), q(sha256))
        }
        Undo::Remove => format!("rm -f {}", q(&u.path)),
    }
}
