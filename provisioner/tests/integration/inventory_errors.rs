//! The inventory is a user-facing contract: every problem is reported with
//! FILE:LINE:COL, the line, carets and a "did you mean", with exit code 2.

use crate::test::Test;

/// `katafleet plan inventory.toml` with this inventory: stderr and exit 2.
fn refused(inventory: &str, stderr: &str) {
    Test::new()
        .file("inventory.toml", inventory)
        .args(&["plan", "inventory.toml"])
        .stderr(stderr)
        .status(2)
        .run();
}

#[test]
fn every_error_is_reported_with_its_location() {
    refused(
        r#"[defaults]
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
"#,
        r#"error: unknown key `paralel` in [defaults]
 --> inventory.toml:2:1
  |
2 | paralel = 4
  | ^^^^^^^
  = help: did you mean `parallel`?

error: `abc` is not a sha256 digest (64 hex characters)
 --> inventory.toml:6:10
  |
6 | sha256 = "abc"
  |          ^^^^^

error: invalid hypervisor `qemo`; expected one of: qemu, clh, fc, dragonball
 --> inventory.toml:7:14
  |
7 | hypervisor = "qemo"
  |              ^^^^^^
  = help: did you mean `qemu`?

error: port = 70000 is out of range (1..=65535)
  --> inventory.toml:11:8
   |
11 | port = 70000
   |        ^^^^^

error: duplicate host name `a`
  --> inventory.toml:14:8
   |
14 | name = "a"
   |        ^^^
  = help: `a` is first defined on line 10

5 problem(s) in inventory.toml
"#,
    );
}

#[test]
fn a_version_without_known_checksum_needs_a_pin() {
    refused(
        "[kata]\nversion = \"4.2.0\"\n\n[[hosts]]\nname = \"x\"\n",
        r#"error: no sha256 for Kata 4.2.0: katafleet has no known checksum for it
 --> inventory.toml:2:11
  |
2 | version = "4.2.0"
  |           ^^^^^^^
  = help: pin the release asset's digest with `sha256 = "..."` next to `version`

1 problem(s) in inventory.toml
"#,
    );
}

#[test]
fn syntax_errors_point_at_the_line() {
    refused(
        "[kata\nversion = 1\n",
        "error: invalid TOML: unclosed table, expected `]`
 --> inventory.toml:1:6
  |
1 | [kata
  |      ^

1 problem(s) in inventory.toml
",
    );
}

#[test]
fn a_limit_that_matches_nothing_is_a_usage_error() {
    Test::new()
        .file(
            "inv.toml",
            "[kata]\nversion = \"3.32.0\"\n[[hosts]]\nname = \"a\"\naddress = \"local\"\n",
        )
        .args(&["plan", "inv.toml", "--limit", "web*"])
        .stderr("error: --limit `web*` matches no host in the inventory\n")
        .status(2)
        .run();
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
    assert_eq!(gpu.connection.port, Some(2222));
    assert_eq!(example.hosts[0].connection.port, None, "no port unless set");
    let local = katafleet::inventory::load(&root.join("inventory/localhost.toml")).unwrap();
    assert_eq!(
        local.hosts[0].connection.address,
        katafleet::inventory::Address::Local
    );
}

#[test]
fn rollout_settings_are_checked_with_their_locations() {
    Test::new()
        .file(
            "inventory.toml",
            r#"[kata]
version = "3.2.0"

[rollout]
serial = [1, "150%", 0]
max_fail_percentage = -1
pause_between_batches = "confrim"
paralel = 2

[[hosts]]
name = "a"
"#,
        )
        .args(&["upgrade", "inventory.toml"])
        .stderr(
            r#"error: batch size `150%`: a percentage is 1% to 100% (150% is out of range)
 --> inventory.toml:5:14
  |
5 | serial = [1, "150%", 0]
  |              ^^^^^^

error: a batch of 0 hosts: a batch is at least 1 host (or a percentage such as "10%")
 --> inventory.toml:5:22
  |
5 | serial = [1, "150%", 0]
  |                      ^

error: max_fail_percentage = -1 is out of range (0..=100)
 --> inventory.toml:6:23
  |
6 | max_fail_percentage = -1
  |                       ^^

error: pause_between_batches = "confrim": write a number of seconds or "confirm"
 --> inventory.toml:7:25
  |
7 | pause_between_batches = "confrim"
  |                         ^^^^^^^^^
  = help: did you mean `confirm`?

error: unknown key `paralel` in [rollout]
 --> inventory.toml:8:1
  |
8 | paralel = 2
  | ^^^^^^^

5 problem(s) in inventory.toml
"#,
        )
        .status(2)
        .run();
}
