# NixOS module: virtualisation.kata-containers
#
# Wires nixpkgs' `kata-runtime` into containerd and/or Docker. Everything it
# hands to a container manager is a store path: the shim, and a configuration
# directory built from the package's shipped configuration plus a `config.d`
# drop-in rendered from `settings`. Nothing lands in /opt, and the default
# runtime of containerd or Docker is never touched.
#
# Facts this module relies on (checked against the sources named here):
# - nixpkgs' kata-runtime >= 4.0 is runtime-rs, built with
#   `BINDIR=$out/bin`: the shim is `$out/bin/containerd-shim-kata-v2` and the
#   configurations are `$out/share/defaults/kata-containers/runtime-rs/*.toml`
#   (pkgs/by-name/ka/kata-runtime/package.nix; src/runtime-rs/Makefile).
#   Before 4.0 it is the Go runtime built with HYPERVISORS=qemu: same shim
#   path, one configuration at `$out/share/defaults/kata-containers/
#   configuration-qemu.toml`, plus the `kata-runtime` binary.
# - runtime-rs builds configurations for qemu, dragonball (built into the
#   shim) and firecracker on x86_64 and aarch64, and for cloud-hypervisor on
#   x86_64 only (src/runtime-rs/arch/*-options.mk). The nixpkgs package points
#   qemu at its own qemu_kvm; cloud-hypervisor and firecracker configurations
#   still name `$out/bin/<vmm>`, which the package does not contain, so this
#   module points them at nixpkgs' cloud-hypervisor and firecracker.
# - Both runtimes canonicalise the configuration path (symlinks resolved)
#   and then merge `config.d/*.toml` next to it in name order; runtime-rs
#   rejects a drop-in that is a symlink (kata-types config/drop_in.rs). So the
#   shipped file and the drop-in are *copied* into one store directory.
# - Kata's own minimum guest memory: 64 MiB for qemu, cloud-hypervisor and
#   dragonball, 128 MiB for firecracker (kata-types config/default.rs).
#
# The per-hypervisor facts above (file names, systems, short names, minimum
# memory), the handler name and the annotation allowlist live in
# ./katafleet-defaults.json, which katafleet's own code reads too, so that
# NixOS hosts and every other host get the same handlers and the same
# annotations. katafleet writes that file next to this one on NixOS hosts.
{ config, lib, pkgs, ... }:

