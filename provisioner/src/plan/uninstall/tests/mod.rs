//! Table tests from the real transcript of a provisioned bookworm test host
//! (`debian12-nspawn-provisioned.txt`: containerd 1.6's config.toml edited
//! in place, the modules-load file and the Kata drop-in created), with the
//! facts an uninstall probe adds (the saved original, /opt, the state dir)
//! and single edits for the other cases.

use super::*;
use crate::facts::footprint::Backup;
use crate::facts::manifest::{backup_path, ManagedFile};
use crate::facts::DockerFacts;
use crate::plan::containerd::{DROPIN, MAIN_CONFIG};
use crate::plan::docker::DAEMON_JSON;
use crate::plan::{FileUndo, Validation};
use crate::release::checksums::Sha256;

const PROVISIONED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/facts/debian12-nspawn-provisioned.txt"
));
const ORIGINAL: &str = "# the user's own containerd config\nversion = 2\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\nruntime_type = \"io.containerd.runc.v2\"\n";
const DROPIN_50: &str =
    "/opt/kata/share/defaults/kata-containers/runtime-rs/config.d/50-katafleet.toml";

fn sha(text: &str) -> String {
    Sha256::of(text.as_bytes()).hex().to_string()
}

fn set<const N: usize>(names: [&str; N]) -> std::collections::BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn provisioned() -> HostFacts {
    let mut f = crate::facts::parse(PROVISIONED).unwrap();
    f.footprint.opt = set(["kata"]);
    f.footprint.state = Some(set(["backup", "last-provision", "lock", "manifest.json"]));
    f.footprint.backups.insert(
        MAIN_CONFIG.into(),
        Backup {
            content: ORIGINAL.into(),
            sha256: sha(ORIGINAL),
        },
    );
    f
}

fn run(facts: &HostFacts) -> Plan {
    plan(facts, PlanOptions::default()).unwrap()
}

fn forced(facts: &HostFacts) -> Plan {
    plan(facts, PlanOptions { force: true }).unwrap()
}

fn refusal(facts: &HostFacts) -> String {
    plan(facts, PlanOptions::default()).unwrap_err().to_string()
}

fn kinds(plan: &Plan) -> Vec<&'static str> {
    plan.changes
        .iter()
        .map(|c| match &c.action {
            Action::Unwire {
                service: Service::Containerd,
                ..
            } => "unwire containerd",
            Action::Unwire {
                service: Service::Docker,
                ..
            } => "unwire docker",
            Action::UndoFile(_) => "undo file",
            Action::RemoveTrees { .. } => "remove trees",
            Action::RemoveFromGroup { .. } => "remove from group",
            Action::RemoveGroup { .. } => "remove group",
            Action::RemoveState => "remove state",
            _ => "other",
        })
        .collect()
}

/// A file katafleet owns, changed on the host since it wrote it.
fn drift(facts: &mut HostFacts, path: &str, content: &str) {
    facts.files.insert(path.into(), content.into());
    facts
        .managed_digests
        .insert(path.into(), Some(sha(content)));
}

#[test]
fn everything_katafleet_put_on_a_provisioned_host_goes() {
    let facts = provisioned();
    let plan = run(&facts);
    assert_eq!(
        kinds(&plan),
        [
            "unwire containerd",
            "undo file",
            "remove trees",
            "remove state"
        ]
    );
    let Action::Unwire {
        files,
        health,
        gone,
        validation,
        ..
    } = &plan.changes[0].action
    else {
        unreachable!()
    };
    assert_eq!(
        files,
        &[FileUndo {
            path: MAIN_CONFIG.into(),
            sha256: Some(facts.manifest.files[MAIN_CONFIG].sha256.clone()),
            undo: Undo::Restore {
                backup: backup_path(MAIN_CONFIG),
                sha256: sha(ORIGINAL),
            },
        }]
    );
    assert_eq!(gone, &["kata", "kata-qemu"]);
    assert!(health.cri && health.handlers.is_empty());
    assert_eq!(
        validation,
        &Validation::ContainerdDump {
            main_config: MAIN_CONFIG.into()
        }
    );
    let diff = plan.changes[0].diff.as_deref().unwrap();
    assert!(
        diff.contains("-[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]"),
        "the diff goes from katafleet's file to the original: {diff}"
    );
    assert!(
        diff.contains("+# the user's own containerd config"),
        "{diff}"
    );
    assert!(plan.changes[0].reason.contains("restart containerd"));
    assert_eq!(
        plan.changes[1].action,
        Action::UndoFile(FileUndo {
            path: MODULES_LOAD_FILE.into(),
            sha256: Some(facts.manifest.files[MODULES_LOAD_FILE].sha256.clone()),
            undo: Undo::Remove,
        })
    );
    assert_eq!(
        plan.changes[2].action,
        Action::RemoveTrees {
            trees: vec!["/opt/kata".into()],
            restore_foreign: false
        },
        "the Kata drop-in goes with the tree it is in"
    );
    assert!(
        plan.changes[2].reason.contains("Kata 4.2.0"),
        "{}",
        plan.changes[2].reason
    );
    assert!(plan.manifest.is_empty());
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn the_record_shrinks_step_by_step() {
    let plan = run(&provisioned());
    let first = &plan.owned_after[0];
    assert!(!first.owns(MAIN_CONFIG) && first.containerd_handlers.is_empty());
    assert!(first.owns(MODULES_LOAD_FILE) && first.owns(DROPIN_50));
    assert!(!plan.owned_after[1].owns(MODULES_LOAD_FILE));
    assert!(plan.owned_after[2].files.is_empty());
}

#[test]
fn a_changed_config_is_refused_with_katafleets_entries_spelled_out() {
    let mut facts = provisioned();
    let edited = format!(
        "{}\n# the user's later edit\n",
        facts.file(MAIN_CONFIG).unwrap()
    );
    drift(&mut facts, MAIN_CONFIG, &edited);
    let why = refusal(&facts);
    for part in [
        "/etc/containerd/config.toml changed since katafleet wrote it",
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]",
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-qemu]",
        "--force",
        "nothing was changed",
    ] {
        assert!(why.contains(part), "{part}: {why}");
    }

    let plan = forced(&facts);
    let Action::Unwire { files, .. } = &plan.changes[0].action else {
        panic!("{:?}", plan.changes[0]);
    };
    assert_eq!(files[0].sha256.as_deref(), Some(sha(&edited).as_str()));
    assert!(
        plan.warnings[0].contains("later changes are gone"),
        "{:?}",
        plan.warnings
    );
    assert!(plan.changes[0]
        .diff
        .as_deref()
        .unwrap()
        .contains("-# the user's later edit"));
}

