//! Comment-preserving edits of containerd's TOML with toml_edit.

use toml_edit::{value, Array, DocumentMut, Item, Table};

use super::{Handler, Schema};
use crate::plan::PlanError;

/// Marks tables katafleet wrote, so a reader of the file knows who owns them,
/// and so katafleet knows them again when its manifest was lost.
const OWNER_MARK: &str = "# katafleet: managed Kata runtime";
const OWNER_NOTE: &str =
    "# katafleet: managed Kata runtime (recorded in /var/lib/katafleet/manifest.json)\n";

/// Whether a runtime table carries katafleet's mark (any version's wording).
fn marked_ours(item: &Item) -> bool {
    item.as_table()
        .and_then(|t| t.decor().prefix())
        .and_then(|p| p.as_str())
        .is_some_and(|p| p.contains(OWNER_MARK))
}
/// Kata annotations pods may set: the shared allowlist (sizing only;
/// anything that could pick host paths or binaries stays off, see
/// GHSA-rr59-xxvx-96qr), the same list the NixOS module uses.
fn pod_annotations() -> Vec<String> {
    crate::plan::kata_defaults::get().pod_annotations()
}

fn parse(text: &str) -> Result<DocumentMut, PlanError> {
    text.parse::<DocumentMut>()
        .map_err(|e| PlanError::Containerd(format!("cannot parse {}: {e}", super::MAIN_CONFIG)))
}

/// The user's config, or a new one with the schema `version` this containerd writes.
fn parse_or_new(current: Option<&str>, version: i64) -> Result<DocumentMut, PlanError> {
    match current {
        Some(text) => parse(text),
        None => {
            let mut d = DocumentMut::new();
            d.decor_mut()
                .set_prefix("# Written by katafleet: no containerd config existed.\n");
            d["version"] = value(version);
            Ok(d)
        }
    }
}

/// The main config with katafleet's handlers set and stale ones it owns removed.
/// A new file gets the schema `version` this containerd writes.
pub fn with_runtimes(
    current: Option<&str>,
    new_version: i64,
    new_schema: Schema,
    wanted: &[Handler],
    owned: &[String],
    default: Option<&DefaultRuntime>,
) -> Result<String, PlanError> {
    let mut doc = parse_or_new(current, new_version)?;
    let schema = match doc.get("version").and_then(Item::as_integer) {
        Some(v) => Schema::from_version(v),
        None if current.is_some() => Schema::V1,
        None => new_schema,
    };
    let runtimes = runtimes_table(&mut doc, schema)?;
    // Ours: what the manifest records, and what carries our mark (the
    // manifest may have been lost or never written by an interrupted run).
    let ours = |name: &str, item: &Item| owned.iter().any(|o| o == name) || marked_ours(item);
    let stale: Vec<String> = runtimes
        .iter()
        .filter(|(name, item)| ours(name, item) && !wanted.iter().any(|w| w.name == *name))
        .map(|(name, _)| name.to_string())
        .collect();
    for name in stale {
        runtimes.remove(&name);
    }
    for handler in wanted {
        match runtimes.get(&handler.name) {
            Some(existing) if matches(existing, handler) => {}
            Some(existing) if !ours(&handler.name, existing) => {
                return Err(PlanError::Containerd(format!(
                    "containerd already has a runtime `{}` that katafleet did not create; remove or rename it first",
                    handler.name
                )))
            }
            _ => {
                runtimes.insert(&handler.name, Item::Table(runtime_table(handler)));
            }
        }
    }
    if let Some(default) = default.filter(|d| !runtimes.contains_key(&d.name)) {
        let mut table = fresh(&default.table);
        table.decor_mut().set_prefix(format!("\n{DEFAULT_NOTE}"));
        runtimes.insert(&default.name, Item::Table(table));
    }
    Ok(doc.to_string())
}

const DEFAULT_NOTE: &str =
    "# katafleet: containerd's default runtime, spelled out because a runtimes\n\
# table in this file replaces containerd 1.x's built-in ones (without it the\n\
# CRI plugin fails to load: no runtime for default_runtime_name)\n";

/// containerd 1.x replaces its built-in `runtimes` map with the file's, so a
/// file that names only katafleet's runtimes loses the default one (runc).
/// This is that runtime exactly as the running containerd has it.
#[derive(Debug, Clone)]
pub struct DefaultRuntime {
    pub name: String,
    pub table: Table,
}

/// The default runtime from `containerd config dump` output, or a minimal
/// runc entry when no dump is available.
pub fn default_runtime(dump: Option<&str>) -> DefaultRuntime {
    let from_dump = dump
        .and_then(|d| d.parse::<DocumentMut>().ok())
        .and_then(|doc| {
            let containerd = [Schema::V2, Schema::V1].iter().find_map(|s| {
                doc.get("plugins")?
                    .get(s.cri_plugin())?
                    .get("containerd")
                    .cloned()
            })?;
            let name = containerd
                .get("default_runtime_name")
                .and_then(Item::as_str)
                .unwrap_or("runc")
                .to_string();
            let table = containerd.get("runtimes")?.get(&name)?.as_table()?.clone();
            Some(DefaultRuntime { name, table })
        });
    from_dump.unwrap_or_else(|| {
        let mut table = Table::new();
        table["runtime_type"] = value("io.containerd.runc.v2");
        DefaultRuntime {
            name: "runc".into(),
            table,
        }
    })
}

/// A copy without the source document's formatting and positions.
fn fresh(source: &Table) -> Table {
    let mut t = Table::new();
    for (key, item) in source.iter() {
        match item {
            Item::Value(v) => {
                let mut v = v.clone();
                v.decor_mut().clear();
                t[key] = Item::Value(v);
            }
            Item::Table(inner) => t[key] = Item::Table(fresh(inner)),
            _ => {}
        }
    }
    t
}

