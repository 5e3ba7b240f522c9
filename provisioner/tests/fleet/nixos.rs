//! NixOS activation, run for real on a simulated NixOS host: the scripts
//! katafleet sends (the apply script of the golden `nixos` plan, the commit,
//! the revert and the settling of a pending activation) run in a private
//! mount namespace whose /etc, /var/lib, /run and Nix profiles are
//! throw-away overlays. `<nixpkgs/nixos>` is a stand-in (`SIM_NIXOS`
//! below): its "system" is a store path whose `bin/switch-to-configuration`
//! logs each call and exits as the configuration says, and which
//! `test` makes /run/current-system, as the real one does. So the real Nix
//! (Debian's nix-bin) evaluates and builds, and the real shell of
//! script/apply.sh and script/nixos.rs runs; what is not real is NixOS
//! itself (no systemd units, no boot loader). Needs root, unshare and
//! nix-instantiate/nix-store/nix-env; skips (or, in CI, fails) like the
//! other fleet tests.

use std::path::Path;
use std::process::Command;

use crate::common::{availability, repo_root, Availability};

/// The stand-in for `<nixpkgs/nixos>`, reading /etc/nixos/configuration.nix
/// (`{ exit = N; fail = BOOL; }` or an expression that throws).
const SIM_NIXOS: &str = r#"{ }:
let
  cfg = import <nixos-config>;
in
{
  pkgs.kata-runtime = { name = "kata-runtime-4.2.0"; version = "4.2.0"; };
  system = derivation {
    name = "nixos-system-sim";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    settings = builtins.readFile /etc/nixos/katafleet.nix;
    exitCode = toString cfg.exit;
    fail = if cfg.fail or false then "1" else "";
    args = [ "-c" ''
      if [ -n "$fail" ]; then echo "error: the sim builder refuses" >&2; exit 1; fi
      /bin/mkdir -p $out/bin
      printf '#!/bin/sh\necho "%s $1" >> "$KF_SIM/activations"\ncase $1 in test|switch) [ %s = 0 ] || [ %s = 4 ] && /bin/ln -sfn %s /run/current-system ;; esac\nexit %s\n' "$out" "$exitCode" "$exitCode" "$out" "$exitCode" > $out/bin/switch-to-configuration
      /bin/chmod +x $out/bin/switch-to-configuration
    '' ];
  };
}
"#;

/// Runs inside `unshare --mount`: overlays, the previous system (built and
/// activated from a first katafleet.nix), then each `N.sh` in order (with
/// @SYSTEM@ and @PREVIOUS@ replaced from the pending record), then the state.
const HARNESS: &str = r##"set -u
S=$KF_SIM
for d in etc varlib profiles; do mkdir -p "$S/$d-up" "$S/$d-work"; done
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$S/etc-up,workdir=$S/etc-work" /etc || exit 90
mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$S/varlib-up,workdir=$S/varlib-work" /var/lib || exit 90
mkdir -p /nix/var/nix/profiles
mount -t overlay overlay -o "lowerdir=/nix/var/nix/profiles,upperdir=$S/profiles-up,workdir=$S/profiles-work" /nix/var/nix/profiles || exit 90
mount -t tmpfs tmpfs /run || exit 90
mkdir -p /etc/nixos "$S/nixpkgs/nixos"
cp "$S/sim-nixos.nix" "$S/nixpkgs/nixos/default.nix"
touch /etc/NIXOS
export NIX_PATH="nixpkgs=$S/nixpkgs:nixos-config=/etc/nixos/configuration.nix"
export NIX_CONFIG="build-users-group =
sandbox = false
substituters ="
: >"$S/activations"
echo "{ exit = 0; }" >/etc/nixos/configuration.nix
echo "# before katafleet" >/etc/nixos/katafleet.nix
prev=$(nix-build '<nixpkgs/nixos>' -A system --no-out-link 2>"$S/prev.log") || { cat "$S/prev.log"; exit 91; }
ln -sfn "$prev" /run/current-system
nix-env -p /nix/var/nix/profiles/system --set "$prev" 2>/dev/null || exit 92
rm /etc/nixos/katafleet.nix
cp "$S/configuration.nix" /etc/nixos/configuration.nix
echo "previous $prev"
for f in "$S"/[0-9].sh; do
    [ -e "$f" ] || continue
    sys=$(sed -n 's/^system=//p' /var/lib/katafleet/txn/nixos 2>/dev/null)
    sed -e "s|@SYSTEM@|$sys|g" -e "s|@PREVIOUS@|$prev|g" "$f" >"$f.run"
    [ -e "$f.reboot" ] && ln -sfn "$prev" /run/current-system
    echo "=== $(basename "$f")"
    sh "$f.run" 2>&1 | grep '^@@step'
    echo "=== exit $?"
