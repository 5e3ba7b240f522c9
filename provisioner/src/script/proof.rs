//! The shell verify sends to a host, one script per round trip: the check
//! tool (after the facts probe), the test image, one container per handler,
//! the benchmark, and the logs to collect when something failed.

use std::fmt::Write as _;

use serde::Serialize;

use crate::inventory::{Desired, InstallMethod};
use crate::release::{Hypervisor, Layout, Runtime, KATA_ROOT};

/// The containerd namespace verify's containers live in.
pub const NAMESPACE: &str = "katafleet";

/// How long one container may take to start (a cold VM boot included).
const START_TIMEOUT_SECS: u32 = 180;

/// The client that starts a test container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Client {
    Ctr,
    Nerdctl,
    Docker,
}

impl Client {
    pub fn name(self) -> &'static str {
        match self {
            Client::Ctr => "ctr",
            Client::Nerdctl => "nerdctl",
            Client::Docker => "docker",
        }
    }
}

/// One handler to prove, through one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub client: Client,
    pub handler: String,
    /// Absolute shim path; empty when the daemon resolves it from PATH.
    pub shim: String,
    pub config: Option<String>,
    pub hypervisor: Option<Hypervisor>,
}

impl Target {
    /// A name for blocks and container ids: `ctr-kata-qemu`.
    pub fn key(&self) -> String {
        format!("{}-{}", self.client.name(), self.handler)
    }
}

pub use super::quote as q;

/// The check tool of the inventory's runtime; runs right after the probe.
/// Also reports which container clients the host has.
pub fn check(desired: &Desired) -> String {
    let kata = &desired.kata;
    let (tool, args) = match kata.runtime {
        Runtime::Rust => ("kata-ctl", "check all".to_string()),
        Runtime::Go => {
            let config = match kata.method {
                InstallMethod::Package => Layout::packaged(kata.hypervisor).config_file,
                InstallMethod::Static => Layout::new(kata.runtime, kata.hypervisor).config_file,
            };
            (
                "kata-runtime",
                format!("--config {} check --no-network-checks", q(&config)),
            )
        }
    };
    // kata-ctl's `check all` runs no network check (that one is a no-op);
    // `check no-network-checks` would skip the KVM check, so it is not used.
    format!(
        r#"kf_tool=""
for kf_t in {KATA_ROOT}/bin/{tool} /usr/bin/{tool}; do [ -x "$kf_t" ] && {{ kf_tool=$kf_t; break; }}; done
[ -z "$kf_tool" ] && kf_tool=$(command -v {tool} 2>/dev/null)
kf_kv check_tool "$kf_tool"
if [ -n "$kf_tool" ]; then kf_block kata-check timeout 120 "$kf_tool" {args}; fi
kf_kv clients "$(for c in ctr nerdctl docker; do have "$c" && printf '%s ' "$c"; done)"
kf_kv docker_active "$(systemctl is-active docker 2>/dev/null)"
"#
    )
}

/// Makes the test image available to each client: imports the archive
/// streamed after this script (`archive_size` bytes), or pulls if missing.
pub fn image(clients: &[Client], image: &str, archive_size: Option<u64>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "KF_IMAGE={}", q(image));
    if let Some(size) = archive_size {
        let _ = writeln!(
            s,
            "KF_ARCHIVE=$(mktemp) && head -c {size} >\"$KF_ARCHIVE\" || exit 1\ntrap 'rm -f \"$KF_ARCHIVE\"' EXIT"
        );
    }
    for c in clients {
        let (have, get) = match (c, archive_size.is_some()) {
            (Client::Ctr, true) => (
                "false",
                format!("ctr -n {NAMESPACE} images import \"$KF_ARCHIVE\""),
            ),
            (Client::Ctr, false) => (
                "ctr -n katafleet images ls -q | grep -qx \"$KF_IMAGE\"",
                format!("ctr -n {NAMESPACE} images pull \"$KF_IMAGE\""),
            ),
            (Client::Nerdctl, true) => (
                "false",
                format!("nerdctl -n {NAMESPACE} load -i \"$KF_ARCHIVE\""),
            ),
            (Client::Nerdctl, false) => (
                "nerdctl -n katafleet image inspect \"$KF_IMAGE\" >/dev/null 2>&1",
                format!("nerdctl -n {NAMESPACE} pull \"$KF_IMAGE\""),
            ),
            (Client::Docker, true) => ("false", "docker load -i \"$KF_ARCHIVE\"".into()),
            (Client::Docker, false) => (
                "docker image inspect \"$KF_IMAGE\" >/dev/null 2>&1",
                "docker pull \"$KF_IMAGE\"".into(),
            ),
        };
        let _ = writeln!(
            s,
            "if ! {have}; then kf_block image:{} timeout 600 {get}; else kf_kv image:{} present; fi",
            c.name(),
            c.name()
        );
    }
    s
}

