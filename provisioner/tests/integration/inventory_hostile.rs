//! Hostile inventory values: shell syntax, quotes, newlines and leading
//! dashes in every field that reaches a command line or a host script are
//! refused at load time with FILE:LINE:COL and exit 2, before any host is
//! contacted (no run log directory is even created).
//!
//! The host in every case is 127.0.0.1 port 1, closed: if a value slipped
//! through, the run would fail fast against the loopback address (exit 1,
//! a log directory) instead of reaching anything.

use std::path::Path;
use std::process::Command;

const SHA: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Runs `plan` on `text` (with `MARKER` replaced by a marker path in the
/// tempdir) and returns the exit code, stderr, and whether the marker or a
/// log directory appeared.
fn plan(text: &str) -> (i32, String, bool, bool) {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let text = text.replace("MARKER", &marker.display().to_string());
    let path = dir.path().join("inventory.toml");
    std::fs::write(&path, &text).unwrap();
    let logs = dir.path().join("logs");
    let out = Command::new(env!("CARGO_BIN_EXE_katafleet"))
        .arg("plan")
        .arg(&path)
        .arg("--log-dir")
        .arg(&logs)
        .arg("--cache-dir")
        .arg(dir.path().join("cache"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let stderr =
        String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "inventory.toml");
    (
        out.status.code().unwrap_or(-1),
        stderr,
        marker.exists(),
        logs.exists(),
    )
}

fn inventory(defaults: &str, kata: &str, host: &str, tail: &str) -> String {
    format!(
        "[defaults]\nconnect_timeout_secs = 1\n{defaults}\n[kata]\nversion = \"4.2.0\"\nsha256 = \"{SHA}\"\n{kata}\n\
         [[hosts]]\nname = \"h\"\naddress = \"127.0.0.1\"\nport = 1\n{host}\n{tail}"
    )
}

/// 1-based line and column of the first `needle` in `text`.
fn location(text: &str, needle: &str) -> String {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {text}"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("inventory.toml:{line}:{col}")
}

/// Each case: (what, inventory, the written value as it appears in the
/// file, a fragment of the message).
fn cases() -> Vec<(&'static str, String, &'static str, &'static str)> {
    let h = |host: &str| inventory("", "", host, "");
    let other = |host: &str| inventory("", "", "", &format!("[[hosts]]\nname = \"x\"\n{host}\n"));
    vec![
        (
            "ssh option as address",
            other("address = \"-oProxyCommand=touch MARKER\""),
            "\"-oProxyCommand",
            "is not a host name or IP address",
        ),
        (
            "leading dash in address",
            other("address = \"-p2222\""),
            "\"-p2222\"",
            "address `-p2222` may not start with `-`",
        ),
        (
            "command substitution as address",
            other("address = \"$(touch MARKER)\""),
            "\"$(touch",
            "is not a host name or IP address",
        ),
        (
            "user@host in address",
            other("address = \"root@10.0.0.1\""),
            "\"root@",
            "set the user with `user`",
        ),
        (
            "ssh option as user in [defaults]",
            inventory("user = \"-oProxyCommand=touch MARKER\"", "", "", ""),
            "\"-oProxyCommand",
            "user `-oProxyCommand=touch",
        ),
        (
            "shell in a host's user",
            h("user = \"root;touch MARKER\""),
            "\"root;",
            "is not a login name",
        ),
        (
            "backticks in a group's user",
            inventory("", "", "groups = [\"g\"]", "[groups.g]\nuser = \"`touch MARKER`\"\n"),
            "\"`touch",
            "is not a login name",
        ),
        (
            "newline in a host name",
            inventory("", "", "", "[[hosts]]\nname = \"a\\ntouch MARKER\"\naddress = \"127.0.0.1\"\n"),
            "\"a\\n",
            "may only use letters, digits",
        ),
        (
            "leading dashes in a host name",
            inventory("", "", "", "[[hosts]]\nname = \"--all\"\naddress = \"127.0.0.1\"\n"),
            "\"--all\"",
            "may not start with `-`",
        ),
        (
            "--all as node name",
            h("node_name = \"--all\""),
            "\"--all\"",
            "is not a Kubernetes node name",
        ),
        (
            "command substitution as node name",
            h("node_name = \"$(touch MARKER)\""),
            "\"$(touch",
            "is not a Kubernetes node name",
        ),
        (
            "a host name kubectl would not take, with a kubeconfig",
            inventory(
                "",
                "",
                "",
                "[[hosts]]\nname = \"Web_1\"\naddress = \"127.0.0.1\"\n[kubernetes]\nruntime_classes = true\nkubeconfig = \"kubeconfig\"\n",
            ),
            "\"Web_1\"",
            "set `node_name`",
        ),
        (
            "shell in kvm_users",
            inventory("", "kvm_users = [\"ops\", \"x$(touch MARKER)\"]", "", ""),
            "\"x$(touch",
            "is not a valid user name",
        ),
        (
            "usermod option in kvm_users",
            inventory("", "kvm_users = [\"-R\"]", "", ""),
            "\"-R\"",
            "is not a valid user name",
        ),
        (
            "single quote in a host's kvm_users",
            h("[hosts.kata]\nkvm_users = [\"a'b\"]"),
            "\"a'b\"",
            "is not a valid user name",
        ),
        (
            "option as verify image",
            inventory("", "", "", "[verify]\nimage = \"--privileged\"\n"),
            "\"--privileged\"",
            "may not start with `-`",
        ),
        (
            "shell in verify image",
            inventory("", "", "", "[verify]\nimage = \"busybox;touch MARKER\"\n"),
            "\"busybox;",
            "is not an image reference",
        ),
        (
            "blank in known_hosts_file",
            inventory("known_hosts_file = \"/tmp/a -oProxyCommand=x\"", "", "", ""),
            "\"/tmp/a -o",
            "may not hold blanks",
        ),
        (
            "newline in identity_file",
            h("identity_file = \"/tmp/key\\nProxyCommand touch MARKER\""),
            "\"/tmp/key",
            "holds a control character",
        ),
        (
            "newline in kubeconfig",
            inventory("", "", "", "[kubernetes]\nkubeconfig = \"/k\\n--all\"\n"),
            "\"/k\\n",
            "holds a control character",
        ),
        (
            "newline in a local source",
            inventory("", "source = \"/r\\n/{asset}\"", "", ""),
            "\"/r\\n",
            "holds a control character",
        ),
        (
            "newline in an ssh_config path",
            inventory("ssh_config = \"/etc/ssh/x\\nProxyCommand touch MARKER\"", "", "", ""),
            "\"/etc/ssh/x",
            "holds a control character",
        ),
        (
            "ssh option as a proxy_jump hop",
            inventory("proxy_jump = \"-oProxyCommand=touch MARKER\"", "", "", ""),
            "\"-oProxyCommand",
            "invalid proxy_jump",
        ),
        (
            "newline in a source URL the hosts download",
            inventory("", "fetch = \"host\"\nsource = \"https://mirror/{asset}\\n$(touch MARKER)\"", "", ""),
            "\"https://mirror",
            "holds a blank or control character",
        ),
        (
            "shell in the version",
            inventory("", "", "[hosts.kata]\nversion = \"4.2.0;touch MARKER\"", ""),
            "\"4.2.0;",
            "4.2.0;touch",
        ),
    ]
}

#[test]
fn hostile_values_are_refused_at_their_location_before_any_host_is_contacted() {
    let mut failures = Vec::new();
    for (what, text, value, message) in cases() {
        let (code, stderr, pwned, contacted) = plan(&text);
        let at = location(&text, value);
        if code != 2 || !stderr.contains(&at) || !stderr.contains(message) || pwned || contacted {
            failures.push(format!(
                "{what}: exit {code}, marker {pwned}, log dir {contacted}, want {at} and {message:?} in:\n{stderr}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_hostile_value_is_reported_at_once() {
    let text = inventory(
        "user = \"-l\"",
        "kvm_users = [\"$(id)\"]",
        "node_name = \"--all\"\nuser = \"a b\"",
        "[[hosts]]\nname = \"-x\"\naddress = \"`id`\"\n",
    );
    let (code, stderr, ..) = plan(&text);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("6 problem(s)"), "{stderr}");
}

/// The cases above would pass vacuously if the inventory were rejected for
/// some other reason: the same inventory with tame values loads.
#[test]
fn the_base_inventory_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.toml");
    std::fs::write(
        &path,
        inventory(
            "user = \"ops\"",
            "kvm_users = [\"ops\"]",
            "node_name = \"h\"",
            "",
        ),
    )
    .unwrap();
    katafleet::inventory::load(Path::new(&path)).unwrap();
}
