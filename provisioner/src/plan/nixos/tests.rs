use super::*;
use crate::facts::{ContainerdFacts, DockerFacts, OsFamily, SoftwareVersion};
use crate::release::{Arch, Hypervisor};

const SYSTEM: &str = "/nix/store/aaaa-nixos-system-nix-1-25.05";
const NEW: &str = "/nix/store/bbbb-nixos-system-nix-1-25.05";

/// A NixOS host built from configuration.nix (which imports katafleet.nix),
/// its running system what that builds, containerd on, no Docker.
fn nixos(configuration: Option<&str>) -> HostFacts {
    let mut f = HostFacts::default();
    f.os.family = OsFamily::NixOS;
    f.machine = "x86_64".into();
    f.arch = Some(Arch::Amd64);
    if let Some(c) = configuration {
        f.files.insert(CONFIGURATION.into(), c.into());
    }
    f.containerd = Some(ContainerdFacts {
        version: Some(SoftwareVersion {
            major: 2,
            minor: 0,
            patch: 5,
        }),
        active: true,
        cri_plugin: Some("ok".into()),
        ..ContainerdFacts::default()
    });
    f.nixos = Some(NixosFacts {
        nix_path: "nixpkgs=/nix/var/nix/profiles/per-user/root/channels/nixos:nixos-config=/etc/nixos/configuration.nix".into(),
        nixos_config: Some(CONFIGURATION.into()),
        current_system: Some(SYSTEM.into()),
        boot_system: Some(SYSTEM.into()),
        evaluation: Some(NixosEvaluation {
            toplevel: SYSTEM.into(),
            kata: Some("4.2.0".into()),
            containerd: true,
            docker: false,
        }),
        ..NixosFacts::default()
    });
    f
}

fn host() -> HostFacts {
    nixos(Some(
        "{ imports = [ ./hardware-configuration.nix ./katafleet.nix ]; }",
    ))
}

fn with_nixos(mut f: HostFacts, edit: impl FnOnce(&mut NixosFacts)) -> HostFacts {
    edit(f.nixos.as_mut().unwrap());
    f
}

fn evaluated(f: HostFacts, edit: impl FnOnce(&mut NixosEvaluation)) -> HostFacts {
    with_nixos(f, |n| edit(n.evaluation.as_mut().unwrap()))
}

fn run_with(facts: &HostFacts, desired: &Desired) -> Result<Plan, PlanError> {
    let mut p = Plan {
        manifest: facts.manifest.clone(),
        ..Plan::default()
    };
    plan(&mut p, facts, desired).map(|_| p)
}

fn run(facts: &HostFacts) -> Result<Plan, PlanError> {
    run_with(facts, &Desired::sample())
}

fn err(facts: &HostFacts, desired: &Desired) -> String {
    run_with(facts, desired).unwrap_err().to_string()
}

fn files(p: &Plan) -> &[crate::plan::FileWrite] {
    let Action::NixosActivate { files } = &p.changes[0].action else {
        panic!("{:?}", p.changes)
    };
    files
}

fn settings(p: &Plan) -> String {
    files(p)
        .iter()
        .find(|f| f.path == SETTINGS)
        .expect("the settings file")
        .content
        .clone()
}

#[test]
fn writes_module_its_data_and_settings_when_imported() {
    let p = run(&host()).unwrap();
    let paths: Vec<_> = files(&p).iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, [MODULE, DEFAULTS, SETTINGS]);
    assert_eq!(files(&p)[1].content, kata_defaults::TEXT);
    let s = settings(&p);
    for want in [
        "virtualisation.kata-containers",
        "hypervisor = \"qemu\";",
        "shims = [ \"qemu\" ];",
        "memory = 2048;",
        "containerd.enable = true;",
    ] {
        assert!(s.contains(want), "{want} in {s}");
    }
    assert_eq!(p.manifest.containerd_handlers, ["kata", "kata-qemu"]);
}

#[test]
fn unchanged_files_mean_no_activation() {
    let mut f = host();
    let first = run(&f).unwrap();
    for w in files(&first) {
        f.files.insert(w.path.clone(), w.content.clone());
    }
    assert!(run(&f).unwrap().changes.is_empty());
}

#[test]
fn shims_become_handlers_with_the_modules_names() {
    let mut d = Desired::sample();
    d.kata.shims = vec![Hypervisor::Qemu, Hypervisor::Clh, Hypervisor::Dragonball];
    let p = run_with(&host(), &d).unwrap();
    assert!(
        settings(&p).contains("shims = [ \"qemu\" \"cloud-hypervisor\" \"dragonball\" ];"),
        "{}",
        settings(&p)
    );
    assert_eq!(
        p.manifest.containerd_handlers,
        ["kata", "kata-qemu", "kata-clh", "kata-dragonball"]
    );
}

