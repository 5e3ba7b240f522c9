# VM test: `katafleet provision` over SSH against two NixOS targets.
#
# A controller holds katafleet (built from this flake), a throwaway SSH key
# (nixpkgs' snake-oil test key) and an inventory whose Kata release is a
# local artifact, so nothing is downloaded. The targets are NixOS, so
# katafleet takes its NixOS path: it writes /etc/nixos/katafleet.nix,
# /etc/nixos/katafleet-module.nix and /etc/nixos/katafleet-defaults.json,
# builds the system once, activates it with its switch-to-configuration
# test and, once verified, makes it the boot default. The test asserts that
# both targets end up with Kata wired into containerd, booting the new
# system, and that a second run changes nothing: no file rewritten, no new
# system. katafleet writes only to hosts whose running system is what
# /etc/nixos/configuration.nix builds, so each target is first switched to
# its configuration.nix with nixos-rebuild.
#
# The targets rebuild their own system with no binary cache, so they carry
# everything that rebuild needs: the build dependencies of their system
# (system.includeBuildDependencies) and, through an inactive specialisation
# with the same Kata settings the inventory asks for, the outputs of the
# Kata configuration itself.
{ self, pkgs }:

let
  inherit (pkgs) lib;
  system = pkgs.stdenv.hostPlatform.system;
  katafleet = self.packages.${system}.default;
  inherit (import "${pkgs.path}/nixos/tests/ssh-keys.nix" pkgs) snakeOilPrivateKey snakeOilPublicKey;

  kataVersion = lib.getVersion pkgs.kata-runtime;
  arch = { x86_64-linux = "amd64"; aarch64-linux = "arm64"; }.${system};
  asset = "kata-static-${kataVersion}-${arch}.tar.zst";

  # What the inventory asks for; the specialisation below mirrors it.
  desired = {
    hypervisor = "qemu";
    memory = 2048;
    vcpus = 1;
  };

  # Keep in step with the inventory schema in provisioner/src/inventory.
  inventory = { hypervisor ? desired.hypervisor }: ''
    [defaults]
    user = "root"
    identity_file = "/root/.ssh/id_ecdsa"
    known_hosts = "strict"
    known_hosts_file = "/root/.ssh/known_hosts"
    parallel = 2

    [kata]
    version = "${kataVersion}"
    sha256 = "@sha256@"
    source = "/root/artifacts/{asset}"
    hypervisor = "${hypervisor}"
    default_memory_mib = ${toString desired.memory}
    default_vcpus = ${toString desired.vcpus}

    [containerd]
    enable = true

    [[hosts]]
    name = "target1"
    address = "target1"

    [[hosts]]
    name = "target2"
    address = "target2"
  '';

  # A local stand-in for the release tarball, and inventories pinning its
  # digest. NixOS targets take Kata from nixpkgs, so its content is never
  # installed; it is there so that no step of katafleet reaches a network.
  artifacts = pkgs.runCommand "katafleet-test-artifacts"
    {
      nativeBuildInputs = [ pkgs.gnutar pkgs.zstd ];
      good = inventory { };
      bad = inventory { hypervisor = "kvmtool"; };
      passAsFile = [ "good" "bad" ];
    } ''
    mkdir -p root/opt/kata $out
    echo "stand-in release for the katafleet VM test" > root/opt/kata/README
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C root -cf - opt \
      | zstd -q -o $out/${asset}
    sha256=$(sha256sum $out/${asset} | cut -d' ' -f1)
    sed "s/@sha256@/$sha256/" $goodPath > $out/inventory.toml
    sed "s/@sha256@/$sha256/" $badPath > $out/bad-inventory.toml
  '';

  # The part of each target's configuration that its own
  # /etc/nixos/configuration.nix repeats, so that the system katafleet
  # rebuilds keeps SSH access and the offline Nix setup.
  targetConfig = {
    documentation.enable = false;
    services.openssh.enable = true;
    users.users.root.openssh.authorizedKeys.keys = [ snakeOilPublicKey ];
    nix.nixPath = [ "nixpkgs=${pkgs.path}" "nixos-config=/etc/nixos/configuration.nix" ];
  };

  target = { lib, ... }: {
    imports = [ targetConfig ];
    system.build = { inherit targetConfig; };

    nix.settings.substituters = lib.mkForce [ ];
    system.includeBuildDependencies = true;

    # Inactive; only here so the store already holds what the Kata
    # configuration katafleet writes will need.
    specialisation.kata.configuration = {
      imports = [ self.nixosModules.default ];
      virtualisation.containerd.enable = true;
      virtualisation.kata-containers = {
        enable = true;
        inherit (desired) hypervisor memory vcpus;
        containerd.enable = true;
      };
    };

    virtualisation = {
      memorySize = 3072;
      cores = 2;
      diskSize = 4096;
    };
  };

  # What each target's /etc/nixos holds before katafleet runs. It imports
  # ./katafleet.nix once that exists, as katafleet requires of NixOS hosts.
  configurationNix = hostname: pkgs.writeText "configuration.nix" ''
    { lib, modulesPath, ... }:
    {
      imports = [
        (modulesPath + "/virtualisation/qemu-vm.nix")
        (modulesPath + "/testing/test-instrumentation.nix")
        (lib.modules.importJSON ./target-configuration.json)
        (lib.modules.importJSON ./target-network.json)
        ./hardware-configuration.nix
      ] ++ (if builtins.pathExists ./katafleet.nix then [ ./katafleet.nix ] else [ ]);

      boot.loader.grub = {
        enable = true;
        device = "/dev/vda";
        forceInstall = true;
      };
      nix.settings.substituters = lib.mkForce [ ];
      networking.hostName = "${hostname}";
    }
  '';