#[test]
fn a_changed_config_without_katafleets_entries_is_left_as_the_user_has_it() {
    let mut facts = provisioned();
    drift(&mut facts, MAIN_CONFIG, "version = 2\n# hand-cleaned\n");
    let plan = run(&facts);
    assert_eq!(
        kinds(&plan),
        ["undo file", "remove trees", "remove state"],
        "containerd's config is not touched, so containerd is not restarted"
    );
    assert!(plan
        .noops
        .iter()
        .any(|n| n.what == MAIN_CONFIG && n.reason.contains("left as it is")));
}

#[test]
fn a_created_file_that_changed_is_refused_unless_forced() {
    let mut facts = provisioned();
    drift(&mut facts, MODULES_LOAD_FILE, "kvm\nmy_module\n");
    let why = refusal(&facts);
    assert!(
        why.contains("/etc/modules-load.d/katafleet.conf changed since katafleet created it"),
        "{why}"
    );
    let plan = forced(&facts);
    assert!(matches!(
        &plan.changes[1].action,
        Action::UndoFile(FileUndo {
            undo: Undo::Remove,
            ..
        })
    ));
}

#[test]
fn files_already_gone_are_left_and_a_deleted_edited_one_comes_back_only_with_force() {
    let mut facts = provisioned();
    facts.managed_digests.insert(MODULES_LOAD_FILE.into(), None);
    facts.managed_digests.insert(MAIN_CONFIG.into(), None);
    let plan = run(&facts);
    assert_eq!(kinds(&plan), ["remove trees", "remove state"]);
    let noop = plan.noops.iter().find(|n| n.what == MAIN_CONFIG).unwrap();
    assert!(noop.reason.contains("--force puts it back"), "{noop:?}");
    let plan = forced(&facts);
    let Action::Unwire { files, .. } = &plan.changes[0].action else {
        panic!("{:?}", plan.changes[0]);
    };
    assert_eq!(files[0].sha256, None, "planned as absent");
}

#[test]
fn an_edited_file_without_its_saved_original_is_refused() {
    let mut facts = provisioned();
    facts.footprint.backups.clear();
    for force in [false, true] {
        let why = plan(&facts, PlanOptions { force }).unwrap_err().to_string();
        assert!(
            why.contains("/var/lib/katafleet/backup/etc/containerd/config.toml) is missing")
                && why.contains("runtimes.kata]"),
            "{why}"
        );
    }
}

#[test]
fn running_kata_sandboxes_stop_the_uninstall_unless_forced() {
    let mut facts = provisioned();
    facts.footprint.kata_shims = vec![4242, 4343];
    let why = refusal(&facts);
    assert!(
        why.contains("Kata sandboxes are running here (containerd-shim-kata-v2, pid 4242, 4343)"),
        "{why}"
    );
    let plan = forced(&facts);
    assert!(!plan.is_empty());
    assert!(plan.warnings[0].contains("pid 4242, 4343"));
}

#[test]
fn nixos_hosts_are_refused() {
    let mut facts = provisioned();
    facts.os.family = OsFamily::NixOS;
    assert!(refusal(&facts).contains("does not handle NixOS hosts yet"));
}

