# The katafleet CLI. Called from flake.nix (packages.default) and from the
# overlay (pkgs.katafleet).
{ lib
, rustPlatform
, makeWrapper
, openssh
}:

let
  manifest = lib.importTOML ../provisioner/Cargo.toml;
in
rustPlatform.buildRustPackage {
  pname = "katafleet";
  inherit (manifest.package) version;

  # Only what the build and its tests read, so editing flake.nix, vm-tests/
  # or docs does not rebuild the binary. The list is package-src.json (paths
  # relative to the repository root), which nix/check-package-source also
  # reads: it copies exactly these paths to a scratch directory and runs the
  # check phase's `cargo test` there, so a file the tests need but the list
  # lacks fails offline, not only in `nix flake check`.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions
      (map (path: ../. + "/${path}") (lib.importJSON ./package-src.json));
  };

  cargoLock.lockFile = ../Cargo.lock;

  nativeBuildInputs = [ makeWrapper ];

  # Unit tests run in checkPhase. The fleet integration tests need root and
  # network namespaces to start their test hosts, which the build sandbox
  # does not give; they skip themselves when KATAFLEET_NO_FLEET=1 is set.
  # The VM tests (vm-tests/) exercise katafleet against real hosts instead.
  env.KATAFLEET_NO_FLEET = "1";

  # katafleet drives hosts through the system's ssh client; make sure there
  # is one, but let a user's own ssh (and its config) come first.
  postInstall = ''
    wrapProgram $out/bin/katafleet --suffix PATH : ${lib.makeBinPath [ openssh ]}
  '';

  meta = {
    description = "Provision Kata Containers onto fleets of hosts over SSH";
    license = lib.licenses.asl20;
    mainProgram = "katafleet";
    platforms = lib.platforms.linux;
  };
}
