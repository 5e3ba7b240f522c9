//! Gets a release asset onto the controller exactly once, verifies its sha256
//! and inspects it. With `fetch = "host"` hosts download it too, but only
//! an archive the controller has inspected here, and they check its sha256.

use std::fs::File;
use std::io::{self, Write};
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
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot read {path}: {source}")]
    Local { path: PathBuf, source: io::Error },
    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },
    #[error("cannot write to the asset cache {path}: {source}")]
    Cache { path: PathBuf, source: io::Error },
    #[error("checksum mismatch for {source_name}: expected sha256 {expected}, got {actual}; nothing was installed")]
    Mismatch {
        source_name: String,
        expected: Sha256,
        actual: Sha256,
    },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Fetches (or finds in the cache) the asset from `source_template`.
pub fn fetch(
    asset: &Asset,
    source_template: &str,
    expected: &Sha256,
    cache_dir: &Path,
) -> Result<Fetched, FetchError> {
    let source = asset.expand(source_template);
    let path = if is_url(&source) {
        download_cached(&source, asset, expected, cache_dir)?
    } else {
        let path = PathBuf::from(&source);
        let actual = sha256_file(&path).map_err(|e| FetchError::Local {
            path: path.clone(),
            source: e,
        })?;
        check(&source, expected, actual)?;
        path
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

/// The cache is keyed by digest, so a verified file is never downloaded twice.
fn download_cached(
    url: &str,
    asset: &Asset,
    expected: &Sha256,
    cache_dir: &Path,
) -> Result<PathBuf, FetchError> {
    let dir = cache_dir.join(expected.hex());
    let final_path = dir.join(asset.file_name());
    if let Ok(actual) = sha256_file(&final_path) {
        if &actual == expected {
            return Ok(final_path);
        }
    }
    let cache_err = |source| FetchError::Cache {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(cache_err)?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(cache_err)?;
    let download_err = |reason: String| FetchError::Download {
        url: url.to_string(),
        reason,
    };
    let response = ureq::get(url)
        .call()
        .map_err(|e| download_err(e.to_string()))?;
    let mut body = response.into_body();
    let file = tmp.as_file_mut();
    let actual = Sha256::of_reader(body.as_reader(), |chunk| file.write_all(chunk))
        .map_err(|e| download_err(e.to_string()))?;
    check(url, expected, actual)?;
    tmp.persist(&final_path).map_err(|e| cache_err(e.error))?;
    Ok(final_path)
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
