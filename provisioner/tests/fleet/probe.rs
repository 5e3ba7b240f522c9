//! The lean probe on a real containerd (bookworm, 1.6): the answers of its
//! Go binaries are recorded by the run that changed the host and reused by
//! the next plan only while nothing they depend on changed; an in-place
//! edit of config.toml or a containerd restart makes the probe ask again.

use base64::Engine as _;

use crate::common::{self, json_hosts, stderr, stdout};

/// `plan --json` on the one host: (whether its probe reused the record,
/// the containerd dump it reported).
fn plan_facts(fleet: &common::Fleet, inv: &std::path::Path) -> (bool, String) {
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
    let facts = log
        .split("===== plan =====")
        .next()
        .expect("a facts section");
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
