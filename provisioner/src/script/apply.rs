//! Turns a plan into one POSIX sh script. Each change is one numbered step;
//! the script stops at the first failed step.

use std::fmt::Write as _;

use super::{b64, quote as q, write_cmds};
use crate::facts::manifest::MANIFEST_PATH;
use crate::plan::{Action, FileWrite, Plan, Service, Validation};
use crate::release::fetch::Fetched;
use crate::release::Layout;

/// The script for `plan`; `release` is the verified asset when it installs one.
/// Returns the script and whether it expects the release as its payload.
pub fn render(plan: &Plan, release: Option<&Fetched>, katafleet_version: &str) -> String {
    let mut s = super::changing_script();
    for (i, change) in plan.changes.iter().enumerate() {
        let id = i + 1;
        let _ = writeln!(s, "\nkf_begin {id}");
        match &change.action {
            Action::InstallKata {
                asset,
                sha256,
                replaces_foreign,
            } => {
                let Some(release) = release else {
                    let _ = writeln!(s, "kf_report {id} failed 'no release asset was prepared for this host'; exit 1");
                    continue;
                };
                let layout = Layout::new(asset.runtime, crate::release::Hypervisor::Qemu);
                let marker = format!(
                    "version={}\nruntime={}\nsha256={}\nasset={}\ninstalled-by=katafleet {katafleet_version}\n",
                    asset.version,
                    format!("{:?}", asset.runtime).to_lowercase(),
                    sha256,
                    asset.file_name()
                );
                let _ = writeln!(
                    s,
                    "kf_install {id} {} {} {} {} {} {} || exit 1\nkf_report {id} changed {}",
                    release.size,
                    sha256,
                    q(&format!("{} -d", asset.compression().tool())),
                    q(&layout.shim),
                    b64(&marker),
                    u8::from(*replaces_foreign),
                    q(&format!("installed {}", asset.file_name())),
                );
            }
            Action::WriteFile(w) => {
                let _ = writeln!(s, "{}", write_cmds(w));
                let _ = writeln!(
                    s,
                    "if [ $? -ne 0 ]; then kf_report {id} failed {}; exit 1; fi\nkf_report {id} changed {}",
                    q(&format!("cannot write {}", w.path)),
                    q(&format!("wrote {}", w.path))
                );
            }
            Action::LoadModules { modules } => {
                let list = modules.join(" ");
                let _ = writeln!(
                    s,
                    "kf_failed=''\nfor m in {list}; do modprobe \"$m\" 2>/dev/null || kf_failed=\"$kf_failed $m\"; done\n\
                     if [ -n \"$kf_failed\" ]; then kf_report {id} failed \"modprobe failed for:$kf_failed\"; exit 1; fi\n\
                     kf_report {id} changed {}",
                    q(&format!("loaded {list}"))
                );
            }
            Action::InstallPackage { version, shim } => {
                let _ = writeln!(
                    s,
                    "if ! kf_out=$(dnf install -y {} 2>&1); then kf_report {id} failed \"dnf install failed: $kf_out\"; exit 1; fi\n\
                     if [ ! -x {} ]; then kf_report {id} failed {}; exit 1; fi\n\
                     kf_report {id} changed {}",
                    q(&format!("kata-containers-{version}")),
                    q(shim),
                    q(&format!("the kata-containers package installed no {shim}")),
                    q(&format!("installed kata-containers {version} with dnf")),
                );
            }
            Action::NixosRebuild { files } => super::nixos::test_step(&mut s, id, files),
            Action::AddToGroup { user, group } => {
                let _ = writeln!(
                    s,
                    "if ! id -u {u} >/dev/null 2>&1; then kf_report {id} failed {}; exit 1; fi\n\
                     getent group {g} >/dev/null || groupadd -r {g}\n\
                     if ! kf_out=$(usermod -aG {g} {u} 2>&1); then kf_report {id} failed \"cannot add {user} to {group}: $kf_out\"; exit 1; fi\n\
                     kf_report {id} changed {}",
                    q(&format!("there is no user {user} on this host")),
                    q(&format!("added {user} to {group}")),
                    u = q(user),
                    g = q(group),
                );
            }
            Action::Configure {
                service,
                files,
                validation,
            } => {
                configure(&mut s, id, *service, files, validation);
            }
        }
    }
    let _ = writeln!(
        s,
        "\nkf_put {} 644 {} || kf_warn 'cannot record what katafleet owns in {}'",
        q(MANIFEST_PATH),
        b64(&plan.manifest.to_json()),
        MANIFEST_PATH
    );
    let _ = writeln!(
        s,
        "kf_put /var/lib/katafleet/last-provision 644 \"$(printf 'time=%s\\nkatafleet=%s\\n' \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" {} | base64 | tr -d '\\n')\"",
        q(katafleet_version)
    );
    s.push_str("exit 0\n");
    s
}

/// Write a service's files, validate, restart; any failure puts the old
/// files back (and restarts again if the restart was what failed).
fn configure(
    s: &mut String,
    id: usize,
    service: Service,
    files: &[FileWrite],
    validation: &Validation,
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
            format!("containerd --config {} config dump", q(main_config))
        }
        Validation::None => {
            "if dockerd --help 2>&1 | grep -q -- --validate; then dockerd --validate --config-file /etc/docker/daemon.json; fi".to_string()
        }
    };
    let _ = writeln!(
        s,
        "if ! kf_out=$({check} 2>&1 >/dev/null); then kf_revert {paths}; kf_report {id} failed \"{unit} rejected the new configuration, so the old one is back and {unit} was not restarted: $kf_out\"; exit 1; fi"
    );
    let _ = writeln!(
        s,
        "if ! kf_restart {unit} >\"$KF_RUN/restart.log\" 2>&1; then kf_revert {paths}; kf_restart {unit} >/dev/null 2>&1; kf_report {id} failed \"{unit} did not restart with the new configuration; the old one is back: $(cat \"$KF_RUN/restart.log\")\"; exit 1; fi"
    );
    let _ = writeln!(
        s,
        "if [ -n \"$KF_RESTART_NOTE\" ]; then kf_report {id} warn \"configured {unit}; $KF_RESTART_NOTE\"; else kf_report {id} changed {}; fi",
        q(&format!("configured and restarted {unit}"))
    );
}
