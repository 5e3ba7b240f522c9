//! The helpers that write bytes on a host, run for real under `sh` in a
//! temporary directory. `kf_put`, the atomic write every changing script
//! uses: the content arrives byte for byte, new files get their mode,
//! existing ones keep theirs, and a temp name that is already taken (even
//! by a symlink) is never written through. `kf_bytes`, which takes the
//! release off stdin: exactly its bytes, never one of what follows.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use super::{put_cmd, quote};

/// The text of each named function of the changing scripts' helpers, from
/// `NAME() {` to its closing `}` at the start of a line.
pub(super) fn functions(names: &[&str]) -> String {
    let source = super::CHANGE_HELPERS;
    let mut out = String::new();
    for name in names {
        let start = source
            .find(&format!("\n{name}() {{"))
            .unwrap_or_else(|| panic!("{name} is not among the helpers"));
        let body = &source[start + 1..];
        let end = body.find("\n}\n").expect("the function ends") + 3;
        out.push_str(&body[..end]);
    }
    out
}

/// Runs `body` after the write helpers, in `dir`, with the system's PATH.
fn run(dir: &std::path::Path, body: &str) -> std::process::Output {
    let script = format!(
        "set -u\numask 022\nkf_seq=0\nKF_RUN={run}\n{}\n{body}",
        functions(&[
            "kf_unseen",
            "kf_rm",
            "kf_parent",
            "kf_parents",
            "kf_put",
            "kf_put_b64",
            "kf_put_ours",
            "kf_put_open",
            "kf_put_close",
            "kf_bytes"
        ]),
        run = quote(&dir.display().to_string()),
    );
    Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("run /bin/sh")
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .expect("the file")
        .permissions()
        .mode()
        & 0o7777
}

fn path_in(dir: &std::path::Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn content_arrives_byte_for_byte_and_new_files_get_their_mode() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let text = format!(
        "it's $(echo x >{m}) `echo x >{m}` \\n %s\n\n",
        m = marker.display()
    );
    let nul = "a\0b\n";
    let body = [
        put_cmd(&path_in(dir.path(), "sub/plain"), 0o644, &text),
        put_cmd(&path_in(dir.path(), "secret"), 0o600, &text),
        put_cmd(&path_in(dir.path(), "nul"), 0o644, nul),
    ]
    .join(" && ")
        + " && echo done";
    assert!(body.contains("kf_put_b64 "), "NUL content goes as base64");
    let out = run(dir.path(), &body);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "done\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!marker.exists(), "the content ran as code");
    let plain = dir.path().join("sub/plain");
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), text);
    assert_eq!(mode(&plain), 0o644);
    assert_eq!(mode(&dir.path().join("secret")), 0o600);
    assert_eq!(
        std::fs::read(dir.path().join("nul")).unwrap(),
        nul.as_bytes()
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".katafleet."))
        .collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
}

#[test]
fn an_existing_file_keeps_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conf");
    std::fs::write(&file, "old\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = run(
        dir.path(),
        &put_cmd(&file.display().to_string(), 0o644, "new\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "new\n");
    assert_eq!(mode(&file), 0o640);
}

/// The script's own temp name already exists: a file is left alone, and a
/// symlink is not followed; mktemp gives another name, and the new file
/// still gets mode 644 (mktemp makes 600).
#[test]
fn a_taken_temp_name_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    let target = path_in(dir.path(), "conf");
    let other = path_in(dir.path(), "other");
    let body = format!(
        "ln -s {victim} \"$PWD/.katafleet.$$.1\" && echo kept >\"$PWD/.katafleet.$$.2\" && {} && {} && cat \"$PWD/.katafleet.$$.2\"",
        put_cmd(&target, 0o644, "one\n"),
        put_cmd(&other, 0o644, "two\n"),
        victim = quote(&victim.display().to_string()),
    );
    let out = run(dir.path(), &body);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "kept\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "one\n");
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "two\n");
    assert_eq!(mode(dir.path().join("conf").as_path()), 0o644);
    assert_eq!(mode(dir.path().join("other").as_path()), 0o644);
}

/// Through a pipe whose first read comes short (1000 bytes, then a pause),
/// as from sshd: every size around dd's 64 KiB block, and what follows on
/// stdin is left for the next reader.
#[test]
fn kf_bytes_takes_exactly_its_count_off_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join("data"), &data).unwrap();
    for n in [0usize, 1, 65_535, 65_536, 65_537, 200_000] {
        let body = format!(
            "{{ head -c 1000 data; sleep 0.1; tail -c +1001 data; printf REST; }} | {{ kf_bytes {n} >got; head -c 16 >next; }}"
        );
        let out = run(dir.path(), &body);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = std::fs::read(dir.path().join("got")).unwrap();
        assert!(got == data[..n], "{n} bytes asked, {} got", got.len());
        let next = std::fs::read(dir.path().join("next")).unwrap();
        assert_eq!(next, [&data[n..], b"REST"].concat()[..16], "after {n}");
    }
}

/// katafleet's own record is 644 whatever the file it replaces was.
#[test]
fn katafleets_own_files_are_644_whatever_was_there() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.json");
    std::fs::write(&file, "{}").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let body = format!(
        "kf_put_ours {} '{{\"files\": {{}}}}'",
        quote(&file.display().to_string())
    );
    let out = run(dir.path(), &body);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{\"files\": {}}");
    assert_eq!(mode(&file), 0o644);
}

#[test]
fn kf_parents_makes_only_the_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("there")).unwrap();
    let a = path_in(dir.path(), "a b/c/file");
    let there = path_in(dir.path(), "there/file");
    let odd = path_in(dir.path(), "it's $(x)/file");
    let body = format!(
        "kf_parents {} {} {} && echo made",
        quote(&a),
        quote(&there),
        quote(&odd)
    );
    let out = run(dir.path(), &body);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "made\n", "{out:?}");
    assert!(dir.path().join("a b/c").is_dir() && dir.path().join("it's $(x)").is_dir());
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a b", "it's $(x)", "there"]);
    // Nothing missing: no mkdir is run at all (there is none on this PATH).
    let out = run(
        dir.path(),
        &format!(
            "PATH=/nonexistent kf_parents {} && echo none",
            quote(&there)
        ),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "none\n", "{out:?}");
}
