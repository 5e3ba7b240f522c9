//! `uninstall` after `provision` on real daemons: every file katafleet
//! touched is byte-identical to before (sha256, mode and owner), /opt/kata
//! and /var/lib/katafleet are gone, the daemons run and list no Kata
//! handler, and a second uninstall changes nothing. On containerd 1.6
//! (bookworm) and 1.7 (trixie), and 2.1 with Docker 28 (sid), with configs
//! the user edited before provisioning and with none at all. Also: Kata
//! sandboxes running stop it unless --force, a file changed since katafleet
//! wrote it is refused unless --force, and a foreign /opt/kata comes back.

use crate::common::{self, json_hosts, stderr, stdout, Fleet};

/// Everything provision and uninstall touch: digest, mode and owner of each
/// file (or `absent`), and which trees exist.
fn touched(fleet: &Fleet) -> String {
    fleet.sh_ok(
        0,
        "for f in /etc/containerd/config.toml /etc/containerd/conf.d/katafleet.toml /etc/docker/daemon.json \
         /etc/modules-load.d/katafleet.conf /etc/group /etc/gshadow; do \
         if [ -e $f ]; then echo \"$(sha256sum $f) $(stat -c '%a %U:%G' $f)\"; else echo \"absent $f\"; fi; done; \
         for d in /opt/kata /opt/kata-releases /opt/.katafleet-previous /opt/.katafleet-removed /opt/kata.katafleet-orig /var/lib/katafleet; do \
         if [ -e $d ] || [ -L $d ]; then echo \"present $d\"; else echo \"absent $d\"; fi; done",
    )
}

fn run(fleet: &Fleet, args: &[&str]) -> (i32, serde_json::Value, String) {
    let mut all = args.to_vec();
    all.push("--json");
    let out = fleet.katafleet_look(&all);
    let hosts = json_hosts(&out);
    (
        out.status.code().unwrap_or(-1),
        hosts[0].clone(),
        stderr(&out),
    )
}

