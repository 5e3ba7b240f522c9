//! What a Kata release is: its version, which runtime and hypervisor a host
//! uses from it, which asset holds them, and where they land under /opt/kata.

pub mod archive;
pub mod cache;
pub mod checksums;
pub mod fetch;

use std::fmt;
use std::str::FromStr;

use clap::ValueEnum;
use serde::Serialize;

/// Where the official tarballs unpack to.
pub const KATA_ROOT: &str = "/opt/kata";
pub const DEFAULT_SOURCE: &str =
    "https://github.com/kata-containers/kata-containers/releases/download/{version}/{asset}";

/// A release version such as `4.2.0` (tags carry no leading `v`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

impl FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('.').collect();
        let numbers: Option<Vec<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
        match numbers.as_deref() {
            Some([major, minor, patch]) => Ok(Self::new(*major, *minor, *patch)),
            _ => Err(format!(
                "`{s}` is not a Kata release version; write it as MAJOR.MINOR.PATCH, for example `4.2.0`"
            )),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Which Kata runtime implementation a host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// runtime-rs, the default since Kata 4.0.
    Rust,
    /// The Go runtime (`kata-runtime`).
    Go,
}

impl Runtime {
    /// The one spelling used in reports, markers and release names (serde
    /// and the inventory's `runtime` use the same lowercase words).
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Rust => "rust",
            Runtime::Go => "go",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Runtime::Rust, Runtime::Go]
            .into_iter()
            .find(|r| r.name() == name)
    }
}

/// Which VMM runs the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Hypervisor {
    Qemu,
    Clh,
    Fc,
    Dragonball,
}

impl Hypervisor {
    /// The name as users write it in the inventory and in handler names.
    pub fn name(self) -> &'static str {
        match self {
            Hypervisor::Qemu => "qemu",
            Hypervisor::Clh => "clh",
            Hypervisor::Fc => "fc",
            Hypervisor::Dragonball => "dragonball",
        }
    }

    /// The VMM binary under /opt/kata/bin, or None when it lives inside the shim.
    pub fn vmm_binary(self, arch: Arch) -> Option<String> {
        match self {
            Hypervisor::Qemu => Some(format!("qemu-system-{}", arch.uname())),
            Hypervisor::Clh => Some("cloud-hypervisor".into()),
            Hypervisor::Fc => Some("firecracker".into()),
            Hypervisor::Dragonball => None,
        }
    }

    /// The `[hypervisor.<section>]` table name in Kata's configuration files.
    pub fn config_section(self) -> &'static str {
        match self {
            Hypervisor::Fc => "firecracker",
            other => other.name(),
        }
    }

    /// Pod overhead as kata-deploy sets it: (memory, cpu).
    pub fn overhead(self) -> (&'static str, &'static str) {
        match self {
            Hypervisor::Qemu => ("320Mi", "250m"),
            _ => ("130Mi", "250m"),
        }
    }
}

/// CPU architecture in the release assets' spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
    S390x,
    Ppc64le,
}

impl Arch {
    /// Maps `uname -m` to the asset spelling (`x86_64` is `amd64` there).
    pub fn from_uname(machine: &str) -> Option<Self> {
        match machine {
            "x86_64" | "amd64" => Some(Arch::Amd64),
            "aarch64" | "arm64" => Some(Arch::Arm64),
            "s390x" => Some(Arch::S390x),
            "ppc64le" => Some(Arch::Ppc64le),
            _ => None,
        }
    }

    pub fn asset_name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
            Arch::S390x => "s390x",
            Arch::Ppc64le => "ppc64le",
        }
    }

    pub fn uname(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64",
            Arch::Arm64 => "aarch64",
            Arch::S390x => "s390x",
            Arch::Ppc64le => "ppc64le",
        }
    }

    pub fn all() -> [Arch; 4] {
        [Arch::Amd64, Arch::Arm64, Arch::S390x, Arch::Ppc64le]
    }
}

/// How an asset is compressed, which decides the decompressor on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Compression {
    Zstd,
    Xz,
}

impl Compression {
    /// The host command that decompresses the asset to stdout.
    pub fn decompress_command(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd -dc",
            Compression::Xz => "xz -dc",
        }
    }

    pub fn tool(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }
}

/// One downloadable release tarball.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Asset {
    pub version: Version,
    pub runtime: Runtime,
    pub arch: Arch,
}

/// From 3.21 the tarballs are zstd; 4.1 split the Go runtime into its own.
const ZSTD_SINCE: Version = Version::new(3, 21, 0);
const GO_SPLIT_SINCE: Version = Version::new(4, 1, 0);

impl Asset {
    pub fn compression(&self) -> Compression {
        if self.version >= ZSTD_SINCE {
            Compression::Zstd
        } else {
            Compression::Xz
        }
    }

