# VM test: the NixOS module on one machine with containerd.
#
# Asserts what the module promises: containerd's effective configuration
# (`containerd config dump`) has the `kata` handlers pointing at store paths,
# the default runtime is still runc, the vhost modules are loaded and the
# check tool runs. With nested KVM in the test VM, a container started under
# Kata reports a kernel different from the host's; without it, the check tool
# must fail and name the missing KVM.
{ self, pkgs }:

let
  # A tiny image for `ctr`, built here so the test needs no registry.
  probeImage = pkgs.dockerTools.buildImage {
    name = "kata-probe";
    tag = "latest";
    copyToRoot = pkgs.buildEnv {
      name = "kata-probe-root";
      paths = [ pkgs.busybox ];
      pathsToLink = [ "/bin" ];
    };
    config.Cmd = [ "/bin/sh" ];
  };
in
pkgs.testers.runNixOSTest {
  name = "katafleet-module";

  nodes.machine = { pkgs, ... }: {
    imports = [ self.nixosModules.default ];

    virtualisation = {
      memorySize = 4096;
      cores = 2;
      containerd.enable = true;
      kata-containers = {
        enable = true;
        containerd.enable = true;
        kvmUsers = [ "alice" ];
      };
    };

    users.users.alice.isNormalUser = true;
    users.users.bob.isNormalUser = true;
    environment.systemPackages = [ pkgs.python3 ];
  };

  testScript = { nodes, ... }:
    let
      kata = nodes.machine.virtualisation.kata-containers;
      containerdConfig = nodes.machine.virtualisation.containerd.args.config;
      shim = "${kata.package}/bin/containerd-shim-kata-v2";
    in
    ''
      import tomllib

      machine.wait_for_unit("containerd.service")

      with subtest("containerd's effective config has the kata handlers, by store path"):
          dump = tomllib.loads(machine.succeed("containerd --config ${containerdConfig} config dump"))
          plugins = dump["plugins"]
          # containerd 2.x migrates a version 2 file on load and dumps version 3.
          cri = plugins.get("io.containerd.cri.v1.runtime") or plugins["io.containerd.grpc.v1.cri"]
          runtimes = cri["containerd"]["runtimes"]
          for name in ("kata", "kata-qemu"):
              entry = runtimes[name]
              assert entry["runtime_type"] == "io.containerd.kata.v2", entry
              assert entry["runtime_path"] == "${shim}", entry
              assert entry["options"]["ConfigPath"] == "${kata.configPath}", entry
              assert entry["privileged_without_host_devices"] is True, entry
              assert entry["pod_annotations"] == [
                  "io.katacontainers.config.hypervisor.default_memory",
                  "io.katacontainers.config.hypervisor.default_vcpus",
              ], entry
              assert "/opt/" not in str(entry), entry
          assert "runc" in runtimes, "the module must not drop runc"
          default = cri["containerd"].get("default_runtime_name", "runc")
          assert default == "runc", f"default runtime changed to {default}"

      with subtest("the shim and its configuration are where the handlers say"):
          machine.succeed("test -x ${shim}")
          machine.succeed("${shim} --version")
          machine.succeed("test -f ${kata.configPath}")
          # runtime-rs rejects symlinked drop-ins; the module copies them.
          machine.succeed("test -f \"$(dirname ${kata.configPath})/config.d/50-nixos.toml\"")
          machine.fail("test -L \"$(dirname ${kata.configPath})/config.d/50-nixos.toml\"")
          machine.succeed("grep -q 'default_memory = ${toString kata.memory}' \"$(dirname ${kata.configPath})/config.d/50-nixos.toml\"")
          machine.fail("grep -rq /opt/kata \"$(dirname ${kata.configPath})/config.d\"")

      with subtest("vhost modules are loaded"):
          machine.wait_until_succeeds("grep -q '^vhost_vsock ' /proc/modules")
          machine.succeed("grep -q '^vhost_net ' /proc/modules")
          machine.succeed("test -c /dev/vhost-vsock")

      with subtest("kvmUsers are in the kvm group"):
          machine.succeed("id -nG alice | grep -qw kvm")
          machine.fail("id -nG bob | grep -qw kvm")

      has_kvm = machine.execute("test -c /dev/kvm && grep -Eqw 'vmx|svm' /proc/cpuinfo")[0] == 0

      if has_kvm:
          with subtest("nested KVM: a container under Kata runs its own kernel"):
              machine.succeed("kata-host-check")
              machine.succeed("ctr image import ${probeImage}")
              host_kernel = machine.succeed("uname -r").strip()
              guest_kernel = machine.succeed(
                  "timeout 300 ctr run --rm --runtime io.containerd.kata.v2"
                  " --runtime-config-path ${kata.configPath}"
                  " docker.io/library/kata-probe:latest kata-probe uname -r"
              ).strip()
              assert guest_kernel and guest_kernel != host_kernel, f"{guest_kernel=} {host_kernel=}"
      else:
          with subtest("no nested KVM: the check fails and names the missing KVM"):
              status, out = machine.execute("kata-host-check 2>&1")
              print(out)
              assert status != 0, "kata-host-check passed on a VM without KVM"
              assert "missing KVM" in out, out
              # The vhost modules are loaded, so they must not be blamed.
              assert "FAIL  missing /dev/vhost-vsock" not in out, out
    '';
}
