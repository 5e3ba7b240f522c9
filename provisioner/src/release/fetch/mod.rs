//! Gets a release asset onto the controller exactly once, verifies its sha256
//! and inspects it. With `fetch = "host"` hosts download it too, but only
//! an archive the controller has inspected here, and they check its sha256.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    http_get_within(url, DownloadLimits::default())
}

/// The deadlines and the size cap of a release download: a server that
/// does not answer, or stops sending, fails the download instead of
/// holding up the run; one that sends too much is cut off.
#[derive(Debug, Clone, Copy)]
pub struct DownloadLimits {
    /// DNS, TCP and TLS together.
    pub connect: Duration,
    /// Until the response headers have arrived.
    pub response: Duration,
    /// Without a single byte arriving.
    pub read: Duration,
    /// The largest asset accepted (real ones are about 1 GB).
    pub max_bytes: u64,
}

impl Default for DownloadLimits {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(30),
            response: Duration::from_secs(60),
            read: Duration::from_secs(60),
            max_bytes: 4 << 30,
        }
    }
}

impl DownloadLimits {
    fn explain(&self, e: ureq::Error) -> String {
        match e {
            ureq::Error::Timeout(ureq::Timeout::PerRead) => format!(
                "no data arrived for {} s; the download was given up",
                self.read.as_secs()
            ),
            ureq::Error::Timeout(what) => format!("timed out ({what} deadline)"),
            other => other.to_string(),
        }
    }

    fn too_large(&self) -> String {
        format!(
            "the server sends more than {} bytes, the most katafleet accepts for a release; nothing was kept",
            self.max_bytes
        )
    }
}

/// The body of `url` within `limits`.
fn http_get_within(url: &str, limits: DownloadLimits) -> Result<Box<dyn Read>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(limits.connect))
        .timeout_recv_response(Some(limits.response))
        .timeout_per_read(Some(limits.read))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| limits.explain(e))?;
    let body = response.into_body();
    if body.content_length().is_some_and(|n| n > limits.max_bytes) {
        return Err(limits.too_large());
    }
    Ok(Box::new(Capped {
        inner: body.into_reader(),
        read: 0,
        limits,
    }))
}

/// A body that errors, instead of handing on a byte, once it would pass the
/// cap, and says what a ureq error means.
struct Capped<R> {
    inner: R,
    read: u64,
    limits: DownloadLimits,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf).map_err(|e| {
            // ureq's own errors (a timeout...) come wrapped in io::Error.
            if e.get_ref().is_some_and(|i| i.is::<ureq::Error>()) {
                let text = e.to_string();
                match e.into_inner().map(|i| i.downcast::<ureq::Error>()) {
                    Some(Ok(u)) => io::Error::other(self.limits.explain(*u)),
                    _ => io::Error::other(text),
                }
            } else {
                e
            }
        })?;
        self.read += n as u64;
        if self.read > self.limits.max_bytes {
            return Err(io::Error::other(self.limits.too_large()));
        }
        Ok(n)
    }
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
pub(crate) mod tests;
