//! sha256 pins for release assets. Upstream publishes no checksum files, so a
//! provisioner must carry its own table (as kubespray does) or take the pin
//! from the inventory.

use std::fmt;
use std::str::FromStr;

use super::{Arch, Asset, Runtime, Version};

/// A sha256 digest, kept as 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Sha256(String);

impl Sha256 {
    pub fn hex(&self) -> &str {
        &self.0
    }

    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        Self(hex::encode(sha2::Sha256::digest(bytes)))
    }

    /// Digest of everything `reader` yields, read in 64 KiB chunks.
    pub fn of_reader(
        mut reader: impl std::io::Read,
        mut also: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<Self> {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(Self(hex::encode(hasher.finalize())));
            }
            hasher.update(&buf[..n]);
            also(&buf[..n])?;
        }
    }
}

impl FromStr for Sha256 {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let hex = s.strip_prefix("sha256:").unwrap_or(s).to_ascii_lowercase();
        if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Self(hex))
        } else {
            Err(format!("`{s}` is not a sha256 digest (64 hex characters)"))
        }
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// (version, runtime, arch, sha256) of `kata-static` assets. Read from
/// kubespray's `kata_containers_binary_checksums` (kubernetes-sigs/kubespray,
/// roles/kubespray_defaults/vars/main/checksums.yml at 46dbdd39 for 3.28-3.32,
/// ace96af9 and 2512e0c5 for 3.2-3.7). Before 4.1 one tarball held both
/// runtimes. No 4.x digest has been verified yet: pin those in the inventory.
const KNOWN: &[(&str, Runtime, Arch, &str)] = &[
    (
        "3.32.0",
        Runtime::Rust,
        Arch::Amd64,
        "1449ecea50bd91fa73a94648db195d18950fe869ba4b1f12d05f55f1fa7c1b01",
    ),
    (
        "3.31.0",
        Runtime::Rust,
        Arch::Amd64,
        "68c2786a0b97023f62f3eca02dc868b78a794e5469d4ddd6cc9e0bd4a7212b0b",
    ),
    (
        "3.30.0",
        Runtime::Rust,
        Arch::Amd64,
        "e65aa5e5bd9f4d59bcd12a8c44a00966406e7329511dd3f756026b6eedc8ad26",
    ),
    (
        "3.29.0",
        Runtime::Rust,
        Arch::Amd64,
        "19d0241405bc2b8fdc74240f381ab021880d1d8c7adf1fd7859f8f6370e735f3",
    ),
    (
        "3.28.0",
        Runtime::Rust,
        Arch::Amd64,
        "99cefb46d70bc27b7bcffd7595be9010c6bed43e1cdfcf8078554c19e7c9b19d",
    ),
    (
        "3.32.0",
        Runtime::Rust,
        Arch::Arm64,
        "8736c054d9223974735394f822000823baef509e1c33405ec798240fa9b6e4b5",
    ),
    (
        "3.31.0",
        Runtime::Rust,
        Arch::Arm64,
        "42a7e67a2c2bf3e97a615c99a293b2bc01ea9c84111fc2bf4abeedb7adc9c2ac",
    ),
    (
        "3.30.0",
        Runtime::Rust,
        Arch::Arm64,
        "3f9df0cc898716caa3dd29315d1d5a1e9a6ad2b355ed6a4698eca81a8fbcdc41",
    ),
    (
        "3.29.0",
        Runtime::Rust,
        Arch::Arm64,
        "f1309973134d48015a3b283d26f53d66c42bb590c53813c8ed2254212a24d1ad",
    ),
    (
        "3.28.0",
        Runtime::Rust,
        Arch::Arm64,
        "f63d54507d1f18635d94475077e4c2330de4d8e05cedf25f7c38f063b0e66a91",
    ),
    (
        "3.7.0",
        Runtime::Rust,
        Arch::Amd64,
        "bebf218cafdc082476c7dabbcc5439aee6a41d6dda24dd3cfffbe0a6ae94e23d",
    ),
    (
        "3.6.0",
        Runtime::Rust,
        Arch::Amd64,
        "d418859e123d04edd71e79c8f532213e5281ec7170b97cdfe3cf85487187d60f",
    ),
    (
        "3.5.0",
        Runtime::Rust,
        Arch::Amd64,
        "cd0e6a70828db3f9e27390f08c863edda36824c201c35eaa0a4c7498b7e4c9e3",
    ),
    (
        "3.7.0",
        Runtime::Rust,
        Arch::Arm64,
        "23e0d5c4e38c6944729a11c631f947abc5aab19427a44d8691bfb9ad1c38b831",
    ),
    (
        "3.6.0",
        Runtime::Rust,
        Arch::Arm64,
        "38277c8d1b9f3c4ea1089338f9251238551b88a5259e8e8ed45fe392ec1ed4bd",
    ),
    (
        "3.5.0",
        Runtime::Rust,
        Arch::Arm64,
        "fa4cf67d010244c4f8d0e6d450d04e28d1bbce5ad1a3cbc0154adff628d56c0c",
    ),
    (
        "3.4.0",
        Runtime::Rust,
        Arch::Amd64,
        "13f2c2442a4bbcafddcb4739428bee95eb26600516a96e29576fa0ff31152e44",
    ),
    (
        "3.3.0",
        Runtime::Rust,
        Arch::Amd64,
        "72e29c7b3ee325e0049bf694bbb843ed07c3eb0a05d89c2b3a1635241e4bafe8",
    ),
    (
        "3.2.0",
        Runtime::Rust,
        Arch::Amd64,
        "21bb8484a060450d6522f29bed7d88d773c28520774eaa2c522b6f47fd12c4a1",
    ),
    (
        "3.4.0",
        Runtime::Rust,
        Arch::Arm64,
        "f961a283a9da3c6be8a6442842913b036cf0354b9e99d5a8d7a5cc9d923bcd8f",
    ),
    (
        "3.3.0",
        Runtime::Rust,
        Arch::Arm64,
        "5437f0162e08154260c58642f433d8a9154fb6d443ca2c1ddee675154ec88c9d",
    ),
    (
        "3.2.0",
        Runtime::Rust,
        Arch::Arm64,
        "40627b7ac677ce0f5ffc73b32c1a8bc553e75b746b6cdf8f14642ac27dac3148",
    ),
];

