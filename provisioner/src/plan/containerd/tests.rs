//! Table tests from real default configs (`containerd config default` of
//! Debian's 1.6.20, 1.7.24 and 2.1.9) plus user edits and comments.

use super::*;
use crate::facts::{ContainerdFacts, HostFacts};
use crate::inventory::Desired;
use crate::plan::{Action, Plan};
use crate::release::Hypervisor;

const DEFAULT_16: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/containerd/default-bookworm.toml"
));
const DEFAULT_17: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/containerd/default-trixie.toml"
));
const DEFAULT_21: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/containerd/default-sid.toml"
));

fn desired() -> Desired {
    Desired::sample()
}

fn host(version: &str, config: Option<&str>) -> HostFacts {
    let mut f = HostFacts {
        containerd: Some(ContainerdFacts {
            version: crate::facts::parse::software_version(version),
            version_text: version.into(),
            active: true,
            config: config.map(String::from),
            dump: None,
            cri_plugin: None,
        }),
        ..HostFacts::default()
    };
    if let Some(c) = config {
        f.files.insert(MAIN_CONFIG.into(), c.into());
    }
    f
}

/// The files the plan writes for containerd, by path.
fn wired(facts: &HostFacts) -> (Plan, Vec<(String, String)>) {
    let mut plan = Plan {
        manifest: facts.manifest.clone(),
        ..Plan::default()
    };
    wire(&mut plan, facts, &desired(), false).unwrap();
    let files = plan
        .changes
        .iter()
        .flat_map(|c| match &c.action {
            Action::Configure { files, .. } => files
                .iter()
                .map(|f| (f.path.clone(), f.content.clone()))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    (plan, files)
}

fn runtime<'a>(doc: &'a toml::Table, plugin: &str) -> Option<&'a toml::Value> {
    doc.get("plugins")?
        .get(plugin)?
        .get("containerd")?
        .get("runtimes")?
        .get("kata")
}

fn user_edited(default: &str) -> String {
    format!(
        "# operator: cgroups via systemd\n{}",
        default.replace("SystemdCgroup = false", "SystemdCgroup = true")
    )
}

#[test]
fn containerd_1x_is_edited_in_place_keeping_comments_and_settings() {
    for default in [DEFAULT_16, DEFAULT_17] {
        let config = user_edited(default);
        let (_, files) = wired(&host("containerd 1.7.24", Some(&config)));
        assert_eq!(files.len(), 1);
        let (path, text) = &files[0];
        assert_eq!(path, MAIN_CONFIG);
        assert!(
            text.starts_with("# operator: cgroups via systemd\n"),
            "{text}"
        );
        assert!(text.contains("SystemdCgroup = true"));
        let doc: toml::Table = text.parse().unwrap();
        let kata = runtime(&doc, "io.containerd.grpc.v1.cri").expect("kata under the v2 plugin id");
        assert_eq!(kata["runtime_type"].as_str(), Some("io.containerd.kata.v2"));
        assert_eq!(
            kata["runtime_path"].as_str(),
            Some("/opt/kata/runtime-rs/bin/containerd-shim-kata-v2")
        );
        assert_eq!(
            kata["privileged_without_host_devices"].as_bool(),
            Some(true)
        );
        assert!(kata["options"]["ConfigPath"]
            .as_str()
            .unwrap()
            .ends_with("configuration-qemu-runtime-rs.toml"));
        assert!(
            doc.get("plugins").unwrap()["io.containerd.grpc.v1.cri"]["containerd"]
                ["default_runtime_name"]
                .as_str()
                == Some("runc")
        );
    }
}

#[test]
fn applying_the_result_again_changes_nothing() {
    let config = user_edited(DEFAULT_16);
    let (_, files) = wired(&host("containerd 1.6.20", Some(&config)));
    let mut again = host("containerd 1.6.20", Some(&files[0].1));
    again.manifest.containerd_handlers = vec!["kata".into()];
    let (plan, files) = wired(&again);
    assert!(files.is_empty(), "{files:?}");
    assert!(plan.changes.is_empty());
}

#[test]
fn a_new_release_under_an_unchanged_config_still_restarts_a_running_containerd() {
    let config = user_edited(DEFAULT_16);
    let (_, files) = wired(&host("containerd 1.6.20", Some(&config)));
    let mut again = host("containerd 1.6.20", Some(&files[0].1));
    again.manifest.containerd_handlers = vec!["kata".into(), "kata-qemu".into()];
    let mut plan = Plan::default();
    wire(&mut plan, &again, &desired(), true).unwrap();
    let [change] = plan.changes.as_slice() else {
        panic!("one restart: {:?}", plan.changes);
    };
    let Action::Restart { service, health } = &change.action else {
        panic!("a restart, not {change:?}");
    };
    assert_eq!(*service, crate::plan::Service::Containerd);
    assert_eq!(health.handlers, ["kata", "kata-qemu"]);
    assert!(
        change.reason.contains("runs against Kata 4.2.0"),
        "{}",
        change.reason
    );
    // A containerd that is not running reads the release when it starts.
    again.containerd.as_mut().unwrap().active = false;
    let mut plan = Plan::default();
    wire(&mut plan, &again, &desired(), true).unwrap();
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
}

