//! Test harness glue: real hosts from vm-tests/fleet, the real katafleet
//! binary run inside the fleet's hub network namespace, and a fixture
//! release tarball (release tarballs cannot be downloaded here; the fixture
//! has the official 4.x layout with stand-in binaries).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod fixture;
mod running;

pub use fixture::{build_fixture, build_fixture_version, fixture, Fixture};
pub use running::Running;

pub const VERSION: &str = "4.2.0";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn harness() -> PathBuf {
    repo_root().join("vm-tests/fleet/fleet")
}

/// Whether a fleet test runs here, skips with a reason, or fails.
#[derive(Debug, PartialEq, Eq)]
pub enum Availability {
    Run,
    Skip(String),
    Fail(String),
}

/// Decides from the environment: `KATAFLEET_NO_FLEET` (an explicit opt-out,
/// honoured everywhere: the Nix build sets it), `CI` and the user id.
pub fn availability() -> Availability {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    decide(
        std::env::var_os("KATAFLEET_NO_FLEET").is_some(),
        ci,
        is_root(),
    )
}

/// In CI a fleet that cannot start is a failure: a skipped fleet test there
/// would pass without proving anything.
fn decide(opted_out: bool, ci: bool, root: bool) -> Availability {
    if opted_out {
        return Availability::Skip("KATAFLEET_NO_FLEET is set".into());
    }
    if root {
        return Availability::Run;
    }
    let why = "fleet tests need root (namespaces and systemd-nspawn)";
    if ci {
        Availability::Fail(format!(
            "{why}, and CI is set, so this is a failure, not a skip (set KATAFLEET_NO_FLEET=1 to opt out)"
        ))
    } else {
        Availability::Skip(why.into())
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Skips the calling test (with a visible reason) when the fleet is
/// unavailable here, or fails it when it must run (CI).
#[macro_export]
macro_rules! fleet_or_skip {
    ($count:expr) => {
        $crate::fleet_or_skip!($count, "bookworm")
    };
    ($count:expr, $suite:expr) => {
        match $crate::common::availability() {
            $crate::common::Availability::Run => $crate::common::Fleet::up($count, $suite),
            $crate::common::Availability::Skip(why) => {
                eprintln!("SKIPPED: {why}");
                return;
            }
            $crate::common::Availability::Fail(why) => panic!("{why}"),
        }
    };
}

pub struct Fleet {
    pub name: String,
    pub state: PathBuf,
    pub hosts: Vec<(String, String)>,
    pub dir: tempfile::TempDir,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Fleet {
    pub fn up(count: usize, suite: &str) -> Fleet {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}{}", std::process::id() % 1000, n);
        let out = Command::new(harness())
            .args(["up", &name, &count.to_string(), "--suite", suite])
            .output()
            .expect("run the fleet harness");
        if !out.status.success() {
            let _ = Command::new(harness()).args(["down", &name]).output();
            panic!("fleet up failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let state = PathBuf::from("/run/katafleet-fleet").join(&name);
        let hosts = std::fs::read_to_string(state.join("hosts"))
            .unwrap()
            .lines()
            .filter_map(|l| {
                l.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .collect();
        Fleet {
            name,
            state,
            hosts,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn host(&self, i: usize) -> &str {
        &self.hosts[i].0
    }

    /// Runs katafleet on the controller side (the hub namespace).
    pub fn katafleet(&self, args: &[&str]) -> Output {
        self.katafleet_command(args)
            .output()
            .expect("run katafleet")
    }

    /// The command `katafleet` runs, to spawn it or to give it more
    /// environment. The harness execs, so the child is katafleet itself.
    pub fn katafleet_command(&self, args: &[&str]) -> Command {
        let bin = env!("CARGO_BIN_EXE_katafleet");
        let log_dir = self.dir.path().join("logs");
        let cache_dir = self.dir.path().join("cache");
        let mut cmd = Command::new(harness());
        cmd.args(["run", &self.name, "--", bin]).args(args);
        cmd.args([
            "--log-dir",
            log_dir.to_str().unwrap(),
            "--cache-dir",
            cache_dir.to_str().unwrap(),
        ]);
        cmd
    }

    /// Runs a katafleet command that fetches no release (check, status,
    /// verify, debug): only `--log-dir` is added.
    pub fn katafleet_look(&self, args: &[&str]) -> Output {
        let bin = env!("CARGO_BIN_EXE_katafleet");
        let log_dir = self.dir.path().join("logs");
        Command::new(harness())
            .args(["run", &self.name, "--", bin])
            .args(args)
            .args(["--log-dir", log_dir.to_str().unwrap()])
            .output()
            .expect("run katafleet")
    }

    /// Runs a shell command as root inside host `i` (0-based).
    pub fn sh(&self, i: usize, script: &str) -> Output {
        Command::new(harness())
            .args([
                "sh",
                &self.name,
                &(i + 1).to_string(),
                "--",
                "sh",
                "-c",
                script,
            ])
            .output()
            .expect("run in host")
    }

    /// Like `sh`, with `input` on the command's stdin.
    pub fn sh_stdin(&self, i: usize, script: &str, input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = Command::new(harness())
            .args([
                "sh",
                &self.name,
                &(i + 1).to_string(),
                "--",
                "sh",
                "-c",
                script,
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run in host");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn sh_ok(&self, i: usize, script: &str) -> String {
        let out = self.sh(i, script);
        assert!(
            out.status.success(),
            "`{script}` failed on host {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An inventory for this fleet; `kata_extra` goes into [kata], `tail` at the end.
    pub fn inventory(&self, kata_extra: &str, tail: &str) -> PathBuf {
        self.inventory_with(fixture(), "", kata_extra, tail)
    }

    /// An inventory for this fleet installing `fixture`; `defaults_extra`
    /// goes into [defaults], `kata_extra` into [kata], `tail` at the end.
    pub fn inventory_with(
        &self,
        fixture: &Fixture,
        defaults_extra: &str,
        kata_extra: &str,
        tail: &str,
    ) -> PathBuf {
        let mut text = format!(
            "[defaults]\nuser = \"root\"\nidentity_file = \"{key}\"\nknown_hosts_file = \"{kh}\"\nconnect_timeout_secs = 5\n{defaults_extra}\n\
             [kata]\nversion = \"{VERSION}\"\nsource = \"{dir}/{{asset}}\"\nsha256 = \"{sha}\"\n{kata_extra}\n",
            key = self.state.join("id_ed25519").display(),
            kh = self.state.join("known_hosts").display(),
            dir = fixture.dir.display(),
            sha = fixture.sha256,
        );
        for (name, ip) in &self.hosts {
            text.push_str(&format!(
                "\n[[hosts]]\nname = \"{name}\"\naddress = \"{ip}\"\n"
            ));
        }
        text.push_str(tail);
        let path = self.dir.path().join("inventory.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Fleet {
    /// Starts katafleet in the background (on the controller side), with
    /// its progress lines readable as they come.
    pub fn katafleet_spawn(&self, args: &[&str]) -> Running {
        let bin = env!("CARGO_BIN_EXE_katafleet");
        let log_dir = self.dir.path().join("logs");
        let cache_dir = self.dir.path().join("cache");
        let mut child = Command::new(harness())
            .args(["run", &self.name, "--", bin])
            .args(args)
            .args([
                "--log-dir",
                log_dir.to_str().unwrap(),
                "--cache-dir",
                cache_dir.to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start katafleet");
        let (tx, lines) = mpsc::channel();
        let err_pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        let mut out_pipe = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = out_pipe.read_to_end(&mut all);
            all
        });
        Running {
            child,
            lines,
            seen: String::new(),
            stdout: Some(stdout),
            stderr: Some(stderr),
            started: Instant::now(),
        }
    }

    /// Runs a shell command in the fleet's hub network namespace (where the
    /// controller runs, and each host's link ends: `h1`, `h2`...).
    pub fn hub(&self, script: &str) -> Output {
        let hub = std::fs::read_to_string(self.state.join("hub")).unwrap();
        Command::new("ip")
            .args(["netns", "exec", hub.trim(), "sh", "-c", script])
            .output()
            .expect("run in the hub")
    }

    pub fn hub_ok(&self, script: &str) -> String {
        let out = self.hub(script);
        assert!(
            out.status.success(),
            "`{script}` failed in the hub: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The command lines of the ssh processes in the hub namespace (the
    /// controller's SSH masters and clients; nothing else runs ssh there).
    pub fn ssh_processes(&self) -> Vec<String> {
        let hub = std::fs::read_to_string(self.state.join("hub")).unwrap();
        let pids = Command::new("ip")
            .args(["netns", "pids", hub.trim()])
            .output()
            .expect("ip netns pids");
        String::from_utf8_lossy(&pids.stdout)
            .split_whitespace()
            .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
            .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
            .filter(|cmd| {
                cmd.split_whitespace()
                    .next()
                    .is_some_and(|p| p.ends_with("ssh"))
            })
            .collect()
    }

    /// Waits until no ssh runs in the hub, for at most `limit`; what is left.
    pub fn ssh_gone_within(&self, limit: Duration) -> Vec<String> {
        let until = Instant::now() + limit;
        loop {
            let left = self.ssh_processes();
            if left.is_empty() || Instant::now() >= until {
                return left;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = Command::new(harness()).args(["down", &self.name]).output();
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `--json` report's hosts, by name.
pub fn json_hosts(o: &Output) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)));
    v["hosts"].as_array().cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{decide, Availability};

    #[test]
    fn without_root_a_fleet_test_skips_outside_ci_and_fails_in_ci() {
        assert!(matches!(decide(false, false, false), Availability::Skip(_)));
        let Availability::Fail(why) = decide(false, true, false) else {
            panic!("CI without root must fail");
        };
        assert!(why.contains("KATAFLEET_NO_FLEET=1"), "{why}");
    }

    #[test]
    fn the_explicit_opt_out_skips_even_in_ci_and_as_root() {
        for (ci, root) in [(true, false), (true, true), (false, true)] {
            assert_eq!(
                decide(true, ci, root),
                Availability::Skip("KATAFLEET_NO_FLEET is set".into())
            );
        }
    }

    #[test]
    fn root_runs_the_fleet() {
        assert_eq!(decide(false, true, true), Availability::Run);
        assert_eq!(decide(false, false, true), Availability::Run);
    }
}
