//! Faults around a run, on real hosts: an sshd that never finishes the
//! handshake, katafleet interrupted (SIGINT, SIGTERM, both) or killed in the
//! middle of the release stream or a restart, a link cut mid-stream next
//! to a slow one, and a changed host key. Afterwards every host is as it
//! was or fully provisioned, the next run converges, and no hung host holds
//! up the others.

use std::time::Duration;

use crate::common::{self, json_hosts, stderr, stdout, Fixture, Fleet};

/// Accepts SSH connections, says its banner, and then never answers: the
/// TCP connection and the banner work, the handshake never finishes.
const STALLED_SSHD: &str = r#"use IO::Socket::INET;
my $l = IO::Socket::INET->new(LocalPort => 22, Listen => 64, ReuseAddr => 1) or die "listen: $!";
my @held;
while (my $c = $l->accept) { $c->autoflush(1); print $c "SSH-2.0-OpenSSH_9.2p1 stalled\r\n"; push @held, $c; }
"#;

/// A release big enough that streaming it takes seconds on a slowed link.
fn big_fixture() -> &'static Fixture {
    static BIG: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    BIG.get_or_init(|| common::build_fixture("big", &["--pad-mib", "48"]))
}

/// Limits what the controller sends to host `i` (0-based) to `rate`
/// (`tc` token bucket on the host's port in the hub; this kernel has no netem).
fn slow_link(fleet: &Fleet, i: usize, rate: &str) {
    fleet.hub_ok(&format!(
        "tc qdisc replace dev h{} root tbf rate {rate} burst 64kb latency 2s",
        i + 1
    ));
}

fn fast_link(fleet: &Fleet, i: usize) {
    fleet.hub_ok(&format!(
        "tc qdisc del dev h{} root 2>/dev/null; true",
        i + 1
    ));
}

/// Digests of everything provision touches on a bookworm host (or
/// `absent`), and whether a release is there.
fn touched(fleet: &Fleet, i: usize) -> String {
    fleet.sh_ok(
        i,
        "for f in /etc/containerd/config.toml /etc/modules-load.d/katafleet.conf /var/lib/katafleet/manifest.json; do \
         if [ -e $f ]; then sha256sum $f; else echo \"absent $f\"; fi; done; \
         if [ -e /opt/kata ]; then echo '/opt/kata present'; else echo '/opt/kata absent'; fi",
    )
}

/// Nothing a run leaves while it works: no staging, no previous tree, no
/// open transaction.
fn no_leftovers(fleet: &Fleet, i: usize) {
    fleet.sh_ok(
        i,
        "! ls -d /opt/.katafleet-stage.* /opt/.katafleet-previous /var/lib/katafleet/txn 2>/dev/null",
    );
}

