//! `kf_containerd_restart`'s check of the effective config, run for real
//! under `sh` with `systemctl`, `ctr` and `containerd` as stubs that log
//! their calls: the dump the validation kept stands in for a second
//! `containerd config dump`, and only while no file was written since.

use std::process::Command;

use super::put_tests::functions;
use super::quote;

/// Runs `body` after the restart helpers, with stub programs first on PATH.
/// Returns stdout and the stubs' call log.
fn run(body: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("calls");
    let stub = |name: &str, out: &str| {
        let path = bin.join(name);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >>{log}\n{out}\n",
                log = quote(&log.display().to_string())
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    stub("systemctl", "exit 0");
    stub("timeout", "shift; exec \"$@\"");
    stub("ctr", "echo 'io.containerd.grpc.v1 cri linux/amd64 ok'");
    stub(
        "containerd",
        "echo '[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.fresh]'",
    );
    let script = format!(
        "set -u\nhave() {{ command -v \"$1\" >/dev/null 2>&1; }}\nKF_RUN={run}\n{}\n{body}",
        functions(&[
            "kf_unseen",
            "kf_rm",
            "kf_unseen_checks",
            "kf_containerd_dump",
            "kf_containerd_restart"
        ]),
        run = quote(&dir.path().display().to_string()),
    );
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .expect("run /bin/sh");
    let calls = std::fs::read_to_string(&log).unwrap_or_default();
    (String::from_utf8_lossy(&out.stdout).into_owned(), calls)
}

const KEPT: &str = "echo '[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]' >\"$KF_RUN/validated-dump\"";

#[test]
fn the_validated_dump_stands_in_for_a_second_one() {
    let (out, calls) = run(&format!(
        "{KEPT}\nkf_containerd_restart 1 kata && echo healthy"
    ));
    assert!(out.contains("healthy"), "{out}\n{calls}");
    assert!(
        !calls.contains("containerd config"),
        "containerd ran again: {calls}"
    );
    assert!(calls.contains("systemctl restart containerd"), "{calls}");
}

#[test]
fn a_write_after_the_validation_makes_containerd_dump_again() {
    // kf_unseen is what every write to /etc/containerd and every put-back calls.
    let (out, calls) = run(&format!(
        "{KEPT}\nkf_unseen\nkf_containerd_restart 1 kata || echo refused"
    ));
    assert!(
        calls.contains("containerd config"),
        "no fresh dump: {calls}"
    );
    assert!(
        out.contains("refused") && out.contains("has no runtime kata"),
        "the stale dump was believed: {out}"
    );
}