/// Starts one long-running container under the target's handler, runs
/// `uname -r` and reads /proc/1/status inside it, snapshots the host's
/// process table while it runs, then removes it.
pub fn container(t: &Target, image: &str) -> String {
    let key = t.key();
    let name = format!("katafleet-verify-{key}");
    let inside = q("uname -r; echo @@proc1; cat /proc/1/status");
    let (start, exec, sandbox, cleanup) = match t.client {
        Client::Ctr => {
            let runtime = if t.shim.is_empty() {
                "io.containerd.kata.v2"
            } else {
                &t.shim
            };
            let config = t
                .config
                .as_deref()
                .map(|c| format!(" --runtime-config-path {}", q(c)))
                .unwrap_or_default();
            (
                format!("ctr -n {NAMESPACE} run -d --runtime {}{config} \"$KF_IMAGE\" \"$kf_id\" sleep 600", q(runtime)),
                format!("ctr -n {NAMESPACE} task exec --exec-id kf-proof \"$kf_id\" sh -c {inside}"),
                "echo \"$kf_id\"".to_string(),
                format!("ctr -n {NAMESPACE} task kill -s SIGKILL \"$kf_id\" >/dev/null 2>&1; sleep 1; ctr -n {NAMESPACE} task rm -f \"$kf_id\" >/dev/null 2>&1; ctr -n {NAMESPACE} container rm \"$kf_id\" >/dev/null 2>&1"),
            )
        }
        Client::Nerdctl | Client::Docker => {
            let (bin, runtime) = match t.client {
                // nerdctl takes only runtime names; the shim comes from PATH.
                Client::Nerdctl => (
                    format!("nerdctl -n {NAMESPACE}"),
                    "io.containerd.kata.v2".to_string(),
                ),
                _ => ("docker".to_string(), t.handler.clone()),
            };
            (
                format!(
                    "{bin} run -d --network none --name \"$kf_id\" --runtime {} \"$KF_IMAGE\" sleep 600",
                    q(&runtime)
                ),
                format!("{bin} exec \"$kf_id\" sh -c {inside}"),
                format!("{bin} inspect -f '{{{{.Id}}}}' \"$kf_id\""),
                format!("{bin} rm -f \"$kf_id\" >/dev/null 2>&1"),
            )
        }
    };
    format!(
        r#"KF_IMAGE={image}
kf_id={name}
kf_cleanup() {{ {cleanup}; }}
kf_cleanup
trap kf_cleanup EXIT
kf_kv target {key}
if kf_block start timeout {START_TIMEOUT_SECS} {start}; then
    kf_kv sandbox "$({sandbox} 2>/dev/null)"
    kf_block exec timeout 60 {exec}
    kf_block ps ps -eo pid=,ppid=,args=
fi
"#,
        image = q(image),
        name = q(&name),
        key = q(&key),
    )
}

