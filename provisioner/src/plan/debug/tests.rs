//! Debug plans on the real probe output of a provisioned test host.

use super::*;
use crate::facts::parse;
use crate::release::Hypervisor;

const PROVISIONED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/facts/debian12-nspawn-provisioned.txt"
));
const FRESH: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/facts/debian12-nspawn.txt"
));
const DROPIN: &str =
    "/opt/kata/share/defaults/kata-containers/runtime-rs/config.d/60-katafleet-debug.toml";

fn on(containerd: bool) -> Request {
    Request {
        on: true,
        containerd,
    }
}

fn off(containerd: bool) -> Request {
    Request {
        on: false,
        containerd,
    }
}

#[test]
fn debug_on_writes_one_dropin_and_restarts_nothing() {
    let facts = parse(PROVISIONED).unwrap();
    let p = plan(&facts, &Desired::sample(), on(false), None).unwrap();
    assert_eq!(p.changes.len(), 1);
    let Action::WriteFile(w) = &p.changes[0].action else {
        panic!("{:?}", p.changes[0].action)
    };
    assert_eq!(w.path, DROPIN);
    let v: toml::Table = w.content.parse().unwrap();
    assert_eq!(
        v["hypervisor"]["qemu"]["enable_debug"].as_bool(),
        Some(true)
    );
    assert_eq!(v["agent"]["kata"]["enable_debug"].as_bool(), Some(true));
    assert_eq!(v["runtime"]["enable_debug"].as_bool(), Some(true));
    let owned = &p.manifest.files[DROPIN];
    assert!(owned.created);
    assert!(
        p.manifest.files.contains_key("/etc/containerd/config.toml"),
        "the manifest is kept"
    );
}

#[test]
fn a_second_run_changes_nothing_and_off_flips_the_dropin() {
    let facts = parse(PROVISIONED).unwrap();
    let content = dropin(&Desired::sample(), true);
    assert!(plan(&facts, &Desired::sample(), on(false), Some(&content))
        .unwrap()
        .is_empty());
    let off = plan(&facts, &Desired::sample(), off(false), Some(&content)).unwrap();
    assert_eq!(off.changes.len(), 1);
    assert!(off.changes[0]
        .diff
        .as_deref()
        .unwrap()
        .contains("+enable_debug = false"));
}

#[test]
fn every_wired_hypervisor_gets_its_section() {
    let mut d = Desired::sample();
    d.kata.shims = vec![Hypervisor::Qemu, Hypervisor::Fc];
    let v: toml::Table = dropin(&d, true).parse().unwrap();
    assert!(v["hypervisor"].get("qemu").is_some() && v["hypervisor"].get("firecracker").is_some());
}

#[test]
fn containerd_debug_edits_the_main_config_and_restarts_containerd() {
    let facts = parse(PROVISIONED).unwrap();
    let p = plan(&facts, &Desired::sample(), on(true), None).unwrap();
    assert_eq!(p.changes.len(), 2);
    let Action::Configure {
        service,
        files,
        validation,
        health,
    } = &p.changes[1].action
    else {
        panic!("{:?}", p.changes[1].action)
    };
    assert_eq!(*service, Service::Containerd);
    // After the restart containerd must still hold katafleet's handlers.
    assert_eq!(health.handlers, facts.manifest.containerd_handlers);
    assert!(health.cri);
    assert!(matches!(validation, Validation::ContainerdDump { .. }));
    let v: toml::Table = files[0].content.parse().unwrap();
    assert_eq!(v["debug"]["level"].as_str(), Some("debug"));
    assert!(
        files[0].content.contains("runtimes.kata]"),
        "the rest of the file stays"
    );
    // Off takes katafleet's level away again and leaves no empty [debug].
    let mut after = facts.clone();
    if let Some(c) = after.containerd.as_mut() {
        c.config = Some(files[0].content.clone());
    }
    let off = plan(&after, &Desired::sample(), off(true), None).unwrap();
    let Action::Configure { files, .. } = &off.changes.last().unwrap().action else {
        panic!()
    };
    assert!(
        !files[0].content.contains("[debug]"),
        "{}",
        files[0].content
    );
}

#[test]
fn a_user_log_level_is_left_alone_by_off() {
    let mut facts = parse(PROVISIONED).unwrap();
    if let Some(c) = facts.containerd.as_mut() {
        c.config = Some("version = 2\n[debug]\n  level = \"warn\"\n".into());
    }
    let off = plan(&facts, &Desired::sample(), off(true), None).unwrap();
    assert!(off
        .changes
        .iter()
        .all(|c| !matches!(c.action, Action::Configure { .. })));
}

#[test]
fn without_kata_or_containerd_config_it_says_what_to_do() {
    let fresh = parse(FRESH).unwrap();
    let e = plan(&fresh, &Desired::sample(), on(false), None).unwrap_err();
    assert!(
        e.to_string().contains("run katafleet provision first"),
        "{e}"
    );
    let mut facts = parse(PROVISIONED).unwrap();
    if let Some(c) = facts.containerd.as_mut() {
        c.config = None;
    }
    assert_eq!(
        plan(&facts, &Desired::sample(), on(true), None).unwrap_err(),
        DebugError::NoContainerdConfig
    );
}

#[test]
fn where_the_logs_go_depends_on_the_runtime() {
    let rs = where_logs_go(&Desired::sample(), false, false);
    assert_eq!(rs.len(), 2, "no Docker, no Docker log");
    assert!(
        rs[0].contains("journalctl -u containerd") && rs[0].contains("add --containerd"),
        "{rs:?}"
    );
    let mut go = Desired::sample();
    go.kata.runtime = Runtime::Go;
    assert!(where_logs_go(&go, true, true)[0]
        .starts_with("Kata (Go shim, agent, hypervisor): journalctl -t kata"));
}
