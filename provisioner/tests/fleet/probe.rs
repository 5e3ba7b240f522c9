//! The lean probe on a real containerd (bookworm, 1.6): the answers of its
//! Go binaries are recorded by the run that changed the host and reused by
//! the next plan only while nothing they depend on changed; an in-place
//! edit of config.toml, a file new under an imported directory or a
//! containerd restart makes the probe ask again.
//! What holds for one boot (the CPU, systemd-detect-virt's answers) is
//! recorded the same way and reused only during that boot.

use base64::Engine as _;

use crate::common::{self, json_hosts, stderr, stdout};

/// The facts section of `plan --json`'s log for the one host.
fn plan_log_facts(fleet: &common::Fleet, inv: &std::path::Path) -> String {
    let out = fleet.katafleet(&["plan", inv.to_str().unwrap(), "--force", "--json"]);
    let hosts = json_hosts(&out);
    assert!(
        hosts.len() == 1 && hosts[0]["error"].is_null(),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let log = std::fs::read_to_string(hosts[0]["log"].as_str().expect("a log path"))
        .expect("the host's log");
    log.split("===== plan =====")
        .next()
        .expect("a facts section")
        .to_string()
}

/// `plan --json` on the one host: (whether its probe reused the record,
/// the containerd dump it reported).
fn plan_facts(fleet: &common::Fleet, inv: &std::path::Path) -> (bool, String) {
    let facts = plan_log_facts(fleet, inv);
    let cached = facts.lines().any(|l| l == "@@kv containerd_cached yes");
    let block = facts
        .split("@@file containerd-dump\n")
        .nth(1)
        .and_then(|rest| rest.split("@@end").next())
        .unwrap_or_else(|| panic!("no containerd dump in:\n{facts}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(block.split_whitespace().collect::<String>())
        .expect("the dump is base64");
    (cached, String::from_utf8_lossy(&bytes).into_owned())
}

#[test]
fn the_probe_reuses_containerds_answers_only_while_nothing_they_depend_on_changed() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(json_hosts(&out)[0]["status"], "changed", "{}", stdout(&out));
    fleet.sh_ok(0, "test -s /var/lib/katafleet/probe-cache/key");

    let (cached, dump) = plan_facts(&fleet, &inv);
    assert!(cached, "the run that changed the host recorded the answers");
    assert!(dump.contains("containerd.runtimes.kata]"), "{dump}");
    // The unit's state comes from the record too, as the processes are the same.
    let facts = plan_log_facts(&fleet, &inv);
    assert!(
        facts.contains("\n@@kv containerd_active active\n")
            && facts.contains("\n@@kv containerd_cached yes\n"),
        "{facts}"
    );

    // Edited in place (same inode): the dump must show the new table.
    fleet.sh_ok(
        0,
        "printf '\\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.cache-probe]\\n  runtime_type = \"io.containerd.runc.v2\"\\n' >>/etc/containerd/config.toml",
    );
    let (cached, dump) = plan_facts(&fleet, &inv);
    assert!(!cached, "an edited config.toml is asked afresh");
    assert!(dump.contains("runtimes.cache-probe]"), "{dump}");

    // The record stays stale (a plan writes nothing); a restart alone, on
    // a host whose record matched, makes the probe ask too.
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(json_hosts(&out)[0]["status"], "changed", "{}", stdout(&out));
    assert!(
        plan_facts(&fleet, &inv).0,
        "recorded again by the run that changed the host"
    );
    fleet.sh_ok(0, "systemctl restart containerd && sleep 1");
    assert!(
        !plan_facts(&fleet, &inv).0,
        "a restarted daemon is asked afresh"
    );
}

/// The record keeps the import patterns and the daemon's --config, so that
/// a hit reads neither again: a file new under an imported directory must
/// still make the probe ask afresh.
#[test]
fn a_file_new_under_an_imported_directory_makes_the_probe_ask_again() {
    let fleet = fleet_or_skip!(1);
    fleet.sh_ok(
        0,
        "mkdir -p /etc/kf-extra && sed -i '1i imports = [\"/etc/kf-extra/*.toml\"]' /etc/containerd/config.toml && systemctl restart containerd && sleep 1",
    );
    let inv = fleet.inventory("", "");
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(json_hosts(&out)[0]["status"], "changed", "{}", stdout(&out));
    let kept = fleet.sh_ok(0, "cat /var/lib/katafleet/probe-cache/imports");
    assert!(kept.contains("/etc/kf-extra/*.toml"), "{kept}");
    assert!(
        plan_facts(&fleet, &inv).0,
        "recorded by the run that changed the host"
    );

    fleet.sh_ok(
        0,
        "printf '[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.extra-probe]\n  runtime_type = \"io.containerd.runc.v2\"\n' >/etc/kf-extra/extra.toml",
    );
    let (cached, dump) = plan_facts(&fleet, &inv);
    assert!(!cached, "a new imported file is asked afresh");
    assert!(dump.contains("runtimes.extra-probe]"), "{dump}");
}

#[test]
fn the_probe_reuses_what_holds_for_one_boot_only_during_that_boot() {
    let fleet = fleet_or_skip!(1);
    let inv = fleet.inventory("", "");
    let record = "/var/lib/katafleet/boot-facts";
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(json_hosts(&out)[0]["status"], "changed", "{}", stdout(&out));
    let boot = fleet.sh_ok(0, "cat /proc/sys/kernel/random/boot_id");
    let kept = fleet.sh_ok(0, &format!("cat {record}"));
    assert!(
        kept.starts_with(&format!("boot {}\n", boot.trim())),
        "recorded for this boot: {kept}"
    );
    assert!(kept.contains("\nvirt_container systemd-nspawn\n"), "{kept}");

    let facts = plan_log_facts(&fleet, &inv);
    assert!(facts.contains("\n@@kv boot_cached yes\n"), "{facts}");
    assert!(
        facts.contains("\n@@kv virt_container systemd-nspawn\n"),
        "{facts}"
    );

    // A record from another boot, saying something else: not believed,
    // and (a plan writes nothing) not replaced.
    fleet.sh_ok(
        0,
        &format!(
            "sed -i '1s/.*/boot another-boot/; s/^virt_container .*/virt_container none/' {record}"
        ),
    );
    let facts = plan_log_facts(&fleet, &inv);
    assert!(!facts.contains("@@kv boot_cached"), "{facts}");
    assert!(
        facts.contains("\n@@kv virt_container systemd-nspawn\n"),
        "asked afresh: {facts}"
    );
    assert!(fleet
        .sh_ok(0, &format!("head -n1 {record}"))
        .starts_with("boot another-boot"));

    // The next run that changes the host records this boot again.
    fleet.sh_ok(0, "rm /etc/modules-load.d/katafleet.conf");
    let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(json_hosts(&out)[0]["status"], "changed", "{}", stdout(&out));
    assert_eq!(fleet.sh_ok(0, &format!("cat {record}")), kept);
}
