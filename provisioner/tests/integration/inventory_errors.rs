//! The inventory is a user-facing contract: every problem is reported with
//! FILE:LINE:COL, the line, carets and a "did you mean", with exit code 2.

use std::process::Command;

fn run(inventory: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.toml");
    std::fs::write(&path, inventory).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_katafleet"))
        .arg("plan")
        .arg(&path)
        .output()
        .unwrap();
    let stderr =
        String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "inventory.toml");
    (out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn every_error_is_reported_with_its_location() {
    let (code, err) = run(r#"[defaults]
paralel = 4

[kata]
version = "4.2.0"
sha256 = "abc"
hypervisor = "qemo"

[[hosts]]
name = "a"
port = 70000

[[hosts]]
name = "a"
"#);
    assert_eq!(code, 2, "{err}");
    for want in [
        "error: unknown key `paralel` in [defaults]\n --> inventory.toml:2:1\n  |\n2 | paralel = 4\n  | ^^^^^^^\n  = help: did you mean `parallel`?",
        "inventory.toml:6:10",
        "`abc` is not a sha256 digest",
        "inventory.toml:7:14",
        "did you mean `qemu`?",
        "inventory.toml:11:8",
        "port = 70000 is out of range",
        "duplicate host name `a`",
        "inventory.toml:14:8",
        "5 problem(s)",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

#[test]
fn a_version_without_known_checksum_needs_a_pin() {
    let (code, err) = run("[kata]\nversion = \"4.2.0\"\n\n[[hosts]]\nname = \"x\"\n");
    assert_eq!(code, 2);
    assert!(err.contains("no sha256 for Kata 4.2.0"), "{err}");
    assert!(err.contains("inventory.toml:2:11"), "{err}");
}

#[test]
fn syntax_errors_point_at_the_line() {
    let (code, err) = run("[kata\nversion = 1\n");
    assert_eq!(code, 2);
    assert!(err.contains("inventory.toml:1:"), "{err}");
}

#[test]
fn a_limit_that_matches_nothing_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inv.toml");
    std::fs::write(
        &path,
        "[kata]\nversion = \"3.32.0\"\n[[hosts]]\nname = \"a\"\naddress = \"local\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_katafleet"))
        .args(["plan", path.to_str().unwrap(), "--limit", "web*"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("matches no host"));
}

#[test]
fn the_shipped_example_inventories_are_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let example = katafleet::inventory::load(&root.join("inventory/example.toml")).unwrap();
    let names: Vec<_> = example.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["web-1", "gpu-1", "ci-runner"]);
    let gpu = &example.hosts[1];
    assert_eq!(
        gpu.desired.kata.hypervisor,
        katafleet::release::Hypervisor::Clh
    );
    assert_eq!(gpu.desired.kata.memory_mib, 8192);
    assert_eq!(gpu.desired.kata.vcpus, 4);
    assert!(!gpu.desired.docker, "the edge group turns Docker off");
    assert_eq!(gpu.connection.user.as_deref(), Some("admin"));
    assert_eq!(gpu.connection.port, 2222);
    let local = katafleet::inventory::load(&root.join("inventory/localhost.toml")).unwrap();
    assert_eq!(
        local.hosts[0].connection.address,
        katafleet::inventory::Address::Local
    );
}