done
echo "state current $(readlink -f /run/current-system)"
echo "state profile $(readlink -f /nix/var/nix/profiles/system)"
echo "state record $(tr '\n' ' ' </var/lib/katafleet/txn/nixos 2>/dev/null || echo none)"
echo "state files $(ls /etc/nixos | tr '\n' ' ')"
echo "state settings $(head -n 1 /etc/nixos/katafleet.nix 2>/dev/null || echo none)"
echo "state fired $(tr '\n' ' ' </var/lib/katafleet/nixos-deadline-fired 2>/dev/null || echo none)"
echo "state armed $(ls /var/lib/katafleet | grep -c '^nixos-deadline-.*\.sh$')"
sed 's/^/activation /' "$S/activations"
"##;

/// What one simulated run printed, read back.
struct Sim {
    out: String,
    previous: String,
}

impl Sim {
    fn state(&self, key: &str) -> String {
        let prefix = format!("state {key} ");
        self.out
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in:\n{}", self.out))
            .trim()
            .to_string()
    }

    /// `(system, operation)` of every switch-to-configuration call, in order.
    fn activations(&self) -> Vec<(String, String)> {
        self.out
            .lines()
            .filter_map(|l| l.strip_prefix("activation "))
            .filter_map(|l| l.rsplit_once(' '))
            .map(|(s, op)| (s.to_string(), op.to_string()))
            .collect()
    }

    /// The `@@step` lines script `n` printed.
    fn steps(&self, n: usize) -> String {
        let start = format!("=== {n}.sh");
        self.out
            .split(&start)
            .nth(1)
            .and_then(|rest| rest.split("=== exit").next())
            .unwrap_or_else(|| panic!("no output of {n}.sh in:\n{}", self.out))
            .trim()
            .to_string()
    }
}

/// Why the simulation cannot run here (None: it can).
fn missing_tools() -> Option<String> {
    for tool in [
        "unshare",
        "nix-instantiate",
        "nix-store",
        "nix-env",
        "nix-build",
    ] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!(
                "`{tool}` is not installed (Debian: nix-bin, util-linux)"
            ));
        }
    }
    None
}

macro_rules! sim_or_skip {
    () => {
        match availability() {
            Availability::Run => {}
            Availability::Skip(why) => {
                eprintln!("SKIPPED: {why}");
                return;
            }
            Availability::Fail(why) => panic!("{why}"),
        }
        if let Some(why) = missing_tools() {
            if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
                panic!("the NixOS simulation cannot run: {why}, and CI is set");
            }
            eprintln!("SKIPPED: the NixOS simulation: {why}");
            return;
        }
    };
}

/// The golden `nixos` host's plan and its apply script.
fn apply_script() -> String {
    let golden = repo_root().join("provisioner/tests/golden/nixos");
    let facts = std::fs::read_to_string(golden.join("facts.txt")).expect("the golden facts");
    let facts = katafleet::facts::parse(&facts).expect("they parse");
    let inventory = katafleet::inventory::load(&golden.join("inventory.toml")).expect("inventory");
    let plan = katafleet::plan::plan(
        &facts,
        &inventory.hosts[0].desired,
        katafleet::plan::PlanOptions { force: false },
    )
    .expect("the golden nixos plan");
    katafleet::script::apply::render(&plan, None, "0.0.0-sim")
}

/// The apply script with a rollback deadline of `secs` instead of the
/// product's 180 s, so a test can wait it out.
fn apply_script_with_deadline(secs: u32) -> String {
    let product = format!(
        "kf_nixos_activate 1 {} ",
        katafleet::script::nixos::ROLLBACK_DEADLINE_SECS
    );
    let script = apply_script();
    assert!(script.contains(&product), "the activation line moved");
    script.replace(&product, &format!("kf_nixos_activate 1 {secs} "))
}