    /// The asset's file name, e.g. `kata-static-4.2.0-amd64.tar.zst`.
    pub fn file_name(&self) -> String {
        let stem = if self.runtime == Runtime::Go && self.version >= GO_SPLIT_SINCE {
            "kata-go-static"
        } else {
            "kata-static"
        };
        let ext = match self.compression() {
            Compression::Zstd => "tar.zst",
            Compression::Xz => "tar.xz",
        };
        format!("{stem}-{}-{}.{ext}", self.version, self.arch.asset_name())
    }

    /// Fills a source template's `{version}` and `{asset}` placeholders.
    pub fn expand(&self, template: &str) -> String {
        template
            .replace("{version}", &self.version.to_string())
            .replace("{asset}", &self.file_name())
    }
}

/// Paths of the installed runtime that configuration points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub shim: String,
    pub config_file: String,
    pub config_dropin_dir: String,
}

impl Layout {
    pub fn new(runtime: Runtime, hypervisor: Hypervisor) -> Self {
        let defaults = format!("{KATA_ROOT}/share/defaults/kata-containers");
        let (shim, config_dir, config_name) = match runtime {
            Runtime::Rust => (
                format!("{KATA_ROOT}/runtime-rs/bin/containerd-shim-kata-v2"),
                format!("{defaults}/runtime-rs"),
                rust_config_name(hypervisor),
            ),
            Runtime::Go => (
                format!("{KATA_ROOT}/bin/containerd-shim-kata-v2"),
                defaults,
                format!("configuration-{}.toml", hypervisor.name()),
            ),
        };
        Self {
            shim,
            config_file: format!("{config_dir}/{config_name}"),
            config_dropin_dir: format!("{config_dir}/config.d"),
        }
    }

    /// A distribution package built from upstream's Makefile with
    /// PREFIX=/usr (Fedora's `kata-containers`, the Go runtime).
    pub fn packaged(hypervisor: Hypervisor) -> Self {
        let defaults = "/usr/share/defaults/kata-containers";
        Self {
            shim: "/usr/bin/containerd-shim-kata-v2".into(),
            config_file: format!("{defaults}/configuration-{}.toml", hypervisor.name()),
            config_dropin_dir: format!("{defaults}/config.d"),
        }
    }
}

/// Whether the release for (version, runtime) ships what `hypervisor` needs;
/// the error says what to choose instead.
pub fn check_hypervisor(
    version: Version,
    runtime: Runtime,
    hypervisor: Hypervisor,
) -> Result<(), String> {
    match (runtime, hypervisor) {
        (Runtime::Go, Hypervisor::Dragonball) => {
            Err("dragonball is built into runtime-rs; the Go runtime cannot use it (set runtime = \"rust\")".into())
        }
        (Runtime::Rust, Hypervisor::Fc) if version >= GO_SPLIT_SINCE => Err(format!(
            "Kata {version}'s runtime-rs release (kata-static) ships no firecracker; fc needs runtime = \"go\" (kata-go-static)"
        )),
        (Runtime::Rust, Hypervisor::Dragonball) if version.major == 4 && version.minor == 0 => Err(format!(
            "Kata {version}'s kata-static lacks configuration-dragonball.toml (kata-containers#13485); use 4.1 or later"
        )),
        _ => Ok(()),
    }
}

/// Whether a fetched archive really holds the config and VMM of a hypervisor.
pub fn check_archive(
    contents: &archive::ArchiveContents,
    runtime: Runtime,
    hypervisor: Hypervisor,
    arch: Arch,
) -> Result<(), String> {
    let layout = Layout::new(runtime, hypervisor);
    if !contents.has(&layout.config_file) {
        return Err(format!(
            "the release has no {} : hypervisor `{}` is not in this release",
            layout.config_file,
            hypervisor.name()
        ));
    }
    if let Some(vmm) = hypervisor.vmm_binary(arch) {
        let path = format!("{KATA_ROOT}/bin/{vmm}");
        if !contents.has(&path) {
            return Err(format!(
                "the release has no {path}: hypervisor `{}` is not in this release",
                hypervisor.name()
            ));
        }
    }
    if !contents.has(&layout.shim) {
        return Err(format!(
            "the release has no {}: it does not hold the {runtime:?} runtime",
            layout.shim
        ));
    }
    Ok(())
}

fn rust_config_name(hypervisor: Hypervisor) -> String {
    let name = match hypervisor {
        Hypervisor::Qemu => "qemu-runtime-rs",
        Hypervisor::Clh => "clh-runtime-rs",
        Hypervisor::Fc => "rs-fc",
        Hypervisor::Dragonball => "dragonball",
    };
    format!("configuration-{name}.toml")
}

#[cfg(test)]
mod tests;
