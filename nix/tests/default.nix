# Evaluation tests for nix/module.nix. They need only nixpkgs' `lib`:
#
#   nix-instantiate --eval --strict --json nix/tests/default.nix \
#     --arg lib "import $NIXPKGS_LIB/lib"
#
# The result is { total; passed; failed = [ names ]; failures; summary; }.
# `failures` lists, per failed test, what was expected and what came out.
{ lib }:

let
  stubs = import ./stubs.nix { inherit lib; };

  evalWith = { system ? "x86_64-linux", kataVersion ? "4.2.0", dockerVersion ? "28.5.2" }: modules:
    let
      pkgs = stubs.pkgs { inherit system kataVersion dockerVersion; };
    in
    (lib.evalModules {
      modules = [
        ../module.nix
        stubs.options
        { _module.args.pkgs = pkgs; }
      ] ++ modules;
    }).config // { _pkgs = pkgs; };

  eval = evalWith { };

  kata = extra: { virtualisation.kata-containers = { enable = true; } // extra; };
  withContainerd = { virtualisation.containerd.enable = true; };
  withDocker = { virtualisation.docker.enable = true; };

  failedAssertions = config:
    map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);

  # True when one failed assertion mentions `needle`.
  assertionFires = needle: config:
    lib.any (lib.hasInfix needle) (failedAssertions config);

  # True when evaluating `value` deeply throws (a type error, for example).
  throws = value: !(builtins.tryEval (builtins.deepSeq value value)).success;

  # Accessors default to {} so that a missing attribute fails one test (by
  # comparison) instead of aborting the whole run.
  v2 = config: config.virtualisation.containerd.settings.plugins."io.containerd.grpc.v1.cri" or { };
  v3 = config: config.virtualisation.containerd.settings.plugins."io.containerd.cri.v1.runtime" or { };

  base = eval [ (kata { containerd.enable = true; }) withContainerd ];
  shim = "${base._pkgs.kata-runtime}/bin/containerd-shim-kata-v2";
  kataRuntime = (v2 base).containerd.runtimes.kata or { };
  # The allowlist katafleet applies on every other host too.
  annotations = [ "default_memory" "default_vcpus" ];
  defaults = lib.importJSON ../katafleet-defaults.json;

  twoShims = eval [
    (kata { containerd.enable = true; shims = [ "qemu" "cloud-hypervisor" ]; memory = 1024; })
    withContainerd
  ];
  dropInOf = config: name: config.system.build.kataContainersConfigs.${name}.dropIn.passthru.value or null;

  tests = {
    # --- containerd ---------------------------------------------------------
    testContainerdHandlerNames = {
      expr = lib.attrNames ((v2 base).containerd.runtimes or { });
      expected = [ "kata" "kata-qemu" ];
    };
    testContainerdRuntimeEntry = {
      expr = removeAttrs kataRuntime [ "options" ];
      expected = {
        runtime_type = "io.containerd.kata.v2";
        runtime_path = shim;
        privileged_without_host_devices = true;
        pod_annotations = [
          "io.katacontainers.config.hypervisor.default_memory"
          "io.katacontainers.config.hypervisor.default_vcpus"
        ];
      };
    };
    testContainerdConfigPathIsTheStoreConfig = {
      expr = kataRuntime.options.ConfigPath;
      expected = base.virtualisation.kata-containers.configPath;
    };
    testConfigPathIsAStoreFileNextToConfigD = {
      expr = builtins.match "/nix/store/[^/]+/configuration.toml" base.virtualisation.kata-containers.configPath != null;
      expected = true;
    };
    testBothHandlersShareOneEntry = {
      expr = (v2 base).containerd.runtimes.kata-qemu or null == kataRuntime;
      expected = true;
    };
    testDefaultRuntimeUntouched = {
      expr = (v2 base).containerd ? default_runtime_name;
      expected = false;
    };
    testNixosCniSettingSurvives = {
      expr = (v2 base).cni.bin_dir;
      expected = "/nix/store/stub-cni-plugins/bin";
    };
    testNothingUnderOpt = {
      expr = lib.hasInfix "/opt/" (builtins.toJSON {
        containerd = base.virtualisation.containerd.settings;
        kata = base.virtualisation.kata-containers.settings;
      });
      expected = false;
    };
    testShimOnContainerdPath = {
      expr = map toString (base.systemd.services.containerd.path or [ ]);
      expected = [ (toString base._pkgs.kata-runtime) ];
    };
    testConfigVersionFollowsContainerdModule = {
      expr = base.virtualisation.kata-containers.containerd.configVersion;
      expected = base.virtualisation.containerd.settings.version;
    };
    testConfigVersionIs2WithoutContainerd = {
      expr = (eval [ (kata { }) ]).virtualisation.kata-containers.containerd.configVersion;
      expected = 2;
    };
    # Only containerd's own setting changes; the handlers move with it.
    testContainerdVersion3MovesTheHandlers =
      let
        c = eval [
          (kata { containerd.enable = true; })
          withContainerd
          { virtualisation.containerd.settings.version = lib.mkForce 3; }
        ];
      in
      {
        expr = {
          inherit (c.virtualisation.kata-containers.containerd) configVersion;
          names = lib.attrNames ((v3 c).containerd.runtimes or { });
          oldIdHasRuntimes = (v2 c) ? containerd;
          failed = failedAssertions c;
        };
        expected = { configVersion = 3; names = [ "kata" "kata-qemu" ]; oldIdHasRuntimes = false; failed = [ ]; };
      };
    testContainerdVersion4UsesTheVersion3PluginId =
      let
        c = eval [
          (kata { containerd.enable = true; })
          withContainerd
          { virtualisation.containerd.settings.version = lib.mkForce 4; }
        ];
      in
      {
        expr = { names = lib.attrNames ((v3 c).containerd.runtimes or { }); failed = failedAssertions c; };
        expected = { names = [ "kata" "kata-qemu" ]; failed = [ ]; };
      };
    # Setting both (as the module used to ask) still works when they agree.
    testExplicitConfigVersionThatAgrees =
      let
        c = eval [
          (kata { containerd = { enable = true; configVersion = 3; }; })
          withContainerd
          { virtualisation.containerd.settings.version = lib.mkForce 3; }
        ];
      in
      {
        expr = { names = lib.attrNames ((v3 c).containerd.runtimes or { }); failed = failedAssertions c; };
        expected = { names = [ "kata" "kata-qemu" ]; failed = [ ]; };
      };
    testConfigVersionMismatchAsserts = {
      expr = assertionFires "Remove the\nconfigVersion setting"
        (eval [ (kata { containerd = { enable = true; configVersion = 3; }; }) withContainerd ]);
      expected = true;
    };
    testUnsupportedContainerdVersionAsserts =
      let
        c = eval [ (kata { containerd.enable = true; }) withContainerd { virtualisation.containerd.settings.version = lib.mkForce 1; } ];
      in
      {
        expr = failedAssertions c;
        expected = [
          ''
            virtualisation.containerd.settings.version is
            1, but the Kata handlers need a containerd
            configuration of version 2, 3 or 4.
            Set virtualisation.containerd.settings.version to one of them.
          ''
        ];
      };
    testUnsetContainerdVersionAsserts = {
      expr = assertionFires "is\nunset (containerd then reads the configuration as version 1)"
        (eval [ (kata { containerd.enable = true; }) withContainerd { virtualisation.containerd.settings = lib.mkForce { }; } ]);
      expected = true;
    };
    testContainerdWithoutContainerdAsserts = {
      expr = assertionFires "virtualisation.containerd.enable is\nfalse"
        (eval [ (kata { containerd.enable = true; }) ]);
      expected = true;
    };
    testNoHandlersWhenKataDisabled = {
      expr = (v2 (eval [ withContainerd ])) ? containerd;
      expected = false;
    };
    testNoHandlersWhenOnlyKataEnabled = {
      expr = (v2 (eval [ (kata { }) withContainerd ])) ? containerd;
      expected = false;
    };

    # --- docker -------------------------------------------------------------
    testDockerRuntime =
      let
        c = eval [ (kata { docker.enable = true; }) withDocker ];
        entry = {
          runtimeType = "${c._pkgs.kata-runtime}/bin/containerd-shim-kata-v2";
          options.ConfigPath = c.virtualisation.kata-containers.configPath;
        };
      in
      {
        expr = c.virtualisation.docker.daemon.settings.runtimes or null;
        expected = { kata = entry; kata-qemu = entry; };
      };
    # Docker gets the same handlers as containerd, as on every other host.
    testDockerGetsEveryShim =
      let c = eval [ (kata { docker.enable = true; shims = [ "qemu" "cloud-hypervisor" ]; }) withDocker ]; in
      {
        expr = lib.mapAttrs (_: r: r.options.ConfigPath) (c.virtualisation.docker.daemon.settings.runtimes or { });
        expected = c.virtualisation.kata-containers.handlers;
      };
    testDockerDefaultRuntimeUntouched = {
      expr = (eval [ (kata { docker.enable = true; }) withDocker ]).virtualisation.docker.daemon.settings ? default-runtime;
      expected = false;
    };
    testDockerWithoutDockerAsserts = {
      expr = assertionFires "virtualisation.docker.enable is false" (eval [ (kata { docker.enable = true; }) ]);
      expected = true;
    };
    testOldGoRuntimeWithDocker29Warns = {
      expr = lib.length (evalWith { kataVersion = "3.29.0"; dockerVersion = "29.1.0"; }
        [ (kata { docker.enable = true; }) withDocker ]).warnings;
      expected = 1;
    };
    testRuntimeRsWithDocker29DoesNotWarn = {
      expr = (evalWith { dockerVersion = "29.1.0"; } [ (kata { docker.enable = true; }) withDocker ]).warnings;
      expected = [ ];
    };

    # --- Kata settings ------------------------------------------------------
    testSettingsDefaults = {
      expr = base.virtualisation.kata-containers.settings;
      expected = {
        hypervisor.qemu = { default_memory = 2048; default_vcpus = 1; enable_debug = false; enable_annotations = annotations; };
        agent.kata.enable_debug = false;
        runtime.enable_debug = false;
      };
    };
    testTypedOptionsReachSettings = {
      expr = (eval [ (kata { memory = 4096; vcpus = 2; }) ]).virtualisation.kata-containers.settings.hypervisor.qemu or null;
      expected = { default_memory = 4096; default_vcpus = 2; enable_debug = false; enable_annotations = annotations; };
    };
    testUserSettingsWin = {
      expr = (eval [
        (kata { memory = 4096; settings.hypervisor.qemu.default_memory = 3000; })
      ]).virtualisation.kata-containers.settings.hypervisor.qemu.default_memory or null;
      expected = 3000;
    };
    testUserSettingsExtend = {
      expr = (eval [
        (kata { settings.runtime.internetworking_model = "tcfilter"; })
      ]).virtualisation.kata-containers.settings.runtime or null;
      expected = { enable_debug = false; internetworking_model = "tcfilter"; };
    };
    testDebugEverywhere =
      let s = (eval [ (kata { debug = true; }) ]).virtualisation.kata-containers.settings; in
      {
        expr = [ (s.hypervisor.qemu.enable_debug or null) (s.agent.kata.enable_debug or null) (s.runtime.enable_debug or null) ];
        expected = [ true true true ];
      };
    testConfigDirCopiesShippedFileAndDropIn =
      let script = base.system.build.kataContainersConfig.script; in
      {
        expr = {
          shipped = lib.hasInfix "${base._pkgs.kata-runtime}/share/defaults/kata-containers/runtime-rs/configuration-qemu-runtime-rs.toml $out/configuration.toml" script;
          dropIn = lib.hasInfix "50-nixos.toml $out/config.d/50-nixos.toml" script;
          copies = !(lib.hasInfix "ln -s" script);
        };
        expected = { shipped = true; dropIn = true; copies = true; };
      };
    testEtcLinkForToolsWithoutConfigPath = {
      expr = base.environment.etc."kata-containers/runtime-rs/configuration.toml".source or null;
      expected = base.virtualisation.kata-containers.configPath;
    };
    testCheckToolInstalled = {
      expr = map (p: p.name) base.environment.systemPackages;
      expected = [ "kata-runtime-4.2.0" "kata-host-check" ];
    };
    testCheckToolUsesTheSameConfig = {
      expr = lib.hasInfix "config=${base.virtualisation.kata-containers.configPath}"
        (lib.last base.environment.systemPackages).text;
      expected = true;
    };

    # --- hypervisors --------------------------------------------------------
    testCloudHypervisorGetsNixpkgsVmm =
      let c = eval [ (kata { hypervisor = "cloud-hypervisor"; containerd.enable = true; }) withContainerd ]; in
      {
        expr = {
          path = c.virtualisation.kata-containers.settings.hypervisor.clh.path or null;
          valid_hypervisor_paths = c.virtualisation.kata-containers.settings.hypervisor.clh.valid_hypervisor_paths or null;
          handlers = lib.attrNames ((v2 c).containerd.runtimes or { });
          shipped = lib.hasInfix "runtime-rs/configuration-clh-runtime-rs.toml" c.system.build.kataContainersConfig.script;
        };
        expected = rec {
          path = "${c._pkgs.cloud-hypervisor}/bin/cloud-hypervisor";
          valid_hypervisor_paths = [ path ];
          handlers = [ "kata" "kata-clh" ];
          shipped = true;
        };
      };
    testFirecrackerGetsVmmAndJailer =
      let c = eval [ (kata { hypervisor = "firecracker"; containerd.enable = true; }) withContainerd ]; in
      {
        expr = {
          path = c.virtualisation.kata-containers.settings.hypervisor.firecracker.path or null;
          jailer_path = c.virtualisation.kata-containers.settings.hypervisor.firecracker.jailer_path or null;
          handlers = lib.attrNames ((v2 c).containerd.runtimes or { });
        };
        expected = {
          path = "${c._pkgs.firecracker}/bin/firecracker";
          jailer_path = "${c._pkgs.firecracker}/bin/jailer";
          handlers = [ "kata" "kata-fc" ];
        };
      };
    testDragonballNeedsNoVmm =
      let c = eval [ (kata { hypervisor = "dragonball"; }) ]; in
      {
        expr = {
          section = c.virtualisation.kata-containers.settings.hypervisor.dragonball or null;
          failed = failedAssertions c;
        };
        expected = {
          section = { default_memory = 2048; default_vcpus = 1; enable_debug = false; enable_annotations = annotations; };
          failed = [ ];
        };
      };
    testGoRuntimeLayout =
      let c = evalWith { kataVersion = "3.32.0"; } [ (kata { }) ]; in
      {
        expr = {
          etc = lib.attrNames c.environment.etc;
          shipped = lib.hasInfix "/share/defaults/kata-containers/configuration-qemu.toml $out" c.system.build.kataContainersConfig.script;
          checkRunsKataRuntime = lib.hasInfix "go_runtime=${c._pkgs.kata-runtime}/bin/kata-runtime"
            (lib.last c.environment.systemPackages).text;
          failed = failedAssertions c;
        };
        expected = {
          etc = [ "kata-containers/configuration.toml" ];
          shipped = true;
          checkRunsKataRuntime = true;
          failed = [ ];
        };
      };

    # --- shims: one handler per hypervisor ---------------------------------
    testShimsAreExtraHandlers = {
      expr = lib.mapAttrs (_: r: r.options.ConfigPath) ((v2 twoShims).containerd.runtimes or { });
      expected = {
        kata = twoShims.system.build.kataContainersConfigs.qemu + "/configuration.toml";
        kata-qemu = twoShims.system.build.kataContainersConfigs.qemu + "/configuration.toml";
        kata-clh = twoShims.system.build.kataContainersConfigs.cloud-hypervisor + "/configuration.toml";
      };
    };
    testHandlersOptionListsWhatContainerdGets = {
      expr = twoShims.virtualisation.kata-containers.handlers;
      expected = lib.mapAttrs (_: r: r.options.ConfigPath) ((v2 twoShims).containerd.runtimes or { });
    };
    # As in katafleet's inventory: `kata` always uses `hypervisor`, and only
    # the listed shims get a `kata-<short>` handler.
    testShimsWithoutTheDefaultHypervisor = {
      expr = lib.attrNames ((v2 (eval [ (kata { containerd.enable = true; shims = [ "dragonball" ]; }) withContainerd ])).containerd.runtimes or { });
      expected = [ "kata" "kata-dragonball" ];
    };
    testEachShimCopiesItsOwnShippedFile = {
      expr = lib.mapAttrs (_: d: lib.hasInfix "runtime-rs/${defaults.hypervisors.${d.name}.runtimeRsConfig} $out/configuration.toml" d.dir.script)
        (lib.mapAttrs (name: dir: { inherit name dir; }) twoShims.system.build.kataContainersConfigs);
      expected = { qemu = true; cloud-hypervisor = true; };
    };
    # Each drop-in has the table of its own hypervisor only, with the sizing
    # and the annotation allowlist; the rest of `settings` goes to all.
    testEachDropInHasOnlyItsOwnHypervisor = {
      expr = {
        qemu = dropInOf twoShims "qemu";
        clh = lib.attrNames ((dropInOf twoShims "cloud-hypervisor").hypervisor or { });
        clhMemory = (dropInOf twoShims "cloud-hypervisor").hypervisor.clh.default_memory or null;
      };
      expected = {
        qemu = {
          hypervisor.qemu = { default_memory = 1024; default_vcpus = 1; enable_debug = false; enable_annotations = annotations; };
          agent.kata.enable_debug = false;
          runtime.enable_debug = false;
        };
        clh = [ "clh" ];
        clhMemory = 1024;
      };
    };
    testShimVmmPathsFromNixpkgs = {
      expr = (dropInOf twoShims "cloud-hypervisor").hypervisor.clh.path or null;
      expected = "${twoShims._pkgs.cloud-hypervisor}/bin/cloud-hypervisor";
    };
    testShimNotShippedAsserts = {
      expr = failedAssertions (evalWith { kataVersion = "3.32.0"; } [ (kata { shims = [ "qemu" "firecracker" ]; }) ]);
      expected = [
        ''
          virtualisation.kata-containers.shims has firecracker, but
          kata-runtime-3.32.0 (the Go runtime) on x86_64-linux ships no
          configuration for it. Choose from: qemu.
        ''
      ];
    };
    testShimMemoryMinimumIsChecked = {
      expr = assertionFires "each firecracker sandbox VM would get\n100 MiB"
        (eval [ (kata { shims = [ "qemu" "firecracker" ]; memory = 100; }) ]);
      expected = true;
    };
    testUnknownShimIsATypeError = {
      expr = throws (eval [ (kata { shims = [ "kvmtool" ]; }) ]).virtualisation.kata-containers.shims;
      expected = true;
    };

    # --- annotations: one allowlist with katafleet --------------------------
    testAnnotationsComeFromTheSharedData = {
      expr = {
        option = base.virtualisation.kata-containers.annotations;
        pod = kataRuntime.pod_annotations or null;
      };
      expected = {
        option = defaults.annotations;
        pod = map (a: defaults.podAnnotationPrefix + a) defaults.annotations;
      };
    };
    testAnnotationsOptionSetsBothLists =
      let c = eval [ (kata { containerd.enable = true; annotations = [ "default_memory" ]; }) withContainerd ]; in
      {
        expr = {
          pod = (v2 c).containerd.runtimes.kata.pod_annotations or null;
          kata = c.virtualisation.kata-containers.settings.hypervisor.qemu.enable_annotations or null;
        };
        expected = {
          pod = [ "io.katacontainers.config.hypervisor.default_memory" ];
          kata = [ "default_memory" ];
        };
      };
    testNoWildcardAnnotations = {
      expr = lib.any (lib.hasInfix "*") (kataRuntime.pod_annotations or [ "*" ]);
      expected = false;
    };

    # --- host plumbing ------------------------------------------------------
    testKernelModules = {
      expr = base.boot.kernelModules;
      expected = [ "vhost_vsock" "vhost_net" ];
    };
    testKvmModuleFromCpuVendor = {
      expr = (eval [ (kata { cpuVendor = "intel"; }) ]).boot.kernelModules;
      expected = [ "vhost_vsock" "vhost_net" "kvm-intel" ];
    };
    testCpuVendorFollowsMicrocodeSetting = {
      expr = (eval [ (kata { }) { hardware.cpu.amd.updateMicrocode = true; } ]).boot.kernelModules;
      expected = [ "vhost_vsock" "vhost_net" "kvm-amd" ];
    };
    testKvmUsers = {
      expr = (eval [ (kata { kvmUsers = [ "alice" "bob" ]; }) ]).users.groups.kvm.members or null;
      expected = [ "alice" "bob" ];
    };
    testDefaultConfigHasNoFailedAssertions = {
      expr = failedAssertions base;
      expected = [ ];
    };

    # --- assertions on impossible combinations -----------------------------
    testUnsupportedSystemAsserts = {
      expr = assertionFires "riscv64-linux is not supported" (evalWith { system = "riscv64-linux"; } [ (kata { }) ]);
      expected = true;
    };
    testClhNotShippedOnAarch64Asserts = {
      expr = assertionFires "ships no\nconfiguration for it. Choose one of: dragonball, firecracker, qemu"
        (evalWith { system = "aarch64-linux"; } [ (kata { hypervisor = "cloud-hypervisor"; }) ]);
      expected = true;
    };
    testGoRuntimeShipsOnlyQemu = {
      expr = assertionFires "Choose one of: qemu"
        (evalWith { kataVersion = "3.32.0"; } [ (kata { hypervisor = "dragonball"; }) ]);
      expected = true;
    };
    testMemoryBelowMinimumAsserts = {
      expr = assertionFires "needs at least 64 MiB" (eval [ (kata { memory = 32; }) ]);
      expected = true;
    };
    testFirecrackerMinimumIs128 = {
      expr = assertionFires "needs at least 128 MiB" (eval [ (kata { hypervisor = "firecracker"; memory = 100; }) ]);
      expected = true;
    };
    testMemoryFromSettingsIsChecked = {
      expr = assertionFires "would get\n32 MiB" (eval [ (kata { settings.hypervisor.qemu.default_memory = 32; }) ]);
      expected = true;
    };
    testCpuVendorOnAarch64Asserts = {
      expr = assertionFires "only\napplies to x86_64" (evalWith { system = "aarch64-linux"; } [ (kata { cpuVendor = "amd"; }) ]);
      expected = true;
    };

    # --- type errors --------------------------------------------------------
    testUnknownHypervisorIsATypeError = {
      expr = throws (eval [ (kata { hypervisor = "kvmtool"; }) ]).virtualisation.kata-containers.hypervisor;
      expected = true;
    };
    testMemoryMustBeAnInteger = {
      expr = throws (eval [ (kata { memory = "lots"; }) ]).virtualisation.kata-containers.memory;
      expected = true;
    };
    testVcpusMustBePositive = {
      expr = throws (eval [ (kata { vcpus = 0; }) ]).virtualisation.kata-containers.vcpus;
      expected = true;
    };
    testSettingsMustBeToml = {
      expr = throws (eval [ (kata { settings.runtime.hook = x: x; }) ]).virtualisation.kata-containers.settings;
      expected = true;
    };
    testKvmUsersMustBeAList = {
      expr = throws (eval [ (kata { kvmUsers = "alice"; }) ]).virtualisation.kata-containers.kvmUsers;
      expected = true;
    };
    testConfigVersion1IsRejected = {
      expr = throws (eval [ (kata { containerd.configVersion = 1; }) ]).virtualisation.kata-containers.containerd.configVersion;
      expected = true;
    };
  };

  # Like lib.runTests, but a test whose evaluation throws (a conflicting
  # definition, say) counts as one failure instead of ending the run.
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
