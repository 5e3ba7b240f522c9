# Stand-ins for what nix/module.nix touches outside itself, so that it can be
# evaluated with nothing but nixpkgs' `lib`: small declarations of the NixOS
# options it reads or sets, and a `pkgs` whose packages are fake derivations
# (attribute sets with a store-like outPath). Keep them in step with the real
# declarations in nixos/modules; they only model what the module uses.
{ lib }:

let
  inherit (lib) mkOption types;

  fakeHash = name: builtins.substring 0 32 (builtins.hashString "sha256" name);

  drv = name: extra: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/${fakeHash name}-${name}";
  } // extra;

  # The types of pkgs.formats.toml {} and pkgs.formats.json {}, as nixpkgs
  # declares them (pkgs/pkgs-lib/formats.nix): a recursive `oneOf` of
  # scalars, attribute sets and lists (JSON also allows null). How lazily a
  # settings option merges depends on this type, so it is the real one and
  # not a plain attrsOf.
  scalars = [ types.bool types.int types.float types.str types.path ];
  tomlType = types.oneOf
    (scalars ++ [
      (types.attrsOf tomlType)
      (types.listOf tomlType)
    ]) // { description = "TOML value"; };
  jsonType = types.nullOr
    (types.oneOf (scalars ++ [
      (types.attrsOf jsonType)
      (types.listOf jsonType)
    ])) // { description = "JSON value"; };

  # The rendered file is not inspected here; the value is kept so a test
  # could look at it.
  format = type: {
    inherit type;
    generate = name: value: drv name { passthru.value = value; };
  };
in
{
  pkgs = { system ? "x86_64-linux", kataVersion ? "4.2.0", dockerVersion ? "28.5.2" }: {
    stdenv.hostPlatform.system = system;
    kata-runtime = drv "kata-runtime-${kataVersion}" { pname = "kata-runtime"; version = kataVersion; };
    cloud-hypervisor = drv "cloud-hypervisor-48.0" { version = "48.0"; };
    firecracker = drv "firecracker-1.13.1" { version = "1.13.1"; };
    docker = drv "docker-${dockerVersion}" { version = dockerVersion; };
    coreutils = drv "coreutils-9.7" { };
    gnugrep = drv "gnugrep-3.12" { };
    formats.toml = {}: format tomlType;
    formats.json = {}: format jsonType;
    runCommand = name: env: script: drv "${name}-${fakeHash script}" ({ inherit script; } // env.passthru or { });
    writeShellApplication = args: drv args.name { inherit (args) text runtimeInputs; };
  };

  # The option declarations of NixOS that the module sets or reads.
  options = { config, pkgs, ... }: {
    options = {
      assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
      warnings = mkOption { type = types.listOf types.str; default = [ ]; };

      system.build = mkOption { type = types.lazyAttrsOf types.unspecified; default = { }; };

      boot.kernelModules = mkOption { type = types.listOf types.str; default = [ ]; };

      hardware.cpu.intel.updateMicrocode = mkOption { type = types.bool; default = false; };
      hardware.cpu.amd.updateMicrocode = mkOption { type = types.bool; default = false; };

      users.groups = mkOption {
        type = types.attrsOf (types.submodule {
          options.members = mkOption { type = types.listOf types.str; default = [ ]; };
        });
        default = { };
      };

      environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
      environment.etc = mkOption {
        type = types.attrsOf (types.submodule {
          options.source = mkOption { type = types.str; };
        });
        default = { };
      };

      systemd.services = mkOption {
        type = types.attrsOf (types.submodule {
          freeformType = types.attrsOf types.unspecified;
          options.path = mkOption { type = types.listOf types.package; default = [ ]; };
        });
        default = { };
      };

      virtualisation.containerd = {
        enable = mkOption { type = types.bool; default = false; };
        settings = mkOption { type = tomlType; default = { }; };
      };

      virtualisation.docker = {
        enable = mkOption { type = types.bool; default = false; };
        package = mkOption { type = types.package; default = pkgs.docker; };
        daemon.settings = mkOption { type = jsonType; default = { }; };
      };
    };

    # As nixos/modules/virtualisation/containerd.nix does: it writes a
    # version 2 configuration with the CRI plugin under its v2 id.
    config.virtualisation.containerd.settings = lib.mkIf config.virtualisation.containerd.enable {
      version = 2;
      plugins."io.containerd.grpc.v1.cri".cni.bin_dir = lib.mkOptionDefault "/nix/store/stub-cni-plugins/bin";
    };
  };
}
