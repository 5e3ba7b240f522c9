//! Fixture tests: `debian12-nspawn.txt` is the probe's real output on a test
//! host (Debian 12 in systemd-nspawn, containerd 1.6). The other cases are
//! that output with single `@@kv` lines changed, to model hosts the
//! test fleet cannot be (bare metal with vmx, a root-only /dev/kvm, ...).

use super::*;
use crate::assess::readiness::{assess, Status};

const NSPAWN: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/facts/debian12-nspawn.txt"
));

fn with(lines: &[(&str, &str)]) -> HostFacts {
    let mut text = NSPAWN.to_string();
    for (key, value) in lines {
        let old = text
            .lines()
            .find(|l| l.starts_with(&format!("@@kv {key} ")))
            .map(String::from);
        let new = format!("@@kv {key} {value}");
        text = match old {
            Some(old) => text.replace(&old, &new),
            None => text.replacen("@@end-probe", &format!("{new}\n@@end-probe"), 1),
        };
    }
    parse(&text).unwrap()
}

fn bare_metal() -> [(&'static str, &'static str); 5] {
    [
        ("cpu_virt", "vmx"),
        ("cpu_hypervisor", ""),
        ("virt_container", "none"),
        ("virt_vm", "none"),
        ("kvm_open", "ok"),
    ]
}

#[test]
fn real_nspawn_host() {
    let f = parse(NSPAWN).unwrap();
    assert_eq!(f.os.family, OsFamily::Debian);
    assert_eq!(f.os.version_id, "12");
    assert_eq!(f.arch, Some(Arch::Amd64));
    assert_eq!(f.uid, 0);
    assert_eq!(f.container.as_deref(), Some("systemd-nspawn"));
    assert_eq!(f.kvm, KvmDevice::Missing);
    assert!(f.cpu_virt.is_none());
    let c = f.containerd.as_ref().unwrap();
    assert_eq!(
        c.version,
        Some(SoftwareVersion {
            major: 1,
            minor: 6,
            patch: 20
        })
    );
    assert!(c.active);
    assert!(c.config.as_deref().unwrap().starts_with("version = 2"));
    assert!(c
        .dump
        .as_deref()
        .unwrap()
        .contains("io.containerd.grpc.v1.cri"));
    assert_eq!(f.file(crate::facts::CONTAINERD_CONFIG), c.config.as_deref());
    assert!(f.docker.is_none());
    assert!(f.has_tool("zstd") && f.has_tool("sha256sum"));
    let blockers = assess(&f).blockers().join("; ");
    for want in [
        "no vmx/svm",
        "no usable /dev/kvm",
        "inside a container (systemd-nspawn)",
    ] {
        assert!(blockers.contains(want), "{blockers}");
    }
}

#[test]
fn bare_metal_with_vmx_and_kvm_is_ready() {
    let f = with(&bare_metal());
    assert_eq!(f.cpu_virt.as_deref(), Some("vmx"));
    assert!(f.container.is_none() && f.virt_vm.is_none());
    assert!(assess(&f).is_ready(), "{:?}", assess(&f));
}

#[test]
fn root_only_kvm_device_is_denied() {
    let mut lines = bare_metal().to_vec();
    lines.push(("kvm_open", "denied"));
    lines.push(("kvm_mode", "600 root root"));
    let f = with(&lines);
    assert_eq!(
        f.kvm,
        KvmDevice::Denied {
            mode: "600 root root".into()
        }
    );
    assert!(assess(&f)
        .blockers()
        .iter()
        .any(|b| b.contains("600 root root")));
}

#[test]
fn missing_modules_warn_about_vhost_vsock() {
    let mut lines = bare_metal().to_vec();
    lines.push(("modules", ""));
    let f = with(&lines);
    assert!(f.modules.is_empty());
    let r = assess(&f);
    assert!(r.is_ready());
    assert!(r
        .findings
        .iter()
        .any(|x| x.check == "vhost-vsock" && x.status == Status::Warn));
}