/// A "script" that only waits: the controller is gone meanwhile.
fn wait_secs(secs: u32) -> String {
    format!("sleep {secs}\n")
}

fn finish(switch: bool) -> String {
    katafleet::script::nixos::finish_script(switch, "@SYSTEM@", "@PREVIOUS@")
}

/// Runs `scripts` in order on a fresh simulated host whose configuration.nix
/// is `configuration`; `reboot_before` names the script before which the
/// host "reboots" into its previous system.
fn simulate(configuration: &str, scripts: &[String], reboot_before: Option<usize>) -> Sim {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let d = dir.path();
    write(d, "sim-nixos.nix", SIM_NIXOS);
    write(d, "configuration.nix", configuration);
    for (i, s) in scripts.iter().enumerate() {
        write(d, &format!("{}.sh", i + 1), s);
        if reboot_before == Some(i + 1) {
            write(d, &format!("{}.sh.reboot", i + 1), "");
        }
    }
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "bash", "-c", HARNESS])
        .env("KF_SIM", d)
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the simulation harness failed ({:?}):\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let previous = stdout
        .lines()
        .find_map(|l| l.strip_prefix("previous "))
        .expect("the previous system")
        .to_string();
    Sim {
        out: stdout,
        previous,
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write a simulation file");
}

const HEALTHY: &str = "{ exit = 0; }";

#[test]
fn nixos_sim_built_once_tested_then_made_the_boot_default() {
    sim_or_skip!();
    let sim = simulate(
        HEALTHY,
        &[apply_script(), katafleet::script::commit_script()],
        None,
    );
    assert!(
        sim.steps(1).contains("@@step 1 changed built /nix/store/"),
        "{}",
        sim.out
    );
    let new = sim.state("current");
    assert_ne!(new, sim.previous, "{}", sim.out);
    assert_eq!(
        sim.activations(),
        [(new.clone(), "test".into()), (new.clone(), "boot".into())],
        "{}",
        sim.out
    );
    assert_eq!(sim.state("profile"), new);
    assert_eq!(sim.state("record"), "none", "the transaction is gone");
    assert!(sim.state("files").contains("katafleet-defaults.json"));
}

#[test]
fn nixos_sim_not_verified_goes_back_to_the_previous_system() {
    sim_or_skip!();
    let sim = simulate(
        HEALTHY,
        &[apply_script(), katafleet::script::revert_script()],
        None,
    );
    let activations = sim.activations();
    assert_eq!(activations.len(), 2, "{}", sim.out);
    assert_eq!(activations[1], (sim.previous.clone(), "test".into()));
    assert_eq!(sim.state("current"), sim.previous);
    assert_eq!(
        sim.state("profile"),
        sim.previous,
        "the boot default never moved"
    );
    assert_eq!(sim.state("files"), "configuration.nix", "{}", sim.out);
    assert_eq!(sim.state("record"), "none");
}

#[test]
fn nixos_sim_exit_4_is_told_apart_and_rolled_back() {
    sim_or_skip!();
    let sim = simulate("{ exit = 4; }", &[apply_script()], None);
    let steps = sim.steps(1);
    assert!(
        steps.contains("@@step 1 failed the new system")
            && steps.contains(
                "was activated, but some units failed (switch-to-configuration test exited 4"
            )
            && steps.contains(&format!("rolled back to {}", sim.previous)),
        "{}",
        sim.out
    );
    assert_eq!(sim.state("current"), sim.previous);
    assert_eq!(sim.state("record"), "none");
    assert_eq!(sim.state("files"), "configuration.nix");
}

#[test]
fn nixos_sim_evaluation_and_build_failures_activate_nothing() {
    sim_or_skip!();
    let eval = simulate(
        "throw \"the option `foo' does not exist\"",
        &[apply_script()],
        None,
    );
    assert!(
        eval.steps(1).contains("does not evaluate")
            && eval.steps(1).contains("the option `foo' does not exist"),
        "{}",
        eval.out
    );
    let build = simulate("{ exit = 0; fail = true; }", &[apply_script()], None);
    assert!(
        build.steps(1).contains("building the new NixOS system")
            && build.steps(1).contains("the sim builder refuses"),
        "{}",
        build.out
    );
    for sim in [&eval, &build] {
        assert!(sim.activations().is_empty(), "{}", sim.out);
        assert_eq!(sim.state("current"), sim.previous);
        assert_eq!(sim.state("files"), "configuration.nix");
    }
}

