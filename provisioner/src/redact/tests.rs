use base64::Engine;

use super::*;

const PASSWORD: &str = "hunter2-Secret!";
const AUTH: &str = "dXNlcjpodW50ZXIyLVNlY3JldCE=";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.identity";

/// A containerd 1.x config with registry credentials, as users write them.
fn containerd_config() -> String {
    format!(
        r#"version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".registry.configs."reg.example.com".auth]
  username = "robot$ci"
  password = "{PASSWORD}"
  auth = "{AUTH}"
  identitytoken = '{TOKEN}'
[plugins."io.containerd.grpc.v1.cri".registry.configs."other".auth]
  Password="{PASSWORD}"
[plugins."io.containerd.grpc.v1.cri".registry.headers]
  Authorization = ["Basic {AUTH}"]
[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
  endpoint = ["https://mirror:{PASSWORD}@mirror.example.com"]
"#
    )
}

fn assert_clean(out: &str) {
    for secret in [PASSWORD, AUTH, TOKEN, "robot$ci"] {
        assert!(!out.contains(secret), "{secret} leaked in:\n{out}");
    }
}

#[test]
fn containerd_registry_credentials_are_masked_and_the_rest_kept() {
    let out = text(&containerd_config());
    assert_clean(&out);
    assert!(out.contains("  password = \"<redacted>\"\n"), "{out}");
    assert!(out.contains("  identitytoken = '<redacted>'\n"), "{out}");
    assert!(out.contains("Authorization = [<redacted>]"), "{out}");
    assert!(
        out.contains("https://mirror:<redacted>@mirror.example.com"),
        "{out}"
    );
    assert!(out.contains("default_runtime_name = \"runc\""), "{out}");
    assert!(out.contains(".auth]"), "table headers stay: {out}");
    // Masking again changes nothing.
    assert_eq!(text(&out), out);
}

#[test]
fn json_daemon_json_and_json_inside_json_are_masked() {
    let daemon = format!(
        r#"{{"proxies":{{"http-proxy":"http://ops:{PASSWORD}@proxy:3128"}},"registry-auth":{{"password": "{PASSWORD}","auth":"{AUTH}"}},"runtimes":{{}}}}"#
    );
    let out = text(&daemon);
    assert_clean(&out);
    assert!(out.contains("\"runtimes\":{}"), "{out}");
    // The plan's JSON holds file contents as JSON strings.
    let nested =
        serde_json::to_string(&serde_json::json!({ "content": containerd_config() })).unwrap();
    let out = text(&nested);
    assert_clean(&out);
    assert!(out.contains(r#"password = \"<redacted>\""#), "{out}");
}

#[test]
fn a_masked_value_is_masked_wherever_else_it_appears() {
    let out = text(&format!(
        "password = \"{PASSWORD}\"\ncontainerd: failed to parse {PASSWORD} near line 6\n"
    ));
    assert_clean(&out);
    assert!(out.contains("failed to parse <redacted> near"), "{out}");
}

#[test]
fn multi_line_strings_and_odd_text_do_not_break_it() {
    let out = text(&format!("password = \"\"\"\n{PASSWORD}\n\"\"\"\nx = 1\n"));
    assert_clean(&out);
    assert!(out.ends_with("\"\"\"\nx = 1\n"), "{out}");
    for odd in [
        "password",
        "password =",
        "auth: ",
        "é password = \"é\\",
        "token=\"\\é",
        "::",
    ] {
        let _ = text(odd);
    }
    // Keys that only look like secrets are left alone.
    let plain = "password_file = \"/etc/x\"\nauthority = \"ca\"\nruntime_type = \"io.containerd.kata.v2\"\n";
    assert_eq!(text(plain), plain);
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

#[test]
fn transcripts_are_decoded_masked_and_encoded_again() {
    let transcript = format!(
        "@@katafleet-probe 1\n@@kv uid 0\n@@file containerd-config\n{}\n@@end\n@@block crictl-info 0\n{}\n@@end\n@@end-probe\n",
        b64(&containerd_config()),
        b64(&format!("{{\"registry\":{{\"auths\":{{\"r\":{{\"password\":\"{PASSWORD}\"}}}}}}}}"))
    );
    let out = crate::run::log::masked(&transcript);
    assert_clean(&out);
    assert!(!out.contains(&b64(PASSWORD)), "{out}");
    // Still the wire protocol, with masked files inside.
    let parsed = crate::script::wire::Output::parse(&out).unwrap();
    assert!(parsed.block("crictl-info").unwrap().output.contains(MASK));
    let markers = crate::script::wire::parse(&out).unwrap();
    let config = markers
        .iter()
        .find_map(|m| match m {
            crate::script::wire::Marker::File { content, .. } => Some(content.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(config, text(&containerd_config()));
}

#[test]
fn file_payloads_in_scripts_are_elided() {
    let content = containerd_config();
    let script = format!(
        "kf_keep '/etc/containerd/config.toml'\nif ! {{ kf_backup_once '/etc/it'\\''s' && kf_put '/etc/it'\\''s' 644 {}; }}; then exit 1; fi\nkf_put '/var/lib/katafleet/manifest.json' 644 {} || kf_warn 'x'\n",
        b64(&content),
        b64("{}")
    );
    let out = crate::run::log::masked(&script);
    assert_clean(&out);
    assert!(!out.contains(&b64(&content)), "{out}");
    assert!(
        out.contains("kf_put '/etc/it'\\''s' 644 <payload of about"),
        "{out}"
    );
    assert!(out.contains("; }; then exit 1; fi"), "{out}");
    assert!(out.contains("kf_warn 'x'"), "{out}");
}

const FRESH: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/facts/debian12-nspawn.txt"
));

/// The fixture probe output of a Debian 12 host, with registry credentials
/// added to its containerd config (and to the dump containerd prints).
fn transcript_with_credentials() -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out = String::new();
    let mut lines = FRESH.lines();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        if line == "@@file containerd-config" || line == "@@file containerd-dump" {
            let mut b64 = String::new();
            for l in lines.by_ref() {
                if l == "@@end" {
                    break;
                }
                b64.push_str(l);
            }
            let mut text = String::from_utf8(engine.decode(b64).unwrap()).unwrap();
            text.push_str(&format!(
                "\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"reg.example.com\".auth]\n  username = \"robot$ci\"\n  password = \"{PASSWORD}\"\n  auth = \"{AUTH}\"\n  identitytoken = \"{TOKEN}\"\n"
            ));
            out.push_str(&engine.encode(text));
            out.push_str("\n@@end\n");
        }
    }
    out
}

/// Plan text, plan JSON, the apply script's log and the facts' log of a
/// host whose containerd config holds a registry password: none has it.
#[test]
fn a_host_with_registry_credentials_leaks_them_nowhere() {
    use crate::inventory::Desired;
    use crate::plan::{plan, PlanOptions};
    use crate::run::pipeline::{HostReport, HostStatus};

    let transcript = transcript_with_credentials();
    let facts = crate::facts::parse::parse(&transcript).unwrap();
    assert!(
        facts
            .file("/etc/containerd/config.toml")
            .unwrap()
            .contains(PASSWORD),
        "the fixture carries the password"
    );
    let mut desired = Desired::sample();
    desired.kata.sha256 = Some("0".repeat(64).parse().unwrap());
    let p = plan(&facts, &desired, PlanOptions { force: true }).unwrap();
    let config = p
        .changes
        .iter()
        .find_map(|c| match &c.action {
            crate::plan::Action::Configure { files, .. } => {
                files.iter().find(|f| f.content.contains(PASSWORD))
            }
            _ => None,
        })
        .expect("the plan rewrites config.toml, password and all");
    let script = crate::script::apply::render(&p, None, "0.0.0");
    assert!(script.contains(&crate::script::quote(&config.content)));

    let report = HostReport {
        name: "h".into(),
        os: "Debian".into(),
        status: HostStatus::Changed,
        changed: p.changes.len(),
        error: None,
        warnings: Vec::new(),
        elapsed: std::time::Duration::ZERO,
        plan: Some(p.clone()),
        facts: None,
        kata_before: None,
        log: String::new(),
    };
    let shown = [
        (
            "plan text",
            crate::report::plan_text(std::slice::from_ref(&report)),
        ),
        (
            "plan JSON",
            crate::report::provision_json(std::slice::from_ref(&report)),
        ),
        ("logged plan", serde_json::to_string_pretty(&p).unwrap()),
        ("logged script", crate::run::log::masked(&script)),
        ("logged facts", crate::run::log::masked(&transcript)),
    ];
    for (what, out) in &shown {
        for secret in [PASSWORD, AUTH, TOKEN] {
            assert!(!out.contains(secret), "{secret} in the {what}");
        }
        assert!(!out.contains(&b64(PASSWORD)), "base64 of it in the {what}");
    }
    // The diff still says what changes.
    assert!(
        shown[0]
            .1
            .contains("+[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]"),
        "{}",
        shown[0].1
    );
    assert!(
        shown[0].1.contains("password = \"<redacted>\""),
        "{}",
        shown[0].1
    );
}
