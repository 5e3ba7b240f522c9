//! Inspects a release tarball on the controller before any host sees it:
//! every entry must stay inside opt/kata/, and links may not point out.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::Compression;

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
    #[error("archive {path} has entry `{entry}` outside opt/kata/; refusing to install it")]
    Outside { path: PathBuf, entry: String },
    #[error("archive {path} has link `{entry}` -> `{target}` that escapes /opt/kata; refusing to install it")]
    LinkEscapes {
        path: PathBuf,
        entry: String,
        target: String,
    },
    #[error("archive {path} has special file `{entry}` (device or fifo); refusing to install it")]
    Special { path: PathBuf, entry: String },
}

pub fn inspect(path: &Path, compression: Compression) -> Result<ArchiveContents, ArchiveError> {
    let read_err = |source| ArchiveError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let reader: Box<dyn Read> = match compression {
        Compression::Zstd => Box::new(zstd::Decoder::new(file).map_err(read_err)?),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new(file)),
    };
    let mut archive = tar::Archive::new(reader);
    let mut contents = ArchiveContents::default();
    for entry in archive.entries().map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = raw_path.trim_start_matches("./").to_string();
        let kind = entry.header().entry_type();
        // Upstream archives start with `./` and `./opt/` directory entries.
        let ancestor_dir = kind.is_dir() && matches!(name.trim_end_matches('/'), "" | "." | "opt");
        if !ancestor_dir && !inside_kata(Path::new(&name)) {
            return Err(ArchiveError::Outside {
                path: path.to_path_buf(),
                entry: raw_path,
            });
        }
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            return Err(ArchiveError::Special {
                path: path.to_path_buf(),
                entry: raw_path,
            });
        }
        if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            if !link_stays_inside(&name, &target, kind.is_hard_link()) {
                return Err(ArchiveError::LinkEscapes {
                    path: path.to_path_buf(),
                    entry: raw_path,
                    target,
                });
            }
        }
        contents.extracted_bytes = contents
            .extracted_bytes
            .saturating_add(entry.header().size().unwrap_or(0));
        contents.entries.push(name);
    }
    Ok(contents)
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

/// Symlinks may be absolute into /opt/kata or relative without leaving it;
/// hard-link targets are archive paths.
fn link_stays_inside(entry: &str, target: &str, hard: bool) -> bool {
    if hard {
        return inside_kata(Path::new(target.trim_start_matches("./")));
    }
    if let Some(abs) = target.strip_prefix('/') {
        return inside_kata(Path::new(abs));
    }
    let mut parts: Vec<&str> = entry.split('/').filter(|p| !p.is_empty()).collect();
    parts.pop();
    for piece in target.split('/') {
        match piece {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return false;
                }
            }
            p => parts.push(p),
        }
    }
    parts.len() >= 2 && parts[0] == "opt" && parts[1] == "kata"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(entries: &[(&str, Option<&str>)]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let enc = zstd::Encoder::new(file.reopen().unwrap(), 1)
            .unwrap()
            .auto_finish();
        let mut b = tar::Builder::new(enc);
        for (name, link) in entries {
            let mut h = tar::Header::new_gnu();
            match link {
                Some(target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, name, target).unwrap();
                }
                None => {
                    h.set_size(2);
                    h.set_mode(0o755);
                    // Write the raw name so `..` entries can be built at all.
                    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
                    h.set_cksum();
                    b.append(&h, &b"hi"[..]).unwrap();
                }
            }
        }
        b.into_inner().unwrap();
        file
    }

    #[test]
    fn accepts_the_official_layout() {
        let f = build(&[
            ("./opt/kata/runtime-rs/bin/containerd-shim-kata-v2", None),
            (
                "./opt/kata/share/defaults/kata-containers/configuration.toml",
                Some("runtime-rs/configuration-qemu-runtime-rs.toml"),
            ),
            ("./opt/kata/bin/x", Some("/opt/kata/bin/y")),
        ]);
        let c = inspect(f.path(), Compression::Zstd).unwrap();
        assert!(c.has("/opt/kata/runtime-rs/bin/containerd-shim-kata-v2"));
        assert!(!c.has("/opt/kata/bin/firecracker"));
    }

    #[test]
    fn refuses_dot_dot_entries() {
        let f = build(&[("opt/kata/../../etc/evil", None)]);
        assert!(matches!(
            inspect(f.path(), Compression::Zstd),
            Err(ArchiveError::Outside { .. })
        ));
    }

    #[test]
    fn refuses_entries_outside_opt_kata() {
        let f = build(&[("./etc/passwd", None)]);
        assert!(matches!(
            inspect(f.path(), Compression::Zstd),
            Err(ArchiveError::Outside { .. })
        ));
    }

    #[test]
    fn refuses_links_that_escape() {
        for target in ["/etc", "../../../etc", "../../.."] {
            let f = build(&[("opt/kata/bin/escape", Some(target))]);
            assert!(
                matches!(
                    inspect(f.path(), Compression::Zstd),
                    Err(ArchiveError::LinkEscapes { .. })
                ),
                "{target}"
            );
        }
    }
}
