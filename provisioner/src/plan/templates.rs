//! Text files katafleet writes on hosts, rendered with tera from templates/
//! embedded in the binary.

use std::sync::OnceLock;

use tera::{Context, Tera};

use crate::inventory::KataSpec;
use crate::plan::containerd_dropin_tables;
use crate::plan::Handler;

const TEMPLATES: [(&str, &str); 6] = [
    (
        "nixos.nix",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../templates/nixos/katafleet.nix.tera"
        )),
    ),
    (
        "runtimeclass.yaml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../templates/runtimeclass.yaml.tera"
        )),
    ),
    (
        "compose-override.yaml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../templates/compose-override.yaml.tera"
        )),
    ),
    (
        "kata-dropin.toml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../templates/kata-dropin.toml.tera"
        )),
    ),
    (
        "modules-load.conf",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../templates/modules-load.conf.tera"
        )),
    ),
    (
        "containerd-dropin.toml",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../templates/containerd-dropin.toml.tera"
        )),
    ),
];

fn engine() -> &'static Tera {
    static ENGINE: OnceLock<Tera> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut tera = Tera::new();
        // The templates are compiled into the binary; a broken one is a build bug caught by tests.
        tera.add_raw_templates(TEMPLATES)
            .expect("embedded templates parse");
        tera
    })
}

fn render(name: &str, context: &Context) -> String {
    engine()
        .render(name, context)
        .expect("embedded templates render with their context")
}

pub fn kata_dropin(kata: &KataSpec) -> String {
    let mut c = Context::new();
    let sections: Vec<&str> = kata
        .hypervisors()
        .iter()
        .map(|h| h.config_section())
        .collect();
    c.insert("sections", &sections);
    c.insert("memory_mib", &kata.memory_mib);
    c.insert("vcpus", &kata.vcpus);
    c.insert("debug", &kata.debug);
    // Sizing only: the allowlist the NixOS module uses too.
    c.insert(
        "annotations",
        &crate::plan::kata_defaults::get().annotations,
    );
    render("kata-dropin.toml", &c)
}

pub fn modules_load(modules: &[String]) -> String {
    let mut c = Context::new();
    c.insert("modules", modules);
    render("modules-load.conf", &c)
}

/// /etc/nixos/katafleet.nix for a NixOS host: the inventory in the module's
/// terms (its hypervisor names), wiring containerd and Docker as told.
pub fn nixos_settings(
    desired: &crate::inventory::Desired,
    containerd: bool,
    docker: bool,
) -> String {
    let kata = &desired.kata;
    let defaults = crate::plan::kata_defaults::get();
    let shims: Vec<&str> = kata.shims.iter().map(|h| defaults.nixos(*h).0).collect();
    let mut c = Context::new();
    c.insert("hypervisor", defaults.nixos(kata.hypervisor).0);
    c.insert("shims", &shims);
    c.insert("memory_mib", &kata.memory_mib);
    c.insert("vcpus", &kata.vcpus);
    c.insert("debug", &kata.debug);
    c.insert("containerd", &containerd);
    c.insert("docker", &docker);
    c.insert("kvm_users", &kata.kvm_users);
    render("nixos.nix", &c)
}

pub fn runtime_class(name: &str, hypervisor: crate::release::Hypervisor) -> String {
    let (memory, cpu) = hypervisor.overhead();
    let mut c = Context::new();
    c.insert("name", name);
    c.insert("hypervisor", hypervisor.name());
    c.insert("memory", memory);
    c.insert("cpu", cpu);
    render("runtimeclass.yaml", &c)
}

/// The override for `services` of the Compose file `compose`, to be used
/// as `docker compose -f COMPOSE -f FILE up`.
pub fn compose_override(services: &[String], runtime: &str, compose: &str, file: &str) -> String {
    let mut c = Context::new();
    c.insert("services", services);
    c.insert("runtime", runtime);
    c.insert("compose", compose);
    c.insert("file", file);
    render("compose-override.yaml", &c)
}

pub fn containerd_dropin(handlers: &[Handler]) -> String {
    let mut c = Context::new();
    c.insert("tables", &containerd_dropin_tables(handlers));
    render("containerd-dropin.toml", &c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::Hypervisor;

    fn spec(hypervisor: Hypervisor, debug: bool) -> KataSpec {
        let mut k = crate::inventory::Desired::sample().kata;
        k.hypervisor = hypervisor;
        k.shims = vec![hypervisor];
        k.memory_mib = 4096;
        k.vcpus = 2;
        k.debug = debug;
        k
    }

    #[test]
    fn kata_dropin_is_valid_toml_with_the_settings() {
        let text = kata_dropin(&spec(Hypervisor::Fc, true));
        let v: toml::Table = text.parse().unwrap();
        let hv = &v["hypervisor"]["firecracker"];
        assert_eq!(hv["default_memory"].as_integer(), Some(4096));
        assert_eq!(hv["default_vcpus"].as_integer(), Some(2));
        assert_eq!(hv["enable_annotations"].as_array().unwrap().len(), 2);
        assert_eq!(v["runtime"]["enable_debug"].as_bool(), Some(true));
    }

    #[test]
    fn modules_file_lists_one_module_per_line() {
        let text = modules_load(&["kvm".into(), "vhost_vsock".into()]);
        let lines: Vec<_> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines, ["kvm", "vhost_vsock"]);
    }
}
