//! How each case's facts.txt is made: a real probe transcript from
//! tests/fixtures/facts/, plus the named edits below. The golden runner
//! checks every committed facts.txt against its recipe (and rewrites it with
//! KATAFLEET_UPDATE_GOLDEN=1), so the files and this code cannot drift.

use sha2::Digest;

use super::transcript::Transcript;

const BOOKWORM: &str = "debian12-nspawn.txt";
const BOOKWORM_PROVISIONED: &str = "debian12-nspawn-provisioned.txt";

/// The nspawn test hosts cannot run VMs; a KVM guest with nested VT-x can.
/// What the probe prints on one (systemd-detect-virt -c says `none`).
fn ready_vm(t: Transcript, modules: &str) -> Transcript {
    t.set("cpu_virt", "vmx")
        .set("virt_container", "none")
        .set("kvm_mode", "660 root kvm")
        .set("kvm_open", "ok")
        .set("modules", modules)
        .set("kvm_group", "kvm:x:993:")
}

/// Debian 12 as a VM that can run Kata, nothing installed yet: containerd
/// 1.6 from Debian, no Docker, kvm and kvm_intel loaded, vhost not yet.
pub fn fresh_bookworm() -> Transcript {
    ready_vm(Transcript::fixture(BOOKWORM), " kvm kvm_intel")
}

/// `fresh_bookworm` with curl, so it can download the release itself
/// (`[kata] fetch = "host"`).
pub fn host_fetch_bookworm() -> Transcript {
    let t = fresh_bookworm();
    let tools = format!("{} curl", t.get("tools").unwrap_or_default());
    t.set("tools", &tools)
}

/// The same host after `katafleet provision`: the real post-provision
/// transcript, made ready like `fresh_bookworm`, and brought up to what
/// today's katafleet writes: being a VM with VT-x it also needs kvm_intel
/// in its modules-load file, and containerd 1.x's config spells out the
/// default runc runtime (the transcript predates that).
pub fn provisioned_bookworm() -> Transcript {
    let t = ready_vm(
        Transcript::fixture(BOOKWORM_PROVISIONED),
        " kvm kvm_intel vhost vhost_net vhost_vsock",
    );
    let modules = "# Managed by katafleet: kernel modules Kata Containers needs at boot.\n\
                   kvm\nkvm_intel\nvhost\nvhost_net\nvhost_vsock\n";
    let opt = "  [plugins.\"io.containerd.internal.v1.opt\"]\n";
    let config = t
        .file("containerd-config")
        .expect("a containerd config")
        .replace(
            opt,
            &format!(
                "\n# katafleet: containerd's default runtime, spelled out because a runtimes\n\
             # table in this file replaces containerd 1.x's built-in ones (without it the\n\
             # CRI plugin fails to load: no runtime for default_runtime_name)\n\
             [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n\
             runtime_type = \"io.containerd.runc.v2\"\n{opt}"
            ),
        );
    let t = owned_file(t, "path:/etc/modules-load.d/katafleet.conf", modules);
    owned_file(t, "containerd-config", &config)
}

/// Replaces a file katafleet owns, and its sha256 wherever the probe
/// reports it: the manifest and the `digest:` line.
fn owned_file(t: Transcript, block: &str, content: &str) -> Transcript {
    let path = match block {
        "containerd-config" => "/etc/containerd/config.toml",
        other => other.strip_prefix("path:").expect("a path: block"),
    };
    let digest_key = format!("digest:{path}");
    let old = t
        .get(&digest_key)
        .unwrap_or_else(|| panic!("the transcript has no {digest_key}"))
        .to_string();
    let new = hex::encode(sha2::Sha256::digest(content.as_bytes()));
    let manifest = t.file("manifest").expect("a manifest").replace(&old, &new);
    t.set_file(block, content)
        .set(&digest_key, &new)
        .set_file("manifest", &manifest)
}

/// Debian sid as the fleet's sid hosts have it: Debian's containerd 2.1.9
/// (its packaged config.toml, still schema 2) and Docker 28 (docker.io) with
/// the user's own daemon.json. The dump is `containerd config default` of
/// 2.1 (tests/fixtures/containerd/default-sid.toml), standing in for the
/// merged dump.
pub fn sid_containerd2_docker28() -> Transcript {
    let dump =
        std::fs::read_to_string(super::tests_dir().join("fixtures/containerd/default-sid.toml"))
            .expect("the sid containerd default config");
    ready_vm(Transcript::fixture(BOOKWORM), " kvm kvm_intel vhost vhost_net vhost_vsock")
        .set_file(
            "os-release",
            "PRETTY_NAME=\"Debian GNU/Linux forky/sid\"\nNAME=\"Debian GNU/Linux\"\n\
             VERSION_CODENAME=forky\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n\
             SUPPORT_URL=\"https://www.debian.org/support\"\nBUG_REPORT_URL=\"https://bugs.debian.org/\"\n",
        )
        .set(
            "containerd_version",
            "containerd github.com/containerd/containerd/v2 2.1.9~ds1 2.1.9~ds1-1",
        )
        .set("cri_plugin", "ok")
        .set_file("containerd-dump", &dump)
        .set("docker_version", "Docker version 28.5.2+dfsg1, build ecc6942")
        .set("docker_active", "active")
        .set_file(
            "docker-daemon-json",
            "{\n  \"log-level\": \"warn\",\n  \"max-concurrent-downloads\": 2\n}\n",
        )
}

