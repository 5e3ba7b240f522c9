//! Usage: what the binary says and its exit code when it is run wrong, or
//! asked for help. Exit code 2 means nothing was contacted.

use crate::test::Test;

const HELP: &str = "\
Put Kata Containers on a fleet of Linux hosts over SSH and keep them correct

Usage: katafleet <COMMAND>

Commands:
  plan       Gather facts and show, per host, exactly what provision would change (a dry run)
  provision  Install Kata at the pinned version, wire it into containerd and Docker, and verify
  upgrade    Rolling upgrade in [rollout] batches (a canary first), stopping on failures; --resume continues
  check      Is each host ready for Kata? Every check with what to do about it; changes nothing
  status     What is on each host now: Kata, hypervisors, handlers the daemons see, drift, last provision
  verify     Prove a container really runs in a VM on each host (check tool, a container per handler, its VMM; --bench)
  debug      Turn Kata debug logging on or off (a config drop-in; --containerd for containerd's too)
  rollback   Put each host back to the Kata release and files it had before its last upgrade
  uninstall  Remove everything katafleet put on each host (and nothing else); --dry-run shows it first
  render     Print RuntimeClass manifests or write a Compose override
  help       Print this message or the help of the given subcommand(s)

Options:
  -h, --help     Print help
  -V, --version  Print version
";

#[test]
fn help_lists_every_command_and_exits_0() {
    Test::new().args(&["--help"]).stdout(HELP).run();
}

#[test]
fn no_command_prints_the_help_on_stderr_and_exits_2() {
    Test::new().stderr(HELP).status(2).run();
}

#[test]
fn version_is_the_crate_version() {
    Test::new()
        .args(&["--version"])
        .stdout(&format!("katafleet {}\n", env!("CARGO_PKG_VERSION")))
        .run();
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    Test::new()
        .args(&["frobnicate"])
        .stderr(
            "error: unrecognized subcommand 'frobnicate'\n\n\
             Usage: katafleet <COMMAND>\n\n\
             For more information, try '--help'.\n",
        )
        .status(2)
        .run();
}

#[test]
fn plan_of_a_missing_inventory_says_which_file_and_exits_2() {
    Test::new()
        .args(&["plan", "missing.toml"])
        .stderr("cannot read inventory missing.toml: No such file or directory (os error 2)\n")
        .status(2)
        .run();
}

#[test]
fn a_parallel_of_zero_is_refused_by_the_parser() {
    Test::new()
        .args(&["plan", "inventory.toml", "--parallel", "0"])
        .stderr(
            "error: invalid value '0' for '--parallel <N>': 0 is not in 1..=65535\n\n\
             For more information, try '--help'.\n",
        )
        .status(2)
        .run();
}

const PINNED_4_2_0: &str = "[kata]\nversion = \"4.2.0\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n\n[[hosts]]\nname = \"a\"\n";

#[test]
fn upgrading_to_a_version_without_a_digest_is_a_usage_error() {
    // The inventory's pin is 4.2.0's, not 4.3.0's.
    Test::new()
        .file("inventory.toml", PINNED_4_2_0)
        .args(&["upgrade", "inventory.toml", "--to", "4.3.0"])
        .stderr("error: no sha256 for Kata 4.3.0: katafleet has no known checksum for it and the inventory pins none for it; pass the release asset's digest with --sha256\n")
        .status(2)
        .run();
}

#[test]
fn upgrade_takes_a_digest_only_with_to_and_versions_as_major_minor_patch() {
    Test::new()
        .args(&[
            "upgrade",
            "inventory.toml",
            "--sha256",
            "1111111111111111111111111111111111111111111111111111111111111111",
        ])
        .stderr(
            "error: the following required arguments were not provided:\n  --to <VERSION>\n\n\
             Usage: katafleet upgrade --to <VERSION> --sha256 <SUM> <INVENTORY>\n\n\
             For more information, try '--help'.\n",
        )
        .status(2)
        .run();
    Test::new()
        .args(&["upgrade", "inventory.toml", "--to", "4.3"])
        .stderr(
            "error: invalid value '4.3' for '--to <VERSION>': `4.3` is not a Kata release version; write it as MAJOR.MINOR.PATCH, for example `4.2.0`\n\n\
             For more information, try '--help'.\n",
        )
        .status(2)
        .run();
}

#[test]
fn uninstall_takes_dry_run_and_force_and_a_missing_inventory_exits_2() {
    Test::new()
        .args(&["uninstall", "missing.toml", "--dry-run", "--force"])
        .stderr("cannot read inventory missing.toml: No such file or directory (os error 2)\n")
        .status(2)
        .run();
}
