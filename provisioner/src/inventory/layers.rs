//! Settings that stack: built-in defaults, then `[defaults]`/`[kata]`, then
//! each of a host's groups in order, then the host's own keys.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::raw::{RawContainerd, RawDefaults, RawDocker, RawGroup, RawHost, RawKata};
use super::validator::Validator;
use super::values;
use super::{Address, Become, Connection, InstallMethod, KataSpec, KnownHostsPolicy, ReleaseFetch};
use crate::inventory::diagnostic::Diagnostic;
use crate::release::checksums::Sha256;
use crate::release::{Hypervisor, Runtime, Version, DEFAULT_SOURCE};

const DEFAULT_MEMORY_MIB: u32 = 2048;
/// Kata refuses sandboxes much smaller than this.
const MIN_MEMORY_MIB: i64 = 256;

/// Connection settings where every key may be unset at this layer.
#[derive(Debug, Clone, Default)]
pub(super) struct ConnectionLayer {
    port: Option<u16>,
    user: Option<String>,
    identity_file: Option<PathBuf>,
    known_hosts: Option<KnownHostsPolicy>,
    known_hosts_file: Option<PathBuf>,
    become_: Option<Become>,
    connect_timeout: Option<Duration>,
    step_timeout: Option<Duration>,
    proxy_jump: Option<String>,
    ssh_config: Option<PathBuf>,
}

impl ConnectionLayer {
    pub fn from_defaults(v: &mut Validator, raw: &RawDefaults) -> Self {
        Self {
            port: raw.port.as_ref().and_then(|p| port(v, p)),
            user: raw
                .user
                .as_ref()
                .and_then(|u| v.checked(u, values::login_user)),
            identity_file: raw
                .identity_file
                .as_ref()
                .and_then(|p| v.checked_path(p, "identity_file")),
            known_hosts: raw
                .known_hosts
                .as_ref()
                .and_then(|k| v.enum_value(k, "known_hosts")),
            known_hosts_file: raw
                .known_hosts_file
                .as_ref()
                .and_then(|p| v.checked(p, values::known_hosts_file))
                .map(|p| v.path(&p)),
            become_: raw.become_.as_ref().and_then(|b| v.enum_value(b, "become")),
            connect_timeout: raw
                .connect_timeout_secs
                .as_ref()
                .and_then(|t| v.timeout(t, "connect_timeout_secs")),
            step_timeout: raw
                .step_timeout_secs
                .as_ref()
                .and_then(|t| v.timeout(t, "step_timeout_secs")),
            proxy_jump: raw
                .proxy_jump
                .as_ref()
                .and_then(|j| super::ssh::proxy_jump(v, j)),
            ssh_config: raw
                .ssh_config
                .as_ref()
                .and_then(|p| v.checked_path(p, "ssh_config")),
        }
    }

    pub fn from_group(v: &mut Validator, raw: &RawGroup) -> Self {
        Self {
            port: raw.port.as_ref().and_then(|p| port(v, p)),
            user: raw
                .user
                .as_ref()
                .and_then(|u| v.checked(u, values::login_user)),
            become_: raw.become_.as_ref().and_then(|b| v.enum_value(b, "become")),
            proxy_jump: raw
                .proxy_jump
                .as_ref()
                .and_then(|j| super::ssh::proxy_jump(v, j)),
            ..Self::default()
        }
    }

    pub fn from_host(v: &mut Validator, raw: &RawHost) -> Self {
        Self {
            port: raw.port.as_ref().and_then(|p| port(v, p)),
            user: raw
                .user
                .as_ref()
                .and_then(|u| v.checked(u, values::login_user)),
            identity_file: raw
                .identity_file
                .as_ref()
                .and_then(|p| v.checked_path(p, "identity_file")),
            become_: raw.become_.as_ref().and_then(|b| v.enum_value(b, "become")),
            proxy_jump: raw
                .proxy_jump
                .as_ref()
                .and_then(|j| super::ssh::proxy_jump(v, j)),
            ..Self::default()
        }
    }

    /// `top` wins wherever it sets a key.
    pub fn over(&self, top: &Self) -> Self {
        Self {
            port: top.port.or(self.port),
            user: top.user.clone().or_else(|| self.user.clone()),
            identity_file: top
                .identity_file
                .clone()
                .or_else(|| self.identity_file.clone()),
            known_hosts: top.known_hosts.or(self.known_hosts),
            known_hosts_file: top
                .known_hosts_file
                .clone()
                .or_else(|| self.known_hosts_file.clone()),
            become_: top.become_.or(self.become_),
            connect_timeout: top.connect_timeout.or(self.connect_timeout),
            step_timeout: top.step_timeout.or(self.step_timeout),
            proxy_jump: top.proxy_jump.clone().or_else(|| self.proxy_jump.clone()),
            ssh_config: top.ssh_config.clone().or_else(|| self.ssh_config.clone()),
        }
    }

