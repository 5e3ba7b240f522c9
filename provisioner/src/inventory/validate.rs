//! Raw inventory → typed `Inventory`. Each section is deserialized on its own
//! so one bad value never hides the problems in another section.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ValueEnum;
use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::layers::{ConnectionLayer, KataLayer, ServiceLayer};
use super::raw::{
    RawContainerd, RawDefaults, RawDocker, RawGroup, RawHost, RawKata, RawKubernetes, RawVerify,
    Section,
};
use super::{Address, Desired, Host, Inventory, KubernetesSettings};
use crate::inventory::diagnostic::{did_you_mean, Diagnostic, SourceFile};
use crate::release::checksums;

const DEFAULT_PARALLEL: usize = 20;

pub(super) fn validate(file: &SourceFile) -> Result<Inventory, Vec<Diagnostic>> {
    let (root, syntax) = DeTable::parse_recoverable(&file.text);
    if !syntax.is_empty() {
        return Err(syntax
            .iter()
            .map(|e| Diagnostic::new(format!("invalid TOML: {}", e.message().trim()), e.span()))
            .collect());
    }
    let mut v = Validator {
        file,
        diags: Vec::new(),
        base_dir: file
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let root = root.into_inner();
    v.unknown_keys(&root, Section::Root, "top level");
    let mut inventory = v.inventory(&root);
    inventory.path = file.path.clone();
    if v.diags.is_empty() {
        Ok(inventory)
    } else {
        v.diags
            .sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.start));
        Err(v.diags)
    }
}

pub(super) struct Validator<'f> {
    file: &'f SourceFile,
    pub diags: Vec<Diagnostic>,
    pub base_dir: PathBuf,
}

