//! The only code that writes shell for hosts or reads what that shell
//! prints. Every script starts with one prelude (`prelude.sh`), quotes every
//! value with [`quote`], and speaks one protocol ([`wire`]).

pub mod apply;
pub mod daemons;
pub mod nixos;
pub mod probe;
pub mod proof;
mod service;
pub mod wire;

use base64::Engine;

use crate::plan::FileWrite;

/// Helpers and the wire protocol's shell side; every script begins with it.
pub const PRELUDE: &str = include_str!("prelude.sh");

/// Single-quotes a word for sh, so no value can become code.
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Base64 of a text, for payloads embedded in a script.
pub fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
}

/// The prelude plus the apply and undo helpers: how every script that
/// changes a host begins. They end with [`HELPERS_END`], so a script can
/// copy them for a later run of its own (the NixOS rollback deadline).
pub fn changing_script() -> String {
    with_prelude(&format!("{CHANGE_HELPERS}{HELPERS_END}\n"))
}

/// The helpers of every script that changes a host, in the order they run.
pub(crate) const CHANGE_HELPERS: &str = concat!(
    include_str!("apply.sh"),
    include_str!("files.sh"),
    include_str!("nixos.sh"),
    include_str!("undo.sh")
);

/// The last line of [`changing_script`].
pub(crate) const HELPERS_END: &str = "# katafleet: end of the helpers";

/// After the controller verified the host: the run's transaction goes (on
/// NixOS, once the activated system is the boot default).
pub fn commit_script() -> String {
    format!(
        "{}kf_begin 1\nif ! kf_out=$(kf_txn_commit 2>&1); then kf_report 1 failed \"$kf_out\"; exit 1; fi\nkf_report 1 ok 'verified; the previous state is no longer kept'\n",
        changing_script()
    )
}

/// After verification failed (or an upgrade broke off): everything the run
/// changed goes back, and a daemon the new release kept down starts again.
pub fn revert_script() -> String {
    format!(
        "{}kf_begin 1\nkf_restarted=$(cat \"$KF_TXN/services\" 2>/dev/null)\nif ! kf_out=$(kf_txn_revert 2>&1); then kf_report 1 failed \"putting the previous state back failed: $kf_out\"; exit 1; fi\n{START_AGAIN}# shellcheck disable=SC2086 # one unit name per line\nif ! kf_out=$(kf_start_again $kf_restarted); then kf_report 1 failed \"the previous state is back, but $kf_out\"; exit 1; fi\nkf_report 1 changed 'put back every file, the release tree (or NixOS system) and the record as they were before this run'\n",
        changing_script()
    )
}

/// Each daemon the run restarted (`$@`) that is down after the revert (the
/// release put back out is what kept it down) starts again with the old one.
const START_AGAIN: &str = r#"kf_start_again() {
    kf_rc=0
    for kf_u in "$@"; do
        [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] || continue
        systemctl is-active --quiet "$kf_u" && continue
        case $kf_u in
            containerd) kf_containerd_restart 0 >/dev/null 2>&1 || { echo "containerd did not start again with the old release"; kf_rc=1; } ;;
            *) { systemctl reset-failed "$kf_u"; timeout 90 systemctl start "$kf_u"; } >/dev/null 2>&1 || { echo "$kf_u did not start again"; kf_rc=1; } ;;
        esac
    done
    return "$kf_rc"
}
"#;

/// Atomic write of one file (backed up once first when it is the user's).
pub(crate) fn write_cmds(w: &FileWrite) -> String {
    let backup = if w.backup {
        format!("kf_backup_once {} && ", quote(&w.path))
    } else {
        String::new()
    };
    format!("{backup}{}", put_cmd(&w.path, w.mode, &w.content))
}

/// `kf_put PATH MODE 'TEXT'`: the content quoted as it is, which the host
/// writes without a fork; `kf_put_b64` with base64 for content that a shell
/// word cannot hold (a NUL byte).
pub(crate) fn put_cmd(path: &str, mode: u32, content: &str) -> String {
    if content.contains('\0') {
        format!("kf_put_b64 {} {mode:o} {}", quote(path), b64(content))
    } else {
        format!("kf_put {} {mode:o} {}", quote(path), quote(content))
    }
}