let
  inherit (lib)
    literalExpression
    mkDefault
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    mkPackageOption
    optional
    types
    ;

  cfg = config.virtualisation.kata-containers;

  settingsFormat = pkgs.formats.toml { };

  system = pkgs.stdenv.hostPlatform.system;
  supportedSystems = [ "x86_64-linux" "aarch64-linux" ];

  # runtime-rs from 4.0 on; the Go runtime before.
  isRuntimeRs = lib.versionAtLeast (lib.getVersion cfg.package) "4";
  runtimeName = if isRuntimeRs then "runtime-rs" else "the Go runtime";

  # Per hypervisor (by the name this module's options use): the TOML
  # section its settings live in, the configuration file each runtime ships
  # for it and the systems runtime-rs builds it for, the short name
  # kata-deploy and katafleet's other install paths use in handler names, and
  # Kata's minimum memory. Also the handler name and the annotations pods may
  # set (GHSA-rr59-xxvx-96qr: nothing that picks host paths or binaries).
  defaults = lib.importJSON ./katafleet-defaults.json;
  inherit (defaults) hypervisors;

  shipped = name:
    let h = hypervisors.${name}; in
    if isRuntimeRs then lib.elem system h.runtimeRsSystems else h.goConfig != null;
  shippedNames = lib.filter shipped (lib.attrNames hypervisors);

  # Every hypervisor with a handler: the default one (handler `kata`) and
  # the shims (handlers `kata-<short>`).
  wired = lib.unique ([ cfg.hypervisor ] ++ cfg.shims);
  # (The default hypervisor has an assertion of its own.)
  notShipped = lib.filter (name: name != cfg.hypervisor && !shipped name) cfg.shims;

  defaultsDir = "${cfg.package}/share/defaults/kata-containers";
  shippedConfig = name:
    let h = hypervisors.${name}; in
    if isRuntimeRs then "${defaultsDir}/runtime-rs/${h.runtimeRsConfig}"
    else "${defaultsDir}/${h.goConfig}";

  shim = "${cfg.package}/bin/containerd-shim-kata-v2";

  # The VMMs the package names but does not contain.
  clhPath = "${pkgs.cloud-hypervisor}/bin/cloud-hypervisor";
  fcPath = "${pkgs.firecracker}/bin/firecracker";
  jailerPath = "${pkgs.firecracker}/bin/jailer";

  # One drop-in per hypervisor, holding `settings` with only that
  # hypervisor's `[hypervisor.<section>]` table: a configuration with the
  # tables of other hypervisors is ambiguous to the runtime.
  dropIn = name:
    let section = hypervisors.${name}.section; in
    settingsFormat.generate "kata-${name}-50-nixos.toml"
      (removeAttrs cfg.settings [ "hypervisor" ]
        // lib.optionalAttrs (cfg.settings ? hypervisor) {
        hypervisor = lib.filterAttrs (n: _: n == section) cfg.settings.hypervisor;
      });

  configDirs = lib.genAttrs wired (name: pkgs.runCommand "kata-containers-config-${name}" { passthru.dropIn = dropIn name; } ''
    mkdir -p $out/config.d
    cp ${shippedConfig name} $out/configuration.toml
    cp ${dropIn name} $out/config.d/50-nixos.toml
  '');

  configPathOf = name: "${configDirs.${name}}/configuration.toml";
  configPath = configPathOf cfg.hypervisor;

  # Handler name -> hypervisor: `kata` for the default hypervisor, and
  # `kata-<short>` for each shim, as on every other host katafleet manages.
  handlerHypervisors = { ${defaults.handler} = cfg.hypervisor; }
    // lib.listToAttrs (map (name: lib.nameValuePair "${defaults.handler}-${hypervisors.${name}.short}" name) cfg.shims);
  handlerConfigs = lib.mapAttrs (_: configPathOf) handlerHypervisors;

  # Where a shim started without ConfigPath (e.g. by plain `ctr`) looks first.
  etcConfig =
    if isRuntimeRs then "kata-containers/runtime-rs/configuration.toml"
    else "kata-containers/configuration.toml";

  memoryOf = name: cfg.settings.hypervisor.${hypervisors.${name}.section}.default_memory or cfg.memory;
  tooSmall = lib.filter (name: memoryOf name < hypervisors.${name}.minMemoryMib) wired;

  # containerd's CRI plugin id by configuration version.
  criPluginIds = {
    "2" = "io.containerd.grpc.v1.cri";
    "3" = "io.containerd.cri.v1.runtime";
    "4" = "io.containerd.cri.v1.runtime";
  };
  supportedVersions = map lib.toInt (lib.attrNames criPluginIds);
  versionList = lib.concatMapStringsSep ", " toString (lib.init supportedVersions)
    + " or ${toString (lib.last supportedVersions)}";
  criPlugin = criPluginIds.${toString cfg.containerd.configVersion};

  # The version NixOS' containerd module (or the user) gives containerd's
  # configuration; null when unset, which containerd reads as version 1.
  containerdVersion = config.virtualisation.containerd.settings.version or null;
  containerdVersionSupported = lib.elem containerdVersion supportedVersions;

  containerdRuntime = config: {
    runtime_type = "io.containerd.kata.v2";
    runtime_path = shim;
    privileged_without_host_devices = true;
    pod_annotations = map (a: defaults.podAnnotationPrefix + a) cfg.annotations;
    options.ConfigPath = config;
  };

  # Says plainly whether this host can start Kata VMs and, if not, why.
  # kata-ctl (runtime-rs' own checker) is not part of nixpkgs' package; the Go
  # runtime's `kata-runtime check` is, and runs when present.
  checkTool = pkgs.writeShellApplication {
    name = "kata-host-check";
    runtimeInputs = [ pkgs.coreutils pkgs.gnugrep ];
    text = ''
      shim=${shim}
      config=${configPath}
      go_runtime=${if isRuntimeRs then "" else "${cfg.package}/bin/kata-runtime"}
      problems=0
      ok() { printf 'ok    %s\n' "$1"; }
      problem() { printf 'FAIL  %s\n' "$1"; problems=$((problems + 1)); }

      if [ -r /run/systemd/container ] || [ -e /.dockerenv ] || [ -e /run/.containerenv ]; then
        problem "this host is a container: Kata needs a bare-metal host or a VM with nested virtualisation"
      fi

      if [ -c /dev/kvm ]; then
        if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
          ok "/dev/kvm is usable by $(id -un)"
        else
          problem "/dev/kvm exists but $(id -un) cannot open it read-write: run as root or add the user to virtualisation.kata-containers.kvmUsers"
        fi
      elif [ "$(uname -m)" = x86_64 ] && ! grep -Eqw 'vmx|svm' /proc/cpuinfo; then
        problem "missing KVM: /dev/kvm does not exist and the CPU shows no vmx/svm flag; virtualisation is off in the firmware, or this VM has no nested virtualisation"
      else
        problem "missing KVM: /dev/kvm does not exist; load kvm-intel or kvm-amd (virtualisation.kata-containers.cpuVendor)"
      fi

      if [ -c /dev/vhost-vsock ]; then
        ok "/dev/vhost-vsock is present"
      else
        problem "missing /dev/vhost-vsock: the vhost_vsock module is not loaded"
      fi
      if grep -qs '^vmw_vsock_vmci_transport ' /proc/modules; then
        problem "vmw_vsock_vmci_transport is loaded (VMware guest); it conflicts with vhost_vsock"
      fi
      if [ -c /dev/vhost-net ]; then
        ok "/dev/vhost-net is present"
      else
        problem "missing /dev/vhost-net: the vhost_net module is not loaded"
      fi

      if version=$("$shim" --version 2>&1); then
        ok "shim runs: $(printf '%s\n' "$version" | head -n 1)"
      else
        problem "the shim $shim does not run: $version"
      fi
      for c in ${lib.concatStringsSep " " (lib.unique (lib.attrValues handlerConfigs))}; do
        if [ -r "$c" ]; then
          ok "configuration $c"
        else
          problem "cannot read the configuration $c"
        fi
      done

      if [ -n "$go_runtime" ]; then
        if "$go_runtime" --config "$config" check --no-network-checks; then
          ok "kata-runtime check passed"
        else
          problem "kata-runtime check failed (see above)"
        fi
      fi

      if [ "$problems" -eq 0 ]; then
        echo "kata-host-check: this host can run Kata Containers"
      else
        echo "kata-host-check: $problems problem(s); Kata VMs will not start here"
        exit 1
      fi
    '';
  };
