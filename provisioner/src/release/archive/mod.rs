//! Inspects a release tarball on the controller before any host sees it.
//! It is read to the end (so a cut-off or mislabelled stream fails here,
//! before a byte goes to a host) and refused when any entry lies outside
//! opt/kata/, a symlink (followed through the archive's other links) or a
//! hard link leads out of /opt/kata, it holds a device file or a fifo, or it
//! would extract to more than [`MAX_EXTRACTED_BYTES`].

mod links;

use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use links::{Resolved, Symlinks};

use super::Compression;

/// The most an archive may extract to. A cap, not a measurement: big enough
/// for any Kata release with its guest kernels and images, small enough that
/// a decompression bomb is stopped before it fills the controller's disk or
/// a host's /opt.
pub const MAX_EXTRACTED_BYTES: u64 = 4 << 30;

/// The most entries (files, directories, links) an archive may hold; a
/// release has hundreds. Each costs an inode on the host and at least one
/// 512-byte header here, so this also bounds what headers alone can cost.
pub const MAX_ENTRIES: u64 = 200_000;

/// What a verified archive holds, for planning (e.g. which VMMs it ships).
#[derive(Debug, Clone, Default)]
pub struct ArchiveContents {
    /// Entry paths without a leading `./`, e.g. `opt/kata/bin/cloud-hypervisor`.
    pub entries: Vec<String>,
    /// The sum of the entries' sizes: what extracting it writes.
    pub extracted_bytes: u64,
}

impl ArchiveContents {
    /// Whether the archive holds this absolute path (e.g. `/opt/kata/bin/x`).
    pub fn has(&self, absolute: &str) -> bool {
        let want = absolute.trim_start_matches('/');
        self.entries.iter().any(|e| e.trim_end_matches('/') == want)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read archive {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "archive {path} is not a complete {kind} tar archive ({reason}); refusing to install it"
    )]
    Corrupt {
        path: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error("archive {path} has entry `{entry}` outside opt/kata/; refusing to install it")]
    Outside { path: PathBuf, entry: String },
    #[error("archive {path} has link `{entry}` -> `{target}` that escapes /opt/kata ({why}); refusing to install it")]
    LinkEscapes {
        path: PathBuf,
        entry: String,
        target: String,
        why: String,
    },
    #[error("archive {path} has special file `{entry}` ({kind}); refusing to install it")]
    Special {
        path: PathBuf,
        entry: String,
        kind: String,
    },
    #[error("archive {path} would extract to more than {limit} ({what}); refusing to install it")]
    TooBig {
        path: PathBuf,
        limit: String,
        what: String,
    },
}

/// Inspects with the production limits.
pub fn inspect(path: &Path, compression: Compression) -> Result<ArchiveContents, ArchiveError> {
    inspect_within(path, compression, MAX_EXTRACTED_BYTES, MAX_ENTRIES)
}

/// Inspects with explicit limits (tests use small ones).
pub fn inspect_within(
    path: &Path,
    compression: Compression,
    max_bytes: u64,
    max_entries: u64,
) -> Result<ArchiveContents, ArchiveError> {
    let file = std::fs::File::open(path).map_err(|source| ArchiveError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let kind = match compression {
        Compression::Zstd => "zstd-compressed",
        Compression::Xz => "xz-compressed",
    };
    let corrupt = |e: io::Error| ArchiveError::Corrupt {
        path: path.to_path_buf(),
        kind,
        reason: e.to_string(),
    };
    let reader: Box<dyn Read> = match compression {
        Compression::Zstd => Box::new(zstd::Decoder::new(file).map_err(corrupt)?),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new(file)),
    };
    // Headers and padding count too, so the stream is bounded even when
    // every entry claims a size of 0 (or huge pax headers hold the bytes).
    let stream_limit = max_bytes.saturating_add(max_entries.saturating_mul(3 * 512));
    let mut archive = tar::Archive::new(Bounded {
        inner: reader,
        left: stream_limit,
    });
    let mut scan = Scan {
        path,
        max_bytes,
        max_entries,
        total: 0,
        contents: ArchiveContents::default(),
        symlinks: Symlinks::default(),
        hard_links: Vec::new(),
    };
    for entry in archive.entries().map_err(corrupt)? {
        let entry = entry.map_err(|e| scan.io(e, kind))?;
        scan.entry(&entry)?;
    }
    // The end-of-archive blocks are not the end of the stream: read the rest,
    // so the decompressor checks its frame (a cut-off stream fails here).
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| scan.io(e, kind))?;
    scan.finish()
}

/// Stops reading (with an error) once `left` bytes have been read.
struct Bounded<R> {
    inner: R,
    left: u64,
}

const LIMIT_HIT: &str = "katafleet archive size limit";

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte past the limit tells "exactly at it" from "over it".
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(LIMIT_HIT)),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

struct Scan<'p> {
    path: &'p Path,
    max_bytes: u64,
    max_entries: u64,
    total: u64,
    contents: ArchiveContents,
    symlinks: Symlinks,
    /// (entry, target) of every hard link, checked once all symlinks are known.
    hard_links: Vec<(String, String)>,
}