#[test]
fn docker_is_wired_only_where_the_host_enables_it() {
    let p = run(&host()).unwrap();
    assert!(settings(&p).contains("docker.enable = false;"));
    assert!(!settings(&p).contains("virtualisation.docker.enable"));
    assert!(p.noops.iter().any(|n| n.what == "docker"), "{:?}", p.noops);

    let mut f = evaluated(host(), |e| e.docker = true);
    f.docker = Some(DockerFacts {
        version: Some(SoftwareVersion {
            major: 28,
            minor: 5,
            patch: 2,
        }),
        active: true,
        ..DockerFacts::default()
    });
    assert!(settings(&run(&f).unwrap()).contains("docker.enable = true;"));
    // Disabled in the inventory: not wired, whatever the host runs.
    let mut d = Desired::sample();
    d.docker = false;
    assert!(settings(&run_with(&f, &d).unwrap()).contains("docker.enable = false;"));
}

#[test]
fn the_docker_version_gates_apply() {
    let mut f = evaluated(host(), |e| {
        e.docker = true;
        e.kata = Some("3.29.0".into());
    });
    f.docker = Some(DockerFacts {
        version: Some(SoftwareVersion {
            major: 29,
            minor: 1,
            patch: 0,
        }),
        active: true,
        ..DockerFacts::default()
    });
    let mut d = Desired::sample();
    d.kata.version = Version::new(3, 29, 0);
    d.kata.runtime = Runtime::Go;
    let e = err(&f, &d);
    assert!(e.contains("needs Go-runtime Kata >= 3.32.0"), "{e}");
    // Docker enabled in the configuration, but no dockerd to ask.
    f.docker = None;
    assert!(err(&f, &d).contains("cannot read its version"));
}

#[test]
fn a_version_or_runtime_nixpkgs_does_not_ship_is_a_plan_error() {
    let mut d = Desired::sample();
    d.kata.version = Version::new(4, 1, 0);
    let e = err(&host(), &d);
    assert!(
        e.contains("pins Kata 4.1.0, but this host's nixpkgs ships kata-runtime 4.2.0")
            && e.contains("set `version = \"4.2.0\"`"),
        "{e}"
    );

    let go = evaluated(host(), |e| e.kata = Some("3.32.0".into()));
    let mut d = Desired::sample();
    d.kata.version = Version::new(3, 32, 0);
    let e = err(&go, &d);
    assert!(e.contains("set runtime = \"go\""), "{e}");

    // The Go runtime in nixpkgs is built for qemu only.
    d.kata.runtime = Runtime::Go;
    d.kata.shims = vec![Hypervisor::Qemu, Hypervisor::Clh];
    let e = err(&go, &d);
    assert!(
        e.contains("ships no configuration for clh") && e.contains("choose from: qemu"),
        "{e}"
    );

    let none = evaluated(host(), |e| e.kata = None);
    assert!(err(&none, &Desired::sample()).contains("has no kata-runtime package"));
}

#[test]
fn cloud_hypervisor_is_refused_on_aarch64() {
    let mut f = host();
    f.machine = "aarch64".into();
    f.arch = Some(Arch::Arm64);
    let mut d = Desired::sample();
    d.kata.hypervisor = Hypervisor::Clh;
    d.kata.shims = vec![Hypervisor::Clh];
    let e = err(&f, &d);
    assert!(
        e.contains("no configuration for clh on aarch64-linux"),
        "{e}"
    );
}

#[test]
fn hosts_built_elsewhere_are_refused_with_the_module_path() {
    let fix = "inputs.katafleet.nixosModules.default";
    let mut flake = host();
    flake
        .files
        .insert(FLAKE.into(), "{ outputs = _: {}; }".into());
    let deploy_rs = with_nixos(host(), |n| n.deployer = Some("deploy-rs".into()));
    let nixos_system = with_nixos(host(), |n| {
        n.nix_path = "nixpkgs=flake:nixpkgs:/nix/var/nix/profiles/per-user/root/channels".into();
        n.nixos_config = None;
        n.evaluation = None;
    });
    let elsewhere = with_nixos(host(), |n| {
        n.nixos_config = Some("/srv/hosts/nix-1.nix".into())
    });
    for (facts, why) in [
        (&flake, "configuration is a flake (/etc/nixos/flake.nix)"),
        (&deploy_rs, "deployed by deploy-rs"),
        (
            &nixos_system,
            "`<nixos-config>` is not on this host's NIX_PATH (`nixpkgs=flake:nixpkgs:",
        ),
        (
            &elsewhere,
            "`<nixos-config>` is /srv/hosts/nix-1.nix, not /etc/nixos/configuration.nix",
        ),
    ] {
        let e = err(facts, &Desired::sample());
        assert!(e.contains(why) && e.contains(fix), "{e}");
        assert!(e.contains("check, status and verify still work"), "{e}");
    }
}

