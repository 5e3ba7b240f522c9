{
  description = "katafleet: puts Kata Containers on a fleet of Linux hosts over SSH";

  # One input. The pin (flake.lock) is a nixos-26.05 revision; see
  # nix/README.md for what was checked about it and how to move it.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs = { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      katafleetFor = pkgs: self.packages.${pkgs.stdenv.hostPlatform.system}.default;
    in
    {
      packages = forAllSystems (pkgs: {
        default = pkgs.callPackage ./nix/package.nix { };
      });

      apps = forAllSystems (pkgs:
        let
          katafleet = katafleetFor pkgs;
          provision = pkgs.writeShellApplication {
            name = "katafleet-provision";
            text = ''exec ${lib.getExe katafleet} provision "$@"'';
          };
        in
        {
          default = {
            type = "app";
            program = lib.getExe katafleet;
            meta.description = "katafleet: plan, provision and verify Kata Containers on hosts";
          };
          provision = {
            type = "app";
            program = lib.getExe provision;
            meta.description = "katafleet provision INVENTORY: bring every host to its desired state";
          };
        });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ (katafleetFor pkgs) ];
          packages = [
            pkgs.clippy
            pkgs.rustfmt
            pkgs.rust-analyzer
            pkgs.openssh
            pkgs.nixpkgs-fmt
            pkgs.deadnix
          ];
        };
      });

      # nixpkgs-fmt over the tracked .nix files when `nix fmt` passes no path
      # (Nix 2.25 and later; plain nixpkgs-fmt would wait on stdin). The same
      # script is what nix/ci-checks and the `fmt` check run with --check.
      formatter = forAllSystems (pkgs: pkgs.writeShellApplication {
        name = "katafleet-fmt";
        runtimeInputs = [ pkgs.nixpkgs-fmt pkgs.git ];
        text = builtins.readFile ./nix/fmt;
      });

      checks = forAllSystems (pkgs: import ./nix/checks.nix { inherit self nixpkgs pkgs; });

      nixosModules = {
        kata-containers = ./nix/module.nix;
        default = self.nixosModules.kata-containers;
      };

      overlays.default = final: _prev: {
        katafleet = final.callPackage ./nix/package.nix { };
      };
    };
}