    pub fn finish(self, address: Address) -> Connection {
        Connection {
            address,
            port: self.port,
            user: self.user,
            identity_file: self.identity_file,
            proxy_jump: self.proxy_jump,
            ssh_config: self.ssh_config,
            known_hosts: self.known_hosts.unwrap_or(KnownHostsPolicy::Strict),
            known_hosts_file: self.known_hosts_file,
            become_: self.become_.unwrap_or(Become::None),
            connect_timeout: self.connect_timeout.unwrap_or(Duration::from_secs(10)),
            step_timeout: self.step_timeout.unwrap_or(Duration::from_secs(600)),
        }
    }
}

fn port(v: &mut Validator, p: &Spanned<i64>) -> Option<u16> {
    v.in_range(p, "port", 1..65_536).map(|p| p as u16)
}

/// Which daemons to wire, at one layer.
#[derive(Debug, Clone, Default)]
pub(super) struct ServiceLayer {
    containerd: Option<bool>,
    enable_cri: Option<bool>,
    docker: Option<bool>,
}

impl ServiceLayer {
    pub fn from_raw(containerd: Option<&RawContainerd>, docker: Option<&RawDocker>) -> Self {
        let flag = |v: Option<&Spanned<bool>>| v.map(|b| *b.get_ref());
        Self {
            containerd: containerd.and_then(|c| flag(c.enable.as_ref())),
            enable_cri: containerd.and_then(|c| flag(c.enable_cri.as_ref())),
            docker: docker.and_then(|d| flag(d.enable.as_ref())),
        }
    }

    pub fn over(&self, top: &Self) -> Self {
        Self {
            containerd: top.containerd.or(self.containerd),
            enable_cri: top.enable_cri.or(self.enable_cri),
            docker: top.docker.or(self.docker),
        }
    }

    /// (containerd, enable_cri, docker) with their defaults.
    pub fn finish(&self) -> (bool, bool, bool) {
        (
            self.containerd.unwrap_or(true),
            self.enable_cri.unwrap_or(false),
            self.docker.unwrap_or(true),
        )
    }
}

/// Kata settings at one layer. The version keeps its span so that a missing
/// checksum can be reported where the version was written.
#[derive(Debug, Clone, Default)]
pub(super) struct KataLayer {
    version: Option<(Version, Range<usize>)>,
    runtime: Option<Runtime>,
    hypervisor: Option<(Hypervisor, Range<usize>)>,
    source: Option<String>,
    sha256: Option<Sha256>,
    /// A sha256 was written (even if invalid, which is reported on its own).
    sha256_written: bool,
    memory_mib: Option<u32>,
    vcpus: Option<u32>,
    debug: Option<bool>,
    shims: Option<Vec<Hypervisor>>,
    kvm_users: Option<Vec<String>>,
    method: Option<InstallMethod>,
    fetch: Option<(ReleaseFetch, Range<usize>)>,
}

impl KataLayer {
    pub fn from_raw(v: &mut Validator, raw: &RawKata) -> Self {
        Self {
            version: raw
                .version
                .as_ref()
                .and_then(|s| v.parsed(s).map(|ver| (ver, s.span()))),
            runtime: raw
                .runtime
                .as_ref()
                .and_then(|r| v.enum_value(r, "runtime")),
            hypervisor: raw
                .hypervisor
                .as_ref()
                .and_then(|h| v.enum_value(h, "hypervisor").map(|hv| (hv, h.span()))),
            source: raw.source.as_ref().and_then(|s| source(v, s)),
            sha256: raw.sha256.as_ref().and_then(|s| v.parsed(s)),
            sha256_written: raw.sha256.is_some(),
            memory_mib: raw
                .default_memory_mib
                .as_ref()
                .and_then(|m| v.in_range(m, "default_memory_mib", MIN_MEMORY_MIB..1_048_577))
                .map(|m| m as u32),
            vcpus: raw
                .default_vcpus
                .as_ref()
                .and_then(|c| v.in_range(c, "default_vcpus", 1..1025))
                .map(|c| c as u32),
            debug: raw.debug.as_ref().map(|d| *d.get_ref()),
            shims: raw.shims.as_ref().map(|list| {
                list.iter()
                    .filter_map(|s| v.enum_value(s, "shim"))
                    .collect()
            }),
            kvm_users: raw.kvm_users.as_ref().map(|list| {
                list.iter()
                    .filter_map(|u| v.checked(u, values::unix_user))
                    .collect()
            }),
            method: raw.method.as_ref().and_then(|m| v.enum_value(m, "method")),
            fetch: raw
                .fetch
                .as_ref()
                .and_then(|f| v.enum_value(f, "fetch").map(|x| (x, f.span()))),
        }
    }

