//! The cipher a connection prefers. ssh's default list starts with
//! chacha20-poly1305; where the controller's CPU has AES instructions,
//! AES-GCM (also in that default list, also authenticated encryption) costs
//! about half the CPU per byte at both ends, and every byte of the release
//! crosses the connection (50 MiB here: controller 117 → 63 ms, host
//! 270 → 205 ms). It is moved to the front only where the user's and the
//! system's ssh config leave `Ciphers` at ssh's default, so a choice made
//! there wins; the rest of the list stays, so a host without AES-GCM still
//! agrees on a cipher. Whether a config names `Ciphers` is read from the
//! config files themselves where they plainly do not (most fleets): one
//! `ssh -G` per host costs the controller about 5 ms.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;
use tokio::sync::OnceCell;

/// Moved to the front, in this order.
const PREFERRED: [&str; 2] = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"];

/// The `Ciphers=` option for a connection whose ssh config evaluation takes
/// `config_args` then `address`, or `None` to leave ssh's choice alone.
pub async fn option(config_args: &[OsString], address: &str) -> Option<String> {
    if !cpu_has_aes() {
        return None;
    }
    let default = ssh_default().await.as_ref()?;
    let plain = config_files(config_args).is_some_and(|files| {
        !files
            .iter()
            .any(|(file, base)| may_set_ciphers(file, base, 0))
    });
    if plain {
        return reordered(default, default);
    }
    let effective = effective(config_args, address).await?;
    reordered(default, &effective)
}

/// The files ssh reads its config from, each with the directory its
/// relative `Include`s start from (with `-F`, only that file), or `None`
/// when the home directory ssh uses is not plain.
fn config_files(config_args: &[OsString]) -> Option<Vec<(PathBuf, PathBuf)>> {
    let home = home()?;
    let given = config_args
        .windows(2)
        .rev()
        .find(|w| w[0] == "-F")
        .map(|w| PathBuf::from(&w[1]));
    Some(match given {
        Some(file) => vec![(file, home.join(".ssh"))],
        None => vec![
            (home.join(".ssh/config"), home.join(".ssh")),
            (
                PathBuf::from("/etc/ssh/ssh_config"),
                PathBuf::from("/etc/ssh"),
            ),
        ],
    })
}

/// The home directory ssh reads `~/.ssh/config` from: the user's entry in
/// /etc/passwd (ssh does not look at $HOME), and only while $HOME agrees,
/// so that `home()` and `~` mean the same to katafleet and to ssh. Linux
/// only (the uid comes from /proc): elsewhere `ssh -G` decides.
fn home() -> Option<PathBuf> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let dir = passwd.lines().find_map(|l| {
        let fields: Vec<&str> = l.split(':').collect();
        (fields.len() >= 7 && fields[2] == uid).then(|| PathBuf::from(fields[5]))
    })?;
    (std::env::var_os("HOME").map(PathBuf::from) == Some(dir.clone())).then_some(dir)
}

/// Whether `file`, or a file it includes, may set `Ciphers`. What cannot
/// be read plainly counts as yes (then `ssh -G` decides): quoted words, a
/// pattern in an included directory's name, includes nested too deep. A
/// pattern in a file name stands for every file in that directory.
fn may_set_ciphers(file: &Path, base: &Path, depth: usize) -> bool {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
        Err(_) => return true,
    };
    if depth > 8 {
        return true;
    }
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) = line
            .split_once(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or((line, ""));
        if key.eq_ignore_ascii_case("ciphers") || key.contains('"') {
            return true;
        }
        if !key.eq_ignore_ascii_case("include") {
            continue;
        }
        let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '=');
        for word in rest.split_whitespace() {
            if word.contains('"') {
                return true;
            }
            if included(word, base)
                .is_none_or(|files| files.iter().any(|f| may_set_ciphers(f, base, depth + 1)))
            {
                return true;
            }
        }
    }
    false
}

/// The files an `Include` word may name, or `None` when that is unclear.
fn included(word: &str, base: &Path) -> Option<Vec<PathBuf>> {
    let path = match word.strip_prefix("~/") {
        Some(rest) => home()?.join(rest),
        None if word.starts_with('~') || word.contains('%') || word.contains('$') => return None,
        None => base.join(word),
    };
    let name = path.file_name()?.to_str()?;
    let dir = path.parent()?;
    if dir.to_str()?.contains(['*', '?', '[']) {
        return None;
    }
    if !name.contains(['*', '?', '[']) {
        return Some(vec![path]);
    }
    match std::fs::read_dir(dir) {
        Ok(entries) => Some(entries.filter_map(|e| e.ok().map(|e| e.path())).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(vec![]),
        Err(_) => None,
    }
}

/// `Ciphers=…` with the preferred ciphers first, when the effective list is
/// ssh's default (nobody chose one) and that default offers them.
fn reordered(default: &str, effective: &str) -> Option<String> {
    if effective != default {
        return None;
    }
    let all: Vec<&str> = default.split(',').collect();
    if !PREFERRED.iter().all(|p| all.contains(p)) {
        return None;
    }
    let rest = all.iter().filter(|c| !PREFERRED.contains(c));
    let list: Vec<&str> = PREFERRED.iter().copied().chain(rest.copied()).collect();
    Some(format!("Ciphers={}", list.join(",")))
}

/// ssh's built-in list, with no config file read (`-F /dev/null`).
async fn ssh_default() -> &'static Option<String> {
    static DEFAULT: OnceCell<Option<String>> = OnceCell::const_new();
    DEFAULT
        .get_or_init(|| async {
            let args = [OsString::from("-F"), OsString::from("/dev/null")];
            effective(&args, "localhost").await
        })
        .await
}