#[test]
fn a_nested_vm_is_named() {
    let mut lines = bare_metal().to_vec();
    lines.push(("virt_vm", "kvm"));
    let f = with(&lines);
    assert_eq!(f.virt_vm.as_deref(), Some("kvm"));
    assert!(assess(&f)
        .findings
        .iter()
        .any(|x| x.check == "nested-virtualization"));
}

#[test]
fn docker_and_extra_files_are_read() {
    let text = NSPAWN.replace(
        "@@end-probe",
        "@@kv docker_version Docker version 28.5.2+dfsg1, build 1a2b3c\n@@kv docker_active active\n@@file docker-daemon-json\neyJkZWJ1ZyI6IHRydWV9Cg==\n@@end\n@@file path:/etc/modules-load.d/katafleet.conf\na3ZtCg==\n@@end\n@@end-probe",
    );
    let f = parse(&text).unwrap();
    let d = f.docker.unwrap();
    assert_eq!(
        d.version,
        Some(SoftwareVersion {
            major: 28,
            minor: 5,
            patch: 2
        })
    );
    assert_eq!(d.daemon_json.as_deref(), Some("{\"debug\": true}\n"));
    assert_eq!(
        f.files
            .get("/etc/modules-load.d/katafleet.conf")
            .map(String::as_str),
        Some("kvm\n")
    );
}

#[test]
fn kvm_group_members_and_dnf_version() {
    let f = with(&[("kvm_group", "kvm:x:993:alice,bob"), ("dnf_kata", "3.7.0")]);
    assert_eq!(
        f.kvm_group,
        Some(vec!["alice".to_string(), "bob".to_string()])
    );
    assert_eq!(f.dnf_kata.as_deref(), Some("3.7.0"));
    let real = parse(NSPAWN).unwrap();
    assert!(real.dnf_kata.is_none());
}

#[test]
fn cut_off_or_foreign_output_is_an_error() {
    assert!(matches!(parse("hello"), Err(ParseError::NoMarker)));
    let cut = &NSPAWN[..NSPAWN.len() / 2];
    assert!(matches!(parse(cut), Err(ParseError::Truncated)));
}

#[test]
fn software_versions_from_version_lines() {
    let v = |s| software_version(s).map(|v| v.to_string());
    assert_eq!(
        v("containerd containerd.io 1.7.27 05044ec0a9a7"),
        Some("1.7.27".into())
    );
    assert_eq!(
        v("containerd github.com/containerd/containerd/v2 2.1.9+unknown "),
        Some("2.1.9".into())
    );
    assert_eq!(
        v("Docker version 20.10.24+dfsg1, build 297e128"),
        Some("20.10.24".into())
    );
    assert_eq!(v("no version here"), None);
}

#[test]
fn a_corrupt_ownership_record_is_reported_and_rebuilt_not_a_dead_end() {
    let provisioned = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/facts/debian12-nspawn-provisioned.txt"
    ));
    let start = provisioned.find("@@file manifest\n").unwrap() + "@@file manifest\n".len();
    let end = start + provisioned[start..].find("@@end").unwrap();
    let corrupt = format!(
        "{}{}\n{}",
        &provisioned[..start],
        "bm90IGpzb24K", // "not json"
        &provisioned[end..]
    );
    let facts = parse(&corrupt).unwrap();
    assert!(facts.manifest_error.is_some());
    let mut desired = crate::inventory::Desired::sample();
    desired.kata.sha256 = facts.kata.as_ref().and_then(|k| k.sha256.parse().ok());
    let plan =
        crate::plan::plan(&facts, &desired, crate::plan::PlanOptions { force: true }).unwrap();
    assert!(
        plan.warnings.iter().any(|w| w.contains("is unreadable")),
        "{:?}",
        plan.warnings
    );
    assert!(
        plan.manifest
            .containerd_handlers
            .contains(&"kata".to_string()),
        "katafleet's marked runtime is known again: {:?}",
        plan.manifest
    );
    assert!(!plan.is_empty(), "the record is written again");
}