/// The pinned digest of an asset, if katafleet knows it.
pub fn known(asset: &Asset) -> Option<Sha256> {
    KNOWN
        .iter()
        .find(|(v, rt, arch, _)| {
            v.parse::<Version>().ok() == Some(asset.version)
                && same_asset_runtime(*rt, asset)
                && *arch == asset.arch
        })
        .and_then(|(_, _, _, digest)| digest.parse().ok())
}

/// Whether any asset of this version has a known digest.
pub fn knows_version(version: Version) -> bool {
    KNOWN
        .iter()
        .any(|(v, ..)| v.parse::<Version>().ok() == Some(version))
}

/// Before the 4.1 split one tarball served both runtimes.
fn same_asset_runtime(entry: Runtime, asset: &Asset) -> bool {
    let probe = Asset {
        runtime: entry,
        ..asset.clone()
    };
    probe.file_name() == asset.file_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_with_or_without_prefix() {
        let hex = "AB".repeat(32);
        let d: Sha256 = format!("sha256:{hex}").parse().unwrap();
        assert_eq!(d.hex(), "ab".repeat(32));
        assert!("abc".parse::<Sha256>().is_err());
        assert!("z".repeat(64).parse::<Sha256>().is_err());
    }

    #[test]
    fn every_known_entry_is_a_valid_digest_and_version() {
        for (v, _, _, d) in KNOWN {
            assert!(v.parse::<Version>().is_ok(), "{v}");
            assert!(d.parse::<Sha256>().is_ok(), "{d}");
        }
    }

    #[test]
    fn known_digests_serve_both_runtimes_before_the_split() {
        let asset = |runtime| Asset {
            version: Version::new(3, 32, 0),
            runtime,
            arch: Arch::Amd64,
        };
        assert_eq!(known(&asset(Runtime::Go)), known(&asset(Runtime::Rust)));
        assert!(known(&asset(Runtime::Rust)).is_some());
        let later = Asset {
            version: Version::new(4, 2, 0),
            runtime: Runtime::Rust,
            arch: Arch::Amd64,
        };
        assert!(known(&later).is_none());
        assert!(knows_version(Version::new(3, 2, 0)));
    }

    #[test]
    fn digest_of_bytes() {
        assert_eq!(
            Sha256::of(b"").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
