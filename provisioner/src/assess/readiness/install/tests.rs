//! The inventory-dependent findings, on trees shaped like the real release
//! layouts (see /tmp research notes in the repo's FIXTURE.md).

use super::*;
use crate::facts::{InstalledKata, KataTree};
use crate::inventory::Desired;

const RS_SHIM: &str = "containerd-shim-kata-v2";

fn rust_tree() -> KataTree {
    KataTree {
        version_file: Some("4.2.0".into()),
        bin: ["qemu-system-x86_64", "cloud-hypervisor"]
            .map(String::from)
            .into(),
        runtime_rs_bin: [RS_SHIM.to_string()].into(),
        configs: [
            "runtime-rs/configuration-qemu-runtime-rs.toml",
            "runtime-rs/configuration-clh-runtime-rs.toml",
            "runtime-rs/configuration-dragonball.toml",
        ]
        .map(String::from)
        .into(),
        ..KataTree::default()
    }
}

fn facts(tree: KataTree) -> HostFacts {
    HostFacts {
        arch: Some(Arch::Amd64),
        kata: Some(InstalledKata {
            version: "4.2.0".parse().unwrap(),
            runtime: Runtime::Rust,
            sha256: "ab".repeat(32),
        }),
        kata_tree: tree,
        ..HostFacts::default()
    }
}

fn by_check<'a>(all: &'a [Finding], check: &str) -> Vec<&'a Finding> {
    all.iter().filter(|f| f.check == check).collect()
}

#[test]
fn nothing_installed_is_only_information() {
    let all = assess_install(&HostFacts::default(), &Desired::sample());
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, Status::Info);
    assert!(all[0].detail.contains("provision installs 4.2.0"));
}

#[test]
fn an_installed_runtime_rs_tree_with_qemu_passes() {
    let mut f = facts(rust_tree());
    f.kata_tree.on_path.insert(
        RS_SHIM.into(),
        "/usr/local/bin/containerd-shim-kata-v2".into(),
    );
    let all = assess_install(&f, &Desired::sample());
    assert!(all.iter().all(|x| x.status == Status::Pass), "{all:?}");
    assert_eq!(
        by_check(&all, "kata-installed")[0].detail,
        "Kata 4.2.0 (rust runtime), installed by katafleet"
    );
}

#[test]
fn qemu_not_found_names_the_missing_binary_and_what_the_release_ships() {
    let mut tree = rust_tree();
    tree.bin.remove("qemu-system-x86_64");
    let all = assess_install(&facts(tree), &Desired::sample());
    let hv = by_check(&all, "hypervisor");
    assert_eq!(hv[0].status, Status::Fail);
    assert_eq!(
        hv[0].detail,
        "QEMU not found: /opt/kata/bin/qemu-system-x86_64 is missing"
    );
    let fix = hv[0].fix.as_deref().unwrap();
    assert!(fix.contains("wrong hypervisor (`qemu`)"), "{fix}");
    assert!(fix.contains("ships: clh, dragonball"), "{fix}");
}

#[test]
fn every_wired_shim_is_checked_and_dragonball_needs_only_its_config() {
    let mut desired = Desired::sample();
    desired.kata.shims = vec![Hypervisor::Dragonball, Hypervisor::Clh];
    let all = assess_install(&facts(rust_tree()), &desired);
    let hv = by_check(&all, "hypervisor");
    assert_eq!(hv.len(), 3, "{hv:?}");
    assert!(hv.iter().all(|f| f.status == Status::Pass), "{hv:?}");
    let mut tree = rust_tree();
    tree.configs
        .remove("runtime-rs/configuration-dragonball.toml");
    let all = assess_install(&facts(tree), &desired);
    assert!(by_check(&all, "hypervisor")
        .iter()
        .any(|f| f.status == Status::Fail
            && f.detail
                .contains("configuration-dragonball.toml is missing")));
}

#[test]
fn kata_runtime_command_not_found_gets_the_symlink_fix() {
    let tree = KataTree {
        version_file: Some("4.2.0".into()),
        bin: [RS_SHIM, "kata-runtime", "qemu-system-x86_64"]
            .map(String::from)
            .into(),
        configs: ["configuration-qemu.toml".to_string()].into(),
        ..KataTree::default()
    };
    let mut desired = Desired::sample();
    desired.kata.runtime = Runtime::Go;
    let mut f = facts(tree);
    f.kata = None;
    let all = assess_install(&f, &desired);
    assert_eq!(
        by_check(&all, "kata-installed")[0].detail,
        "Kata 4.2.0 in /opt/kata, not installed by katafleet"
    );
    let path = by_check(&all, "on-path");
    assert_eq!(path[0].status, Status::Warn);
    assert_eq!(
        path[0].detail,
        "`kata-runtime: command not found`: /opt/kata/bin is not on PATH"
    );
    assert_eq!(
        path[0].fix.as_deref(),
        Some("ln -sf /opt/kata/bin/kata-runtime /usr/local/bin/kata-runtime (or add /opt/kata/bin to PATH)")
    );
    assert_eq!(
        path[1].status,
        Status::Info,
        "the shim off PATH only matters to ctr"
    );
}

#[test]
fn kvm_users_outside_the_kvm_group_are_named() {
    let mut desired = Desired::sample();
    desired.kata.kvm_users = vec!["ops".into(), "ci".into()];
    let mut f = facts(rust_tree());
    f.kvm_group = Some(vec!["ops".into()]);
    let all = assess_install(&f, &desired);
    let k = by_check(&all, "kvm-users");
    assert_eq!(k[0].status, Status::Warn);
    assert!(
        k[0].detail.ends_with("Permission denied: ci"),
        "{}",
        k[0].detail
    );
    assert!(k[0].fix.as_deref().unwrap().ends_with("usermod -aG kvm ci"));
    f.kvm_group = Some(vec!["ops".into(), "ci".into()]);
    assert_eq!(
        by_check(&assess_install(&f, &desired), "kvm-users")[0].status,
        Status::Pass
    );
}

#[test]
fn the_wrong_runtime_for_the_tree_is_a_failure() {
    let mut desired = Desired::sample();
    desired.kata.runtime = Runtime::Go;
    let all = assess_install(&facts(rust_tree()), &desired);
    let k = by_check(&all, "kata-installed");
    assert_eq!(k[0].status, Status::Fail);
    assert!(
        k[0].detail.contains("has no go runtime shim"),
        "{}",
        k[0].detail
    );
    assert!(k[0].fix.as_deref().unwrap().contains("runtime = \"rust\""));
}
