//! `debian12-nspawn-provisioned.txt` is the probe's real output on a test
//! host (Debian 12 in systemd-nspawn, containerd 1.6.20) right after
//! `katafleet provision --force` with the fixture release (4.2.0, runtime-rs,
//! `--with-tools`). The daemon outputs are the real `ctr plugins ls` format;
//! other cases change single lines of these.

use super::*;
use crate::inventory::Desired;
use crate::script::wire;

const PROVISIONED: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/facts/debian12-nspawn-provisioned.txt"
));
const FRESH: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/facts/debian12-nspawn.txt"
));

fn facts(text: &str) -> HostFacts {
    crate::facts::parse(text).unwrap()
}

/// The extra script's output: `ctr plugins ls` with the CRI plugin's status,
/// and containerd's start time against its config's mtime.
fn daemons(cri: &str, since: i64, mtime: i64) -> Output {
    let ctr = format!(
        "TYPE                            ID                       PLATFORMS      STATUS    \n\
         io.containerd.content.v1        content                  -              ok        \n\
         io.containerd.grpc.v1           cri                      linux/amd64    {cri}     \n"
    );
    wire::Output::parse(&format!(
        "@@block ctr-plugins 0\n{}\n@@end\n@@kv containerd_since {since}\n@@kv containerd_config_mtime {mtime}\n",
        b64(&ctr)
    ))
    .unwrap()
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn a_provisioned_host_whose_daemon_sees_the_runtimes_has_no_problems() {
    let s = assess(
        &facts(PROVISIONED),
        &Desired::sample(),
        &daemons("ok", 200, 100),
    );
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    let kata = s.kata.as_ref().unwrap();
    assert_eq!(kata.version, "4.2.0");
    assert_eq!(kata.runtimes, [Runtime::Rust]);
    assert!(kata.installed_by_katafleet);
    assert_eq!(
        s.hypervisors,
        [Hypervisor::Qemu, Hypervisor::Clh, Hypervisor::Dragonball]
    );
    let c = s.containerd.as_ref().unwrap();
    assert_eq!(c.version, "1.6.20");
    let names: Vec<&str> = c.handlers.iter().map(|h| h.wired.name.as_str()).collect();
    assert_eq!(names, ["kata", "kata-qemu"]);
    assert!(matches!(c.handlers[0].seen, Seen::Yes(_)));
    assert!(s.drift.is_empty());
    assert!(s.last_provision.as_ref().unwrap().time.starts_with("20"));
    assert!(s.docker.is_none());
}

#[test]
fn a_cri_plugin_that_failed_to_load_hides_the_runtimes() {
    // Exactly what the test host shows after provision: CRI status `error`.
    let s = assess(
        &facts(PROVISIONED),
        &Desired::sample(),
        &daemons("error", 200, 100),
    );
    assert!(
        matches!(&s.containerd.as_ref().unwrap().handlers[0].seen, Seen::No(why) if why.contains("status `error`"))
    );
    assert!(
        s.problems.iter().any(|p| p.starts_with(
            "containerd does not see runtime `kata`: containerd's CRI plugin failed to load"
        )),
        "{:?}",
        s.problems
    );
    // With `ctr plugins ls -d`, the reason containerd gives is quoted.
    let mut d = daemons("error", 200, 100);
    d.blocks.insert(
        "ctr-cri-detail".into(),
        wire::Captured {
            exit: 0,
            output: "ID:            cri\nError:\n               Code:        Unknown\n               Message:     invalid plugin config: no runtime\n".into(),
        },
    );
    let s = assess(&facts(PROVISIONED), &Desired::sample(), &d);
    assert_eq!(
        s.problems[0],
        "containerd does not see runtime `kata`: containerd's CRI plugin failed to load: invalid plugin config: no runtime"
    );
}

#[test]
fn a_config_newer_than_the_daemon_needs_a_restart() {
    let s = assess(
        &facts(PROVISIONED),
        &Desired::sample(),
        &daemons("ok", 100, 200),
    );
    assert!(
        s.problems.iter().any(|p| p.contains("restart containerd")),
        "{:?}",
        s.problems
    );
}

#[test]
fn crictl_is_believed_over_ctr() {
    let crictl = r#"{"config":{"containerd":{"runtimes":{"runc":{},"kata":{}}}}}"#;
    let mut d = daemons("ok", 200, 100);
    d.blocks.insert(
        "crictl-info".into(),
        wire::Captured {
            exit: 0,
            output: crictl.into(),
        },
    );
    let s = assess(&facts(PROVISIONED), &Desired::sample(), &d);
    let h = &s.containerd.as_ref().unwrap().handlers;
    assert_eq!(h[0].seen, Seen::Yes("listed by crictl info".into()));
    assert!(
        matches!(h[1].seen, Seen::No(_)),
        "kata-qemu is not in crictl's list"
    );
}

#[test]
fn changed_and_deleted_files_are_drift() {
    let text = PROVISIONED
        .lines()
        .map(|l| {
            if l.starts_with("@@kv digest:/etc/containerd/config.toml ") {
                format!("@@kv digest:/etc/containerd/config.toml {}", "0".repeat(64))
            } else if l.starts_with("@@kv digest:/etc/modules-load.d/katafleet.conf ") {
                "@@kv digest:/etc/modules-load.d/katafleet.conf missing".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let s = assess(&facts(&text), &Desired::sample(), &daemons("ok", 200, 100));
    assert_eq!(
        s.drift,
        [
            Drift {
                path: "/etc/containerd/config.toml".into(),
                change: DriftKind::Modified
            },
            Drift {
                path: "/etc/modules-load.d/katafleet.conf".into(),
                change: DriftKind::Deleted
            },
        ]
    );
    assert_eq!(
        s.problems,
        [
            "drift: /etc/containerd/config.toml changed since katafleet wrote it",
            "drift: /etc/modules-load.d/katafleet.conf was deleted since katafleet wrote it"
        ]
    );
}

#[test]
fn a_fresh_host_has_no_kata_and_no_handlers() {
    let s = assess(&facts(FRESH), &Desired::sample(), &daemons("ok", 200, 100));
    assert!(s.kata.is_none());
    assert!(
        s.problems[0].starts_with("Kata is not installed in /opt/kata"),
        "{:?}",
        s.problems
    );
    assert!(s
        .problems
        .contains(&"containerd: runtime `kata` from the inventory is not configured (run katafleet provision)".to_string()));
}

#[test]
fn a_handler_whose_shim_is_gone_and_stopped_daemons_are_problems() {
    let text = PROVISIONED
        .replace(
            "@@kv kata_rs_bin containerd-shim-kata-v2",
            "@@kv kata_rs_bin ",
        )
        .replace(
            "@@kv containerd_active active",
            "@@kv containerd_active inactive",
        );
    let s = assess(&facts(&text), &Desired::sample(), &daemons("ok", 200, 100));
    assert!(s.problems.iter().any(|p| p
        == "containerd: runtime `kata` points at /opt/kata/runtime-rs/bin/containerd-shim-kata-v2, which does not exist"));
    assert!(s
        .problems
        .iter()
        .any(|p| p == "containerd does not see runtime `kata`: containerd is not running"));
}

#[test]
fn docker_runtimes_are_checked_against_docker_info() {
    let json = r#"{"runtimes":{"kata":{"runtimeType":"/opt/kata/runtime-rs/bin/containerd-shim-kata-v2"}}}"#;
    let text = PROVISIONED.replace(
        "@@end-probe",
        &format!(
            "@@kv docker_version Docker version 28.5.2+dfsg1, build 1a2b3c\n@@kv docker_active active\n@@file docker-daemon-json\n{}\n@@end\n@@end-probe",
            b64(json)
        ),
    );
    let mut d = daemons("ok", 200, 100);
    d.blocks.insert(
        "docker-runtimes".into(),
        wire::Captured {
            exit: 0,
            output:
                "{\"io.containerd.runc.v2\":{\"path\":\"runc\"},\"runc\":{\"path\":\"runc\"}}\n"
                    .into(),
        },
    );
    let s = assess(&facts(&text), &Desired::sample(), &d);
    let docker = s.docker.as_ref().unwrap();
    assert_eq!(docker.version, "28.5.2");
    assert!(
        matches!(&docker.handlers[0].seen, Seen::No(why) if why.contains("systemctl reload docker"))
    );
    assert!(s
        .problems
        .contains(&"Docker: runtime `kata-qemu` from the inventory is not configured (run katafleet provision)".to_string()));
}

#[test]
fn an_owned_file_the_probe_gave_no_digest_for_is_not_called_unchanged() {
    let text: Vec<&str> = PROVISIONED
        .lines()
        .filter(|l| !l.starts_with("@@kv digest:/etc/modules-load.d/katafleet.conf "))
        .collect();
    let s = assess(
        &facts(&text.join("\n")),
        &Desired::sample(),
        &daemons("ok", 200, 100),
    );
    assert_eq!(
        s.drift,
        [Drift {
            path: "/etc/modules-load.d/katafleet.conf".into(),
            change: DriftKind::Unread
        }]
    );
    assert!(
        s.problems.iter().any(|p| p.contains("could not be read")),
        "{:?}",
        s.problems
    );
}