/// The `ciphers` line of `ssh -G`, which evaluates the config without
/// connecting.
async fn effective(config_args: &[OsString], address: &str) -> Option<String> {
    let out = Command::new("ssh")
        .arg("-G")
        .args(config_args)
        .arg("--")
        .arg(address)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        return None;
    }
    ciphers_line(&String::from_utf8_lossy(&out.stdout))
}

fn ciphers_line(dump: &str) -> Option<String> {
    dump.lines()
        .find_map(|l| l.strip_prefix("ciphers "))
        .map(|l| l.trim().to_string())
}

fn cpu_has_aes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
            && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com";

    #[test]
    fn the_default_list_gets_aes_gcm_first_and_keeps_the_rest() {
        assert_eq!(
            reordered(DEFAULT, DEFAULT).as_deref(),
            Some("Ciphers=aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr")
        );
    }

    #[test]
    fn a_list_the_user_chose_is_left_alone() {
        assert_eq!(reordered(DEFAULT, "chacha20-poly1305@openssh.com"), None);
        assert_eq!(reordered(DEFAULT, "aes256-ctr,aes128-ctr"), None);
    }

    #[test]
    fn a_default_without_aes_gcm_is_left_alone() {
        let old = "chacha20-poly1305@openssh.com,aes128-ctr";
        assert_eq!(reordered(old, old), None);
    }

    #[test]
    fn the_ciphers_line_is_read_from_ssh_g() {
        let dump = "user root\nhostname 10.0.0.1\nciphers a,b,c\nmacs x\n";
        assert_eq!(ciphers_line(dump).as_deref(), Some("a,b,c"));
        assert_eq!(ciphers_line("user root\n"), None);
    }

    /// Writes `files` (name, text) into a new directory.
    fn configs(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn a_config_that_names_ciphers_anywhere_is_asked_with_ssh_g() {
        for text in [
            "Host a\n  Ciphers aes256-ctr\n",
            "Host *\n\tciphers=aes256-ctr\n",
            "CIPHERS aes256-ctr\n",
            "\"Ciphers\" aes256-ctr\n",
        ] {
            let dir = configs(&[("config", text)]);
            assert!(
                may_set_ciphers(&dir.path().join("config"), dir.path(), 0),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_config_without_ciphers_is_read_as_leaving_the_default() {
        let dir = configs(&[(
            "config",
            "# Ciphers aes256-ctr\nHost *\n  User root\n  SendEnv LANG LC_*\n\n",
        )]);
        assert!(!may_set_ciphers(&dir.path().join("config"), dir.path(), 0));
        assert!(!may_set_ciphers(&dir.path().join("missing"), dir.path(), 0));
    }

    #[test]
    fn includes_are_followed_and_a_file_pattern_stands_for_its_whole_directory() {
        let base = "Include conf.d/*.conf\nHost *\n  User root\n";
        // Only a file the pattern does not match names a cipher: still
        // counted, the whole directory is read.
        let dir = configs(&[
            ("config", base),
            ("conf.d/a.conf", "User x\n"),
            ("conf.d/b.txt", "Ciphers x\n"),
        ]);
        assert!(may_set_ciphers(&dir.path().join("config"), dir.path(), 0));
        let dir = configs(&[("config", base), ("conf.d/a.conf", "User x\n")]);
        assert!(!may_set_ciphers(&dir.path().join("config"), dir.path(), 0));
        // An include of its own name recurses until the limit: unsure, so yes.
        let dir = configs(&[("config", "Include config\n")]);
        assert!(may_set_ciphers(&dir.path().join("config"), dir.path(), 0));
        let dir = configs(&[("config", "Include */x.conf\n")]);
        assert!(may_set_ciphers(&dir.path().join("config"), dir.path(), 0));
        let dir = configs(&[("config", "Include %d/x.conf\n")]);
        assert!(may_set_ciphers(&dir.path().join("config"), dir.path(), 0));
    }

    #[test]
    fn with_dash_f_only_that_file_is_read() {
        let Some(home) = home() else {
            eprintln!("SKIPPED: $HOME is not the passwd home here");
            return;
        };
        let args = [OsString::from("-F"), OsString::from("/x/config")];
        let files = config_files(&args).unwrap();
        assert_eq!(files, vec![(PathBuf::from("/x/config"), home.join(".ssh"))]);
        let files = config_files(&[]).unwrap();
        assert_eq!(files.len(), 2, "{files:?}");
        assert_eq!(files[1].0, PathBuf::from("/etc/ssh/ssh_config"));
    }

    /// Against the real ssh: an ssh config that names a cipher wins.
    #[tokio::test]
    async fn a_config_file_that_names_ciphers_wins_over_the_preference() {
        if !crate::transport::runs("ssh", "-V") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let chosen = dir.path().join("chosen");
        std::fs::write(&chosen, "Host *\n  Ciphers aes256-ctr\n").unwrap();
        let silent = dir.path().join("silent");
        std::fs::write(&silent, "Host *\n  User nobody\n").unwrap();
        let args = |p: &std::path::Path| vec![OsString::from("-F"), p.as_os_str().to_owned()];
        assert_eq!(option(&args(&chosen), "h").await, None);
        let expected = if cpu_has_aes() {
            "Ciphers=aes128-gcm"
        } else {
            ""
        };
        let got = option(&args(&silent), "h").await.unwrap_or_default();
        assert!(got.starts_with(expected), "{got:?}");
        assert_eq!(got.is_empty(), !cpu_has_aes(), "{got:?}");
    }
}
