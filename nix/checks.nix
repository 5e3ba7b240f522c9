# Per-system checks of flake.nix (`nix flake check`).
{ self, nixpkgs, pkgs }:

let
  inherit (pkgs) lib;
  katafleet = self.packages.${pkgs.stdenv.hostPlatform.system}.default;

  # The module against the real NixOS module set of the pinned nixpkgs:
  # option names, types, the containerd module's config version, every
  # assertion and warning, and the whole system's derivation (evaluated,
  # not built).
  nixosEval = nixpkgs.lib.nixosSystem {
    modules = [
      self.nixosModules.default
      {
        nixpkgs.hostPlatform = pkgs.stdenv.hostPlatform.system;
        boot.loader.grub.enable = false;
        fileSystems."/" = { device = "none"; fsType = "tmpfs"; };
        system.stateVersion = "26.05";

        virtualisation.containerd.enable = true;
        virtualisation.docker.enable = true;
        virtualisation.kata-containers = {
          enable = true;
          containerd.enable = true;
          docker.enable = true;
          kvmUsers = [ "root" ];
        };
      }
    ];
  };
  failedAssertions = config: map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  nixosFailed = failedAssertions nixosEval.config;
  nixosWarnings = nixosEval.config.warnings;
  criPlugins = nixosEval.config.virtualisation.containerd.settings.plugins;

  # The Kata configuration directory the module hands to the shim, for each
  # hypervisor, built: it copies the file the package ships for it, so a
  # configuration file renamed or dropped upstream fails here. A hypervisor
  # the module itself refuses on this system (the "ships no configuration"
  # assertion, e.g. cloud-hypervisor on aarch64 or anything but qemu with the
  # Go runtime) is listed as skipped with that message; qemu, the default,
  # must build. `section` is the TOML table the module's drop-in writes to,
  # which the shipped file must have too.
  kataSections = {
    qemu = "qemu";
    cloud-hypervisor = "clh";
    dragonball = "dragonball";
    firecracker = "firecracker";
  };
  kataConfigs = lib.mapAttrs
    (hypervisor: section:
      let
        config = (nixosEval.extendModules {
          modules = [{ virtualisation.kata-containers.hypervisor = lib.mkForce hypervisor; }];
        }).config;
        failed = failedAssertions config;
      in
      {
        inherit section failed;
        dir = config.system.build.kataContainersConfig;
      })
    kataSections;
  kataBuilt = lib.filterAttrs (_: c: c.failed == [ ]) kataConfigs;
  kataSkipped = lib.mapAttrs (_: c: c.failed) (lib.filterAttrs (_: c: c.failed != [ ]) kataConfigs);

  moduleEval = import ./tests { inherit lib; };
in
{
  package = katafleet;

  clippy = katafleet.overrideAttrs (old: {
    pname = "katafleet-clippy";
    nativeBuildInputs = old.nativeBuildInputs ++ [ pkgs.clippy ];
    buildPhase = ''
      runHook preBuild
      cargo clippy --offline --all-targets -- --deny warnings
      runHook postBuild
    '';
    doCheck = false;
    installPhase = "touch $out";
    postInstall = "";
    dontFixup = true;
  });

  # The Nix files through the flake's own formatter (with no path, as
  # `nix fmt` calls it), so that the formatter itself is built and run.
  fmt = pkgs.runCommand "katafleet-fmt-check"
    {
      nativeBuildInputs = [ pkgs.rustfmt pkgs.deadnix pkgs.findutils ];
    } ''
    cd ${self}
    rustfmt --edition 2021 --check provisioner/src/main.rs provisioner/src/lib.rs \
      $(find provisioner -path provisioner/src -prune -o -name '*.rs' -print)
    ${lib.getExe self.formatter.${pkgs.stdenv.hostPlatform.system}} --check </dev/null
    deadnix --fail .
    touch $out
  '';

  # nix/tests with stand-ins for NixOS options and pkgs; evaluated while the
  # checks are evaluated, so a failure stops `nix flake check` with the list.
  module-eval =
    if moduleEval.failed == [ ] then
      pkgs.writeText "katafleet-module-eval" moduleEval.summary
    else
      throw "nix/tests: ${moduleEval.summary}\n${builtins.toJSON moduleEval.failures}";

  module-nixos-eval =
    if nixosFailed != [ ] then
      throw "nix/module.nix under NixOS: failed assertions:\n${lib.concatStringsSep "\n" nixosFailed}"
    else if nixosWarnings != [ ] then
      throw "nix/module.nix under NixOS: warnings (a clean configuration must have none):\n${lib.concatStringsSep "\n" nixosWarnings}"
    else
      pkgs.writeText "katafleet-module-nixos-eval.json" (builtins.unsafeDiscardStringContext (builtins.toJSON {
        # Forces the evaluation of the whole system (not its build).
        toplevel = nixosEval.config.system.build.toplevel.drvPath;
        containerdVersion = nixosEval.config.virtualisation.containerd.settings.version;
        inherit (nixosEval.config.virtualisation.kata-containers.containerd) configVersion;
        containerdRuntimes = lib.mapAttrs (_: p: p.containerd.runtimes or { }) criPlugins;
        dockerRuntimes = nixosEval.config.virtualisation.docker.daemon.settings.runtimes;
        kernelModules = nixosEval.config.boot.kernelModules;
      }));

  module-kata-config =
    if kataConfigs.qemu.failed != [ ] then
      throw "nix/module.nix under NixOS: the default hypervisor qemu is refused:\n${lib.concatStringsSep "\n" kataConfigs.qemu.failed}"
    else
      pkgs.runCommand "katafleet-module-kata-config"
        {
          skipped = builtins.toJSON kataSkipped;
          passAsFile = [ "skipped" ];
        }
        (''
          mkdir -p $out
          cp "$skippedPath" $out/skipped.json
          # Both files must be real files (runtime-rs rejects symlinked
          # drop-ins), and the shipped one must have the table the drop-in
          # writes to.
          check() {
            local hypervisor=$1 section=$2 dir=$3
            for f in configuration.toml config.d/50-nixos.toml; do
              if [ ! -s "$dir/$f" ] || [ -L "$dir/$f" ]; then
                echo "$hypervisor: $dir/$f is missing, empty or a symlink" >&2
                exit 1
              fi
            done
            if ! grep -q "^\[hypervisor\.$section\]" "$dir/configuration.toml"; then
              echo "$hypervisor: $dir/configuration.toml has no [hypervisor.$section] table" >&2
              exit 1
            fi
            ln -s "$dir" "$out/$hypervisor"
            echo "$hypervisor: $dir"
          }
        '' + lib.concatStrings (lib.mapAttrsToList
          (hypervisor: c: ''
            check ${hypervisor} ${c.section} ${c.dir}
          '')
          kataBuilt));

  vm-module = import ../vm-tests/module.nix { inherit self pkgs; };
  vm-provision = import ../vm-tests/provision.nix { inherit self pkgs; };
}