impl Scan<'_> {
    fn entry<R: Read>(&mut self, entry: &tar::Entry<R>) -> Result<(), ArchiveError> {
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = raw_path.trim_start_matches("./").to_string();
        let kind = entry.header().entry_type();
        // Upstream archives start with `./` and `./opt/` directory entries.
        let ancestor_dir = kind.is_dir() && matches!(name.trim_end_matches('/'), "" | "." | "opt");
        if !ancestor_dir && !inside_kata(Path::new(&name)) {
            return Err(ArchiveError::Outside {
                path: self.path.to_path_buf(),
                entry: raw_path,
            });
        }
        let regular = kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse();
        if !(regular || kind.is_dir() || kind.is_symlink() || kind.is_hard_link()) {
            return Err(ArchiveError::Special {
                path: self.path.to_path_buf(),
                entry: raw_path,
                kind: special_kind(kind),
            });
        }
        self.contents.entries.push(name.clone());
        if self.contents.entries.len() as u64 > self.max_entries {
            return Err(self.too_big(format!("more than {} entries", self.max_entries)));
        }
        // For a sparse file this is the size it unpacks to, not what it stores.
        let size = entry.header().size().unwrap_or(entry.size());
        self.total = self.total.saturating_add(size);
        if self.total > self.max_bytes {
            return Err(self.too_big(format!(
                "`{raw_path}` brings the total to {} bytes",
                self.total
            )));
        }
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            if kind.is_symlink() {
                self.symlinks.insert(&name, &target);
            } else {
                self.hard_links.push((name, target));
            }
        }
        Ok(())
    }

    /// Links are judged once the whole archive is known: a chain may run
    /// through links that come later.
    fn finish(self) -> Result<ArchiveContents, ArchiveError> {
        if self.contents.entries.is_empty() {
            return Err(ArchiveError::Corrupt {
                path: self.path.to_path_buf(),
                kind: "release",
                reason: "it holds no entries".into(),
            });
        }
        let escapes = |entry: &str, target: &str, why: String| ArchiveError::LinkEscapes {
            path: self.path.to_path_buf(),
            entry: entry.to_string(),
            target: target.to_string(),
            why,
        };
        let mut symlinks: Vec<_> = self.symlinks.iter().collect();
        symlinks.sort();
        for (entry, target) in symlinks {
            match self.symlinks.resolve_link(entry, target) {
                Resolved::Inside(_) => {}
                Resolved::Escapes(at) => {
                    return Err(escapes(entry, target, format!("it leads to {at}")))
                }
                Resolved::Loop => {
                    return Err(escapes(entry, target, "it is a symlink loop".into()))
                }
            }
        }
        for (entry, target) in &self.hard_links {
            // A hard link names an archive path; it must be one the archive
            // already holds, or tar would link whatever the host has there.
            let target_name = links::normal(target.trim_start_matches('/'));
            let earlier = self
                .contents
                .entries
                .iter()
                .take_while(|e| *e != entry)
                .any(|e| links::normal(e) == target_name);
            if !inside_kata(Path::new(&target_name)) {
                return Err(escapes(
                    entry,
                    target,
                    "hard link to a path outside opt/kata".into(),
                ));
            }
            match self.symlinks.resolve_path(&target_name) {
                Resolved::Inside(_) => {}
                Resolved::Escapes(at) => {
                    return Err(escapes(entry, target, format!("it leads to {at}")))
                }
                Resolved::Loop => {
                    return Err(escapes(
                        entry,
                        target,
                        "it runs through a symlink loop".into(),
                    ))
                }
            }
            if !earlier {
                return Err(escapes(
                    entry,
                    target,
                    "hard link to a file the archive does not hold before it".into(),
                ));
            }
        }
        Ok(ArchiveContents {
            extracted_bytes: self.total,
            ..self.contents
        })
    }

    fn too_big(&self, what: String) -> ArchiveError {
        ArchiveError::TooBig {
            path: self.path.to_path_buf(),
            limit: human(self.max_bytes),
            what,
        }
    }

    /// A read error: the size limit, or a damaged or mislabelled stream.
    fn io(&self, e: io::Error, kind: &'static str) -> ArchiveError {
        if e.to_string().contains(LIMIT_HIT) {
            return self.too_big("the decompressed stream is larger".into());
        }
        ArchiveError::Corrupt {
            path: self.path.to_path_buf(),
            kind,
            reason: e.to_string(),
        }
    }
}

fn special_kind(kind: tar::EntryType) -> String {
    if kind.is_character_special() {
        "character device".into()
    } else if kind.is_block_special() {
        "block device".into()
    } else if kind.is_fifo() {
        "fifo".into()
    } else {
        format!("entry type {:?}", kind.as_byte() as char)
    }
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{bytes} bytes")
    }
}

/// `opt/kata` or below, with no `..`, no root and no prefix components.
fn inside_kata(path: &Path) -> bool {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => return false,
        }
    }
    parts.len() >= 2 && parts[0] == "opt" && parts[1] == "kata"
}

#[cfg(test)]
mod tests;
