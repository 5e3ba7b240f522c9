# nix/package.nix takes its source set from nix/package-src.json and from
# nothing else, so that nix/check-package-source (which copies the paths of
# that list and runs the check phase's tests on the copy) checks what the
# package build really gets. Needs no nixpkgs: package.nix is called with a
# stand-in `lib` that records what it hands to lib.fileset.
#
#   nix-instantiate --eval --strict --json nix/tests/package-src.nix
#
# The result is { total; passed; failed = [ names ]; failures; summary; }.
let
  listed = builtins.fromJSON (builtins.readFile ../package-src.json);
  root = ../..;

  lib = {
    importJSON = file: builtins.fromJSON (builtins.readFile file);
    importTOML = file: builtins.fromTOML (builtins.readFile file);
    fileset = {
      toSource = args: args;
      unions = paths: paths;
    };
  };
  package = import ../package.nix {
    inherit lib;
    rustPlatform.buildRustPackage = args: args;
    makeWrapper = null;
    openssh = null;
  };

  relative = path:
    let
      full = toString path;
      prefix = toString root + "/";
    in
    if builtins.substring 0 (builtins.stringLength prefix) full == prefix
    then builtins.substring (builtins.stringLength prefix) (-1) full
    else full;

  tests = {
    testSourceRootIsTheRepository = {
      expr = toString package.src.root;
      expected = toString root;
    };
    testSourceIsExactlyTheList = {
      expr = map relative package.src.fileset;
      expected = listed;
    };
    testEveryListedPathExists = {
      expr = builtins.filter (path: !builtins.pathExists (root + "/${path}")) listed;
      expected = [ ];
    };
  };

  run = name: test:
    let
      result = builtins.tryEval (builtins.deepSeq test.expr test.expr);
    in
    if !result.success then [{ inherit name; inherit (test) expected; result = "<evaluation threw>"; }]
    else if result.value == test.expected then [ ]
    else [{ inherit name; inherit (test) expected; result = result.value; }];

  failures = builtins.concatLists (builtins.attrValues (builtins.mapAttrs run tests));
  total = builtins.length (builtins.attrNames tests);
  failed = map (f: f.name) failures;
in
{
  inherit total failures failed;
  passed = total - builtins.length failed;
  summary = "${toString (total - builtins.length failed)} passed, ${toString (builtins.length failed)} failed";
}
