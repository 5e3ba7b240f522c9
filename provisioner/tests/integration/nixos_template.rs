//! The file katafleet writes to /etc/nixos on NixOS hosts, rendered with the
//! real tera engine from an inventory, must be valid Nix. Parsed with
//! `nix-instantiate --parse` where Nix is installed (CI installs nix-bin).

use std::process::Command;

#[test]
fn rendered_nixos_settings_parse_as_nix() {
    let dir = tempfile::tempdir().unwrap();
    let inv_path = dir.path().join("inventory.toml");
    std::fs::write(
        &inv_path,
        "[kata]\nversion = \"3.32.0\"\nhypervisor = \"clh\"\ndefault_memory_mib = 4096\ndebug = true\nkvm_users = [\"alice\", \"bob\"]\n\
         [docker]\nenable = false\n[[hosts]]\nname = \"n1\"\naddress = \"local\"\n",
    )
    .unwrap();
    let inv = katafleet::inventory::load(&inv_path).unwrap();
    let desired = &inv.hosts[0].desired;
    let text =
        katafleet::plan::templates::nixos_settings(desired, desired.containerd, desired.docker);
    for want in [
        "hypervisor = \"cloud-hypervisor\";",
        "shims = [ \"cloud-hypervisor\" ];",
        "memory = 4096;",
        "debug = true;",
        "docker.enable = false;",
        "\"alice\" \"bob\"",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let Ok(nix) = which("nix-instantiate") else {
        eprintln!("SKIPPED the Nix parse: nix-instantiate is not installed");
        return;
    };
    let file = dir.path().join("katafleet.nix");
    std::fs::write(&file, &text).unwrap();
    let out = Command::new(nix)
        .arg("--parse")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn which(tool: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(tool))
                .find(|p| p.is_file())
        })
        .ok_or(())
}