#[test]
fn nixos_sim_a_pending_activation_blocks_new_runs_until_settled() {
    sim_or_skip!();
    // The first run is cut off after its activation: no commit, no revert.
    let switched = simulate(
        HEALTHY,
        &[apply_script(), apply_script(), finish(true)],
        None,
    );
    assert!(
        switched
            .steps(2)
            .contains("@@step 0 failed a NixOS activation an earlier run started is still pending"),
        "{}",
        switched.out
    );
    let tested = switched.activations()[0].0.clone();
    assert!(
        switched.steps(3).contains("is the boot default now"),
        "{}",
        switched.out
    );
    assert_eq!(switched.state("profile"), tested);
    assert_eq!(switched.state("record"), "none");

    let rolled = simulate(HEALTHY, &[apply_script(), finish(false)], None);
    assert!(
        rolled.steps(2).contains("rolled the pending activation of"),
        "{}",
        rolled.out
    );
    assert_eq!(rolled.state("current"), rolled.previous);
    assert_eq!(rolled.state("files"), "configuration.nix");

    // Rebooted into the previous system before anyone settled it.
    let rebooted = simulate(HEALTHY, &[apply_script(), finish(false)], Some(2));
    assert_eq!(rebooted.state("current"), rebooted.previous);
    assert_eq!(rebooted.state("profile"), rebooted.previous);
    assert_eq!(rebooted.state("record"), "none");
}

#[test]
fn nixos_sim_a_controller_that_vanishes_after_the_activation_is_rolled_back_by_the_host() {
    sim_or_skip!();
    // No commit and no revert ever come (the controller died, or sshd of
    // the new system refuses it); the deadline runs out on the host.
    let sim = simulate(
        HEALTHY,
        &[apply_script_with_deadline(2), wait_secs(6)],
        None,
    );
    let new = sim.activations()[0].0.clone();
    assert_ne!(new, sim.previous, "{}", sim.out);
    assert_eq!(
        sim.activations(),
        [(new, "test".into()), (sim.previous.clone(), "test".into())],
        "{}",
        sim.out
    );
    assert_eq!(sim.state("current"), sim.previous);
    assert_eq!(
        sim.state("profile"),
        sim.previous,
        "the boot default never moved"
    );
    assert_eq!(sim.state("files"), "configuration.nix", "{}", sim.out);
    assert_eq!(sim.state("record"), "none");
    assert_eq!(
        sim.state("armed"),
        "0",
        "the deadline script removed itself"
    );
    let fired = sim.state("fired");
    assert!(
        fired.contains("no commit came within the deadline, so the previous system is back"),
        "{}",
        sim.out
    );
}

#[test]
fn nixos_sim_a_commit_in_time_disarms_the_deadline() {
    sim_or_skip!();
    let sim = simulate(
        HEALTHY,
        &[
            apply_script_with_deadline(2),
            katafleet::script::commit_script(),
            wait_secs(5),
        ],
        None,
    );
    let new = sim.state("current");
    assert_ne!(new, sim.previous, "{}", sim.out);
    assert_eq!(
        sim.activations(),
        [(new.clone(), "test".into()), (new.clone(), "boot".into())],
        "{}",
        sim.out
    );
    assert_eq!(sim.state("profile"), new);
    assert_eq!(sim.state("fired"), "none", "{}", sim.out);
    assert_eq!(sim.state("armed"), "0");
}

#[test]
fn nixos_sim_a_commit_after_the_deadline_fired_fails_loudly() {
    sim_or_skip!();
    let sim = simulate(
        HEALTHY,
        &[
            apply_script_with_deadline(2),
            wait_secs(6),
            katafleet::script::commit_script(),
        ],
        None,
    );
    assert!(
        sim.steps(3)
            .contains("@@step 1 failed the commit came too late"),
        "{}",
        sim.out
    );
    assert_eq!(sim.state("current"), sim.previous);
    assert_eq!(sim.state("profile"), sim.previous);
}
