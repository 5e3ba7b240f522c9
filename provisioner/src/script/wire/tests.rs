use super::*;

fn sh(script: &str) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(crate::script::with_prelude(script))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn blocks_values_and_repeats() {
    let text = "noise\n@@block ctr-plugins 0\naGVsbG8K\n@@end\n@@kv since 1700000000\n@@block run 1\nYQ==\n@@end\n@@block run 0\nYg==\n@@end\n";
    let o = Output::parse(text).unwrap();
    assert_eq!(o.block("ctr-plugins").unwrap().output, "hello\n");
    assert!(o.block("ctr-plugins").unwrap().ok());
    assert_eq!(o.value("since"), Some("1700000000"));
    assert_eq!(o.block("run").unwrap().exit, 1);
    assert_eq!(o.block("run#2").unwrap().output, "b");
    assert_eq!(o.order, ["ctr-plugins", "run", "run#2"]);
}

#[test]
fn every_prelude_helper_speaks_the_protocol_the_parser_reads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, "x\n").unwrap();
    let out = sh(&format!(
        "kf_block greet sh -c 'echo hi; echo oops >&2; exit 3'\n\
         kf_kv k 'a\nb'\n\
         kf_file f {}\n\
         kf_begin 2; kf_report 2 warn 'two\nlines'; kf_warn 'manifest not recorded'\n",
        crate::script::quote(&file.display().to_string())
    ));
    let markers = parse(&out).unwrap();
    assert_eq!(
        markers,
        [
            Marker::Block {
                name: "greet".into(),
                exit: 3,
                output: "hi\noops\n".into()
            },
            Marker::Value {
                key: "k".into(),
                value: "a b".into()
            },
            Marker::File {
                name: "f".into(),
                content: "x\n".into()
            },
            Marker::Begin { step: 2 },
            Marker::Step {
                step: 2,
                status: StepStatus::Warn,
                message: "two lines".into()
            },
            Marker::Warn {
                message: "manifest not recorded".into()
            },
        ]
    );
}

#[test]
fn an_unknown_marker_is_an_error_not_silence() {
    assert_eq!(
        parse("@@kv a b\n@@frobnicate 1\n").unwrap_err(),
        WireError::Unknown("@@frobnicate".into())
    );
}

#[test]
fn malformed_cut_off_and_undecodable_blocks_are_errors() {
    assert!(matches!(
        parse("@@step x changed y\n"),
        Err(WireError::Malformed { .. })
    ));
    assert!(matches!(
        parse("@@step 1 exploded y\n"),
        Err(WireError::Malformed { .. })
    ));
    assert_eq!(
        parse("@@file os-release\naGVsbG8K\n").unwrap_err(),
        WireError::Unterminated("os-release".into())
    );
    assert_eq!(
        parse("@@block b 0\n!!!\n@@end\n").unwrap_err(),
        WireError::BadBase64("b".into())
    );
}

#[test]
fn stray_output_is_not_protocol() {
    let m = parse("hello\nkey=value\n@@end-probe\n").unwrap();
    assert_eq!(m, [Marker::ProbeEnd]);
}

#[test]
fn bench_and_after_facts() {
    let m = parse("@@bench runc 200000\n@@after-facts\n@@katafleet-probe 1\n").unwrap();
    assert_eq!(
        m,
        [
            Marker::Bench {
                label: "runc".into(),
                micros: 200000
            },
            Marker::AfterFacts,
            Marker::ProbeStart { version: 1 },
        ]
    );
}

#[test]
fn contents_are_mapped_and_encoded_again() {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let text = format!(
        "@@kv a b\n@@file f\n{}\n@@end\n@@block b 0\n{}\n@@end\nstray\n",
        b64("secret\n"),
        b64("out")
    );
    assert_eq!(map_contents(&text, |s| s.to_string()), text);
    let mapped = map_contents(&text, |s| s.replace("secret", "******"));
    let out = Output::parse(&mapped).unwrap();
    assert_eq!(out.block("b").unwrap().output, "out");
    let file = parse(&mapped)
        .unwrap()
        .into_iter()
        .find_map(|m| match m {
            Marker::File { content, .. } => Some(content),
            _ => None,
        })
        .unwrap();
    assert_eq!(file, "******\n");
    assert!(mapped.ends_with("@@end\nstray\n"), "{mapped}");
}
