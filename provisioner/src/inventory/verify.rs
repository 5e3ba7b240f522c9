//! `[verify]`: how `katafleet verify` proves Kata on a host: which image its
//! test containers use (air-gapped fleets: a local registry, or an image
//! archive on the controller that katafleet imports), and how many starts
//! `--bench` times.

use std::path::PathBuf;

use super::raw::RawVerify;
use super::validator::Validator;
use super::values;

/// Needs `sh`, `uname`, `cat` and `sleep`; busybox has them all.
pub const DEFAULT_IMAGE: &str = "docker.io/library/busybox:latest";
const DEFAULT_BENCH_RUNS: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySettings {
    /// The image reference test containers run (also the name inside `image_archive`).
    pub image: String,
    /// An image archive (`docker save` / `ctr images export`) on the controller,
    /// streamed to each host and imported instead of pulling `image`.
    pub image_archive: Option<PathBuf>,
    /// Container starts per runtime that `verify --bench` times.
    pub bench_runs: u32,
}

impl Default for VerifySettings {
    fn default() -> Self {
        Self {
            image: DEFAULT_IMAGE.into(),
            image_archive: None,
            bench_runs: DEFAULT_BENCH_RUNS,
        }
    }
}

impl Validator<'_> {
    pub(super) fn verify(&mut self, raw: &RawVerify) -> VerifySettings {
        let mut s = VerifySettings::default();
        if let Some(image) = raw
            .image
            .as_ref()
            .and_then(|i| self.checked(i, values::image))
        {
            s.image = image;
        }
        if let Some(archive) = &raw.image_archive {
            let Some(path) = self.checked_path(archive, "image_archive") else {
                return s;
            };
            if path.is_file() {
                s.image_archive = Some(path);
            } else {
                self.error(
                    format!("image_archive `{}` is not a file", path.display()),
                    archive.span(),
                );
            }
        }
        if let Some(runs) = &raw.bench_runs {
            if let Some(n) = self.in_range(runs, "bench_runs", 1..1001) {
                s.bench_runs = n as u32;
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use crate::inventory::diagnostic::SourceFile;
    use crate::inventory::{parse, InventoryError};

    const HEAD: &str = "[kata]\nversion = \"4.2.0\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n[[hosts]]\nname = \"a\"\n";

    fn load(extra: &str) -> Result<super::VerifySettings, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("busybox.tar"), b"x").unwrap();
        let file = SourceFile::new(&dir.path().join("inv.toml"), format!("{HEAD}{extra}"));
        match parse(&file) {
            Ok(inv) => Ok(inv.verify),
            Err(InventoryError::Invalid { rendered, .. }) => Err(rendered),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn defaults_and_an_air_gapped_image() {
        assert_eq!(load("").unwrap(), super::VerifySettings::default());
        let s = load("[verify]\nimage = \"registry.local:5000/busybox:1.36\"\nimage_archive = \"busybox.tar\"\nbench_runs = 20\n").unwrap();
        assert_eq!(s.image, "registry.local:5000/busybox:1.36");
        assert!(s.image_archive.unwrap().ends_with("busybox.tar"));
        assert_eq!(s.bench_runs, 20);
    }

    #[test]
    fn bad_values_and_typos_are_located() {
        let e = load("[verify]\nimage_archive = \"nope.tar\"\nbench_runs = 0\nimgae = \"x\"\n")
            .unwrap_err();
        assert!(
            e.contains("image_archive") && e.contains("is not a file"),
            "{e}"
        );
        assert!(
            e.contains("bench_runs = 0 is out of range (1..=1000)"),
            "{e}"
        );
        assert!(e.contains("did you mean `image`?"), "{e}");
    }
}