    pub fn over(&self, top: &Self) -> Self {
        Self {
            version: top.version.clone().or_else(|| self.version.clone()),
            runtime: top.runtime.or(self.runtime),
            hypervisor: top.hypervisor.clone().or_else(|| self.hypervisor.clone()),
            source: top.source.clone().or_else(|| self.source.clone()),
            // A pin belongs to the version it was written with.
            sha256: if top.version.is_some() {
                top.sha256.clone()
            } else {
                top.sha256.clone().or_else(|| self.sha256.clone())
            },
            sha256_written: top.sha256_written || (top.version.is_none() && self.sha256_written),
            memory_mib: top.memory_mib.or(self.memory_mib),
            vcpus: top.vcpus.or(self.vcpus),
            debug: top.debug.or(self.debug),
            shims: top.shims.clone().or_else(|| self.shims.clone()),
            kvm_users: top.kvm_users.clone().or_else(|| self.kvm_users.clone()),
            method: top.method.or(self.method),
            fetch: top.fetch.clone().or_else(|| self.fetch.clone()),
        }
    }

    /// The host's full spec, or None after reporting what is missing.
    pub fn finish(
        self,
        v: &mut Validator,
        host: &Spanned<String>,
        reported: &mut Vec<Range<usize>>,
    ) -> Option<KataSpec> {
        let Some((version, version_span)) = self.version else {
            v.diags.push(
                Diagnostic::new(
                    format!("host `{}` has no Kata version", host.get_ref()),
                    Some(host.span()),
                )
                .with_help("set `version` in [kata], in one of its groups, or in [hosts.kata]"),
            );
            return None;
        };
        let runtime = self.runtime.unwrap_or(Runtime::Rust);
        let (hypervisor, hv_span) = self.hypervisor.unwrap_or((Hypervisor::Qemu, host.span()));
        if runtime == Runtime::Go && hypervisor == Hypervisor::Dragonball {
            v.error(
                "dragonball is built into runtime-rs; the Go runtime cannot use it",
                hv_span,
            );
            return None;
        }
        if self.sha256_written && self.sha256.is_none() {
            return None;
        }
        if self.sha256.is_none() && !v.known_version(version) {
            if !reported.contains(&version_span) {
                reported.push(version_span.clone());
                v.diags.push(
                    Diagnostic::new(
                        format!(
                            "no sha256 for Kata {version}: katafleet has no known checksum for it"
                        ),
                        Some(version_span),
                    )
                    .with_help(
                        "pin the release asset's digest with `sha256 = \"...\"` next to `version`",
                    ),
                );
            }
            return None;
        }
        let source = self.source.unwrap_or_else(|| DEFAULT_SOURCE.to_string());
        let fetch = match self.fetch {
            Some((ReleaseFetch::Host, span)) if !is_url(&source) => {
                v.diags.push(
                    Diagnostic::new(
                        format!(
                            "fetch = \"host\" needs an http:// or https:// source, but host `{}` has `{source}`",
                            host.get_ref()
                        ),
                        Some(span),
                    )
                    .with_help("a local file exists only on the controller: use fetch = \"controller\", or serve it over HTTP"),
                );
                return None;
            }
            Some((fetch, _)) => fetch,
            None => ReleaseFetch::Controller,
        };
        Some(KataSpec {
            version,
            runtime,
            hypervisor,
            source,
            sha256: self.sha256,
            memory_mib: self.memory_mib.unwrap_or(DEFAULT_MEMORY_MIB),
            vcpus: self.vcpus.unwrap_or(1),
            debug: self.debug.unwrap_or(false),
            shims: self.shims.unwrap_or_else(|| vec![hypervisor]),
            kvm_users: self.kvm_users.unwrap_or_default(),
            method: self.method.unwrap_or(InstallMethod::Static),
            fetch,
        })
    }
}

fn is_url(source: &str) -> bool {
    source.starts_with("https://") || source.starts_with("http://")
}

/// A URL template stays as written; a local path becomes absolute.
fn source(v: &mut Validator, raw: &Spanned<String>) -> Option<String> {
    let text = raw.get_ref();
    if is_url(text) {
        // With fetch = "host" the URL goes into host scripts (quoted); a
        // blank or control character has no place in a URL either way.
        if text.contains(|c: char| c.is_whitespace() || c.is_control()) {
            v.error(
                format!(
                    "source `{}` holds a blank or control character",
                    text.escape_debug()
                ),
                raw.span(),
            );
            return None;
        }
        return Some(text.clone());
    }
    if let Some(scheme_end) = text.find("://") {
        if !text.starts_with("file://") {
            v.error(
                format!(
                    "unsupported source scheme `{}`; use https://, http://, file:// or a path",
                    &text[..scheme_end]
                ),
                raw.span(),
            );
            return None;
        }
    }
    let path = text.strip_prefix("file://").unwrap_or(text);
    if let Some(problem) = values::path("source", path) {
        v.error(problem, raw.span());
        return None;
    }
    Some(v.path(path).to_string_lossy().into_owned())
}
