//! Reaching fleets the way operators do: through the user's ssh config,
//! through a bastion, and with hosts that download the release themselves.

use std::path::PathBuf;
use std::process::Command;

use crate::common::{self, json_hosts, stderr, stdout, Fleet};

const SHIM: &str = "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2";

/// An ssh config for the fleet: `extra` first (first match wins in ssh),
/// then the fleet's key and known hosts for every host.
fn ssh_config(fleet: &Fleet, extra: &str) -> PathBuf {
    let path = fleet.dir.path().join("ssh_config");
    std::fs::write(
        &path,
        format!(
            "{extra}Host *\n  User root\n  IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
            key = fleet.state.join("id_ed25519").display(),
            kh = fleet.state.join("known_hosts").display(),
        ),
    )
    .unwrap();
    path
}

/// Adds `lines` to the inventory's [defaults].
fn with_defaults(inv: &std::path::Path, lines: &str) {
    let text = std::fs::read_to_string(inv).unwrap().replacen(
        "[defaults]\n",
        &format!("[defaults]\n{lines}"),
        1,
    );
    std::fs::write(inv, text).unwrap();
}

fn statuses(out: &std::process::Output) -> Vec<String> {
    json_hosts(out)
        .iter()
        .map(|h| h["status"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn the_port_and_host_alias_of_the_users_ssh_config_win_when_the_inventory_sets_no_port() {
    let fleet = fleet_or_skip!(1);
    let ip = fleet.hosts[0].1.clone();
    fleet.sh_ok(
        0,
        "printf 'Port 2222\\n' >/etc/ssh/sshd_config.d/kf-port.conf && systemctl disable --now ssh.socket 2>/dev/null; systemctl restart ssh",
    );
    let config = ssh_config(
        &fleet,
        &format!("Host kf-alias\n  HostName {ip}\n  Port 2222\n  HostKeyAlias {ip}\n"),
    );
    let inv = fleet.inventory("", "");
    let text = std::fs::read_to_string(&inv)
        .unwrap()
        .replace(&format!("address = \"{ip}\""), "address = \"kf-alias\"");
    std::fs::write(&inv, text).unwrap();
    with_defaults(&inv, &format!("ssh_config = \"{}\"\n", config.display()));

    let out = fleet.katafleet(&["plan", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(statuses(&out), ["changed"], "{}", stdout(&out));

    // A port the inventory does set still wins, and 22 is closed now.
    let text = std::fs::read_to_string(&inv).unwrap();
    std::fs::write(&inv, format!("{text}port = 22\n")).unwrap();
    let out = fleet.katafleet(&["plan", inv.to_str().unwrap(), "--force", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(statuses(&out), ["unreachable"], "{}", stdout(&out));
}

#[test]
fn hosts_only_a_bastion_can_reach_are_provisioned_through_proxy_jump() {
    let fleet = fleet_or_skip!(3);
    let hub = std::fs::read_to_string(fleet.state.join("hub")).unwrap();
    for (_, ip) in &fleet.hosts[1..] {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                hub.trim(),
                "ip",
                "route",
                "add",
                "blackhole",
            ])
            .arg(format!("{ip}/32"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // A bastion that drops every unauthenticated connection beyond the
    // first: where both hosts' handshakes meet there, one is cut off
    // (`kex_exchange_identification: Connection closed`) and retried.
    fleet.sh_ok(
        0,
        "printf 'MaxStartups 1:100:1\\n' >/etc/ssh/sshd_config.d/kf-startups.conf && systemctl restart ssh",
    );
    let behind = format!("{},{}", fleet.host(1), fleet.host(2));
    let inv = fleet.inventory("", "");
    let inv_s = inv.to_str().unwrap();

    let direct = fleet.katafleet(&["plan", inv_s, "--force", "--json", "--limit", &behind]);
    assert_eq!(direct.status.code(), Some(1), "{}", stdout(&direct));
    assert_eq!(
        statuses(&direct),
        ["unreachable", "unreachable"],
        "{}",
        stdout(&direct)
    );

    // The jump host is reached with the ssh config (ssh passes only `-F`
    // to it), the targets with the inventory's key and known hosts.
    let config = ssh_config(&fleet, "");
    with_defaults(
        &inv,
        &format!(
            "proxy_jump = \"root@{}:22\"\nssh_config = \"{}\"\n",
            fleet.hosts[0].1,
            config.display()
        ),
    );
    let out = fleet.katafleet(&["provision", inv_s, "--force", "--json", "--limit", &behind]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(statuses(&out), ["changed", "changed"], "{}", stdout(&out));
    for i in 1..3 {
        fleet.sh_ok(i, &format!("test -x {SHIM}"));
    }
    assert_eq!(
        fleet.sh(0, "test -e /opt/kata").status.code(),
        Some(1),
        "the bastion itself was not provisioned"
    );
}

#[test]
fn a_host_that_downloads_the_release_itself_is_sent_only_scripts() {
    let fleet = fleet_or_skip!(1);
    let fixture = common::fixture();
    let port = 19000 + (std::process::id() % 1000) as u16;
    // The release served from the hub (the fleet's bridge address), which
    // both the controller and the host reach.
    let log = fleet.dir.path().join("http.log");
    let www = fleet.dir.path().join("www");
    let asset = "kata-static-4.2.0-amd64.tar.zst";
    std::fs::create_dir_all(&www).unwrap();
    std::fs::copy(fixture.dir.join(asset), www.join(asset)).unwrap();
    let mut server = Command::new(common::repo_root().join("vm-tests/fleet/fleet"))
        .args(["run", &fleet.name, "--", "python3", "-m", "http.server"])
        .arg(port.to_string())
        .args(["--bind", "10.250.0.1", "--directory"])
        .arg(&www)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let inv = fleet.inventory("fetch = \"host\"\n", "");
    let text = std::fs::read_to_string(&inv).unwrap().replace(
        &format!("{}/{{asset}}", fixture.dir.display()),
        &format!("http://10.250.0.1:{port}/{{asset}}"),
    );
    std::fs::write(&inv, text).unwrap();
    let inv_s = inv.to_str().unwrap();

    // The test hosts have neither curl nor wget: a clear plan error.
    let out = fleet.katafleet(&["plan", inv_s, "--force", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let error = json_hosts(&out)[0]["error"].to_string();
    assert!(error.contains("neither curl nor wget"), "{error}");

    // busybox's wget, the plainest downloader there is.
    let busybox = std::fs::read("/bin/busybox").expect("busybox on the controller");
    let put = fleet.sh_stdin(
        0,
        "cat >/usr/local/bin/busybox && chmod 755 /usr/local/bin/busybox && ln -sf busybox /usr/local/bin/wget",
        &busybox,
    );
    assert!(put.status.success(), "{}", stderr(&put));

    let plan = fleet.katafleet(&["plan", inv_s, "--force"]);
    assert!(
        stdout(&plan).contains(&format!(
            "downloaded by the host from http://10.250.0.1:{port}/kata-static-4.2.0-amd64.tar.zst"
        )),
        "{}",
        stdout(&plan)
    );
    let out = fleet.katafleet(&["provision", inv_s, "--force", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    fleet.sh_ok(0, &format!("test -x {SHIM}"));
    fleet.sh_ok(0, "grep -q sha256= /opt/kata/.katafleet-release");

    // One download by the controller (to inspect the archive, cached), one by the host.
    let requests = std::fs::read_to_string(&log).unwrap();
    let gets: Vec<&str> = requests
        .lines()
        .filter(|l| l.contains("GET /") && l.contains(".tar.zst"))
        .collect();
    assert_eq!(gets.len(), 2, "{requests}");
    let host_ip = &fleet.hosts[0].1;
    assert!(
        gets.iter().any(|l| l.starts_with(host_ip.as_str())),
        "the host fetched it itself: {requests}"
    );
    // And the controller streamed nothing after the script.
    let host_log = json_hosts(&out)[0]["log"].as_str().unwrap().to_string();
    let text = std::fs::read_to_string(&host_log).unwrap();
    assert!(
        text.contains("0 bytes of release streamed after the script"),
        "{text}"
    );

    // The host checks the digest itself: the mirror now serves other bytes
    // under the same name (the controller has the right ones cached), and a
    // host that installs again refuses them, with nothing installed.
    let other = common::build_fixture_version("hostswap", "4.3.0", &[]);
    std::fs::copy(
        other.dir.join("kata-static-4.3.0-amd64.tar.zst"),
        www.join(asset),
    )
    .unwrap();
    fleet.sh_ok(0, "rm -rf /opt/kata /opt/kata-releases /var/lib/katafleet");
    let out = fleet.katafleet(&["provision", inv_s, "--force", "--json"]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let error = json_hosts(&out)[0]["error"].to_string();
    assert!(error.contains("checksum mismatch"), "{error}");
    assert_eq!(
        fleet
            .sh(
                0,
                "ls -d /opt/kata /opt/.katafleet-stage.* /opt/kata-releases/* 2>/dev/null"
            )
            .stdout
            .len(),
        0,
        "nothing left staging"
    );
}