#[test]
fn the_rollback_deadline_record_is_read_on_one_line() {
    use base64::Engine as _;
    let golden = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/nixos/facts.txt"
    ));
    assert_eq!(parse(golden).unwrap().nixos.unwrap().deadline_fired, None);
    let record =
        "at=2026-12-02T00:00:00Z\nsystem=/nix/store/x\nresult=the previous system is back\n";
    let block = format!(
        "@@file nixos-deadline-fired\n{}\n@@end\n@@end-probe",
        base64::engine::general_purpose::STANDARD.encode(record)
    );
    let text = golden.replacen("@@end-probe", &block, 1);
    assert_eq!(
        parse(&text)
            .unwrap()
            .nixos
            .unwrap()
            .deadline_fired
            .as_deref(),
        Some("at=2026-12-02T00:00:00Z system=/nix/store/x result=the previous system is back")
    );
}

#[test]
fn facts_after_apply_keep_what_no_run_changes_from_before() {
    // What the probe leaves out with KF_AFTER_APPLY=1.
    let statics = [
        "uid",
        "machine",
        "kernel",
        "cpu_virt",
        "cpu_hypervisor",
        "virt_container",
        "virt_vm",
        "kvm_mode",
        "kvm_open",
        "mem_kib",
        "selinux",
    ];
    let mut lean = String::new();
    let mut lines = NSPAWN.lines();
    while let Some(line) = lines.next() {
        if line == "@@file os-release" {
            for l in lines.by_ref() {
                if l == "@@end" {
                    break;
                }
            }
            continue;
        }
        let key = line.strip_prefix("@@kv ").and_then(|r| r.split(' ').next());
        if key.is_some_and(|k| statics.contains(&k)) {
            continue;
        }
        lean.push_str(line);
        lean.push('\n');
    }
    let before = parse(NSPAWN).unwrap();
    let after = parse(&lean).unwrap();
    assert_ne!(
        after.os.pretty_name, before.os.pretty_name,
        "the fixture lost its OS"
    );
    let merged = after.keep_unchanged(&before);
    assert_eq!(
        serde_json::to_value(&merged).unwrap(),
        serde_json::to_value(&before).unwrap()
    );
}

#[test]
fn what_holds_for_one_boot_is_handed_back_as_the_hosts_record_of_it() {
    let fresh = with(&[("boot_id", "0b1d-aa"), ("cpu_virt", "vmx")]);
    let record = fresh.boot_record.expect("a record to hand back");
    let mut lines = record.lines();
    assert_eq!(lines.next(), Some("boot 0b1d-aa"));
    let rest: Vec<&str> = lines.collect();
    assert!(rest.contains(&"cpu_virt vmx"), "{record}");
    assert!(rest.contains(&"virt_container systemd-nspawn"), "{record}");
    assert!(rest.contains(&"machine x86_64"), "{record}");
    assert!(
        !record.contains("uid") && !record.contains("mem_kib"),
        "only what a boot fixes: {record}"
    );

    let from_record = with(&[("boot_id", "0b1d-aa"), ("boot_cached", "yes")]);
    assert_eq!(from_record.boot_record, None, "already recorded");
    assert_eq!(from_record.container.as_deref(), Some("systemd-nspawn"));
    assert_eq!(parse(NSPAWN).unwrap().boot_record, None, "no boot id");
}

#[test]
fn facts_after_apply_keep_the_boot_record_from_before() {
    let before = with(&[("boot_id", "0b1d-aa")]);
    let after = parse(NSPAWN).unwrap().keep_unchanged(&before);
    assert_eq!(after.boot_record, before.boot_record);
    assert!(after.boot_record.is_some());
}