/// `script` with the content of every `kf_put 'PATH' MODE 'TEXT'` (or
/// `kf_put_b64 'PATH' MODE BASE64`) replaced by a note of its size: what
/// the run's log keeps of a script (the plan in the same log shows each
/// file's content, masked).
pub fn elide_payloads(script: &str) -> String {
    const PUT: &str = "kf_put";
    if !script.contains(PUT) {
        return script.to_string();
    }
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(at) = rest.find(PUT) {
        let (head, tail) = rest.split_at(at + PUT.len());
        out.push_str(head);
        rest = tail;
        let Some(args) = rest
            .strip_prefix(' ')
            .map(|a| (1, a))
            .or_else(|| rest.strip_prefix("_b64 ").map(|a| (5, a)))
        else {
            continue;
        };
        let (skip, args) = args;
        let Some(path_len) = quoted_len(args) else {
            continue;
        };
        let Some(mode_len) = args[path_len..]
            .strip_prefix(' ')
            .map(|m| m.find(|c: char| !c.is_ascii_digit()).unwrap_or(m.len()))
            .filter(|n| *n > 0)
        else {
            continue;
        };
        let payload_at = path_len + 1 + mode_len;
        let Some(payload) = args[payload_at..].strip_prefix(' ') else {
            continue;
        };
        let Some((len, bytes)) = payload_len(payload) else {
            continue;
        };
        out.push_str(&rest[..skip + payload_at + 1]);
        out.push_str(&format!("<payload of about {bytes} bytes elided>"));
        rest = &payload[len..];
    }
    out.push_str(rest);
    out
}

/// The length of the content word at the start of `s`, quoted or base64,
/// and about how many bytes it holds.
fn payload_len(s: &str) -> Option<(usize, usize)> {
    if let Some(len) = quoted_len(s) {
        return Some((len, s[..len].replace("'\\''", "'").len() - 2));
    }
    let len = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c)))
        .unwrap_or(s.len());
    (len > 0).then_some((len, len / 4 * 3))
}

/// The length of a word as [`quote`] writes it at the start of `s`.
fn quoted_len(s: &str) -> Option<usize> {
    if !s.starts_with('\'') {
        return None;
    }
    let mut i = 1;
    loop {
        let close = i + s[i..].find('\'')?;
        if s[close..].starts_with("'\\''") {
            i = close + 4;
        } else {
            return Some(close + 1);
        }
    }
}

/// A script: the prelude, then `body`.
pub fn with_prelude(body: &str) -> String {
    format!("{PRELUDE}\n{body}")
}

#[cfg(test)]
mod hostile;
#[cfg(test)]
mod put_tests;
#[cfg(test)]
mod restart_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_payloads_are_elided_and_the_rest_kept() {
        let w = FileWrite {
            path: "/etc/it's".into(),
            content: "password = \"x\"\n".into(),
            mode: 0o644,
            backup: true,
        };
        let script = format!(
            "{}; then exit 1; fi\nkf_put /unquoted 644 abc\n",
            write_cmds(&w)
        );
        let out = elide_payloads(&script);
        assert!(!out.contains(&b64(&w.content)), "{out}");
        assert_eq!(
            out,
            "kf_backup_once '/etc/it'\\''s' && kf_put '/etc/it'\\''s' 644 <payload of about 15 bytes elided>; then exit 1; fi\nkf_put /unquoted 644 abc\n"
        );
    }

    #[test]
    fn the_revert_script_is_valid_sh() {
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", &revert_script()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn quoting_survives_single_quotes_and_shell_syntax() {
        assert_eq!(quote("it's"), "'it'\\''s'");
        for hostile in ["$(touch /tmp/x)", "`id`", "a;b", "a\nb", "--all", "'\"'"] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s' {}", quote(hostile)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), hostile);
        }
    }
}