/// colmena leaves no mark: the running system is simply not what
/// configuration.nix builds.
#[test]
fn a_system_configuration_nix_does_not_build_is_refused() {
    let colmena = evaluated(host(), |e| e.toplevel = NEW.into());
    let e = err(&colmena, &Desired::sample());
    assert!(
        e.contains(&format!("the running system ({SYSTEM}) is not what"))
            && e.contains("colmena")
            && e.contains("run `nixos-rebuild switch` first"),
        "{e}"
    );
    let broken = with_nixos(host(), |n| {
        n.evaluation = None;
        n.evaluation_error = Some("error: The option `foo' does not exist.".into());
    });
    let e = err(&broken, &Desired::sample());
    assert!(e.contains("The option `foo' does not exist"), "{e}");
    let not_asked = with_nixos(host(), |n| n.evaluation = None);
    assert!(err(&not_asked, &Desired::sample()).contains("was not evaluated"));
}

#[test]
fn refuses_unimported_settings_with_the_fix() {
    let e = err(&nixos(Some("{ imports = [ ]; }")), &Desired::sample());
    assert!(e.contains("does not import ./katafleet.nix"), "{e}");
    assert!(err(&nixos(None), &Desired::sample()).contains("does not exist"));
}

fn pending(current: &str, dump: Option<&str>) -> HostFacts {
    let mut f = with_nixos(host(), |n| {
        n.current_system = Some(current.into());
        n.pending = Some(NixosPending {
            system: NEW.into(),
            previous: SYSTEM.into(),
            state: "tested".into(),
        });
    });
    f.manifest.containerd_handlers = vec!["kata".into(), "kata-qemu".into()];
    f.containerd.as_mut().unwrap().dump = dump.map(String::from);
    f
}

const DUMP: &str =
    "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kata]\n\
                    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kata-qemu]\n";

fn finish_of(p: &Plan) -> (bool, &str) {
    let [Change {
        action: Action::NixosFinish { switch, system, .. },
        ..
    }] = p.changes.as_slice()
    else {
        panic!("{:?}", p.changes)
    };
    (*switch, system.as_str())
}

#[test]
fn a_pending_activation_that_verifies_is_switched_to() {
    let p = run(&pending(NEW, Some(DUMP))).unwrap();
    assert_eq!(finish_of(&p), (true, NEW));
    assert!(p.changes[0].reason.contains("make it the boot default"));
}

#[test]
fn a_pending_activation_that_fails_verification_is_rolled_back() {
    let dump = DUMP.replace("kata-qemu", "kata-clh");
    let p = run(&pending(NEW, Some(&dump))).unwrap();
    assert_eq!(finish_of(&p), (false, NEW));
    assert!(
        p.changes[0].reason.contains("has no runtime `kata-qemu`")
            && p.changes[0]
                .reason
                .contains(&format!("roll back to {SYSTEM}")),
        "{}",
        p.changes[0].reason
    );
    let mut broken = pending(NEW, Some(DUMP));
    broken.containerd.as_mut().unwrap().cri_plugin = Some("error".into());
    assert!(!finish_of(&run(&broken).unwrap()).0);
}

#[test]
fn a_pending_activation_the_host_no_longer_runs_is_rolled_back() {
    let p = run(&pending(SYSTEM, Some(DUMP))).unwrap();
    assert_eq!(finish_of(&p), (false, NEW));
    assert!(p.changes[0].reason.contains("runs the previous system"));
    let e = err(&pending("/nix/store/cccc-other", None), &Desired::sample());
    assert!(e.contains("will not guess") && e.contains(PENDING), "{e}");
}

/// The record is this host's own: a flake host has none to finish.
#[test]
fn hosts_built_elsewhere_are_refused_before_anything_pending() {
    let mut f = pending(NEW, Some(DUMP));
    f.files.insert(FLAKE.into(), "{ }".into());
    assert!(err(&f, &Desired::sample()).contains("is a flake"));
}

#[test]
fn what_the_rollback_deadline_did_is_told_to_the_next_run() {
    let fired = "at=2026-12-02T00:00:00Z system=/nix/store/x-nixos-system result=no commit came within the deadline, so the previous system is back";
    let f = with_nixos(host(), |n| n.deadline_fired = Some(fired.into()));
    let p = run(&f).unwrap();
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("rollback deadline acted on its own") && w.contains(fired)),
        "{:?}",
        p.warnings
    );
    assert!(run(&host())
        .unwrap()
        .warnings
        .iter()
        .all(|w| !w.contains("deadline")));
}