/// Times `runs` starts of a container that exits at once, with runc and
/// with the target's handler: `@@bench runc|kata MICROSECONDS`.
pub fn bench(t: &Target, image: &str, runs: u32) -> String {
    let (runc, kata) = match t.client {
        Client::Ctr => {
            let runtime = if t.shim.is_empty() { "io.containerd.kata.v2" } else { &t.shim };
            let config = t
                .config
                .as_deref()
                .map(|c| format!(" --runtime-config-path {}", q(c)))
                .unwrap_or_default();
            (
                format!("ctr -n {NAMESPACE} run --rm --runtime io.containerd.runc.v2 \"$KF_IMAGE\" \"kf-bench-$$-$kf_i\" true"),
                format!("ctr -n {NAMESPACE} run --rm --runtime {}{config} \"$KF_IMAGE\" \"kf-bench-$$-$kf_i\" true", q(runtime)),
            )
        }
        Client::Nerdctl => (
            format!("nerdctl -n {NAMESPACE} run --rm --network none \"$KF_IMAGE\" true"),
            format!("nerdctl -n {NAMESPACE} run --rm --network none --runtime io.containerd.kata.v2 \"$KF_IMAGE\" true"),
        ),
        Client::Docker => (
            "docker run --rm --network none --runtime runc \"$KF_IMAGE\" true".to_string(),
            format!("docker run --rm --network none --runtime {} \"$KF_IMAGE\" true", q(&t.handler)),
        ),
    };
    format!(
        r#"KF_IMAGE={image}
kf_time() {{
    kf_label=$1; shift
    kf_i=0
    while [ "$kf_i" -lt {runs} ]; do
        kf_i=$((kf_i + 1))
        kf_s=$(date +%s%N)
        if ! kf_err=$("$@" 2>&1); then kf_block bench-failed:$kf_label printf '%s\n' "$kf_err"; return 1; fi
        kf_e=$(date +%s%N)
        echo "@@bench $kf_label $(( (kf_e - kf_s) / 1000 ))"
    done
}}
kf_time runc {runc} && kf_time kata {kata}
"#,
        image = q(image),
    )
}

/// The daemons' and Kata's recent logs, for the run's log directory.
pub fn logs(docker: bool) -> String {
    let mut s = String::from(
        "kf_block containerd.log journalctl -u containerd --since -30min --no-pager -n 3000 -o short-iso\n\
         kf_block kata.log journalctl -t kata --since -30min --no-pager -n 3000 -o short-iso\n",
    );
    if docker {
        s.push_str("kf_block docker.log journalctl -u docker --since -30min --no-pager -n 3000 -o short-iso\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(client: Client) -> Target {
        Target {
            client,
            handler: "kata".into(),
            shim: "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2".into(),
            config: Some("/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml".into()),
            hypervisor: Some(Hypervisor::Qemu),
        }
    }

    #[test]
    fn ctr_gets_the_shim_path_and_the_handlers_config() {
        let s = container(&target(Client::Ctr), "busybox");
        assert!(s.contains("ctr -n katafleet run -d --runtime '/opt/kata/runtime-rs/bin/containerd-shim-kata-v2' --runtime-config-path '/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml'"), "{s}");
        assert!(s.contains("kf_block ps ps -eo pid=,ppid=,args="), "{s}");
        let d = container(&target(Client::Docker), "busybox");
        assert!(
            d.contains("docker run -d --network none --name \"$kf_id\" --runtime 'kata'"),
            "{d}"
        );
    }

    #[test]
    fn the_go_check_names_the_handlers_configuration() {
        let mut d = Desired::sample();
        d.kata.runtime = Runtime::Go;
        d.kata.hypervisor = Hypervisor::Clh;
        let s = check(&d);
        assert!(s.contains("--config '/opt/kata/share/defaults/kata-containers/configuration-clh.toml' check --no-network-checks"), "{s}");
        assert!(check(&Desired::sample()).contains("check all"));
    }

    /// The generated scripts are valid sh (parsed, not run).
    #[test]
    fn scripts_parse_as_sh() {
        let t = target(Client::Ctr);
        for script in [
            check(&Desired::sample()),
            image(
                &[Client::Ctr, Client::Docker, Client::Nerdctl],
                "busybox",
                Some(10),
            ),
            container(&t, "busybox"),
            container(&target(Client::Nerdctl), "busybox"),
            bench(&t, "busybox", 3),
            logs(true),
        ] {
            let out = std::process::Command::new("sh")
                .arg("-n")
                .arg("-c")
                .arg(&script)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{script}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