/// The main config with `path` added to its top-level `imports`.
pub fn with_import(current: Option<&str>, path: &str) -> Result<String, PlanError> {
    let mut doc = parse_or_new(current, 3)?;
    let imports = doc
        .entry("imports")
        .or_insert(value(Array::new()))
        .as_array_mut()
        .ok_or_else(|| {
            PlanError::Containerd(format!(
                "`imports` in {} is not an array",
                super::MAIN_CONFIG
            ))
        })?;
    if !imports.iter().any(|v| v.as_str() == Some(path)) {
        imports.push(path);
    }
    Ok(doc.to_string())
}

/// The runtime tables of a drop-in file katafleet owns whole (schema 3).
pub fn dropin_tables(wanted: &[Handler]) -> String {
    let mut doc = DocumentMut::new();
    doc["version"] = value(3);
    let runtimes =
        runtimes_table(&mut doc, Schema::V3).expect("a fresh document has no conflicting keys");
    for handler in wanted {
        runtimes.insert(&handler.name, Item::Table(runtime_table(handler)));
    }
    doc.to_string()
}

/// `plugins.<cri>.containerd.runtimes`, created as implicit tables.
fn runtimes_table(doc: &mut DocumentMut, schema: Schema) -> Result<&mut Table, PlanError> {
    let mut table = doc.as_table_mut();
    for key in ["plugins", schema.cri_plugin(), "containerd", "runtimes"] {
        let entry = table.entry(key).or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        table = entry.as_table_mut().ok_or_else(|| {
            PlanError::Containerd(format!(
                "`{key}` in {} is not a [table] (inline tables are not edited); move it to a table header",
                super::MAIN_CONFIG
            ))
        })?;
    }
    Ok(table)
}

fn runtime_table(handler: &Handler) -> Table {
    let mut t = Table::new();
    t.decor_mut().set_prefix(format!("\n{OWNER_NOTE}"));
    t["runtime_type"] = value("io.containerd.kata.v2");
    t["runtime_path"] = value(&handler.shim);
    t["privileged_without_host_devices"] = value(true);
    t["pod_annotations"] = value(pod_annotations().into_iter().collect::<Array>());
    let mut options = Table::new();
    options["ConfigPath"] = value(&handler.config_path);
    t["options"] = Item::Table(options);
    t
}

/// Whether an existing runtime entry already says what katafleet would write.
fn matches(existing: &Item, handler: &Handler) -> bool {
    let s = |k: &str| existing.get(k).and_then(Item::as_str);
    let annotations: Option<Vec<String>> = existing
        .get("pod_annotations")
        .and_then(Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        });
    s("runtime_type") == Some("io.containerd.kata.v2")
        && s("runtime_path") == Some(handler.shim.as_str())
        && existing
            .get("privileged_without_host_devices")
            .and_then(Item::as_bool)
            == Some(true)
        && annotations == Some(pod_annotations())
        && existing
            .get("options")
            .and_then(|o| o.get("ConfigPath"))
            .and_then(Item::as_str)
            == Some(handler.config_path.as_str())
}

/// The top-level `imports` of a config (empty when absent or unparsable).
pub fn imports(text: &str) -> Vec<String> {
    text.parse::<DocumentMut>()
        .ok()
        .and_then(|d| {
            d.get("imports").and_then(Item::as_array).map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
        })
        .unwrap_or_default()
}

const CRI_IDS: [&str; 3] = [
    "cri",
    "io.containerd.grpc.v1.cri",
    "io.containerd.cri.v1.runtime",
];

/// The config with the CRI plugin taken out of `disabled_plugins`.
pub fn without_disabled_cri(text: &str) -> Result<String, PlanError> {
    let mut doc = parse(text)?;
    if let Some(list) = doc.get_mut("disabled_plugins").and_then(Item::as_array_mut) {
        list.retain(|v| !v.as_str().is_some_and(|s| CRI_IDS.contains(&s)));
    }
    Ok(doc.to_string())
}

/// Docker's containerd.io ships `disabled_plugins = ["cri"]`.
pub fn cri_disabled(text: &str) -> bool {
    text.parse::<DocumentMut>().ok().is_some_and(|d| {
        d.get("disabled_plugins")
            .and_then(Item::as_array)
            .is_some_and(|a| {
                a.iter().any(|v| {
                    matches!(
                        v.as_str(),
                        Some("cri" | "io.containerd.grpc.v1.cri" | "io.containerd.cri.v1.runtime")
                    )
                })
            })
    })
}

/// Whether `containerd config dump` output has runtime `name` under any CRI plugin.
pub fn effective_has_runtime(dump: &str, name: &str) -> bool {
    let Ok(doc) = dump.parse::<DocumentMut>() else {
        return false;
    };
    [Schema::V1, Schema::V2, Schema::V3].iter().any(|s| {
        doc.get("plugins")
            .and_then(|p| p.get(s.cri_plugin()))
            .and_then(|c| c.get("containerd"))
            .and_then(|c| c.get("runtimes"))
            .and_then(|r| r.get(name))
            .is_some()
    })
}

/// The table headers of the runtimes named in `names` that `text` (a
/// config or a dump) has, under whichever CRI plugin id holds them.
pub fn runtime_tables(text: &str, names: &[String]) -> Vec<String> {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for id in CRI_IDS {
        let Some(runtimes) = doc
            .get("plugins")
            .and_then(|p| p.get(id))
            .and_then(|c| c.get("containerd"))
            .and_then(|c| c.get("runtimes"))
        else {
            continue;
        };
        for name in names.iter().filter(|n| runtimes.get(n).is_some()) {
            found.push(format!("[plugins.\"{id}\".containerd.runtimes.{name}]"));
        }
    }
    found
}
