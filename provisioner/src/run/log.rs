//! A log file per host for each run, holding every script sent and its
//! output. Logs hold what hosts are configured with, so the run's directory
//! is 0700, every file in it 0600, and everything written passes [`masked`]
//! first (secrets masked, file payloads elided).

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The run directory and the base directories katafleet creates for it.
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

#[derive(Debug, Clone)]
pub struct RunLog {
    pub dir: PathBuf,
}

impl RunLog {
    /// A fresh directory under `base` named after the current time.
    pub fn create(base: &Path) -> std::io::Result<Self> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default();
        let dir = base.join(format!("run-{stamp}-{}", std::process::id()));
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&dir)?;
        // An existing directory of the same name keeps its mode otherwise.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(DIR_MODE))?;
        Ok(Self { dir })
    }

    pub fn host(&self, name: &str) -> HostLog {
        HostLog {
            path: self.dir.join(format!("{name}.log")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct HostLog {
    pub path: PathBuf,
}

impl HostLog {
    /// Appends a titled section, masked; logging never fails a run.
    pub fn section(&self, title: &str, body: &str) {
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(FILE_MODE)
            .open(&self.path)
        {
            let _ = writeln!(f, "===== {title} =====\n{}", masked(body));
        }
    }
}

/// What a log keeps of `body`: a script with its file payloads elided, a
/// script's output with the base64 it carries decoded, masked and encoded
/// again, any text with its secrets masked.
pub fn masked(body: &str) -> String {
    let body = crate::script::elide_payloads(body);
    let body = crate::script::wire::map_contents(&body, crate::redact::text);
    crate::redact::text(&body)
}

/// Writes a file of the run's log directory (0600, masked).
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)?;
    f.write_all(masked(text).as_bytes())
}

/// `$XDG_STATE_HOME/katafleet/runs`, else `~/.local/state/katafleet/runs`.
pub fn default_dir() -> PathBuf {
    state_home().join("runs")
}

/// katafleet's state on the controller: `$XDG_STATE_HOME/katafleet`, else
/// `~/.local/state/katafleet`.
pub fn state_home() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("katafleet")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn run_directories_are_0700_files_0600_and_sections_masked() {
        let base = tempfile::tempdir().unwrap();
        let run = RunLog::create(&base.path().join("state/runs")).unwrap();
        assert_eq!(mode(&run.dir), 0o700);
        let host = run.host("h");
        host.section("facts", "password = \"hunter2-x\"\n");
        assert_eq!(mode(&host.path), 0o600);
        let text = std::fs::read_to_string(&host.path).unwrap();
        assert!(
            !text.contains("hunter2") && text.contains("<redacted>"),
            "{text}"
        );
        let other = run.dir.join("h.kata-logs.txt");
        write_private(&other, "auth: abcdefgh\n").unwrap();
        assert_eq!(mode(&other), 0o600);
        assert!(!std::fs::read_to_string(&other)
            .unwrap()
            .contains("abcdefgh"));
    }
}