/// What Docker's containerd.io package ships as /etc/containerd/config.toml:
/// no schema version, and the CRI plugin (which holds every runtime) off.
const CONTAINERD_IO_CONFIG: &str = r#"#   Copyright 2018-2022 Docker Inc.

#   Licensed under the Apache License, Version 2.0 (the "License");
#   you may not use this file except in compliance with the License.
#   You may obtain a copy of the License at

#       http://www.apache.org/licenses/LICENSE-2.0

#   Unless required by applicable law or agreed to in writing, software
#   distributed under the License is distributed on an "AS IS" BASIS,
#   WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
#   See the License for the specific language governing permissions and
#   limitations under the License.

disabled_plugins = ["cri"]

#root = "/var/lib/containerd"
#state = "/run/containerd"
#subreaper = true
#oom_score = 0

#[grpc]
#  address = "/run/containerd/containerd.sock"
#  uid = 0
#  gid = 0

#[debug]
#  address = "/run/containerd/debug.sock"
#  uid = 0
#  gid = 0
#  level = "info"
"#;

/// Debian 12 with Docker CE 28 and its containerd.io 1.7: the CRI plugin is
/// disabled, so `ctr plugins ls` lists no CRI state. The dump is bookworm's
/// (1.6) with `disabled_plugins` set, standing in for containerd.io's.
pub fn containerd_io_cri_disabled() -> Transcript {
    let t = fresh_bookworm();
    let dump = t
        .file("containerd-dump")
        .expect("a dump")
        .replace("disabled_plugins = []", "disabled_plugins = [\"cri\"]");
    t.set(
        "containerd_version",
        "containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da",
    )
    .set("cri_plugin", "")
    .set_file("containerd-config", CONTAINERD_IO_CONFIG)
    .set_file("containerd-dump", &dump)
    .set("docker_version", "Docker version 28.3.3, build 980b856")
    .set("docker_active", "active")
}

/// The real transcript of a fleet test host, unedited: an nspawn container
/// without /dev/kvm or VT-x, so not ready for Kata.
pub fn not_ready_nspawn() -> Transcript {
    Transcript::fixture(BOOKWORM)
}

/// Kata 3.2.0 unpacked into /opt/kata by hand (the old install notes), with
/// kata-runtime symlinked into /usr/local/bin: no katafleet marker, no
/// manifest.
pub fn foreign_opt_kata() -> Transcript {
    fresh_bookworm()
        .set("kata_dir", "yes")
        .set("kata_version_file", "3.2.0")
        .set(
            "kata_bin",
            "cloud-hypervisor containerd-shim-kata-v2 firecracker jailer kata-collect-data.sh kata-monitor kata-runtime qemu-system-x86_64",
        )
        .set("kata_rs_bin", "containerd-shim-kata-v2")
        .set(
            "kata_configs",
            "configuration-clh.toml configuration-fc.toml configuration-qemu.toml configuration.toml runtime-rs/configuration-dragonball.toml",
        )
        .set("on_path:kata-runtime", "/usr/local/bin/kata-runtime")
        .set("on_path:kata-ctl", "")
        .set(
            "on_path:containerd-shim-kata-v2",
            "/usr/local/bin/containerd-shim-kata-v2",
        )
}

const NIXOS_RELEASE: &str = r#"ANSI_COLOR="0;38;2;126;186;228"
BUG_REPORT_URL="https://github.com/NixOS/nixpkgs/issues"
BUILD_ID="25.05.20250920.0147c2f"
CPE_NAME="cpe:/o:nixos:nixos:25.05"
DEFAULT_HOSTNAME=nixos
DOCUMENTATION_URL="https://nixos.org/learn.html"
HOME_URL="https://nixos.org/"
ID=nixos
ID_LIKE=""
IMAGE_ID=""
IMAGE_VERSION=""
LOGO="nix-snowflake"
NAME=NixOS
PRETTY_NAME="NixOS 25.05 (Warbler)"
SUPPORT_END="2025-12-31"
SUPPORT_URL="https://nixos.org/community.html"
VARIANT=""
VARIANT_ID=""
VENDOR_NAME=NixOS
VENDOR_URL="https://nixos.org/"
VERSION="25.05 (Warbler)"
VERSION_CODENAME=warbler
VERSION_ID="25.05"
"#;

