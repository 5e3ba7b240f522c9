# Per-system checks of flake.nix (`nix flake check`).
{ self, nixpkgs, pkgs }:

let
  inherit (pkgs) lib;
  katafleet = self.packages.${pkgs.stdenv.hostPlatform.system}.default;

  # The module against the real NixOS module set of the pinned nixpkgs:
  # option names, types, the containerd module's config version and every
  # assertion. Only evaluated, never built.
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
  nixosFailed = map (a: a.message)
    (lib.filter (a: !a.assertion) nixosEval.config.assertions);
  criPlugins = nixosEval.config.virtualisation.containerd.settings.plugins;

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

  fmt = pkgs.runCommand "katafleet-fmt"
    {
      nativeBuildInputs = [ pkgs.rustfmt pkgs.nixpkgs-fmt pkgs.deadnix pkgs.findutils ];
    } ''
    cd ${self}
    rustfmt --edition 2021 --check provisioner/src/main.rs provisioner/src/lib.rs \
      $(find provisioner -path provisioner/src -prune -o -name '*.rs' -print)
    nixpkgs-fmt --check .
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
      throw "nixos/module.nix under NixOS: failed assertions:\n${lib.concatStringsSep "\n" nixosFailed}"
    else
      pkgs.writeText "katafleet-module-nixos-eval.json" (builtins.unsafeDiscardStringContext (builtins.toJSON {
        containerdVersion = nixosEval.config.virtualisation.containerd.settings.version;
        containerdRuntimes = lib.mapAttrs (_: p: p.containerd.runtimes or { }) criPlugins;
        dockerRuntimes = nixosEval.config.virtualisation.docker.daemon.settings.runtimes;
        kernelModules = nixosEval.config.boot.kernelModules;
      }));

  vm-module = import ../vm-tests/module.nix { inherit self pkgs; };
  vm-provision = import ../vm-tests/provision.nix { inherit self pkgs; };
}
