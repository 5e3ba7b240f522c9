//! Runs the real binary in a fresh directory and pins everything it says:
//! stdout, stderr and the exit code, exactly (after `just`'s tests). What a
//! test does not set is expected empty, or 0 for the exit code.

use std::process::Command;

pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    stdout: String,
    stderr: String,
    status: i32,
}

impl Test {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            args: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
            status: 0,
        }
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// Writes `content` to `path`, relative to the test's directory.
    pub fn file(self, path: &str, content: &str) -> Self {
        let full = self.dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create the file's directory");
        }
        std::fs::write(&full, content).expect("write the test file");
        self
    }

    pub fn stdout(mut self, text: &str) -> Self {
        self.stdout = text.to_string();
        self
    }

    pub fn stderr(mut self, text: &str) -> Self {
        self.stderr = text.to_string();
        self
    }

    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    /// Runs katafleet in the test's directory, with HOME there too so no run
    /// leaves logs or caches in the real home, and checks all three outputs.
    /// Returns the directory, to look at the files the command wrote.
    pub fn run(self) -> tempfile::TempDir {
        let output = Command::new(env!("CARGO_BIN_EXE_katafleet"))
            .args(&self.args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env_remove("XDG_STATE_HOME")
            .env_remove("XDG_CACHE_HOME")
            .output()
            .expect("run katafleet");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut wrong = Vec::new();
        if output.status.code() != Some(self.status) {
            wrong.push(format!(
                "exit code: expected {}, got {:?}",
                self.status,
                output.status.code()
            ));
        }
        for (what, want, got) in [
            ("stdout", &self.stdout, &stdout),
            ("stderr", &self.stderr, &stderr),
        ] {
            if want.as_str() != got.as_ref() {
                wrong.push(format!("{what} differs:\n{}", diff(want, got)));
            }
        }
        assert!(
            wrong.is_empty(),
            "katafleet {}\n{}",
            self.args.join(" "),
            wrong.join("\n")
        );
        self.dir
    }
}

/// A unified diff from what was expected to what came out.
pub fn diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}
