//! A log file per host for each run, holding every script sent and its output.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

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
        std::fs::create_dir_all(&dir)?;
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
    /// Appends a titled section; logging never fails a run.
    pub fn section(&self, title: &str, body: &str) {
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = writeln!(f, "===== {title} =====\n{body}");
        }
    }
}

/// `$XDG_STATE_HOME/katafleet/runs`, else `~/.local/state/katafleet/runs`.
pub fn default_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("katafleet/runs")
}
