# Evaluates templates/nixos/katafleet.nix.tera as katafleet lays it out on a
# NixOS host: each case of template-cases.json rendered to
# RENDERED/<case>/katafleet.nix, with nix/module.nix copied beside it as
# katafleet-module.nix (nix/ci-checks does the rendering). Checks that the
# rendered file sets the module's options from the template variables.
# katafleet renders `docker = true` only for a host whose own configuration
# enables Docker, so each case's host configuration does where it is true.
#
#   nix-instantiate --eval --strict --json nix/tests/template.nix \
#     --arg lib "import $NIXPKGS_LIB/lib" --arg rendered /tmp/rendered
{ lib, rendered }:

let
  stubs = import ./stubs.nix { inherit lib; };
  cases = lib.importJSON ./template-cases.json;

  evalCase = case:
    (lib.evalModules {
      modules = [
        (rendered + "/${case.name}/katafleet.nix")
        { virtualisation.docker.enable = case.vars.docker; }
        stubs.options
        { _module.args.pkgs = stubs.pkgs { }; }
      ];
    }).config;

  check = case:
    let
      config = evalCase case;
      kata = config.virtualisation.kata-containers;
      inherit (case) vars expect;
      cri = config.virtualisation.containerd.settings.plugins."io.containerd.grpc.v1.cri" or { };
      got = {
        inherit (kata) enable hypervisor shims memory vcpus debug kvmUsers;
        containerd = kata.containerd.enable;
        docker = kata.docker.enable;
        containerdService = config.virtualisation.containerd.enable;
        dockerService = config.virtualisation.docker.enable;
        handlers = lib.attrNames (cri.containerd.runtimes or { });
        dockerRuntimes = lib.attrNames (config.virtualisation.docker.daemon.settings.runtimes or { });
        failedAssertions = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
      };
      want = {
        enable = true;
        inherit (expect) hypervisor handlers dockerRuntimes;
        memory = vars.memory_mib;
        inherit (vars) shims vcpus debug containerd docker;
        kvmUsers = vars.kvm_users;
        containerdService = vars.containerd;
        dockerService = vars.docker;
        failedAssertions = [ ];
      };
      result = builtins.tryEval (builtins.deepSeq got got);
    in
    if !result.success then [{ inherit (case) name; expected = want; result = "<evaluation threw>"; }]
    else if result.value == want then [ ]
    else [{ inherit (case) name; expected = want; result = result.value; }];

  failures = lib.concatMap check cases;
  total = lib.length cases;
  failed = map (f: f.name) failures;
in
{
  inherit total failures failed;
  passed = total - lib.length failed;
  summary = "${toString (total - lib.length failed)} passed, ${toString (lib.length failed)} failed";
}
