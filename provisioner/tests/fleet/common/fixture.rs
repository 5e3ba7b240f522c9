//! The fixture release tarballs (release tarballs cannot be downloaded
//! here; vm-tests/fleet/make-fixture-tarball builds the official 4.x
//! layout with stand-in binaries).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use super::{repo_root, VERSION};

pub struct Fixture {
    pub dir: PathBuf,
    pub sha256: String,
}

/// The fixture release tarball, built once per test process.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| build_fixture("fixture", &[]))
}

/// A fixture built with extra builder flags (e.g. `--evil`), in its own directory.
pub fn build_fixture(tag: &str, flags: &[&str]) -> Fixture {
    build_fixture_version(tag, VERSION, flags)
}

/// A fixture of another release version, for upgrade tests.
pub fn build_fixture_version(tag: &str, version: &str, flags: &[&str]) -> Fixture {
    let dir = std::env::temp_dir().join(format!("katafleet-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(repo_root().join("vm-tests/fleet/make-fixture-tarball"))
        .arg(dir.join(format!("kata-static-{version}-amd64.tar.zst")))
        .arg(version)
        .args(flags)
        .output()
        .expect("build the fixture tarball");
    assert!(
        out.status.success(),
        "fixture build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sha256 = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Fixture { dir, sha256 }
}