#[test]
fn a_schema_1_config_uses_the_cri_plugin_id() {
    let config = "# old style\n[plugins.cri]\n  sandbox_image = \"pause:3.6\"\n";
    let (_, files) = wired(&host("containerd 1.6.20", Some(config)));
    let doc: toml::Table = files[0].1.parse().unwrap();
    assert!(runtime(&doc, "cri").is_some(), "{}", files[0].1);
    assert_eq!(
        doc["plugins"]["cri"]["sandbox_image"].as_str(),
        Some("pause:3.6")
    );
}

#[test]
fn no_config_gets_a_minimal_one_with_the_right_version() {
    let (_, files) = wired(&host("containerd 1.6.20", None));
    let doc: toml::Table = files[0].1.parse().unwrap();
    assert_eq!(doc["version"].as_integer(), Some(2));
    assert!(runtime(&doc, "io.containerd.grpc.v1.cri").is_some());

    let (_, files) = wired(&host("containerd 2.1.9", None));
    let paths: Vec<_> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(paths, [DROPIN, MAIN_CONFIG]);
    let main: toml::Table = files[1].1.parse().unwrap();
    assert_eq!(main["version"].as_integer(), Some(3));
    assert_eq!(
        main["imports"].as_array().unwrap()[0].as_str(),
        Some(DROPIN)
    );
}

#[test]
fn containerd_2_1_gets_a_dropin_and_an_import() {
    let (_, files) = wired(&host("containerd 2.1.9", Some(DEFAULT_21)));
    let paths: Vec<_> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(paths, [DROPIN, MAIN_CONFIG]);
    let dropin: toml::Table = files[0].1.parse().unwrap();
    assert_eq!(dropin["version"].as_integer(), Some(3));
    assert!(
        runtime(&dropin, "io.containerd.cri.v1.runtime").is_some(),
        "{}",
        files[0].1
    );
    let main: toml::Table = files[1].1.parse().unwrap();
    assert_eq!(main["imports"].as_array().unwrap().len(), 1);
    assert!(
        runtime(&main, "io.containerd.cri.v1.runtime").is_none(),
        "the main file holds no runtime of ours"
    );
}

#[test]
fn containerd_2_2_needs_only_the_dropin() {
    let (_, files) = wired(&host("containerd 2.2.0", None));
    let paths: Vec<_> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(paths, [DROPIN]);
    let imports_conf_d = "version = 3\nimports = [\"/etc/containerd/conf.d/*.toml\"]\n";
    let (_, files) = wired(&host("containerd 2.2.0", Some(imports_conf_d)));
    assert_eq!(
        files.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(),
        [DROPIN]
    );
}

#[test]
fn stale_handlers_katafleet_owns_are_removed_and_foreign_ones_kept() {
    let config = format!(
        "{DEFAULT_16}\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-old]\n  runtime_type = \"io.containerd.kata.v2\"\n\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.gvisor]\n  runtime_type = \"io.containerd.runsc.v1\"\n"
    );
    let mut facts = host("containerd 1.6.20", Some(&config));
    facts.manifest.containerd_handlers = vec!["kata".into(), "kata-old".into()];
    let (plan, files) = wired(&facts);
    let doc: toml::Table = files[0].1.parse().unwrap();
    let runtimes = &doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"];
    assert!(runtimes.get("kata-old").is_none());
    assert!(runtimes.get("gvisor").is_some());
    assert!(runtimes.get("runc").is_some());
    assert_eq!(plan.manifest.containerd_handlers, ["kata", "kata-qemu"]);
}

#[test]
fn a_kata_runtime_katafleet_did_not_create_is_refused() {
    let config = format!("{DEFAULT_16}\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]\n  runtime_type = \"io.containerd.kata.v2\"\n");
    let mut plan = Plan::default();
    let err = wire(
        &mut plan,
        &host("containerd 1.6.20", Some(&config)),
        &desired(),
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("did not create"), "{err}");
}