#[test]
fn a_host_without_katafleet_has_nothing_to_uninstall() {
    let facts = crate::facts::parse(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/facts/debian12-nspawn.txt"
    )))
    .unwrap();
    let plan = run(&facts);
    assert!(plan.is_empty());
    assert_eq!(
        plan.noops[0].reason,
        "nothing of katafleet's is on this host"
    );
}

#[test]
fn right_after_apply_the_runs_own_lock_and_set_aside_trees_are_not_left_over() {
    let mut after = HostFacts::default();
    after.footprint.state = Some(set(["lock", "txn"]));
    after.footprint.opt = set([".katafleet-removed"]);
    assert!(replan(&after, PlanOptions::default()).unwrap().is_empty());
    // Left by a run whose commit never came: cleaned up by the next uninstall.
    let plan = run(&after);
    assert_eq!(kinds(&plan), ["remove trees", "remove state"]);
}

#[test]
fn a_foreign_opt_kata_set_aside_at_install_comes_back() {
    let mut facts = provisioned();
    facts.footprint.opt = set(["kata", "kata.katafleet-orig"]);
    let plan = run(&facts);
    let trees = plan
        .changes
        .iter()
        .find(|c| matches!(c.action, Action::RemoveTrees { .. }))
        .unwrap();
    assert_eq!(
        trees.action,
        Action::RemoveTrees {
            trees: vec!["/opt/kata".into()],
            restore_foreign: true
        }
    );
    assert!(trees
        .reason
        .contains("/opt/kata.katafleet-orig becomes /opt/kata again"));
}

#[test]
fn an_opt_kata_katafleet_did_not_install_is_never_removed() {
    let mut facts = provisioned();
    facts.footprint.kata_marked = false;
    facts.footprint.opt = set(["kata", "kata.katafleet-orig"]);
    let plan = run(&facts);
    assert!(
        !kinds(&plan).contains(&"remove trees"),
        "{:?}",
        kinds(&plan)
    );
    assert!(plan
        .noops
        .iter()
        .any(|n| n.what == "/opt/kata" && n.reason.contains("did not install")));
    assert!(plan.warnings[0].contains("stays where it is"));
    // Its drop-in is katafleet's file in a foreign tree: that file alone goes.
    assert!(plan.changes.iter().any(|c| c.action
        == Action::UndoFile(FileUndo {
            path: DROPIN_50.into(),
            sha256: Some(facts.manifest.files[DROPIN_50].sha256.clone()),
            undo: Undo::Remove,
        })));
}

#[test]
fn a_release_linked_from_opt_kata_goes_with_every_tree_beside_it() {
    let mut facts = provisioned();
    facts.footprint.kata_marked = false;
    facts.kata_link = Some("kata-releases/4.2.0-rust-ac7429e6d4f8".into());
    facts.footprint.opt = set([
        "kata",
        "kata-releases",
        ".katafleet-stage.x1Yz",
        ".kata.new",
    ]);
    let plan = run(&facts);
    let trees = plan
        .changes
        .iter()
        .find_map(|c| match &c.action {
            Action::RemoveTrees { trees, .. } => Some(trees.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        trees,
        [
            "/opt/kata",
            "/opt/.kata.new",
            "/opt/.katafleet-stage.x1Yz",
            "/opt/kata-releases"
        ]
    );
}

#[test]
fn a_link_elsewhere_is_not_katafleets() {
    let mut facts = provisioned();
    facts.footprint.kata_marked = false;
    facts.kata_link = Some("/srv/kata".into());
    assert!(!kinds(&run(&facts)).contains(&"remove trees"));
}

#[test]
fn exactly_the_kvm_memberships_katafleet_added_go() {
    let mut facts = provisioned();
    facts.kvm_group = Some(vec!["alice".into(), "kf".into()]);
    facts.manifest.kvm_members_added = vec!["kf".into(), "gone".into()];
    let plan = run(&facts);
    let removed: Vec<&str> = plan
        .changes
        .iter()
        .filter_map(|c| match &c.action {
            Action::RemoveFromGroup { user, group } if group == "kvm" => Some(user.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(removed, ["kf"], "alice was there before katafleet");
    assert!(plan
        .noops
        .iter()
        .any(|n| n.what == "gone in group kvm" && n.reason == "no longer a member"));
}

#[test]
fn a_kvm_group_katafleet_created_goes_once_no_one_else_is_in_it() {
    let mut facts = provisioned();
    facts.kvm_group = Some(vec!["kf".into()]);
    facts.manifest.kvm_members_added = vec!["kf".into()];
    facts.manifest.kvm_group_created = true;
    let plan = run(&facts);
    assert_eq!(
        kinds(&plan)[3..],
        ["remove from group", "remove group", "remove state"]
    );
    facts.kvm_group = Some(vec!["kf".into(), "alice".into()]);
    let plan = run(&facts);
    assert!(!kinds(&plan).contains(&"remove group"));
    assert!(plan
        .noops
        .iter()
        .any(|n| n.what == "group kvm" && n.reason.contains("alice joined since")));
}

mod sid;