/// Waits until no script holds host `i`'s lock (the run there has ended).
fn lock_free(fleet: &Fleet, i: usize, limit: Duration) {
    let until = std::time::Instant::now() + limit;
    while fleet
        .sh(
            i,
            "[ ! -e /var/lib/katafleet/lock ] || flock -n /var/lib/katafleet/lock true",
        )
        .status
        .code()
        != Some(0)
    {
        assert!(
            std::time::Instant::now() < until,
            "host {i} still runs a katafleet script after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn by_name(hosts: &[serde_json::Value], name: &str) -> serde_json::Value {
    hosts
        .iter()
        .find(|h| h["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no host {name} in {hosts:?}"))
}

fn secs(h: &serde_json::Value) -> f64 {
    h["elapsed_secs"].as_f64().unwrap_or(-1.0)
}

#[test]
fn an_sshd_that_never_finishes_the_handshake_is_unreachable_at_its_deadline() {
    let fleet = fleet_or_skip!(3);
    fleet.sh_ok(
        1,
        &format!(
            "systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh; \
             cat >/run/kf-stalled-sshd.pl <<'EOF'\n{STALLED_SSHD}EOF\n\
             systemd-run --unit kf-stalled-sshd perl /run/kf-stalled-sshd.pl && sleep 0.5 && systemctl is-active kf-stalled-sshd"
        ),
    );
    let inv = fleet.inventory("", "");
    let run = fleet.katafleet_spawn(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
    // Without a deadline on the whole handshake this never ends.
    let (out, took) = run.finish(Duration::from_secs(120));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let hosts = json_hosts(&out);
    let hung = by_name(&hosts, fleet.host(1));
    assert_eq!(hung["status"], "unreachable", "{hung}");
    assert_eq!(hung["stage"], "connect", "{hung}");
    let error = hung["error"].as_str().unwrap();
    eprintln!("the stalled host after {} s: {error}", secs(&hung));
    assert!(
        error.contains(fleet.host(1)) && error.contains("no SSH session within 5 s"),
        "{error}"
    );
    assert!(
        (4.5..15.0).contains(&secs(&hung)),
        "given up at its deadline: {hung}"
    );
    for i in [0, 2] {
        let h = by_name(&hosts, fleet.host(i));
        assert_eq!(h["status"], "changed", "{h}");
    }
    let slowest = hosts.iter().map(secs).fold(0.0, f64::max);
    assert!(
        took.as_secs_f64() < slowest + 10.0,
        "the summary came {took:?} after the start, the slowest host took {slowest} s"
    );
    assert!(stdout(&out).contains("\"hosts\""));
    let left = fleet.ssh_gone_within(Duration::from_secs(3));
    assert!(left.is_empty(), "ssh processes left behind: {left:?}");
}

#[test]
fn interrupted_during_the_release_stream_the_host_in_flight_finishes_and_the_next_never_starts() {
    let fleet = fleet_or_skip!(2);
    let fixture = big_fixture();
    // One host at a time, in no fixed order: both links are slow, and the
    // host whose stream is seen first is the one in flight.
    slow_link(&fleet, 0, "40mbit");
    slow_link(&fleet, 1, "40mbit");
    let untouched = [touched(&fleet, 0), touched(&fleet, 1)];
    let inv = fleet.inventory_with(fixture, "", "", "");
    let inv = inv.to_str().unwrap();
    let mut run =
        fleet.katafleet_spawn(&["provision", inv, "--force", "--json", "--parallel", "1"]);
    let line = run.wait_for(": install kata-static", Duration::from_secs(60));
    let busy = usize::from(line.starts_with(&format!("{}:", fleet.host(1))));
    let (busy_name, idle) = (fleet.host(busy).to_string(), 1 - busy);
    std::thread::sleep(Duration::from_secs(2));
    run.signal("INT");
    let (out, _) = run.finish(Duration::from_secs(120));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: no new host or step starts"),
        "{err}"
    );
    let hosts = json_hosts(&out);
    let first = by_name(&hosts, &busy_name);
    assert_eq!(
        first["status"], "changed",
        "the step in flight finished: {first}"
    );
    let second = by_name(&hosts, fleet.host(idle));
    assert_eq!(second["status"], "skipped", "{second}");
    assert_eq!(second["error"], "not started: interrupted", "{second}");
    assert_eq!(second["stage"], "interrupted", "{second}");
    // The host in flight is fully provisioned (verified and committed), the
    // other as it was.
    fleet.sh_ok(
        busy,
        "test -x /opt/kata/runtime-rs/bin/containerd-shim-kata-v2",
    );
    no_leftovers(&fleet, busy);
    assert_eq!(touched(&fleet, idle), untouched[idle]);
    assert_ne!(touched(&fleet, busy), untouched[busy]);
    let left = fleet.ssh_gone_within(Duration::from_secs(3));
    assert!(left.is_empty(), "SSH masters left open: {left:?}");

    fast_link(&fleet, 0);
    fast_link(&fleet, 1);
    let again = fleet.katafleet(&["provision", inv, "--force", "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let hosts = json_hosts(&again);
    assert_eq!(by_name(&hosts, &busy_name)["status"], "ok");
    assert_eq!(by_name(&hosts, fleet.host(idle))["status"], "changed");
    for i in 0..2 {
        no_leftovers(&fleet, i);
    }
}

#[test]
fn interrupted_during_a_containerd_restart_the_restart_finishes_and_the_run_settles() {
    let fleet = fleet_or_skip!(1);
    // A slow restart, so the signal lands while containerd restarts.
    fleet.sh_ok(
        0,
        "mkdir -p /etc/systemd/system/containerd.service.d && printf '[Service]\\nExecStartPre=/bin/sleep 6\\n' > /etc/systemd/system/containerd.service.d/99-slow.conf && systemctl daemon-reload",
    );
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    let mut run = fleet.katafleet_spawn(&["provision", inv, "--force", "--json"]);
    run.wait_for("into containerd", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    let signalled = run.started.elapsed();
    run.signal("INT");
    let (out, took) = run.finish(Duration::from_secs(120));
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        took - signalled > Duration::from_secs(3),
        "katafleet waited for the restart in flight: signalled at {signalled:?}, done at {took:?}"
    );
    let host = json_hosts(&out)[0].clone();
    assert_eq!(host["status"], "changed", "{host}");
    fleet.sh_ok(
        0,
        "systemctl is-active containerd && containerd config dump | grep -q 'runtimes.kata]'",
    );
    no_leftovers(&fleet, 0);

    let again = fleet.katafleet(&["provision", inv, "--force", "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(json_hosts(&again)[0]["status"], "ok");
}

#[test]
fn sigterm_then_ctrl_c_exits_at_once_and_the_next_run_converges() {
    let fleet = fleet_or_skip!(1);
    slow_link(&fleet, 0, "20mbit");
    let inv = fleet.inventory_with(big_fixture(), "", "", "");
    let inv = inv.to_str().unwrap();
    let mut run = fleet.katafleet_spawn(&["provision", inv, "--force", "--json"]);
    run.wait_for(
        &format!("{}: install kata-static", fleet.host(0)),
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_secs(1));
    run.signal("TERM");
    run.wait_for("interrupted: no new host", Duration::from_secs(10));
    run.signal("INT");
    let (out, took) = run.finish(Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("interrupted again: exiting now"),
        "{}",
        stderr(&out)
    );
    // 48 MiB at 20 Mbit/s take about 20 s: it did not wait for the stream.
    assert!(took < Duration::from_secs(15), "exited after {took:?}");
    fast_link(&fleet, 0);
    // The stream broke off: the host put nothing in place, and its script ends.
    lock_free(&fleet, 0, Duration::from_secs(30));
    fleet.sh_ok(
        0,
        "test ! -e /opt/kata && ! ls -d /opt/.katafleet-stage.* 2>/dev/null",
    );
    // The masters go by themselves once katafleet is gone.
    let left = fleet.ssh_gone_within(Duration::from_secs(30));
    assert!(left.is_empty(), "SSH masters outlived katafleet: {left:?}");
    let again = fleet.katafleet(&["provision", inv, "--force", "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    no_leftovers(&fleet, 0);
}

#[test]
fn killed_during_the_release_stream_the_host_is_as_it_was_and_the_next_run_converges() {
    let fleet = fleet_or_skip!(1);
    slow_link(&fleet, 0, "40mbit");
    let before = touched(&fleet, 0);
    let inv = fleet.inventory_with(big_fixture(), "", "", "");
    let inv = inv.to_str().unwrap();
    let mut run = fleet.katafleet_spawn(&["provision", inv, "--force", "--json"]);
    run.wait_for(
        &format!("{}: install kata-static", fleet.host(0)),
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_secs(2));
    run.signal("KILL");
    let (out, _) = run.finish(Duration::from_secs(30));
    assert_eq!(out.status.code(), None, "killed by a signal");
    // The host sees its stdin end before the whole release arrived: the
    // install fails there, and nothing is put in place.
    lock_free(&fleet, 0, Duration::from_secs(60));
    assert_eq!(touched(&fleet, 0), before, "the host is as it was");
    fleet.sh_ok(0, "! ls -d /opt/.katafleet-stage.* 2>/dev/null");
    // No SIGKILL handler can close the masters; they exit by themselves.
    let left = fleet.ssh_gone_within(Duration::from_secs(30));
    assert!(left.is_empty(), "SSH masters outlived katafleet: {left:?}");

    fast_link(&fleet, 0);
    let again = fleet.katafleet(&["provision", inv, "--force", "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(json_hosts(&again)[0]["status"], "changed");
    no_leftovers(&fleet, 0);
}

#[test]
fn killed_during_a_restart_the_step_still_finishes_and_is_recorded() {
    let fleet = fleet_or_skip!(1);
    // A slow restart, so katafleet dies while containerd restarts.
    fleet.sh_ok(
        0,
        "mkdir -p /etc/systemd/system/containerd.service.d && printf '[Service]\\nExecStartPre=/bin/sleep 6\\n' > /etc/systemd/system/containerd.service.d/99-slow.conf && systemctl daemon-reload",
    );
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    let mut run = fleet.katafleet_spawn(&["provision", inv, "--force", "--json"]);
    run.wait_for("into containerd", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    run.signal("KILL");
    let (out, _) = run.finish(Duration::from_secs(30));
    assert_eq!(out.status.code(), None, "killed by a signal");
    // Nobody reads the script's output any more; it runs to its end anyway
    // (a step cut in half would leave containerd wired but not recorded).
    lock_free(&fleet, 0, Duration::from_secs(90));
    fleet.sh_ok(
        0,
        "systemctl is-active containerd && containerd config dump | grep -q 'runtimes.kata]'",
    );
    let manifest = fleet.sh_ok(0, "cat /var/lib/katafleet/manifest.json");
    assert!(
        manifest.contains("\"containerd_handlers\": [\n    \"kata\""),
        "the restarted containerd is recorded as katafleet's: {manifest}"
    );
    fleet.sh_ok(0, "test -d /var/lib/katafleet/txn");
    // The next run has nothing to change, verifies, and settles that run.
    let again = fleet.katafleet(&["provision", inv, "--force", "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let host = json_hosts(&again)[0].clone();
    assert_eq!(host["status"], "ok", "{host}");
    no_leftovers(&fleet, 0);
    let left = fleet.ssh_gone_within(Duration::from_secs(30));
    assert!(left.is_empty(), "SSH masters outlived katafleet: {left:?}");
}

#[test]
fn a_link_cut_mid_stream_fails_that_host_clearly_and_delays_no_other() {
    let fleet = fleet_or_skip!(3);
    // Host 1 slow, host 2 cut mid-stream, host 3 as usual.
    slow_link(&fleet, 0, "80mbit");
    slow_link(&fleet, 1, "40mbit");
    let inv = fleet.inventory_with(big_fixture(), "step_timeout_secs = 90\n", "", "");
    let inv = inv.to_str().unwrap();
    let mut run = fleet.katafleet_spawn(&["provision", inv, "--force", "--json"]);
    run.wait_for(
        &format!("{}: install kata-static", fleet.host(1)),
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_secs(1));
    fleet.hub_ok("ip link set h2 down");
    let (out, took) = run.finish(Duration::from_secs(150));
    fleet.hub_ok("ip link set h2 up");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let hosts = json_hosts(&out);
    let (slow, cut, usual) = (
        by_name(&hosts, fleet.host(0)),
        by_name(&hosts, fleet.host(1)),
        by_name(&hosts, fleet.host(2)),
    );
    assert_eq!(slow["status"], "changed", "{slow}");
    assert_eq!(usual["status"], "changed", "{usual}");
    assert_eq!(cut["status"], "failed", "{cut}");
    assert_eq!(
        (cut["stage"].as_str(), cut["step"].as_u64()),
        (Some("apply"), Some(1)),
        "{cut}"
    );
    let error = cut["error"].as_str().unwrap();
    eprintln!("the cut host: {error}");
    assert!(
        error.contains("the connection broke in step 1 'install kata-static")
            && error.contains("not responding")
            && error.contains("the host may still be working on it"),
        "{error}"
    );
    // The cut host is given up by the keepalives (about 15 s), not at the
    // step timeout; the others are not held up by it.
    assert!(secs(&cut) < 60.0, "{cut}");
    assert!(secs(&usual) < secs(&cut), "{usual} vs {cut}");
    assert!(secs(&usual) < secs(&slow), "{usual} vs {slow}");
    assert!(
        took.as_secs_f64() < secs(&cut) + 10.0,
        "summary after {took:?}"
    );
    let log = std::fs::read_to_string(cut["log"].as_str().unwrap()).unwrap();
    assert!(
        log.contains("===== apply stdout (until it broke off) ====="),
        "{log}"
    );

    // With the link back, the cut host's script ends and a rerun converges.
    fast_link(&fleet, 0);
    fast_link(&fleet, 1);
    lock_free(&fleet, 1, Duration::from_secs(120));
    let again = fleet.katafleet(&["provision", inv, "--force", "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    for i in 0..3 {
        no_leftovers(&fleet, i);
    }
}

#[test]
fn a_changed_host_key_is_refused_naming_the_host_and_the_known_hosts_file() {
    let fleet = fleet_or_skip!(1);
    fleet.sh_ok(
        0,
        "rm -f /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh",
    );
    let known_hosts = fleet.state.join("known_hosts");
    for policy in ["strict", "accept-new"] {
        let inv = fleet.inventory_with(
            common::fixture(),
            &format!("known_hosts = \"{policy}\"\n"),
            "",
            "",
        );
        let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force", "--json"]);
        assert_eq!(out.status.code(), Some(1), "{policy}: {}", stderr(&out));
        let host = json_hosts(&out)[0].clone();
        assert_eq!(host["status"], "unreachable", "{policy}: {host}");
        let error = host["error"].as_str().unwrap();
        eprintln!("{policy}: {error}");
        assert!(
            error.contains(fleet.host(0))
                && error.contains(&format!("{}:1", known_hosts.display()))
                && error.contains("host key differs"),
            "{policy}: {error}"
        );
    }
    fleet.sh_ok(0, "test ! -e /var/lib/katafleet && test ! -e /opt/kata");
}