fn provision(fleet: &Fleet, inv: &str) {
    let out = fleet.katafleet(&["provision", inv, "--force", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(json_hosts(&out)[0]["status"], "changed");
}

/// provision, then uninstall; `before` is what `touched` said first.
fn round_trip(fleet: &Fleet, inv: &str, before: &str) {
    provision(fleet, inv);
    let provisioned = touched(fleet);
    assert_ne!(provisioned, before, "provision changed something");

    // The dry run shows what goes and changes nothing.
    let dry = fleet.katafleet_look(&["uninstall", inv, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let text = stdout(&dry);
    assert!(text.contains("remove Kata 4.2.0"), "{text}");
    assert!(text.contains("remove katafleet's state"), "{text}");
    assert_eq!(touched(fleet), provisioned, "the dry run changed the host");

    let (code, host, err) = run(fleet, &["uninstall", inv]);
    assert_eq!(code, 0, "{host}\n{err}");
    assert_eq!(host["status"], "changed", "{host}");
    assert_eq!(
        touched(fleet),
        before,
        "every file is back byte for byte, and no tree of katafleet's is left"
    );
    fleet.sh_ok(0, "systemctl is-active containerd");
    // containerd 1.7 cannot dump without a config file: then its defaults are what it runs on.
    let dump = fleet.sh_ok(
        0,
        "if [ -e /etc/containerd/config.toml ]; then containerd config dump; else containerd config default; fi",
    );
    assert!(!dump.contains("runtimes.kata"), "{dump}");
    let plugins = fleet.sh_ok(0, "ctr plugins ls");
    let cri = plugins.lines().find(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        matches!(
            cols.as_slice(),
            ["io.containerd.grpc.v1", "cri", ..] | ["io.containerd.cri.v1", "runtime", ..]
        )
    });
    assert!(
        cri.is_some_and(|l| l.trim_end().ends_with(" ok")),
        "containerd's CRI plugin still loads: {plugins}"
    );

    let (code, host, err) = run(fleet, &["uninstall", inv]);
    assert_eq!(
        (code, host["status"].as_str(), host["changed"].as_u64()),
        (0, Some("ok"), Some(0)),
        "a second uninstall changes nothing: {host}\n{err}"
    );
    assert_eq!(touched(fleet), before);
}

#[test]
fn uninstall_puts_an_edited_containerd_1_6_config_back_byte_for_byte() {
    let fleet = fleet_or_skip!(1);
    fleet.sh_ok(
        0,
        "printf '\\n# the user edited this before katafleet came\\n[debug]\\n  level = \"warn\"\\n' >> /etc/containerd/config.toml \
         && chmod 640 /etc/containerd/config.toml && systemctl restart containerd",
    );
    let before = touched(&fleet);
    let inv = fleet.inventory("kvm_users = [\"kf\"]", "");
    let inv = inv.to_str().unwrap();
    round_trip(&fleet, inv, &before);
    let groups = fleet.sh_ok(0, "id -nG kf");
    assert!(
        !groups.split_whitespace().any(|g| g == "kvm"),
        "the kvm membership katafleet added is gone: {groups}"
    );
}

#[test]
fn uninstall_removes_the_containerd_1_7_config_katafleet_created() {
    let fleet = fleet_or_skip!(1, "trixie");
    fleet.sh_ok(
        0,
        "rm -f /etc/containerd/config.toml && systemctl restart containerd",
    );
    let before = touched(&fleet);
    let inv = fleet.inventory("", "");
    round_trip(&fleet, inv.to_str().unwrap(), &before);
}

#[test]
fn uninstall_restores_containerd_2_1_and_docker_28_configs_the_user_edited() {
    let fleet = fleet_or_skip!(1, "sid");
    fleet.sh_ok(
        0,
        r#"mkdir -p /etc/docker && printf '{\n  "log-level": "warn",\n  "max-concurrent-downloads": 2\n}\n' > /etc/docker/daemon.json && systemctl restart docker"#,
    );
    fleet.sh_ok(
        0,
        "printf '\\n# the user edited this before katafleet came\\n' >> /etc/containerd/config.toml && systemctl restart containerd",
    );
    let before = touched(&fleet);
    let inv = fleet.inventory("shims = [\"qemu\", \"clh\"]", "");
    round_trip(&fleet, inv.to_str().unwrap(), &before);
    fleet.sh_ok(0, "systemctl is-active docker");
    let runtimes = fleet.sh_ok(0, "docker info --format '{{json .Runtimes}}'");
    assert!(
        !runtimes.contains("kata") && runtimes.contains("\"runc\""),
        "dockerd lists no Kata runtime after its reload: {runtimes}"
    );
}

#[test]
fn uninstall_refuses_while_kata_sandboxes_run_and_force_goes_ahead() {
    let fleet = fleet_or_skip!(1, "sid");
    let before = touched(&fleet);
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    provision(&fleet, inv);
    let provisioned = touched(&fleet);
    // A stand-in Kata sandbox: a process whose argv[0] is the shim.
    fleet.sh_ok(
        0,
        "cp /bin/sleep /tmp/containerd-shim-kata-v2 && setsid -f /tmp/containerd-shim-kata-v2 1000 >/dev/null 2>&1; sleep 0.3",
    );
    let (code, host, err) = run(&fleet, &["uninstall", inv]);
    assert_eq!(code, 1, "{host}\n{err}");
    let error = host["error"].as_str().unwrap();
    assert!(
        error.contains("Kata sandboxes are running here") && error.contains("--force"),
        "{error}"
    );
    assert_eq!(host["stage"], "plan", "{host}");
    assert_eq!(touched(&fleet), provisioned, "nothing changed");

    let (code, host, err) = run(&fleet, &["uninstall", inv, "--force"]);
    assert_eq!(code, 0, "{host}\n{err}");
    assert!(
        host["warnings"]
            .to_string()
            .contains("Kata sandboxes run here"),
        "{host}"
    );
    assert_eq!(touched(&fleet), before);
    fleet.sh_ok(
        0,
        "pkill -f '^/tmp/containerd-shim-kata-v2 1000'; systemctl is-active containerd docker",
    );
}

#[test]
fn a_config_changed_after_provision_is_refused_unless_forced() {
    let fleet = fleet_or_skip!(1);
    let before = touched(&fleet);
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    provision(&fleet, inv);
    fleet.sh_ok(
        0,
        "printf '\\n# edited after katafleet\\n' >> /etc/containerd/config.toml",
    );
    let changed = touched(&fleet);
    let (code, host, err) = run(&fleet, &["uninstall", inv]);
    assert_eq!(code, 1, "{host}\n{err}");
    let error = host["error"].as_str().unwrap();
    assert!(
        error.contains("/etc/containerd/config.toml changed since katafleet wrote it")
            && error.contains("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]")
            && error.contains("--force"),
        "{error}"
    );
    assert_eq!(touched(&fleet), changed, "nothing changed");

    let (code, host, err) = run(&fleet, &["uninstall", inv, "--force"]);
    assert_eq!(code, 0, "{host}\n{err}");
    assert_eq!(
        touched(&fleet),
        before,
        "--force puts back the original saved before katafleet's first edit"
    );
}

#[test]
fn a_foreign_opt_kata_set_aside_by_provision_comes_back() {
    let fleet = fleet_or_skip!(1);
    fleet.sh_ok(
        0,
        "mkdir -p /opt/kata/bin && printf 'hand-installed\\n' > /opt/kata/bin/kata-runtime && chmod 755 /opt/kata/bin/kata-runtime",
    );
    let foreign =
        "find /opt/kata -exec stat -c '%n %a %s' {} + | sort; sha256sum /opt/kata/bin/kata-runtime";
    let tree = fleet.sh_ok(0, foreign);
    let before = touched(&fleet);
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    provision(&fleet, inv);
    fleet.sh_ok(
        0,
        "test -e /opt/kata/.katafleet-release && test -x /opt/kata.katafleet-orig/bin/kata-runtime",
    );
    let (code, host, err) = run(&fleet, &["uninstall", inv]);
    assert_eq!(code, 0, "{host}\n{err}");
    assert_eq!(touched(&fleet), before);
    assert_eq!(
        fleet.sh_ok(0, foreign),
        tree,
        "the hand-installed /opt/kata is back as it was"
    );
    // It is not katafleet's: a second uninstall leaves it alone.
    let (code, host, _) = run(&fleet, &["uninstall", inv]);
    assert_eq!((code, host["changed"].as_u64()), (0, Some(0)), "{host}");
    fleet.sh_ok(0, "test -x /opt/kata/bin/kata-runtime");
}

#[test]
fn an_uninstall_that_fails_verification_is_put_back_as_provisioned() {
    let fleet = fleet_or_skip!(1);
    let before = touched(&fleet);
    let inv = fleet.inventory("kvm_users = [\"kf\"]", "");
    let inv = inv.to_str().unwrap();
    provision(&fleet, inv);
    let provisioned = touched(&fleet);
    let manifest = fleet.sh_ok(0, "cat /var/lib/katafleet/manifest.json");
    // The fault: once containerd restarts (uninstall's first step),
    // something makes a staging directory of katafleet's, which the plan
    // did not know of: the facts after apply show it left, and the fresh
    // plan is not empty, so verification fails.
    fleet.sh_ok(
        0,
        "mkdir -p /etc/systemd/system/containerd.service.d && \
         printf '[Service]\\nExecStartPost=/bin/mkdir -p /opt/.katafleet-stage.fault\\n' \
         > /etc/systemd/system/containerd.service.d/99-fault.conf && systemctl daemon-reload",
    );
    let (code, host, err) = run(&fleet, &["uninstall", inv]);
    assert_eq!(code, 1, "{host}\n{err}");
    assert_eq!(host["status"], "rolled-back", "{host}");
    assert_eq!(host["stage"], "verify", "{host}");
    assert!(
        host["error"]
            .as_str()
            .unwrap()
            .contains("katafleet is still on the host after uninstall: remove what katafleet left in /opt: /opt/.katafleet-stage.fault"),
        "{host}"
    );
    // The fault made it again when containerd came back with katafleet's config.
    fleet.sh_ok(0, "rm -r /opt/.katafleet-stage.fault");
    assert_eq!(
        touched(&fleet),
        provisioned,
        "every file, tree, group and the state are back as provision left them"
    );
    assert_eq!(
        fleet.sh_ok(0, "cat /var/lib/katafleet/manifest.json"),
        manifest
    );
    fleet.sh_ok(
        0,
        "systemctl is-active containerd && test ! -e /var/lib/katafleet/txn && test ! -e /opt/.katafleet-removed && id -nG kf | grep -qw kvm",
    );
    let dump = fleet.sh_ok(0, "containerd config dump");
    assert!(
        dump.contains("runtimes.kata]"),
        "containerd has katafleet's config again: {dump}"
    );

    fleet.sh_ok(
        0,
        "rm /etc/systemd/system/containerd.service.d/99-fault.conf && systemctl daemon-reload",
    );
    let (code, host, err) = run(&fleet, &["uninstall", inv]);
    assert_eq!(code, 0, "{host}\n{err}");
    assert_eq!(touched(&fleet), before);
}

#[test]
fn uninstall_after_an_upgrade_removes_both_releases_and_the_rollback_record() {
    let fleet = fleet_or_skip!(1);
    let before = touched(&fleet);
    let inv = fleet.inventory("", "");
    let inv_str = inv.to_str().unwrap();
    provision(&fleet, inv_str);
    let newer = common::build_fixture_version("uninstall-upgrade", "4.3.0", &[]);
    let fixture = common::fixture();
    let text = std::fs::read_to_string(&inv)
        .unwrap()
        .replace("version = \"4.2.0\"", "version = \"4.3.0\"")
        .replace(fixture.sha256.as_str(), &newer.sha256)
        .replace(fixture.dir.to_str().unwrap(), newer.dir.to_str().unwrap());
    std::fs::write(&inv, text).unwrap();
    provision(&fleet, inv_str);
    let releases = fleet.sh_ok(
        0,
        "ls /opt/kata-releases; test -d /var/lib/katafleet/last-upgrade",
    );
    assert_eq!(
        releases.lines().count(),
        2,
        "two releases side by side: {releases}"
    );

    let (code, host, err) = run(&fleet, &["uninstall", inv_str]);
    assert_eq!(code, 0, "{host}\n{err}");
    assert!(
        host["plan"]["changes"]
            .to_string()
            .contains("remove Kata 4.3.0"),
        "{host}"
    );
    assert_eq!(touched(&fleet), before);
    fleet.sh_ok(0, "systemctl is-active containerd");
}
