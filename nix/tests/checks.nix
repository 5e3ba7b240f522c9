# The logic of nix/checks.nix, evaluated offline: `module-nixos-eval` and
# `module-kata-config` against stand-ins (stubs.nix) instead of nixpkgs.
# `nixpkgs.lib.nixosSystem` is modelled by lib.evalModules with the stub
# options, so this shows what those checks force and when they refuse, not
# that the real NixOS evaluation passes (that is `nix flake check` on GitHub).
#
#   nix-instantiate --eval --strict --json nix/tests/checks.nix \
#     --arg lib "import $NIXPKGS_LIB/lib"
#
# The result is { total; passed; failed = [ names ]; failures; summary; }.
{ lib }:

let
  stubs = import ./stubs.nix { inherit lib; };

  fakeDrv = name: extra: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/checks-test-${name}";
  } // extra;

  checksFor = { system ? "x86_64-linux", kataVersion ? "4.2.0", dockerVersion ? "28.5.2" }:
    let
      pkgs = stubs.pkgs { inherit system kataVersion dockerVersion; } // {
        inherit lib;
        writeText = name: text: fakeDrv name { inherit text; };
        runCommand = name: env: script: fakeDrv name { inherit env script; };
      };
      # What the checks' NixOS configuration sets beyond the stub options.
      nixosOptions = {
        options = {
          nixpkgs.hostPlatform = lib.mkOption { type = lib.types.str; };
          boot.loader.grub.enable = lib.mkOption { type = lib.types.bool; default = true; };
          fileSystems = lib.mkOption { type = lib.types.attrsOf lib.types.unspecified; default = { }; };
          system.stateVersion = lib.mkOption { type = lib.types.str; };
        };
        config.system.build.toplevel = fakeDrv "nixos-system" { drvPath = "/nix/store/checks-test-nixos-system.drv"; };
      };
      nixpkgs.lib = lib // {
        nixosSystem = { modules }: lib.evalModules {
          modules = modules ++ [ stubs.options nixosOptions { _module.args.pkgs = pkgs; } ];
        };
      };
      self = {
        nixosModules.default = ../module.nix;
        packages.${system}.default = fakeDrv "katafleet" { };
      };
      all = import ../checks.nix { inherit self nixpkgs pkgs; };
    in
    # A missing check fails its tests (by throwing) instead of the whole run.
    lib.genAttrs [ "module-eval" "module-nixos-eval" "module-kata-config" ]
      (name: all.${name} or (throw "nix/checks.nix has no check ${name}"));

  checks = checksFor { };
  throws = value: !(builtins.tryEval (builtins.deepSeq value value)).success;
  checkedHypervisors = script:
    map (line: builtins.elemAt (lib.splitString " " line) 1)
      (lib.filter (lib.hasPrefix "check ") (lib.splitString "\n" script));

  tests = {
    testNixosEvalForcesTheSystemDerivation = {
      expr = (builtins.fromJSON checks.module-nixos-eval.text).toplevel or null;
      expected = "/nix/store/checks-test-nixos-system.drv";
    };
    testNixosEvalReportsTheContainerdVersions = {
      expr =
        let r = builtins.fromJSON checks.module-nixos-eval.text; in
        { containerdVersion = r.containerdVersion or null; configVersion = r.configVersion or null; };
      expected = { containerdVersion = 2; configVersion = 2; };
    };
    testNixosEvalFailsOnAWarning = {
      expr = throws (checksFor { kataVersion = "3.29.0"; dockerVersion = "29.1.0"; }).module-nixos-eval;
      expected = true;
    };
    testNixosEvalFailsOnAFailedAssertion = {
      expr = throws (checksFor { system = "riscv64-linux"; }).module-nixos-eval;
      expected = true;
    };
    testKataConfigChecksEveryHypervisorOnX86 = {
      expr = {
        checked = checkedHypervisors checks.module-kata-config.script;
        inherit (checks.module-kata-config.env) skipped;
      };
      expected = { checked = [ "cloud-hypervisor" "dragonball" "firecracker" "qemu" ]; skipped = "{}"; };
    };
    testKataConfigChecksTheShippedFileSection = {
      expr = lib.hasInfix "check cloud-hypervisor clh /nix/store/" checks.module-kata-config.script;
      expected = true;
    };
    testKataConfigSkipsWhatTheModuleRefuses =
      let c = (checksFor { system = "aarch64-linux"; }).module-kata-config; in
      {
        expr = {
          checked = checkedHypervisors c.script;
          skipped = lib.attrNames (builtins.fromJSON c.env.skipped);
        };
        expected = { checked = [ "dragonball" "firecracker" "qemu" ]; skipped = [ "cloud-hypervisor" ]; };
      };
    testKataConfigGoRuntimeIsQemuOnly = {
      expr = checkedHypervisors (checksFor { kataVersion = "3.32.0"; }).module-kata-config.script;
      expected = [ "qemu" ];
    };
    testModuleEvalPasses = {
      expr = lib.hasSuffix " passed, 0 failed" checks.module-eval.text;
      expected = true;
    };
  };

  run = name: test:
    let
      result = builtins.tryEval (builtins.deepSeq test.expr test.expr);
    in
    if !result.success then [{ inherit name; inherit (test) expected; result = "<evaluation threw>"; }]
    else if result.value == test.expected then [ ]
    else [{ inherit name; inherit (test) expected; result = result.value; }];

  failures = lib.concatLists (lib.mapAttrsToList run tests);
  total = lib.length (lib.attrNames tests);
  failed = map (f: f.name) failures;
in
{
  inherit total failures failed;
  passed = total - lib.length failed;
  summary = "${toString (total - lib.length failed)} passed, ${toString (lib.length failed)} failed";
}