in
pkgs.testers.runNixOSTest {
  name = "katafleet-provision";

  nodes = {
    controller = { pkgs, ... }: {
      environment.systemPackages = [ katafleet pkgs.openssh ];
      virtualisation.memorySize = 1024;
    };
    target1 = target;
    target2 = target;
  };

  testScript = { nodes, ... }:
    let
      targetConfigJSON = pkgs.writeText "target-configuration.json"
        (builtins.toJSON nodes.target1.system.build.targetConfig);
      networkJSON = name: pkgs.writeText "target-network.json"
        (builtins.toJSON nodes.${name}.system.build.networkConfig);
    in
    ''
      import tomllib

      targets = [target1, target2]
      inventory = "/root/inventory.toml"


      def containerd_dump(machine):
          """containerd's effective config, read through the file the running daemon was given."""
          args = machine.succeed("tr '\\0' '\\n' < /proc/$(pidof containerd)/cmdline").split("\n")
          config = args[args.index("--config") + 1]
          return tomllib.loads(machine.succeed(f"containerd --config {config} config dump"))


      def state(machine):
          """What a no-op run must leave exactly as it was."""
          return machine.succeed(
              "readlink -f /run/current-system;"
              " readlink -f /nix/var/nix/profiles/system;"
              " stat -c '%n %Y %s' /etc/nixos/katafleet.nix /etc/nixos/katafleet-module.nix /etc/nixos/katafleet-defaults.json;"
              " sha256sum /etc/nixos/katafleet.nix /etc/nixos/katafleet-module.nix /etc/nixos/katafleet-defaults.json"
          )


      start_all()

      etc_nixos = {
          "target1": ("${configurationNix "target1"}", "${networkJSON "target1"}"),
          "target2": ("${configurationNix "target2"}", "${networkJSON "target2"}"),
      }

      with subtest("targets start as plain NixOS hosts with an editable /etc/nixos"):
          for t in targets:
              configuration, network = etc_nixos[t.name]
              t.wait_for_unit("sshd.service")
              t.succeed("nixos-generate-config")
              t.copy_from_host(configuration, "/etc/nixos/configuration.nix")
              t.copy_from_host(network, "/etc/nixos/target-network.json")
              t.copy_from_host("${targetConfigJSON}", "/etc/nixos/target-configuration.json")
              t.fail("test -e /etc/nixos/katafleet.nix")
              t.fail("systemctl is-active containerd.service")
              # The test driver booted the node's own system; katafleet
              # refuses a host whose running system configuration.nix does
              # not build, so the target runs that one first.
              t.succeed("nixos-rebuild switch >&2", timeout=3600)
              t.wait_for_unit("sshd.service")

      with subtest("the controller has a throwaway key, the targets' host keys and a local artifact"):
          controller.wait_for_unit("multi-user.target")
          controller.succeed("install -Dm600 ${snakeOilPrivateKey} /root/.ssh/id_ecdsa")
          controller.wait_until_succeeds(
              "ssh-keyscan target1 target2 > /root/.ssh/known_hosts"
              " && grep -q '^target1 ' /root/.ssh/known_hosts && grep -q '^target2 ' /root/.ssh/known_hosts"
          )
          controller.succeed("mkdir -p /root/artifacts && cp ${artifacts}/${asset} /root/artifacts/")
          controller.succeed("cp ${artifacts}/inventory.toml ${artifacts}/bad-inventory.toml /root/")
          controller.succeed("ssh -o BatchMode=yes root@target1 true")

      with subtest("an invalid inventory is refused before any host is touched"):
          status, out = controller.execute("katafleet provision /root/bad-inventory.toml 2>&1")
          print(out)
          assert status == 2, f"expected exit 2 (inventory error), got {status}"
          assert "kvmtool" in out, out
          for t in targets:
              t.fail("test -e /etc/nixos/katafleet.nix")

      with subtest("first provision configures both targets"):
          before = {t.name: t.succeed("readlink -f /run/current-system") for t in targets}
          # Without nested KVM the targets are not ready for Kata; --force
          # provisions them anyway (katafleet still reports them not ready).
          controller.succeed(f"katafleet provision --force {inventory} >&2", timeout=3600)
          for t in targets:
              t.succeed("test -f /etc/nixos/katafleet.nix")
              t.succeed("test -f /etc/nixos/katafleet-module.nix")
              t.succeed("nix-instantiate --parse /etc/nixos/katafleet.nix")
              current = t.succeed("readlink -f /run/current-system")
              assert current != before[t.name], "no new system"
              # Verified, so the activated system is the boot default too,
              # and nothing is left pending.
              assert t.succeed("readlink -f /nix/var/nix/profiles/system") == current, "not the boot default"
              t.fail("test -e /var/lib/katafleet/txn/nixos")
              t.succeed("test -f /etc/nixos/katafleet-defaults.json")
              t.wait_for_unit("containerd.service")

              dump = containerd_dump(t)
              plugins = dump["plugins"]
              cri = plugins.get("io.containerd.cri.v1.runtime") or plugins["io.containerd.grpc.v1.cri"]
              runtimes = cri["containerd"]["runtimes"]
              for name in ("kata", "kata-qemu"):
                  entry = runtimes[name]
                  assert entry["runtime_type"] == "io.containerd.kata.v2", entry
                  assert entry["runtime_path"].startswith("/nix/store/"), entry
                  assert entry["runtime_path"].endswith("/bin/containerd-shim-kata-v2"), entry
                  assert entry["options"]["ConfigPath"].startswith("/nix/store/"), entry
                  t.succeed(f"test -x {entry['runtime_path']} && test -f {entry['options']['ConfigPath']}")
              assert cri["containerd"].get("default_runtime_name", "runc") == "runc", cri["containerd"]

              t.wait_until_succeeds("grep -q '^vhost_vsock ' /proc/modules")
              t.succeed("command -v kata-host-check")
              t.fail("test -e /opt/kata")

      with subtest("a second provision changes nothing"):
          before = {t.name: state(t) for t in targets}
          controller.succeed(f"katafleet provision --force {inventory} >&2", timeout=3600)
          for t in targets:
              after = state(t)
              assert after == before[t.name], f"{t.name} changed:\n{before[t.name]}\n---\n{after}"
    '';
}