/// The configuration.nix katafleet asks for: it imports ./katafleet.nix
/// once that exists. containerd is the user's to enable (the module asserts
/// it is).
const NIXOS_CONFIGURATION: &str = r#"{ config, pkgs, ... }:

{
  imports = [ ./hardware-configuration.nix ]
    ++ (if builtins.pathExists ./katafleet.nix then [ ./katafleet.nix ] else [ ]);

  boot.loader.systemd-boot.enable = true;
  networking.hostName = "nix-1";
  services.openssh.enable = true;
  virtualisation.containerd.enable = true;
  system.stateVersion = "25.05";
}
"#;

/// The system the NixOS hosts run, and the one katafleet's activation built.
pub const NIXOS_SYSTEM: &str =
    "/nix/store/2k6ymyq1v7qxjk6ia7bk9yxcd7rql1hq-nixos-system-nix-1-25.05.20250920.0147c2f";
pub const NIXOS_TESTED: &str =
    "/nix/store/w4l6ibd5d0pnkxqvh4ra3xvz3ai1cyn9-nixos-system-nix-1-25.05.20250920.0147c2f";
/// What NixOS' channel setup (nix-channel.nix) puts on NIX_PATH.
const CHANNEL_NIX_PATH: &str = "nixpkgs=/nix/var/nix/profiles/per-user/root/channels/nixos:\
                                nixos-config=/etc/nixos/configuration.nix:\
                                /nix/var/nix/profiles/per-user/root/channels";

/// A NixOS 25.05 VM built from /etc/nixos/configuration.nix, with
/// nixpkgs' containerd 2.0 running and no Docker: the ready Debian
/// transcript with the OS, tools and daemons swapped for NixOS's. NixOS has
/// no /etc/containerd/config.toml (the unit passes a store path), and the
/// dump is left out: the NixOS planner reads neither. The NixOS section:
/// the channel NIX_PATH, `<nixos-config>` found, and the evaluation (what
/// `nix-instantiate --eval` prints, keys sorted) giving the running system,
/// nixpkgs' kata-runtime 4.2.0, containerd on and Docker off.
pub fn nixos() -> Transcript {
    ready_vm(Transcript::fixture(BOOKWORM), " kvm kvm_intel vhost vhost_net vhost_vsock")
        .set_file("os-release", NIXOS_RELEASE)
        .set("kernel", "6.12.48")
        .set(
            "tools",
            " tar zstd xz sha256sum base64 head mktemp systemctl modprobe sudo nixos-rebuild",
        )
        .set(
            "containerd_version",
            "containerd github.com/containerd/containerd/v2 v2.0.5 fb4c30d4ede3531652d86197bf3fc9515e5276d9",
        )
        .set("cri_plugin", "ok")
        .remove_file("containerd-config")
        .remove_file("containerd-dump")
        .set_file("path:/etc/nixos/configuration.nix", NIXOS_CONFIGURATION)
        .set("nixos_nix_path", CHANNEL_NIX_PATH)
        .set("nixos_config", "/etc/nixos/configuration.nix")
        .set("nixos_current", NIXOS_SYSTEM)
        .set("nixos_boot", NIXOS_SYSTEM)
        .set_file(
            "nixos-eval",
            &format!(
                "{{\"containerd\":true,\"docker\":false,\"kata\":\"4.2.0\",\"toplevel\":\"{NIXOS_SYSTEM}\"}}\n"
            ),
        )
}

/// A NixOS host built from a flake with `nixpkgs.lib.nixosSystem`: an
/// /etc/nixos/flake.nix, and NIX_PATH as nixpkgs-flake.nix sets it (no
/// `<nixos-config>`, so the probe evaluates nothing). Its configuration.nix
/// is the one the installer left, which the flake does not use.
pub fn nixos_flake() -> Transcript {
    nixos()
        .set(
            "nixos_nix_path",
            "nixpkgs=flake:nixpkgs:/nix/var/nix/profiles/per-user/root/channels",
        )
        .set("nixos_config", "")
        .remove_file("nixos-eval")
        .set_file(
            "path:/etc/nixos/flake.nix",
            r#"{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";
  outputs = { nixpkgs, ... }: {
    nixosConfigurations.nix-1 = nixpkgs.lib.nixosSystem {
      system = "x86_64-linux";
      modules = [ ./configuration.nix ];
    };
  };
}
"#,
        )
}

