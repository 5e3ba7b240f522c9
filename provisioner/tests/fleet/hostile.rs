//! Hostile input on a real host: `$(...)`, backticks, quotes, `;`,
//! newlines and leading dashes in every inventory field that can hold them
//! are refused before the host is contacted (exit 2, no run log), and what
//! the inventory accepts (group labels) or a host's own config holds (a
//! runtime handler named like a command) runs nothing: a marker file never
//! appears, on the host or on the controller. And a registry password in
//! the host's containerd config never reaches katafleet's output or logs.

use std::os::unix::fs::PermissionsExt;

use base64::Engine;
use std::path::Path;

use crate::common::{stderr, stdout, Fleet};

/// The hostile inventory fields, each with `MARKER` standing for the marker's path.
const HOSTILE: &[(&str, &str)] = &[
    ("host name", "name = \"$(touch MARKER)\""),
    ("host name", "name = \"--all\""),
    ("address", "address = \"-oProxyCommand=touch MARKER\""),
    ("address", "address = \"a;touch MARKER\""),
    ("user", "user = \"root`touch MARKER`\""),
    ("user", "user = \"-oProxyCommand=touch MARKER\""),
    ("node name", "node_name = \"--all\""),
    ("node name", "node_name = \"$(touch MARKER)\""),
    (
        "identity file",
        "identity_file = \"/k\\nProxyCommand touch MARKER\"",
    ),
    (
        "kvm user",
        "[hosts.kata]\nkvm_users = [\"kf';touch MARKER;'\"]",
    ),
    ("kvm user", "[hosts.kata]\nkvm_users = [\"-R\"]"),
    (
        "version",
        "[hosts.kata]\nversion = \"4.2.0\\ntouch MARKER\"",
    ),
];

fn marker_exists(fleet: &Fleet, marker: &str) -> (bool, bool) {
    let host = fleet.sh(0, &format!("test -e {marker}")).status.success();
    (host, Path::new(marker).exists())
}

