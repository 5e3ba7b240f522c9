//! One crafted archive per case, built here with the `tar` crate and
//! compressed with zstd (or xz), in a tempdir.

use std::io::{Read, Write};

use super::*;

/// One entry of a crafted archive; names and link targets are written raw,
/// so `..` and absolute paths can be built at all.
enum E<'a> {
    File(&'a str),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Char(&'a str),
    Block(&'a str),
    Fifo(&'a str),
    /// A file of this many zero bytes (compresses to almost nothing).
    Zeros(&'a str, u64),
}

fn tar_bytes(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        let (name, link, kind, size): (&str, Option<&str>, tar::EntryType, u64) = match e {
            E::File(n) => (n, None, tar::EntryType::Regular, 2),
            E::Dir(n) => (n, None, tar::EntryType::Directory, 0),
            E::Symlink(n, t) => (n, Some(t), tar::EntryType::Symlink, 0),
            E::Hard(n, t) => (n, Some(t), tar::EntryType::Link, 0),
            E::Char(n) => (n, None, tar::EntryType::Char, 0),
            E::Block(n) => (n, None, tar::EntryType::Block, 0),
            E::Fifo(n) => (n, None, tar::EntryType::Fifo, 0),
            E::Zeros(n, size) => (n, None, tar::EntryType::Regular, *size),
        };
        h.set_entry_type(kind);
        h.set_size(size);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(t) = link {
            gnu.linkname[..t.len()].copy_from_slice(t.as_bytes());
        }
        h.set_cksum();
        let data: Box<dyn Read> = match e {
            E::File(_) => Box::new(&b"hi"[..]),
            E::Zeros(_, n) => Box::new(std::io::repeat(0).take(*n)),
            _ => Box::new(std::io::empty()),
        };
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).unwrap()
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = liblzma::write::XzEncoder::new(Vec::new(), 1);
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

fn check(entries: &[E]) -> Result<ArchiveContents, ArchiveError> {
    let f = file(&zstd(&tar_bytes(entries)));
    inspect(f.path(), Compression::Zstd)
}

const SHIM: E = E::File("./opt/kata/runtime-rs/bin/containerd-shim-kata-v2");

#[test]
fn accepts_the_official_layout() {
    let c = check(&[
        E::Dir("./"),
        E::Dir("./opt/"),
        E::Dir("./opt/kata/"),
        SHIM,
        E::Symlink(
            "./opt/kata/share/defaults/kata-containers/configuration.toml",
            "runtime-rs/configuration-qemu-runtime-rs.toml",
        ),
        E::Symlink("./opt/kata/bin/x", "/opt/kata/bin/y"),
        E::Symlink("./opt/kata/bin/up", "../libexec/z"),
        E::Hard(
            "./opt/kata/bin/shim-copy",
            "./opt/kata/runtime-rs/bin/containerd-shim-kata-v2",
        ),
    ])
    .unwrap();
    assert!(c.has("/opt/kata/runtime-rs/bin/containerd-shim-kata-v2"));
    assert!(!c.has("/opt/kata/bin/firecracker"));
    // The same archive as xz reads the same.
    let f = file(&xz(&tar_bytes(&[SHIM])));
    assert!(inspect(f.path(), Compression::Xz).is_ok());
}

#[test]
fn refuses_entries_outside_opt_kata() {
    for name in [
        "opt/kata/../../etc/evil",
        "./etc/passwd",
        "/etc/passwd",
        "opt/katana/x",
        "opt/x",
    ] {
        assert!(
            matches!(
                check(&[SHIM, E::File(name)]),
                Err(ArchiveError::Outside { .. })
            ),
            "{name}"
        );
    }
}

#[test]
fn refuses_symlinks_that_escape() {
    for target in [
        "/etc",
        "../../../etc",
        "../../..",
        "/opt/katana",
        "/var/run/../opt/kata/x",
    ] {
        let r = check(&[SHIM, E::Symlink("opt/kata/bin/escape", target)]);
        assert!(
            matches!(r, Err(ArchiveError::LinkEscapes { .. })),
            "{target}: {r:?}"
        );
    }
}

/// `up` points at /opt/kata, `l` at `up/../etc`: read alone, `l` stays in
/// /opt/kata (lexically opt/kata/x/etc); on the host it is /opt/etc.
#[test]
fn refuses_a_symlink_chain_that_climbs_out_through_another_link() {
    let r = check(&[
        SHIM,
        E::Symlink("opt/kata/x/l", "up/../etc"),
        E::Symlink("opt/kata/x/up", ".."),
    ]);
    let Err(ArchiveError::LinkEscapes { entry, why, .. }) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(
        (entry.as_str(), why.as_str()),
        ("opt/kata/x/l", "it leads to /opt/etc")
    );
    // A later link that leads out makes an earlier one lead out too.
    let r = check(&[
        SHIM,
        E::Symlink("opt/kata/a", "b/shadow"),
        E::Symlink("opt/kata/b", "/etc"),
    ]);
    assert!(matches!(r, Err(ArchiveError::LinkEscapes { .. })), "{r:?}");
}

#[test]
fn refuses_symlink_loops() {
    let r = check(&[
        SHIM,
        E::Symlink("opt/kata/a", "b"),
        E::Symlink("opt/kata/b", "a"),
    ]);
    assert!(
        matches!(&r, Err(ArchiveError::LinkEscapes { why, .. }) if why.contains("loop")),
        "{r:?}"
    );
}

#[test]
fn refuses_hard_links_out_of_opt_kata_or_to_nothing() {
    for target in [
        "etc/shadow",
        "/etc/shadow",
        "opt/kata/../../etc/shadow",
        "opt/kata/missing",
    ] {
        let r = check(&[SHIM, E::Hard("opt/kata/bin/h", target)]);
        assert!(
            matches!(r, Err(ArchiveError::LinkEscapes { .. })),
            "{target}: {r:?}"
        );
    }
}

#[test]
fn refuses_devices_and_fifos() {
    for (e, kind) in [
        (E::Char("opt/kata/bin/null"), "character device"),
        (E::Block("opt/kata/bin/sda"), "block device"),
        (E::Fifo("opt/kata/bin/pipe"), "fifo"),
    ] {
        let r = check(&[SHIM, e]);
        assert!(
            matches!(&r, Err(ArchiveError::Special { kind: k, .. }) if k == kind),
            "{kind}: {r:?}"
        );
    }
}

/// A decompression bomb: 2 MiB of zeros is about a hundred bytes of zstd.
#[test]
fn refuses_an_archive_that_extracts_past_the_cap() {
    let f = file(&zstd(&tar_bytes(&[
        SHIM,
        E::Zeros("opt/kata/bomb", 2 << 20),
    ])));
    assert!(std::fs::metadata(f.path()).unwrap().len() < 4096);
    let r = inspect_within(f.path(), Compression::Zstd, 1 << 20, 100);
    assert!(matches!(r, Err(ArchiveError::TooBig { .. })), "{r:?}");
    assert!(inspect_within(f.path(), Compression::Zstd, 3 << 20, 100).is_ok());
    // Many empty entries cost headers and inodes, not bytes.
    let many: Vec<String> = (0..50).map(|i| format!("opt/kata/e{i}")).collect();
    let entries: Vec<E> = many.iter().map(|n| E::Zeros(n, 0)).collect();
    let f = file(&zstd(&tar_bytes(&entries)));
    let r = inspect_within(f.path(), Compression::Zstd, 1 << 20, 10);
    assert!(matches!(r, Err(ArchiveError::TooBig { .. })), "{r:?}");
    assert_eq!(MAX_EXTRACTED_BYTES, 4 * 1024 * 1024 * 1024);
}

#[test]
fn refuses_a_truncated_stream() {
    let whole = zstd(&tar_bytes(&[
        SHIM,
        E::Zeros("opt/kata/big", 256 << 10),
        E::File("opt/kata/z"),
    ]));
    for cut in [whole.len() / 4, whole.len() / 2, whole.len() - 4] {
        let f = file(&whole[..cut]);
        let r = inspect(f.path(), Compression::Zstd);
        assert!(
            matches!(r, Err(ArchiveError::Corrupt { .. })),
            "cut at {cut}: {r:?}"
        );
    }
    let whole = xz(&tar_bytes(&[SHIM]));
    let f = file(&whole[..whole.len() - 8]);
    let r = inspect(f.path(), Compression::Xz);
    assert!(matches!(r, Err(ArchiveError::Corrupt { .. })), "{r:?}");
}

#[test]
fn refuses_the_wrong_archive_type() {
    let tar = tar_bytes(&[SHIM]);
    for (bytes, compression, what) in [
        (xz(&tar), Compression::Zstd, "xz as zstd"),
        (zstd(&tar), Compression::Xz, "zstd as xz"),
        (tar.clone(), Compression::Zstd, "plain tar as zstd"),
        (
            b"<html>Not Found</html>".to_vec(),
            Compression::Zstd,
            "an error page",
        ),
        (
            zstd(b"not a tar archive at all, just text that is long enough to fill a block"),
            Compression::Zstd,
            "zstd text",
        ),
    ] {
        let f = file(&bytes);
        let r = inspect(f.path(), compression);
        assert!(
            matches!(r, Err(ArchiveError::Corrupt { .. })),
            "{what}: {r:?}"
        );
    }
}

#[test]
fn refuses_an_empty_archive() {
    let r = check(&[]);
    assert!(matches!(r, Err(ArchiveError::Corrupt { .. })), "{r:?}");
}
