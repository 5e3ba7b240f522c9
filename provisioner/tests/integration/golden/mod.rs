//! Golden tests of the pure core: a facts transcript and an inventory in;
//! the plan text, the plan JSON and the apply script out, compared with the
//! files committed in tests/golden/<case>/ (see its README).
//! `KATAFLEET_UPDATE_GOLDEN=1 cargo test --test integration golden` rewrites
//! them; review the diff before committing it.

mod cases;
mod transcript;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use katafleet::plan::{Action, Plan, PlanOptions, Planner};
use katafleet::release::archive::ArchiveContents;
use katafleet::release::fetch::Fetched;
use katafleet::run::pipeline::{HostReport, HostStatus};

use crate::test::diff;
use transcript::Transcript;

/// The katafleet version the rendered scripts record, fixed so that a
/// release does not rewrite every snapshot.
const VERSION: &str = "0.0.0-golden";
/// The release "fetched" for a plan that installs Kata: only its size and
/// digest reach the script, so nothing is read from this path.
const RELEASE_PATH: &str = "/golden/release";
const RELEASE_SIZE: u64 = 123_456_789;

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn update() -> bool {
    std::env::var_os("KATAFLEET_UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// The snapshots of one case: checked (or rewritten) one by one, then every
/// mismatch reported at once.
struct Snapshots {
    dir: PathBuf,
    written: BTreeSet<String>,
    mismatches: Vec<String>,
}

impl Snapshots {
    fn new(case: &str) -> Self {
        Self {
            dir: tests_dir().join("golden").join(case),
            written: BTreeSet::from(["inventory.toml".to_string()]),
            mismatches: Vec::new(),
        }
    }

    fn check(&mut self, file: &str, actual: &str) {
        self.written.insert(file.to_string());
        let path = self.dir.join(file);
        if update() {
            std::fs::write(&path, actual)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != actual {
            self.mismatches.push(format!(
                "{} differs:\n{}",
                path.display(),
                diff(&expected, actual)
            ));
        }
    }

    /// Files of the case that this run did not produce are stale.
    fn finish(mut self) {
        let entries = std::fs::read_dir(&self.dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", self.dir.display()));
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if self.written.contains(&name) {
                continue;
            }
            if update() {
                let _ = std::fs::remove_file(entry.path());
            } else {
                self.mismatches.push(format!(
                    "{} is no longer produced (stale snapshot)",
                    entry.path().display()
                ));
            }
        }
        assert!(
            self.mismatches.is_empty(),
            "{}\n\nIf the change is intended: KATAFLEET_UPDATE_GOLDEN=1 cargo test --test integration golden, then review the diff",
            self.mismatches.join("\n")
        );
    }
}

/// What a case produced, for assertions beside the snapshots.
struct Golden {
    /// `plan` without --force failed (what `provision` would report).
    error: Option<String>,
    /// The plan with --force, when the host can be planned at all.
    plan: Option<Plan>,
}

/// Runs one case: facts from its recipe, the inventory's only host, the
/// planner without and (if that refuses) with --force, the apply script.
fn golden(case: &str, facts: Transcript) -> Golden {
    golden_as(case, facts, Planner::Provision)
}

/// The same with another planner (`uninstall`'s).
fn golden_as(case: &str, facts: Transcript, planner: Planner) -> Golden {
    let mut snapshots = Snapshots::new(case);
    let facts_text = facts.render();
    snapshots.check("facts.txt", &facts_text);
    let facts = katafleet::facts::parse(&facts_text).expect("the transcript parses");
    let inventory = katafleet::inventory::load(&snapshots.dir.join("inventory.toml"))
        .unwrap_or_else(|e| panic!("{case}/inventory.toml: {e}"));
    let [host] = inventory.hosts.as_slice() else {
        panic!("{case}/inventory.toml must have exactly one host");
    };
    let strict = planner.plan(&facts, &host.desired, PlanOptions { force: false });
    let (error, forced) = match strict {
        Ok(plan) => (None, Ok(plan)),
        Err(e) => (
            Some(e.to_string()),
            planner.plan(&facts, &host.desired, PlanOptions { force: true }),
        ),
    };
    if let Some(e) = &error {
        snapshots.check("plan-error.txt", &format!("{e}\n"));
    }
    let plan = forced.ok();
    if let Some(plan) = &plan {
        snapshots.check(
            "plan.txt",
            &plan_text(&host.name, &facts.os.pretty_name, plan),
        );
        let json = serde_json::to_string_pretty(plan).expect("a plan serializes");
        snapshots.check("plan.json", &format!("{json}\n"));
        // An empty plan is never applied, so it has no script.
        if !plan.is_empty() {
            let script = katafleet::script::apply::render(plan, release(plan).as_ref(), VERSION);
            snapshots.check("apply.sh", &script);
            if let Err(problem) = check_shell(&script, SHELLCHECK_EXCLUDE) {
                snapshots
                    .mismatches
                    .push(format!("{case}/apply.sh: {problem}"));
            }
        }
    }
    snapshots.finish();
    Golden { error, plan }
}

/// What `katafleet plan --force` prints for the host (before the summary).
fn plan_text(name: &str, os: &str, plan: &Plan) -> String {
    let report = HostReport {
        name: name.to_string(),
        os: os.to_string(),
        status: if plan.is_empty() {
            HostStatus::Ok
        } else {
            HostStatus::Changed
        },
        changed: plan.changes.len(),
        error: None,
        warnings: plan.warnings.clone(),
        elapsed: Duration::ZERO,
        plan: Some(plan.clone()),
        facts: None,
        kata_before: None,
        log: String::new(),
    };
    katafleet::report::plan_text(&[report])
}

/// A stand-in for the verified release when the plan installs one.
fn release(plan: &Plan) -> Option<Fetched> {
    plan.changes.iter().find_map(|c| match &c.action {
        Action::InstallKata { asset, sha256, .. } => Some(Fetched::stand_in(
            asset.clone(),
            PathBuf::from(RELEASE_PATH).join(asset.file_name()),
            sha256.clone(),
            RELEASE_SIZE,
            ArchiveContents::default(),
        )),
        _ => None,
    })
}

/// shellcheck findings that are the scripts' design, not mistakes:
/// - SC2317 (info, "command appears to be unreachable"): every script starts
///   with the whole prelude and apply helpers (src/script/prelude.sh and
///   apply.sh), and a plan uses only some of them
///   (no kf_install without a release to install, for instance);
/// - SC2034 (warning, "appears unused"): likewise for the prelude's state,
///   such as KF_RESTART_NOTE, which only a service restart step reads;
/// - SC2120/SC2119 (warning/info, "references arguments, but none are ever
///   passed"): likewise for kf_docker_reload, which takes the handlers to wait
///   for; its revert path passes none on purpose, and without a Docker step
///   that is its only call;
/// - SC2181 (style, "check exit code directly"): a file-write step runs its
///   `kf_put` line, then tests `$?` on the next; same effect as `if !`;
/// - SC2016 (info, "expressions don't expand in single quotes"): `kf_put`
///   carries each file's content as one single-quoted word, on purpose
///   (a Nix file's `${...}` must reach the host as it is).
///
/// Anything else, at any severity, fails the case.
const SHELLCHECK_EXCLUDE: &str = "SC2317,SC2034,SC2120,SC2119,SC2181,SC2016";

/// Every script must parse as POSIX sh (`sh -n`), and pass `shellcheck -s sh`
/// (but for the `exclude`d findings) where shellcheck is installed.
fn check_shell(script: &str, exclude: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("script.sh");
    std::fs::write(&path, script).expect("write the script");
    let out = Command::new("/bin/sh")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("run /bin/sh -n");
    if !out.status.success() {
        return Err(format!(
            "not valid sh:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    match Command::new("shellcheck")
        .args(["-s", "sh", "-e", exclude])
        .arg(&path)
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "shellcheck -s sh finds problems:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(_) => {
            eprintln!("SKIPPED shellcheck: shellcheck is not installed");
            Ok(())
        }
    }
}

/// The facts probe is a script on every host too. SC2012 (info, "use find
/// instead of ls"): it lists Kata's own file names, which have no spaces,
/// and the parser splits the list on whitespace anyway.
#[test]
fn the_probe_is_valid_sh() {
    let inventory =
        katafleet::inventory::load(&tests_dir().join("golden/fresh-bookworm/inventory.toml"))
            .expect("the inventory loads");
    let probe = katafleet::script::probe::script(
        &inventory.hosts[0].desired,
        katafleet::script::probe::Purpose::Plan,
        "",
    );
    if let Err(problem) = check_shell(&probe, "SC2012") {
        panic!("the facts probe: {problem}");
    }
}

/// The NixOS rollback deadline's script runs on the host on its own (the
/// apply script carries it in a here-document, which shellcheck skips).
#[test]
fn the_nixos_rollback_deadline_is_valid_sh() {
    let deadline = katafleet::script::nixos::deadline_script();
    if let Err(problem) = check_shell(&deadline, SHELLCHECK_EXCLUDE) {
        panic!("the NixOS rollback deadline: {problem}");
    }
}

#[test]
fn fresh_bookworm() {
    let g = golden("fresh-bookworm", cases::fresh_bookworm());
    assert_eq!(g.error, None, "a ready host plans without --force");
    assert!(g.plan.is_some_and(|p| !p.is_empty()));
}

#[test]
fn host_fetch_plans_a_download_by_the_host() {
    let g = golden("host-fetch-bookworm", cases::host_fetch_bookworm());
    let plan = g.plan.expect("a plan");
    let url = "https://mirror.example.internal/kata/4.2.0/kata-static-4.2.0-amd64.tar.zst";
    let delivery = plan.changes.iter().find_map(|c| match &c.action {
        Action::InstallKata { delivery, .. } => Some(delivery.clone()),
        _ => None,
    });
    assert_eq!(
        delivery,
        Some(katafleet::plan::Delivery::Downloaded { url: url.into() })
    );
}

#[test]
fn provisioned_bookworm_plans_zero_changes() {
    let g = golden("provisioned-bookworm", cases::provisioned_bookworm());
    assert_eq!(g.error, None);
    let plan = g.plan.expect("a plan");
    assert!(
        plan.is_empty(),
        "a converged host must plan no change: {:?}",
        plan.changes
    );
}

#[test]
fn sid_containerd2_docker28() {
    golden(
        "sid-containerd2-docker28",
        cases::sid_containerd2_docker28(),
    );
}

#[test]
fn containerd_io_cri_disabled() {
    let g = golden(
        "containerd-io-cri-disabled",
        cases::containerd_io_cri_disabled(),
    );
    let plan = g.plan.expect("a plan");
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("disables the CRI plugin")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn containerd_io_enable_cri() {
    let g = golden(
        "containerd-io-enable-cri",
        cases::containerd_io_cri_disabled(),
    );
    let plan = g.plan.expect("a plan");
    assert!(
        !plan.warnings.iter().any(|w| w.contains("CRI")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn not_ready_nspawn_is_refused_without_force() {
    let g = golden("not-ready-nspawn", cases::not_ready_nspawn());
    assert!(
        g.error
            .as_deref()
            .is_some_and(|e| e.contains("use --force")),
        "{:?}",
        g.error
    );
    assert!(g.plan.is_some(), "with --force it plans");
}

#[test]
fn foreign_opt_kata_is_kept_aside() {
    let g = golden("foreign-opt-kata", cases::foreign_opt_kata());
    let plan = g.plan.expect("a plan");
    assert!(plan.changes.iter().any(|c| matches!(
        c.action,
        Action::InstallKata {
            replaces_foreign: true,
            ..
        }
    )));
}

#[test]
fn nixos() {
    let g = golden("nixos", cases::nixos());
    let plan = g.plan.expect("a plan");
    assert!(plan
        .changes
        .iter()
        .all(|c| matches!(c.action, Action::NixosActivate { .. })));
}

#[test]
fn nixos_flake_is_refused_with_the_module_path() {
    let g = golden("nixos-flake", cases::nixos_flake());
    let error = g.error.expect("a flake host is refused");
    assert!(
        error.contains("is a flake") && error.contains("nixosModules.default"),
        "{error}"
    );
    assert!(g.plan.is_none(), "not even --force plans a flake host");
}

#[test]
fn nixos_pending_activation_is_settled_first() {
    let g = golden("nixos-pending", cases::nixos_pending());
    let plan = g.plan.expect("a plan");
    assert!(
        matches!(
            plan.changes.as_slice(),
            [katafleet::plan::Change {
                action: Action::NixosFinish { switch: true, .. },
                ..
            }]
        ),
        "{:?}",
        plan.changes
    );
}

#[test]
fn uninstall_provisioned_bookworm() {
    let g = golden_as(
        "uninstall-provisioned-bookworm",
        cases::uninstall_provisioned_bookworm(),
        Planner::Uninstall,
    );
    assert_eq!(g.error, None);
    let plan = g.plan.expect("a plan");
    assert!(plan.manifest.is_empty(), "nothing is left owned");
    assert!(matches!(
        plan.changes.last().map(|c| &c.action),
        Some(Action::RemoveState)
    ));
}
