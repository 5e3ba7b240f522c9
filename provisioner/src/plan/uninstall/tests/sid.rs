//! Uninstall on sid: containerd 2.1 with an `imports` entry and a
//! drop-in, and Docker with katafleet's runtimes in daemon.json.

use super::*;

/// sid: containerd 2.1 with katafleet's drop-in and `imports` entry, and a
/// daemon.json katafleet created.
fn sid() -> HostFacts {
    let mut f = provisioned();
    let main_now = format!("imports = [\"{DROPIN}\"]\n{ORIGINAL}");
    let dropin = "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kata]\n";
    let daemon = "{\n  \"runtimes\": {\n    \"kata\": {},\n    \"kata-qemu\": {}\n  }\n}\n";
    f.manifest.files.remove(MAIN_CONFIG);
    for (path, content, created) in [
        (MAIN_CONFIG, main_now.as_str(), false),
        (DROPIN, dropin, true),
        (DAEMON_JSON, daemon, true),
    ] {
        f.files.insert(path.into(), content.into());
        f.managed_digests.insert(path.into(), Some(sha(content)));
        f.manifest.files.insert(
            path.into(),
            ManagedFile {
                sha256: sha(content),
                created,
                backup: (!created).then(|| backup_path(path)),
            },
        );
    }
    f.manifest.docker_runtimes = vec!["kata".into(), "kata-qemu".into()];
    f.docker = Some(DockerFacts {
        active: true,
        daemon_json: Some(daemon.into()),
        ..DockerFacts::default()
    });
    f
}

#[test]
fn containerd_2_loses_the_import_and_the_dropin_in_one_step_and_docker_its_runtimes() {
    let plan = run(&sid());
    assert_eq!(
        kinds(&plan)[..2],
        ["unwire containerd", "unwire docker"],
        "{:?}",
        kinds(&plan)
    );
    let Action::Unwire { files, .. } = &plan.changes[0].action else {
        unreachable!()
    };
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [MAIN_CONFIG, DROPIN],
        "the import goes with the drop-in it names, before containerd restarts (kata-containers#13141)"
    );
    let Action::Unwire {
        files,
        gone,
        validation,
        interim,
        ..
    } = &plan.changes[1].action
    else {
        unreachable!()
    };
    assert_eq!(files[0].undo, Undo::Remove);
    assert_eq!(gone, &["kata", "kata-qemu"]);
    assert_eq!(validation, &Validation::None);
    assert_eq!(
        interim.as_ref().map(|w| w.content.as_str()),
        Some("{\n  \"runtimes\": {}\n}\n"),
        "dockerd keeps runtimes a reloaded file does not name, so it reloads with none first"
    );
    assert!(plan.changes[1].reason.contains("reload dockerd"));
}

#[test]
fn dockerd_reloads_with_the_users_keys_and_no_runtimes_before_the_original_goes_back() {
    let mut facts = sid();
    let original = "{\n  \"log-level\": \"warn\"\n}\n";
    let record = facts.manifest.files.get_mut(DAEMON_JSON).unwrap();
    record.created = false;
    record.backup = Some(backup_path(DAEMON_JSON));
    facts.footprint.backups.insert(
        DAEMON_JSON.into(),
        Backup {
            content: original.into(),
            sha256: sha(original),
        },
    );
    let interim = |facts: &HostFacts| match &run(facts).changes[1].action {
        Action::Unwire { interim, .. } => interim.as_ref().map(|w| w.content.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        interim(&facts).as_deref(),
        Some("{\n  \"log-level\": \"warn\",\n  \"runtimes\": {}\n}\n")
    );
    // An original with runtimes of its own is reloaded as it is.
    let own = "{\"runtimes\": {\"crun\": {\"path\": \"/usr/bin/crun\"}}}\n";
    facts
        .footprint
        .backups
        .get_mut(DAEMON_JSON)
        .unwrap()
        .content = own.into();
    facts.footprint.backups.get_mut(DAEMON_JSON).unwrap().sha256 = sha(own);
    assert_eq!(interim(&facts), None);
}

#[test]
fn a_changed_daemon_json_names_katafleets_runtimes() {
    let mut facts = sid();
    let edited = "{\n  \"debug\": true,\n  \"runtimes\": {\n    \"kata\": {}\n  }\n}\n";
    drift(&mut facts, DAEMON_JSON, edited);
    facts.manifest.files.get_mut(DAEMON_JSON).unwrap().created = false;
    facts.manifest.files.get_mut(DAEMON_JSON).unwrap().backup = Some(backup_path(DAEMON_JSON));
    let why = refusal(&facts);
    assert!(
        why.contains("/etc/docker/daemon.json changed since katafleet wrote it")
            && why.contains("`runtimes.kata`")
            && !why.contains("`runtimes.kata-qemu`"),
        "{why}"
    );
}

#[test]
fn the_script_puts_files_back_checked_and_writes_no_record_once_the_state_is_gone() {
    let plan = run(&sid());
    let script = crate::script::apply::render(&plan, None, "0.0.0-test");
    let checked = format!(
        "kf_unchanged '/etc/containerd/config.toml' '{}'",
        plan.changes[0].action_sha()
    );
    let put_back = format!(
        "kf_put_back '/etc/containerd/config.toml' '/var/lib/katafleet/backup/etc/containerd/config.toml' '{}'",
        sha(ORIGINAL)
    );
    let (at_check, at_put) = (
        script.find(&checked).unwrap(),
        script.find(&put_back).unwrap(),
    );
    assert!(at_check < at_put, "checked before it is put back");
    assert!(script.contains("kf_containerd_lacks 'kata' 'kata-qemu'"));
    assert!(script.contains("kf_docker_lacks 'kata' 'kata-qemu'"));
    let forget = script.find("kf_out=$(kf_forget").unwrap();
    assert!(
        !script[forget..].contains("kf_record"),
        "{}",
        &script[forget..]
    );
    assert!(!script[forget..].contains("last-provision"));
    let out = std::process::Command::new("sh")
        .arg("-n")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Change {
    /// The planned sha256 of the first file of an Unwire step.
    fn action_sha(&self) -> String {
        match &self.action {
            Action::Unwire { files, .. } => files[0].sha256.clone().unwrap_or_default(),
            _ => String::new(),
        }
    }
}