impl Validator<'_> {
    pub fn error(&mut self, message: impl Into<String>, span: Range<usize>) {
        self.diags.push(Diagnostic::new(message, Some(span)));
    }

    /// Reports every key that no raw struct declares, at any depth.
    fn unknown_keys(&mut self, table: &DeTable, section: Section, context: &str) {
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let known = section.keys();
            if !known.contains(&name) {
                let mut d = Diagnostic::new(
                    format!("unknown key `{name}` in {context}"),
                    Some(key.span()),
                );
                if let Some(near) = did_you_mean(name, known.iter().copied()) {
                    d = d.with_help(format!("did you mean `{near}`?"));
                }
                self.diags.push(d);
                continue;
            }
            match (section, name, value.get_ref()) {
                (Section::Root, "groups", DeValue::Table(groups)) => {
                    for (group, body) in groups {
                        if let DeValue::Table(t) = body.get_ref() {
                            let ctx = format!("[groups.{}]", group.get_ref());
                            self.unknown_keys(t, Section::Group, &ctx);
                        }
                    }
                }
                (Section::Root, "hosts", DeValue::Array(hosts)) => {
                    for (i, body) in hosts.iter().enumerate() {
                        if let DeValue::Table(t) = body.get_ref() {
                            self.unknown_keys(t, Section::Host, &format!("[[hosts]] #{}", i + 1));
                        }
                    }
                }
                (_, _, DeValue::Table(t)) => {
                    if let Some(child) = section.child(name) {
                        self.unknown_keys(t, child, &format!("[{name}]"));
                    }
                }
                _ => {}
            }
        }
    }

    /// Deserializes one section; a type error is reported at its own span.
    pub fn section<T: DeserializeOwned + Default>(
        &mut self,
        value: Option<&Spanned<DeValue>>,
    ) -> T {
        let Some(value) = value else {
            return T::default();
        };
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(t) => t,
            Err(e) => {
                let span = e.span().unwrap_or(value.span());
                self.error(e.message().trim().to_string(), span);
                T::default()
            }
        }
    }

    pub fn enum_value<T: ValueEnum>(&mut self, value: &Spanned<String>, key: &str) -> Option<T> {
        let text = value.get_ref();
        if let Ok(t) = T::from_str(text, false) {
            return Some(t);
        }
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        let mut d = Diagnostic::new(
            format!(
                "invalid {key} `{text}`; expected one of: {}",
                names.join(", ")
            ),
            Some(value.span()),
        );
        if let Some(near) = did_you_mean(text, names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{near}`?"));
        }
        self.diags.push(d);
        None
    }

    pub fn parsed<T: std::str::FromStr<Err = String>>(
        &mut self,
        value: &Spanned<String>,
    ) -> Option<T> {
        match value.get_ref().parse() {
            Ok(t) => Some(t),
            Err(message) => {
                self.error(message, value.span());
                None
            }
        }
    }

    pub fn in_range(&mut self, value: &Spanned<i64>, key: &str, range: Range<i64>) -> Option<i64> {
        let n = *value.get_ref();
        if range.contains(&n) {
            Some(n)
        } else {
            let hi = range.end - 1;
            self.error(
                format!("{key} = {n} is out of range ({}..={hi})", range.start),
                value.span(),
            );
            None
        }
    }

    /// Paths in the inventory are relative to the inventory file; `~/` is home.
    pub fn path(&self, raw: &str) -> PathBuf {
        if let Some(rest) = raw.strip_prefix("~/") {
            if let Some(home) = std::env::var_os("HOME") {
                return PathBuf::from(home).join(rest);
            }
        }
        self.base_dir.join(raw)
    }

    fn inventory(&mut self, root: &DeTable) -> Inventory {
        let get = |k: &str| root.get(k);
        let defaults: RawDefaults = self.section(get("defaults"));
        let kata: RawKata = self.section(get("kata"));
        let containerd: RawContainerd = self.section(get("containerd"));
        let docker: RawDocker = self.section(get("docker"));
        let kubernetes: RawKubernetes = self.section(get("kubernetes"));
        let verify: RawVerify = self.section(get("verify"));
        let verify = self.verify(&verify);

        let parallel = defaults
            .parallel
            .as_ref()
            .and_then(|p| self.in_range(p, "parallel", 1..10_001))
            .map_or(DEFAULT_PARALLEL, |p| p as usize);
        let base_conn = ConnectionLayer::from_defaults(self, &defaults);
        let base_kata = KataLayer::from_raw(self, &kata);
        let groups = self.groups(get("groups"));
        let base = Layers {
            connection: base_conn,
            kata: base_kata,
            services: ServiceLayer::from_raw(Some(&containerd), Some(&docker)),
        };
        let hosts = self.hosts(get("hosts"), &groups, &base);
        Inventory {
            path: PathBuf::new(),
            parallel,
            hosts,
            kubernetes: KubernetesSettings {
                runtime_classes: kubernetes.runtime_classes.is_some_and(|b| *b.get_ref()),
                kubeconfig: kubernetes
                    .kubeconfig
                    .as_ref()
                    .map(|k| self.path(k.get_ref())),
            },
            verify,
        }
    }

    fn groups(&mut self, value: Option<&Spanned<DeValue>>) -> BTreeMap<String, Layers> {
        let mut out = BTreeMap::new();
        let Some(value) = value else { return out };
        let DeValue::Table(table) = value.get_ref() else {
            self.error(
                "`groups` must be a table of [groups.NAME] sections",
                value.span(),
            );
            return out;
        };
        for (name, body) in table {
            let raw: RawGroup = self.section(Some(body));
            let connection = ConnectionLayer::from_group(self, &raw);
            let layers = self.layers(
                connection,
                raw.kata.as_ref(),
                raw.containerd.as_ref(),
                raw.docker.as_ref(),
            );
            out.insert(name.get_ref().to_string(), layers);
        }
        out
    }

    fn hosts(
        &mut self,
        value: Option<&Spanned<DeValue>>,
        groups: &BTreeMap<String, Layers>,
        base: &Layers,
    ) -> Vec<Host> {
        let Some(value) = value else {
            self.diags.push(Diagnostic::new(
                "the inventory lists no hosts; add at least one [[hosts]] section",
                None,
            ));
            return Vec::new();
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.error("`hosts` must be an array of [[hosts]] tables", value.span());
            return Vec::new();
        };
        let mut seen: HashMap<String, Range<usize>> = HashMap::new();
        let mut hosts = Vec::new();
        let mut reported_versions = Vec::new();
        for item in items.iter() {
            let raw: RawHost = self.section(Some(item));
            let Some(name) = raw.name.clone() else {
                self.error("this [[hosts]] entry has no `name`", item.span());
                continue;
            };
            if !valid_host_name(name.get_ref()) {
                self.error(
                    format!(
                        "host name `{}` may only use letters, digits, `.`, `_` and `-`",
                        name.get_ref()
                    ),
                    name.span(),
                );
            }
            if let Some(first) = seen.get(name.get_ref()) {
                let (line, _) = self.file.line_col(first.start);
                self.diags.push(
                    Diagnostic::new(
                        format!("duplicate host name `{}`", name.get_ref()),
                        Some(name.span()),
                    )
                    .with_help(format!(
                        "`{}` is first defined on line {line}",
                        name.get_ref()
                    )),
                );
                continue;
            }
            seen.insert(name.get_ref().clone(), name.span());

            let mut layers = base.clone();
            for group in &raw.groups {
                match groups.get(group.get_ref()) {
                    Some(g) => layers = layers.over(g),
                    None => self.undefined_group(group, groups),
                }
            }
            let connection = ConnectionLayer::from_host(self, &raw);
            let own = self.layers(
                connection,
                raw.kata.as_ref(),
                raw.containerd.as_ref(),
                raw.docker.as_ref(),
            );
            let Layers {
                connection: conn,
                kata,
                services,
            } = layers.over(&own);
            let (containerd, enable_cri, docker) = services.finish();

            let address = match raw.address.as_ref().map(|a| a.get_ref().as_str()) {
                Some("local") => Address::Local,
                Some(a) => Address::Remote(a.to_string()),
                None => Address::Remote(name.get_ref().clone()),
            };
            let Some(spec) = kata.finish(self, &name, &mut reported_versions) else {
                continue;
            };
            hosts.push(Host {
                node_name: raw
                    .node_name
                    .as_ref()
                    .map_or_else(|| name.get_ref().clone(), |n| n.get_ref().clone()),
                name: name.get_ref().clone(),
                groups: raw.groups.iter().map(|g| g.get_ref().clone()).collect(),
                connection: conn.finish(address),
                desired: Desired {
                    kata: spec,
                    containerd,
                    enable_cri,
                    docker,
                },
            });
        }
        hosts
    }

    fn layers(
        &mut self,
        connection: ConnectionLayer,
        kata: Option<&RawKata>,
        containerd: Option<&RawContainerd>,
        docker: Option<&RawDocker>,
    ) -> Layers {
        Layers {
            connection,
            kata: kata
                .map(|k| KataLayer::from_raw(self, k))
                .unwrap_or_default(),
            services: ServiceLayer::from_raw(containerd, docker),
        }
    }

    /// Undefined groups are plain labels for `--limit @group`, unless the
    /// name is a near miss of a defined group, which is almost surely a typo.
    fn undefined_group(&mut self, group: &Spanned<String>, groups: &BTreeMap<String, Layers>) {
        if let Some(near) = did_you_mean(group.get_ref(), groups.keys().map(String::as_str)) {
            self.diags.push(
                Diagnostic::new(
                    format!("unknown group `{}`", group.get_ref()),
                    Some(group.span()),
                )
                .with_help(format!("did you mean `{near}`?")),
            );
        }
    }

    pub fn timeout(&mut self, value: &Spanned<i64>, key: &str) -> Option<Duration> {
        self.in_range(value, key, 1..86_401)
            .map(|s| Duration::from_secs(s as u64))
    }

    pub fn known_version(&self, version: crate::release::Version) -> bool {
        checksums::knows_version(version)
    }
}

/// Everything a group or host may override, stacked in order.
#[derive(Debug, Clone, Default)]
pub(super) struct Layers {
    connection: ConnectionLayer,
    kata: KataLayer,
    services: ServiceLayer,
}

impl Layers {
    fn over(&self, top: &Self) -> Self {
        Self {
            connection: self.connection.over(&top.connection),
            kata: self.kata.over(&top.kata),
            services: self.services.over(&top.services),
        }
    }
}

fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}