in
{
  options.virtualisation.kata-containers = {
    enable = mkEnableOption ''
      Kata Containers: OCI containers that each run in their own lightweight
      virtual machine. This installs the runtime and its configuration; use
      {option}`virtualisation.kata-containers.containerd.enable` or
      {option}`virtualisation.kata-containers.docker.enable` to offer it to a
      container manager'';

    package = mkPackageOption pkgs "kata-runtime" { };

    hypervisor = mkOption {
      type = types.enum (lib.attrNames hypervisors);
      default = "qemu";
      example = "cloud-hypervisor";
      description = ''
        The virtual machine monitor that runs each sandbox. With runtime-rs
        (kata-runtime 4.x) `qemu`, `dragonball` (built into the shim) and
        `firecracker` are available on x86_64-linux and aarch64-linux, and
        `cloud-hypervisor` on x86_64-linux only. The Go runtime (kata-runtime
        3.x) in nixpkgs is built for `qemu` only. `firecracker` needs a
        block-device snapshotter (devmapper) in containerd, which this module
        does not set up.
      '';
    };

    shims = mkOption {
      type = types.listOf (types.enum (lib.attrNames hypervisors));
      default = [ cfg.hypervisor ];
      defaultText = literalExpression "[ config.virtualisation.kata-containers.hypervisor ]";
      example = [ "qemu" "cloud-hypervisor" ];
      description = ''
        The hypervisors that get a handler of their own, `kata-<short>`
        with kata-deploy's short names (`kata-qemu`, `kata-clh`, `kata-fc`,
        `kata-dragonball`), next to `kata`, which always uses
        {option}`virtualisation.kata-containers.hypervisor`. These are the
        handlers katafleet configures on every other host for its inventory's
        `shims`, so one set of Kubernetes RuntimeClasses works across a
        fleet. Each must be one the package ships a configuration for.
      '';
    };

    annotations = mkOption {
      type = types.listOf types.str;
      default = defaults.annotations;
      defaultText = literalExpression (builtins.toJSON defaults.annotations);
      description = ''
        The Kata hypervisor annotations a pod may set
        (`${defaults.podAnnotationPrefix}<name>`): containerd passes only
        these on (`pod_annotations`), and Kata accepts only these
        (`enable_annotations` of each hypervisor, a default in
        {option}`virtualisation.kata-containers.settings`). The default
        allows sizing only; annotations that choose host paths or binaries
        let a pod run code on the host (GHSA-rr59-xxvx-96qr).
      '';
    };

    handlers = mkOption {
      type = types.attrsOf types.str;
      readOnly = true;
      description = ''
        The runtime handlers this module offers to containerd and Docker
        alike, each with the configuration file its shim gets.
      '';
    };

    memory = mkOption {
      type = types.ints.positive;
      default = 2048;
      example = 4096;
      description = ''
        Memory of each sandbox VM in MiB (Kata's `default_memory`). Kata
        refuses less than 64 MiB (128 MiB for firecracker). A value set in
        {option}`virtualisation.kata-containers.settings` takes precedence.
      '';
    };

    vcpus = mkOption {
      type = types.ints.positive;
      default = 1;
      description = ''
        Virtual CPUs each sandbox VM starts with (Kata's `default_vcpus`).
        A value set in {option}`virtualisation.kata-containers.settings`
        takes precedence.
      '';
    };

    debug = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Turn on debug output of the hypervisor, the agent and the runtime
        (their `enable_debug` keys). Logs go to the journal of the container
        manager.
      '';
    };

    settings = mkOption {
      type = settingsFormat.type;
      default = { };
      example = literalExpression ''
        {
          hypervisor.qemu.default_maxvcpus = 8;
          runtime.internetworking_model = "tcfilter";
        }
      '';
      description = ''
        Kata configuration, merged over the configuration the package ships
        for the chosen hypervisor. It is written as a `config.d` drop-in, so
        only the keys given here change. See the shipped file
        (`share/defaults/kata-containers/runtime-rs/` in the package) for the
        available keys. The typed options above only set defaults here; a
        value set in this option wins.
      '';
    };

    configPath = mkOption {
      type = types.str;
      readOnly = true;
      description = ''
        The configuration file handed to the shim (`ConfigPath`): a store
        path whose directory also holds the `config.d` drop-in. Also linked
        at `/etc/kata-containers/runtime-rs/configuration.toml` (Go runtime:
        `/etc/kata-containers/configuration.toml`) for tools that do not pass
        a path.
      '';
    };

    kvmUsers = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "alice" ];
      description = ''
        Users added to the `kvm` group, so that they can open /dev/kvm, for
        example to run {command}`kata-host-check` or a rootless container
        manager. Root needs no entry.
      '';
    };

    cpuVendor = mkOption {
      type = types.nullOr (types.enum [ "intel" "amd" ]);
      default =
        if config.hardware.cpu.intel.updateMicrocode then "intel"
        else if config.hardware.cpu.amd.updateMicrocode then "amd"
        else null;
      defaultText = literalExpression ''
        if config.hardware.cpu.intel.updateMicrocode then "intel"
        else if config.hardware.cpu.amd.updateMicrocode then "amd"
        else null
      '';
      description = ''
        On x86_64, whose KVM module to load: `kvm-intel` or `kvm-amd`.
        `null` leaves it to the hardware configuration, which
        {command}`nixos-generate-config` already writes with the right one.
        Must be `null` on aarch64, where KVM is built into the kernel.
      '';
    };

    containerd = {
      enable = mkEnableOption ''
        the runtime handlers `kata` and `kata-<hypervisor>` (one per
        {option}`virtualisation.kata-containers.shims`) in containerd's CRI
        plugin (for Kubernetes RuntimeClasses and {command}`crictl`). The
        default runtime stays as it is'';

      configVersion = mkOption {
        type = types.enum supportedVersions;
        default = if containerdVersionSupported then containerdVersion else 2;
        defaultText = literalExpression ''
          if lib.elem (config.virtualisation.containerd.settings.version or null) [ 2 3 4 ]
          then config.virtualisation.containerd.settings.version
          else 2
        '';
        example = 3;
        description = ''
          The `version` of the containerd configuration that
          {option}`virtualisation.containerd.settings` produces; it decides
          the CRI plugin id the handlers go under (2:
          `io.containerd.grpc.v1.cri`, 3 and 4:
          `io.containerd.cri.v1.runtime`). It follows
          `virtualisation.containerd.settings.version` (NixOS' containerd
          module writes 2), so there is no need to set it: change
          containerd's own setting instead. An assertion checks that the two
          agree.
        '';
      };
    };

    docker.enable = mkEnableOption ''
      the runtimes `kata` and `kata-<hypervisor>` in Docker's daemon.json
      (`docker run --runtime kata`). The default runtime stays as it is'';
  };

  config = mkIf cfg.enable (mkMerge [
    {
      assertions = [
        {
          assertion = lib.elem system supportedSystems;
          message = ''
            virtualisation.kata-containers: ${system} is not supported; Kata
            Containers from nixpkgs runs on ${lib.concatStringsSep " and " supportedSystems}.
          '';
        }
        {
          assertion = shipped cfg.hypervisor;
          message = ''
            virtualisation.kata-containers.hypervisor = "${cfg.hypervisor}", but
            ${cfg.package.name} (${runtimeName}) on ${system} ships no
            configuration for it. Choose one of: ${lib.concatStringsSep ", " shippedNames}.
          '';
        }
        {
          assertion = notShipped == [ ];
          message = ''
            virtualisation.kata-containers.shims has ${lib.concatStringsSep ", " notShipped}, but
            ${cfg.package.name} (${runtimeName}) on ${system} ships no
            configuration for it. Choose from: ${lib.concatStringsSep ", " shippedNames}.
          '';
        }
      ] ++ map
        (name: {
          assertion = false;
          message = ''
            virtualisation.kata-containers: each ${name} sandbox VM would get
            ${toString (memoryOf name)} MiB, but Kata's ${name}
            needs at least ${toString hypervisors.${name}.minMemoryMib} MiB. Raise
            virtualisation.kata-containers.memory.
          '';
        })
        tooSmall ++ [
        {
          assertion = cfg.cpuVendor == null || lib.hasPrefix "x86_64-" system;
          message = ''
            virtualisation.kata-containers.cpuVendor = "${toString cfg.cpuVendor}" only
            applies to x86_64; set it to null on ${system}.
          '';
        }
        {
          assertion = cfg.containerd.enable -> config.virtualisation.containerd.enable;
          message = ''
            virtualisation.kata-containers.containerd.enable adds runtime
            handlers to containerd, but virtualisation.containerd.enable is
            false. Enable containerd, or turn the Kata handlers off.
          '';
        }
        {
          assertion = cfg.containerd.enable -> containerdVersionSupported;
          message = ''
            virtualisation.containerd.settings.version is
            ${if containerdVersion == null then "unset (containerd then reads the configuration as version 1)"
              else builtins.toJSON containerdVersion}, but the Kata handlers need a containerd
            configuration of version ${versionList}.
            Set virtualisation.containerd.settings.version to one of them.
          '';
        }
        {
          assertion = cfg.containerd.enable && containerdVersionSupported ->
            containerdVersion == cfg.containerd.configVersion;
          message = ''
            virtualisation.kata-containers.containerd.configVersion is
            ${toString cfg.containerd.configVersion}, but virtualisation.containerd.settings.version is
            ${builtins.toJSON containerdVersion}: the Kata handlers would go under CRI plugin
            "${criPlugin}", but a version ${builtins.toJSON containerdVersion} configuration keeps its
            runtimes under "${criPluginIds.${toString containerdVersion} or "?"}". Remove the
            configVersion setting; it follows containerd's version by default.
          '';
        }
        {
          assertion = cfg.docker.enable -> config.virtualisation.docker.enable;
          message = ''
            virtualisation.kata-containers.docker.enable adds the `kata`
            runtime to Docker, but virtualisation.docker.enable is false.
          '';
        }
      ];

      virtualisation.kata-containers.configPath = configPath;
      virtualisation.kata-containers.handlers = handlerConfigs;
      system.build.kataContainersConfig = configDirs.${cfg.hypervisor};
      system.build.kataContainersConfigs = configDirs;

      # Defaults only: anything the user writes into `settings` wins.
      virtualisation.kata-containers.settings = mkMerge [
        {
          hypervisor = lib.genAttrs (map (name: hypervisors.${name}.section) wired) (_: {
            default_memory = mkDefault cfg.memory;
            default_vcpus = mkDefault cfg.vcpus;
            enable_debug = mkDefault cfg.debug;
            enable_annotations = mkDefault cfg.annotations;
          });
          agent.kata.enable_debug = mkDefault cfg.debug;
          runtime.enable_debug = mkDefault cfg.debug;
        }
        (mkIf (isRuntimeRs && lib.elem "cloud-hypervisor" wired) {
          hypervisor.clh = {
            path = mkDefault clhPath;
            valid_hypervisor_paths = mkDefault [ clhPath ];
          };
        })
        (mkIf (isRuntimeRs && lib.elem "firecracker" wired) {
          hypervisor.firecracker = {
            path = mkDefault fcPath;
            valid_hypervisor_paths = mkDefault [ fcPath ];
            jailer_path = mkDefault jailerPath;
            valid_jailer_paths = mkDefault [ jailerPath ];
          };
        })
      ];

      environment.systemPackages = [ cfg.package checkTool ];
      environment.etc.${etcConfig}.source = configPath;

      boot.kernelModules = [ "vhost_vsock" "vhost_net" ]
        ++ optional (cfg.cpuVendor == "intel") "kvm-intel"
        ++ optional (cfg.cpuVendor == "amd") "kvm-amd";

      users.groups.kvm.members = cfg.kvmUsers;
    }

    (mkIf cfg.containerd.enable {
      # One entry per CRI plugin id, each behind its own condition, so that
      # the attribute names do not depend on configVersion: its default
      # reads containerd's settings.version, and a name computed from it
      # would make merging those settings depend on itself (infinite
      # recursion).
      virtualisation.containerd.settings.plugins = lib.genAttrs (lib.unique (lib.attrValues criPluginIds))
        (id: mkIf (id == criPlugin) {
          containerd.runtimes = lib.mapAttrs (_: containerdRuntime) handlerConfigs;
        });
      # So that `ctr run --runtime io.containerd.kata.v2` finds the shim too.
      systemd.services.containerd.path = [ cfg.package ];
    })

    (mkIf cfg.docker.enable {
      virtualisation.docker.daemon.settings.runtimes = lib.mapAttrs
        (_: config: {
          runtimeType = shim;
          options.ConfigPath = config;
        })
        handlerConfigs;
    })

    (mkIf
      (cfg.docker.enable && !isRuntimeRs
        && lib.versionOlder (lib.getVersion cfg.package) "3.32"
        && lib.versionAtLeast (lib.getVersion config.virtualisation.docker.package) "29")
      {
        warnings = [
          ''
            virtualisation.kata-containers: Docker ${lib.getVersion config.virtualisation.docker.package}
            needs the Go runtime of Kata 3.32 or later, but ${cfg.package.name} is older;
            `docker run --runtime kata` will fail.
          ''
        ];
      })
  ]);
}
