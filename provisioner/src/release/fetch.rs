//! Gets a release asset onto the controller exactly once, verifies its sha256
//! and inspects it. With `fetch = "host"` hosts download it too, but only
//! an archive the controller has inspected here, and they check its sha256.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::archive::{self, ArchiveContents, ArchiveError};
use super::checksums::Sha256;
use super::Asset;

/// A verified asset on the controller's disk.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub asset: Asset,
    pub path: PathBuf,
    pub sha256: Sha256,
    pub size: u64,
    pub contents: ArchiveContents,
    /// The file as it was when its sha256 was checked.
    verified: Option<Fingerprint>,
}

/// What changes when a file's bytes change: any write moves its ctime
/// (which no one but root can set back), a replacement changes the inode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Fingerprint {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

impl Fetched {
    /// A release that was never read from disk, for rendering scripts (the
    /// golden tests); it never counts as verified.
    pub fn stand_in(
        asset: Asset,
        path: PathBuf,
        sha256: Sha256,
        size: u64,
        contents: ArchiveContents,
    ) -> Self {
        Self {
            asset,
            path,
            sha256,
            size,
            contents,
            verified: None,
        }
    }

    /// Whether the file on disk is still exactly the one that was verified.
    /// Anything else (written to, replaced, gone) means: verify it again
    /// before a host gets it.
    pub fn unchanged(&self) -> bool {
        self.verified.is_some() && Fingerprint::of(&self.path) == self.verified
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot read {path}: {source}")]
    Local { path: PathBuf, source: io::Error },
    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },
    #[error("cannot write to the asset cache {path}: {source}")]
    Cache { path: PathBuf, source: io::Error },
    #[error("the cached {path} does not match its sha256 (expected {expected}, got {actual}): it was changed or damaged after it was downloaded, so it was removed; downloading it again failed: {reason}")]
    Tampered {
        path: PathBuf,
        expected: Sha256,
        actual: Sha256,
        reason: String,
    },
    #[error("checksum mismatch for {source_name}: expected sha256 {expected}, got {actual}; nothing was installed")]
    Mismatch {
        source_name: String,
        expected: Sha256,
        actual: Sha256,
    },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Opens a URL's body: HTTP(S) in production, canned bytes in tests.
type Get<'a> = &'a dyn Fn(&str) -> Result<Box<dyn Read>, String>;

fn http_get(url: &str) -> Result<Box<dyn Read>, String> {
    let response = ureq::get(url).call().map_err(|e| e.to_string())?;
    Ok(Box::new(response.into_body().into_reader()))
}

/// Fetches (or finds in the cache) the asset from `source_template`.
pub fn fetch(
    asset: &Asset,
    source_template: &str,
    expected: &Sha256,
    cache_dir: &Path,
) -> Result<Fetched, FetchError> {
    fetch_with(asset, source_template, expected, cache_dir, &http_get)
}

fn fetch_with(
    asset: &Asset,
    source_template: &str,
    expected: &Sha256,
    cache_dir: &Path,
    get: Get,
) -> Result<Fetched, FetchError> {
    let source = asset.expand(source_template);
    let (path, verified) = if is_url(&source) {
        download_cached(&source, asset, expected, cache_dir, get)?
    } else {
        let path = PathBuf::from(&source);
        // Taken before the hash: a change while hashing shows as a change later.
        let verified = Fingerprint::of(&path);
        let actual = sha256_file(&path).map_err(|e| FetchError::Local {
            path: path.clone(),
            source: e,
        })?;
        check(&source, expected, actual)?;
        (path, verified)
    };
    let size = std::fs::metadata(&path)
        .map_err(|e| FetchError::Local {
            path: path.clone(),
            source: e,
        })?
        .len();
    let contents = archive::inspect(&path, asset.compression())?;
    Ok(Fetched {
        asset: asset.clone(),
        path,
        sha256: expected.clone(),
        size,
        contents,
        verified,
    })
}

fn is_url(source: &str) -> bool {
    source.starts_with("https://") || source.starts_with("http://")
}

fn check(source: &str, expected: &Sha256, actual: Sha256) -> Result<(), FetchError> {
    if &actual == expected {
        Ok(())
    } else {
        Err(FetchError::Mismatch {
            source_name: source.to_string(),
            expected: expected.clone(),
            actual,
        })
    }
}

/// The cache is keyed by digest, so a verified file is never downloaded
/// twice; a cached file is hashed again on every use, and one that no longer
/// matches is removed and downloaded anew.
fn download_cached(
    url: &str,
    asset: &Asset,
    expected: &Sha256,
    cache_dir: &Path,
    get: Get,
) -> Result<(PathBuf, Option<Fingerprint>), FetchError> {
    let dir = cache_dir.join(expected.hex());
    let final_path = dir.join(asset.file_name());
    let before = Fingerprint::of(&final_path);
    let tampered = match sha256_file(&final_path) {
        Ok(actual) if &actual == expected => return Ok((final_path, before)),
        Ok(actual) => Some(actual),
        Err(_) => None,
    };
    if tampered.is_some() {
        let _ = std::fs::remove_file(&final_path);
    }
    download(url, &final_path, expected, get).map_err(|e| match (tampered, e) {
        (Some(actual), FetchError::Download { reason, .. }) => FetchError::Tampered {
            path: final_path.clone(),
            expected: expected.clone(),
            actual,
            reason,
        },
        (_, e) => e,
    })?;
    Ok((final_path.clone(), Fingerprint::of(&final_path)))
}

/// Downloads into a temp file next to `final_path`, then renames it there
/// once its sha256 matched.
fn download(url: &str, final_path: &Path, expected: &Sha256, get: Get) -> Result<(), FetchError> {
    let dir = final_path.parent().unwrap_or(Path::new("."));
    let cache_err = |source| FetchError::Cache {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(cache_err)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(cache_err)?;
    let download_err = |reason: String| FetchError::Download {
        url: url.to_string(),
        reason,
    };
    let body = get(url).map_err(download_err)?;
    let file = tmp.as_file_mut();
    let actual = Sha256::of_reader(body, |chunk| file.write_all(chunk))
        .map_err(|e| download_err(e.to_string()))?;
    check(url, expected, actual)?;
    tmp.persist(final_path).map_err(|e| cache_err(e.error))?;
    Ok(())
}

pub fn sha256_file(path: &Path) -> io::Result<Sha256> {
    Sha256::of_reader(File::open(path)?, |_| Ok(()))
}

/// `$XDG_CACHE_HOME/katafleet/assets`, else `~/.cache/katafleet/assets`.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("katafleet").join("assets")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::release::{Arch, Runtime, Version};

    pub fn asset() -> Asset {
        Asset {
            version: Version::new(4, 2, 0),
            runtime: Runtime::Rust,
            arch: Arch::Amd64,
        }
    }

    /// A small release archive with the runtime-rs shim, zstd-compressed.
    pub fn release_bytes(tag: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(tag.len() as u64);
        h.set_mode(0o755);
        b.append_data(
            &mut h,
            "opt/kata/runtime-rs/bin/containerd-shim-kata-v2",
            tag.as_bytes(),
        )
        .unwrap();
        zstd::encode_all(&b.into_inner().unwrap()[..], 3).unwrap()
    }

    /// A download that serves `body`, counting requests; `up: false` is a
    /// server that does not answer.
    fn server<'h>(
        body: &[u8],
        hits: &'h AtomicUsize,
        up: bool,
    ) -> impl Fn(&str) -> Result<Box<dyn Read>, String> + 'h {
        let body = body.to_vec();
        move |_url: &str| {
            hits.fetch_add(1, Ordering::SeqCst);
            if up {
                Ok(Box::new(std::io::Cursor::new(body.clone())) as Box<dyn Read>)
            } else {
                Err("connection refused".into())
            }
        }
    }

    #[test]
    fn a_tampered_cache_file_is_downloaded_again_or_refused_clearly() {
        let body = release_bytes("good");
        let sha = Sha256::of(&body);
        let url = "https://releases.example/{asset}";
        let hits = AtomicUsize::new(0);
        let up = server(&body, &hits, true);
        let cache = tempfile::tempdir().unwrap();

        let first = fetch_with(&asset(), url, &sha, cache.path(), &up).unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        fetch_with(&asset(), url, &sha, cache.path(), &up).unwrap();
        assert_eq!(
            hits.load(Ordering::SeqCst),
            1,
            "a good cache file is used as is"
        );

        // Same size, other bytes: only the hash can tell.
        std::fs::write(&first.path, release_bytes("evil")).unwrap();
        let again = fetch_with(&asset(), url, &sha, cache.path(), &up).unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 2, "downloaded again");
        assert_eq!(std::fs::read(&again.path).unwrap(), body);

        std::fs::write(&first.path, release_bytes("evil")).unwrap();
        let down = server(&body, &hits, false);
        let e = fetch_with(&asset(), url, &sha, cache.path(), &down).unwrap_err();
        assert!(matches!(e, FetchError::Tampered { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("does not match its sha256")
                && text.contains("downloading it again failed: connection refused"),
            "{text}"
        );
        assert!(!first.path.exists(), "the tampered file is gone");
    }

    #[test]
    fn a_verified_file_knows_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(asset().file_name());
        let body = release_bytes("good");
        std::fs::write(&path, &body).unwrap();
        let f = fetch(
            &asset(),
            path.to_str().unwrap(),
            &Sha256::of(&body),
            dir.path(),
        )
        .unwrap();
        assert!(f.unchanged());
        std::fs::write(&path, release_bytes("evil")).unwrap();
        assert!(!f.unchanged());
    }
}