/// The `nixos` host after a katafleet run that built and activated its
/// system (`switch-to-configuration test` succeeded) and was cut off before
/// the controller committed: the files and the record are what that run's
/// plan wrote (katafleet's own planner on `nixos()` with this case's
/// inventory), the record in /var/lib/katafleet/txn/nixos says "tested",
/// the host runs the tested system, and containerd's effective config (the
/// dump of the running daemon) has both handlers.
pub fn nixos_pending() -> Transcript {
    let base = nixos();
    let facts = katafleet::facts::parse(&base.render()).expect("the nixos transcript parses");
    let inventory =
        katafleet::inventory::load(&super::tests_dir().join("golden/nixos-pending/inventory.toml"))
            .expect("the nixos-pending inventory");
    let plan = katafleet::plan::plan(
        &facts,
        &inventory.hosts[0].desired,
        katafleet::plan::PlanOptions { force: false },
    )
    .expect("the interrupted run's plan");
    let files = plan
        .changes
        .iter()
        .find_map(|c| match &c.action {
            katafleet::plan::Action::NixosActivate { files } => Some(files.clone()),
            _ => None,
        })
        .expect("that plan activates a NixOS system");
    let mut t = base
        .set("nixos_current", NIXOS_TESTED)
        .set_file(
            "containerd-dump",
            "version = 3\n\n[plugins]\n  [plugins.'io.containerd.cri.v1.runtime']\n\
             [plugins.'io.containerd.cri.v1.runtime'.containerd]\n  default_runtime_name = 'runc'\n\
             [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kata]\n  runtime_type = 'io.containerd.kata.v2'\n\
             [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kata-qemu]\n  runtime_type = 'io.containerd.kata.v2'\n\
             [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]\n  runtime_type = 'io.containerd.runc.v2'\n",
        )
        .set_file("manifest", &plan.manifest.to_json())
        .set_file(
            "nixos-pending",
            &format!("system={NIXOS_TESTED}\nprevious={NIXOS_SYSTEM}\nstate=tested\n"),
        );
    for f in &files {
        t = t.set_file(&format!("path:{}", f.path), &f.content).set(
            &format!("digest:{}", f.path),
            &hex::encode(sha2::Sha256::digest(f.content.as_bytes())),
        );
    }
    t
}

/// A daemon.json as katafleet writes it where Docker 28 had none.
const KATAFLEET_DAEMON_JSON: &str = r#"{
  "runtimes": {
    "kata": {
      "runtimeType": "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2",
      "options": {
        "ConfigPath": "/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml"
      }
    },
    "kata-qemu": {
      "runtimeType": "/opt/kata/runtime-rs/bin/containerd-shim-kata-v2",
      "options": {
        "ConfigPath": "/opt/kata/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml"
      }
    }
  }
}
"#;

/// `provisioned_bookworm` as `uninstall` reads it (the probe at
/// `Purpose::Uninstall`): the saved original of config.toml, which is the fresh
/// transcript's config (what provision edited), with its digest; what is in
/// /var/lib/katafleet and /opt. Also Docker 28 running with the daemon.json
/// katafleet created, and the user `kf`, whom katafleet added to the kvm group.
pub fn uninstall_provisioned_bookworm() -> Transcript {
    let original = Transcript::fixture(BOOKWORM)
        .file("containerd-config")
        .expect("the fresh host's containerd config")
        .to_string();
    let daemon_digest = hex::encode(sha2::Sha256::digest(KATAFLEET_DAEMON_JSON.as_bytes()));
    let t = provisioned_bookworm();
    let mut manifest: serde_json::Value =
        serde_json::from_str(t.file("manifest").expect("a manifest")).expect("JSON");
    manifest["files"]["/etc/docker/daemon.json"] =
        serde_json::json!({"sha256": daemon_digest, "created": true});
    manifest["docker_runtimes"] = serde_json::json!(["kata", "kata-qemu"]);
    manifest["kvm_members_added"] = serde_json::json!(["kf"]);
    let manifest = serde_json::to_string_pretty(&manifest).expect("JSON") + "\n";
    t.set("kvm_group", "kvm:x:993:kf")
        .set(
            "docker_version",
            "Docker version 28.5.2+dfsg1, build ecc6942",
        )
        .set("docker_active", "active")
        .set_file("docker-daemon-json", KATAFLEET_DAEMON_JSON)
        .set_file("manifest", &manifest)
        .set("digest:/etc/docker/daemon.json", &daemon_digest)
        .set(
            "backup_digest:/etc/containerd/config.toml",
            &hex::encode(sha2::Sha256::digest(original.as_bytes())),
        )
        .set_file("backup:/etc/containerd/config.toml", &original)
        .set("state_entries", "backup last-provision lock manifest.json")
        .set("opt_entries", "kata")
        .set("kata_shims", "")
}