#[test]
fn handlers_katafleet_marked_are_ours_even_when_the_manifest_was_lost() {
    // An interrupted run (or a lost manifest) left katafleet's tables with
    // no record: its mark still says whose they are, under either wording.
    let config = format!(
        "{DEFAULT_16}\n# katafleet: managed Kata runtime (katafleet uninstall removes it)\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]\n  runtime_type = \"io.containerd.kata.v2\"\n  runtime_path = \"/old/shim\"\n\n# katafleet: managed Kata runtime (recorded in /var/lib/katafleet/manifest.json)\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-fc]\n  runtime_type = \"io.containerd.kata.v2\"\n"
    );
    let facts = host("containerd 1.6.20", Some(&config));
    assert!(facts.manifest.containerd_handlers.is_empty());
    let (plan, files) = wired(&facts);
    let doc: toml::Table = files[0].1.parse().unwrap();
    let runtimes = &doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"];
    assert_ne!(runtimes["kata"]["runtime_path"].as_str(), Some("/old/shim"));
    assert!(
        runtimes.get("kata-fc").is_none(),
        "a stale marked handler goes"
    );
    assert_eq!(plan.manifest.containerd_handlers, ["kata", "kata-qemu"]);
}

#[test]
fn enable_cri_takes_cri_out_of_disabled_plugins() {
    let config = "# from containerd.io\ndisabled_plugins = [\"cri\", \"io.containerd.snapshotter.v1.zfs\"]\n";
    let facts = host("containerd 1.7.27", Some(config));
    let mut d = desired();
    d.enable_cri = true;
    let mut plan = Plan::default();
    wire(&mut plan, &facts, &d, false).unwrap();
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    let Action::Configure { files, .. } = &plan.changes[0].action else {
        panic!()
    };
    let doc: toml::Table = files[0].content.parse().unwrap();
    assert_eq!(doc["disabled_plugins"].as_array().unwrap().len(), 1);
    assert!(files[0].content.starts_with("# from containerd.io"));
}

#[test]
fn disabled_cri_is_warned_about() {
    let config = "disabled_plugins = [\"cri\"]\n";
    let (plan, _) = wired(&host("containerd 1.6.20", Some(config)));
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("Kubernetes will not see")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn effective_config_lookup_finds_runtimes_under_every_plugin_id() {
    let v2 =
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]\nruntime_type = \"x\"\n";
    let v3 = "[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.kata]\nruntime_type = \"x\"\n";
    assert!(effective_has_runtime(v2, "kata"));
    assert!(effective_has_runtime(v3, "kata"));
    assert!(!effective_has_runtime(v3, "kata-clh"));
}

#[test]
fn every_shim_gets_its_own_handler_and_config() {
    let mut d = desired();
    d.kata.shims = vec![Hypervisor::Qemu, Hypervisor::Clh, Hypervisor::Dragonball];
    let names: Vec<_> = handlers(&d)
        .into_iter()
        .map(|h| (h.name, h.config_path))
        .collect();
    let base = "/opt/kata/share/defaults/kata-containers/runtime-rs";
    assert_eq!(
        names,
        [
            (
                "kata".to_string(),
                format!("{base}/configuration-qemu-runtime-rs.toml")
            ),
            (
                "kata-qemu".to_string(),
                format!("{base}/configuration-qemu-runtime-rs.toml")
            ),
            (
                "kata-clh".to_string(),
                format!("{base}/configuration-clh-runtime-rs.toml")
            ),
            (
                "kata-dragonball".to_string(),
                format!("{base}/configuration-dragonball.toml")
            ),
        ]
    );
}

#[test]
fn containerd_1x_keeps_its_default_runtime_when_the_file_lacks_it() {
    // Debian's config.toml names no runtime; containerd 1.x replaces its
    // built-in runtimes with the file's, so runc must be spelled out.
    let debian = "version = 2\n\n[plugins]\n  [plugins.\"io.containerd.grpc.v1.cri\"]\n    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n      bin_dir = \"/usr/lib/cni\"\n";
    let mut facts = host("containerd 1.6.20", Some(debian));
    facts.containerd.as_mut().unwrap().dump = Some(DEFAULT_16.to_string());
    let (_, files) = wired(&facts);
    let doc: toml::Table = files[0].1.parse().unwrap();
    let runtimes = &doc["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"];
    assert_eq!(
        runtimes["runc"]["runtime_type"].as_str(),
        Some("io.containerd.runc.v2")
    );
    assert!(
        runtimes["runc"]["options"].get("SystemdCgroup").is_some(),
        "copied whole from the dump"
    );
    // With the user's own runc, nothing is added.
    let (_, files) = wired(&host("containerd 1.6.20", Some(DEFAULT_16)));
    assert_eq!(files[0].1.matches("runtimes.runc]").count(), 1);
}