#[test]
fn hostile_inventory_values_are_refused_and_hostile_host_config_runs_nothing() {
    let fleet = fleet_or_skip!(1);
    let marker = format!("/tmp/katafleet-pwned-{}", fleet.name);
    let base = std::fs::read_to_string(fleet.inventory("", "")).unwrap();
    let (name, _) = &fleet.hosts[0];
    let logs = fleet.dir.path().join("logs");

    for (what, field) in HOSTILE {
        let field = field.replace("MARKER", &marker);
        // The field goes into the one [[hosts]] entry (replacing its name or
        // address when it sets those).
        let key = field.split(' ').next().unwrap_or_default();
        let text = match key {
            "name" => base.replace(&format!("name = \"{name}\""), &field),
            "address" => base.replace(&format!("address = \"{}\"", fleet.hosts[0].1), &field),
            _ => format!("{base}{field}\n"),
        };
        let inv = fleet.dir.path().join("hostile.toml");
        std::fs::write(&inv, &text).unwrap();
        let out = fleet.katafleet(&["provision", inv.to_str().unwrap(), "--force"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what}: {field}\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("hostile.toml:"),
            "{what}: no location in {}",
            stderr(&out)
        );
        assert!(!logs.exists(), "{what}: a run started ({field})");
        assert_eq!(
            marker_exists(&fleet, &marker),
            (false, false),
            "{what}: {field}"
        );
    }

    // What gets through runs nothing: group labels stay on the controller,
    // and a handler the host's own config names like a command is quoted
    // wherever katafleet's scripts mention it.
    fleet.sh_ok(
        0,
        &format!(
            "cat >>/etc/containerd/config.toml <<'EOF'\n\
             [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.\"kata$(touch {marker})`touch {marker}`\"]\n\
             \x20 runtime_type = \"io.containerd.kata.v2\"\n\
             \x20 runtime_path = \"/opt/kata/bin/x;touch {marker}\"\n\
             EOF\n\
             containerd config dump >/dev/null"
        ),
    );
    let labels = base.replace(
        &format!("name = \"{name}\""),
        &format!(
            "name = \"{name}\"\ngroups = [\"$(touch {marker})\", \"`touch {marker}`\", \"a;touch {marker}\", \"--all\"]"
        ),
    );
    let inv = fleet.dir.path().join("labels.toml");
    std::fs::write(&inv, labels).unwrap();
    let inv = inv.to_str().unwrap();
    let out = fleet.katafleet(&["provision", inv, "--force"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    for look in [["status", inv], ["verify", inv], ["check", inv]] {
        let out = fleet.katafleet_look(&look);
        assert!(out.status.code().is_some(), "{look:?}: {}", stderr(&out));
    }
    assert_eq!(marker_exists(&fleet, &marker), (false, false));
    let dump = fleet.sh_ok(0, "containerd config dump");
    assert!(
        dump.contains("kata$(touch"),
        "the user's handler is left alone: {dump}"
    );
}

const PASSWORD: &str = "kf-Secret-8c1d-registry";
const AUTH: &str = "cm9ib3Q6a2YtU2VjcmV0LThjMWQtcmVnaXN0cnk=";
const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.kf-identity-token";

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_registry_password_in_config_toml_never_reaches_output_or_logs() {
    let fleet = fleet_or_skip!(1);
    fleet.sh_ok(
        0,
        &format!(
            "cat >>/etc/containerd/config.toml <<'EOF'\n\
             [plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"reg.example.com\".auth]\n\
             \x20 username = \"robot\"\n\
             \x20 password = \"{PASSWORD}\"\n\
             \x20 auth = \"{AUTH}\"\n\
             \x20 identitytoken = \"{TOKEN}\"\n\
             EOF\n\
             systemctl restart containerd"
        ),
    );
    let inv = fleet.inventory("", "");
    let inv = inv.to_str().unwrap();
    let mut said = String::new();
    for args in [
        vec!["plan", inv],
        vec!["plan", inv, "--json"],
        vec!["provision", inv, "--force", "--json"],
        vec!["provision", inv, "--force"],
    ] {
        let out = fleet.katafleet(&args);
        assert!(
            out.status.code().is_some_and(|c| c <= 1),
            "{args:?}: {}",
            stderr(&out)
        );
        said.push_str(&stdout(&out));
        said.push_str(&stderr(&out));
    }
    for args in [
        vec!["status", inv, "--json"],
        vec!["verify", inv, "--json"],
        vec!["check", inv],
        vec!["debug", "on", inv, "--containerd"],
    ] {
        let out = fleet.katafleet_look(&args);
        said.push_str(&stdout(&out));
        said.push_str(&stderr(&out));
    }
    // The plan did show the file around the change, masked.
    assert!(said.contains("<redacted>"), "{said}");
    let config = fleet.sh_ok(0, "cat /etc/containerd/config.toml");
    assert!(config.contains(PASSWORD), "the host keeps its credentials");

    let logs = fleet.dir.path().join("logs");
    let mut kept = vec![("stdout and stderr".to_string(), said)];
    for run in std::fs::read_dir(&logs).unwrap().flatten() {
        let mode = run.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", run.path().display());
        for f in files(&run.path()) {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            kept.push((f.display().to_string(), text));
        }
    }
    assert!(kept.len() > 4, "the runs left logs: {:?}", kept.len());
    // The password's base64 at each of the three alignments it can have
    // inside a longer text (the part that depends on it alone).
    let engine = base64::engine::general_purpose::STANDARD;
    let cores: Vec<String> = (0..3)
        .map(|p: usize| {
            let encoded = engine.encode(format!("{}{PASSWORD}", "x".repeat(p)));
            let (from, to) = (4 * p.div_ceil(3), 4 * ((p + PASSWORD.len()) / 3));
            encoded[from..to].to_string()
        })
        .collect();
    for (where_, text) in &kept {
        for secret in [PASSWORD, AUTH, TOKEN] {
            assert!(!text.contains(secret), "{secret} in {where_}");
        }
        for core in &cores {
            assert!(
                !text.contains(core.as_str()),
                "base64 of the password in {where_}"
            );
        }
    }
}
