//! Raw inventory → typed `Inventory`. Each section is deserialized on its own
//! so one bad value never hides the problems in another section.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::layers::{ConnectionLayer, KataLayer, ServiceLayer};
use super::raw::{
    RawContainerd, RawDefaults, RawDocker, RawGroup, RawHost, RawKata, RawKubernetes, RawRollout,
    RawVerify, Section,
};
use super::validator::Validator;
use super::values;
use super::{Address, Desired, Host, Inventory, KubernetesSettings};
use crate::inventory::diagnostic::{did_you_mean, Diagnostic, SourceFile};

const DEFAULT_PARALLEL: usize = 20;
/// Below sshd's default `MaxStartups 10:30:100`, which starts dropping
/// unauthenticated connections at 10: what a shared bastion sees.
const DEFAULT_HANDSHAKES: usize = 8;

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

impl Validator<'_> {
    fn inventory(&mut self, root: &DeTable) -> Inventory {
        let get = |k: &str| root.get(k);
        let defaults: RawDefaults = self.section(get("defaults"));
        let kata: RawKata = self.section(get("kata"));
        let containerd: RawContainerd = self.section(get("containerd"));
        let docker: RawDocker = self.section(get("docker"));
        let kubernetes: RawKubernetes = self.section(get("kubernetes"));
        let verify: RawVerify = self.section(get("verify"));
        let verify = self.verify(&verify);
        let rollout: RawRollout = self.section(get("rollout"));
        let rollout = self.rollout(&rollout);

        let parallel = defaults
            .parallel
            .as_ref()
            .and_then(|p| self.in_range(p, "parallel", 1..10_001))
            .map_or(DEFAULT_PARALLEL, |p| p as usize);
        let handshakes = defaults
            .handshakes
            .as_ref()
            .and_then(|p| self.in_range(p, "handshakes", 1..1_001))
            .map_or(DEFAULT_HANDSHAKES, |p| p as usize);
        let base_conn = ConnectionLayer::from_defaults(self, &defaults);
        let base_kata = KataLayer::from_raw(self, &kata);
        let groups = self.groups(get("groups"));
        let base = Layers {
            connection: base_conn,
            kata: base_kata,
            services: ServiceLayer::from_raw(Some(&containerd), Some(&docker)),
        };
        let kubeconfig = kubernetes
            .kubeconfig
            .as_ref()
            .and_then(|k| self.checked_path(k, "kubeconfig"));
        let runtime_classes = kubernetes.runtime_classes.is_some_and(|b| *b.get_ref());
        // With a kubeconfig node names reach kubectl: provision labels the
        // nodes (with runtime_classes), upgrade drains them.
        let uses_kubectl = kubeconfig.is_some();
        let hosts = self.hosts(get("hosts"), &groups, &base, uses_kubectl);
        Inventory {
            path: PathBuf::new(),
            parallel,
            handshakes,
            hosts,
            kubernetes: KubernetesSettings {
                runtime_classes,
                kubeconfig,
                drain_timeout: kubernetes
                    .drain_timeout_secs
                    .as_ref()
                    .and_then(|t| self.timeout(t, "drain_timeout_secs"))
                    .unwrap_or(super::DEFAULT_DRAIN_TIMEOUT),
            },
            verify,
            rollout,
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
        kubectl: bool,
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
            // A bad name is reported and the rest of the entry still checked.
            let name_ok = self.checked(&name, values::host_name).is_some();
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

            let address = match &raw.address {
                Some(a) if a.get_ref() == "local" => Some(Address::Local),
                Some(a) => self.checked(a, values::address).map(Address::Remote),
                None => Some(Address::Remote(name.get_ref().clone())),
            };
            let node_name = self.node_name(&raw, &name, kubectl && name_ok);
            let spec = kata.finish(self, &name, &mut reported_versions);
            let (true, Some(address), Some(node_name), Some(spec)) =
                (name_ok, address, node_name, spec)
            else {
                continue;
            };
            hosts.push(Host {
                node_name,
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

    /// The Kubernetes node name: `node_name`, else the host's name. A
    /// written one must be a node name; the host's name must be one only when
    /// katafleet will pass it to kubectl.
    fn node_name(
        &mut self,
        raw: &RawHost,
        name: &Spanned<String>,
        kubectl: bool,
    ) -> Option<String> {
        if let Some(n) = &raw.node_name {
            return self.checked(n, values::node_name);
        }
        if let (true, Some(problem)) = (kubectl, values::node_name(name.get_ref())) {
            self.diags.push(
                Diagnostic::new(
                    format!("{problem}; with a [kubernetes] kubeconfig, katafleet passes this host's node name to kubectl (upgrade drains the node; provision labels it with runtime_classes)"),
                    Some(name.span()),
                )
                .with_help("set `node_name` to the host's Kubernetes node name"),
            );
            return None;
        }
        Some(name.get_ref().clone())
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
