//! Inventory fuzzing (bounded, part of `cargo test`): the loader never
//! panics, neither on arbitrary TOML-ish text nor on well-formed TOML with
//! wrong types, out-of-range numbers, unknown keys and hostile strings in
//! every field; and every rejection is rendered with its location
//! (`--> FILE:LINE:COL`, or `--> FILE` for a problem with no one place).

use std::path::Path;

use katafleet::inventory::diagnostic::SourceFile;
use katafleet::inventory::{parse, InventoryError};
use proptest::prelude::*;
use proptest::test_runner::Config;

const FILE: &str = "fuzz.toml";

fn config() -> Config {
    Config {
        cases: 256,
        // Keep the tree clean: no proptest-regressions files.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Loads `text`; on rejection checks that each `error:` has a location
/// line pointing into the file.
fn load_and_check(text: &str) -> Result<(), TestCaseError> {
    let file = SourceFile::new(Path::new(FILE), text.to_string());
    match parse(&file) {
        Ok(_) => Ok(()),
        Err(InventoryError::Invalid {
            rendered, count, ..
        }) => {
            let errors = rendered
                .lines()
                .filter(|l| l.starts_with("error: "))
                .count();
            let located: Vec<&str> = rendered
                .lines()
                .filter_map(|l| l.trim_start().strip_prefix("--> "))
                .collect();
            prop_assert!(count > 0, "rejected with no problem:\n{rendered}");
            prop_assert_eq!(errors, count, "{}", rendered);
            prop_assert_eq!(located.len(), count, "{}", rendered);
            let lines = text.lines().count().max(1);
            for at in located {
                let rest = at.strip_prefix(FILE);
                prop_assert!(rest.is_some(), "{at} in:\n{rendered}");
                let rest = rest.unwrap_or_default();
                if rest.is_empty() {
                    continue;
                }
                let mut parts = rest.trim_start_matches(':').split(':');
                let line: usize = parts.next().unwrap_or("").parse().unwrap_or(0);
                let col: usize = parts.next().unwrap_or("").parse().unwrap_or(0);
                prop_assert!(
                    (1..=lines + 1).contains(&line) && col >= 1,
                    "{at} outside the file ({lines} lines):\n{rendered}"
                );
            }
            Ok(())
        }
        Err(e) => Err(TestCaseError::fail(format!("unexpected error: {e}"))),
    }
}

/// Pieces that TOML and the inventory are made of, so random text reaches
/// deeper than the first syntax error now and then.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\n".to_string()),
        Just(" = ".to_string()),
        Just("[[hosts]]\n".to_string()),
        Just("[kata]\n".to_string()),
        Just("[defaults]\n".to_string()),
        Just("[groups.g]\n".to_string()),
        Just("[hosts.kata]\n".to_string()),
        Just("[verify]\n".to_string()),
        Just("[kubernetes]\n".to_string()),
        Just("name = \"h\"\n".to_string()),
        Just("version = \"4.2.0\"\n".to_string()),
        Just(
            "sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n"
                .to_string()
        ),
        prop::sample::select(KEYS).prop_map(String::from),
        "[a-z_]{1,12}",
        "\"[^\"\\\\\n]{0,20}\"",
        "'[^'\n]{0,20}'",
        "-?[0-9]{1,20}",
        Just("true".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just(",".to_string()),
        Just("\"\"\"".to_string()),
        Just("#".to_string()),
        Just("é".to_string()),
        Just("\u{0}".to_string()),
        any::<char>().prop_map(String::from),
    ]
}

const KEYS: &[&str] = &[
    "name",
    "address",
    "port",
    "user",
    "identity_file",
    "known_hosts",
    "known_hosts_file",
    "become",
    "parallel",
    "connect_timeout_secs",
    "step_timeout_secs",
    "groups",
    "node_name",
    "version",
    "runtime",
    "hypervisor",
    "source",
    "sha256",
    "default_memory_mib",
    "default_vcpus",
    "debug",
    "shims",
    "kvm_users",
    "method",
    "enable",
    "enable_cri",
    "runtime_classes",
    "kubeconfig",
    "image",
    "image_archive",
    "bench_runs",
    "kata",
    "containerd",
    "docker",
    "hosts",
    "defaults",
    "verify",
    "kubernetes",
];

/// Strings a user or an attacker might write.
fn text_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("$(touch /tmp/pwned)".to_string()),
        Just("`id`".to_string()),
        Just("a;b".to_string()),
        Just("a\nb".to_string()),
        Just("--all".to_string()),
        Just("'\"".to_string()),
        Just("local".to_string()),
        Just("4.2.0".to_string()),
        Just("qemu".to_string()),
        Just("".to_string()),
        "\\PC{0,16}",
        ".{0,16}",
    ]
}

fn value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        text_value().prop_map(toml::Value::String),
        any::<i64>().prop_map(toml::Value::Integer),
        any::<bool>().prop_map(toml::Value::Boolean),
        (-1e9f64..1e9).prop_map(toml::Value::Float),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(KEYS).prop_map(String::from),
                inner,
                0..4
            )
            .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// A valid inventory with `edits` applied: (section path, key, value).
fn mutated(edits: Vec<(usize, String, toml::Value)>) -> String {
    let mut root: toml::Table = toml::from_str(
        "[kata]\nversion = \"4.2.0\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n\
         [defaults]\nuser = \"ops\"\n[groups.g]\nport = 22\n[verify]\nbench_runs = 3\n\
         [[hosts]]\nname = \"a\"\ngroups = [\"g\"]\n[[hosts]]\nname = \"b\"\naddress = \"local\"\n[hosts.kata]\ndefault_vcpus = 2\n",
    )
    .expect("the base inventory is TOML");
    for (section, key, value) in edits {
        let table = match section % 7 {
            0 => Some(&mut root),
            1 => table_at(&mut root, &["kata"]),
            2 => table_at(&mut root, &["defaults"]),
            3 => table_at(&mut root, &["groups", "g"]),
            4 => table_at(&mut root, &["verify"]),
            5 => root
                .get_mut("hosts")
                .and_then(|h| h.as_array_mut())
                .and_then(|a| a.first_mut())
                .and_then(|h| h.as_table_mut()),
            _ => root
                .get_mut("hosts")
                .and_then(|h| h.as_array_mut())
                .and_then(|a| a.get_mut(1))
                .and_then(|h| h.get_mut("kata"))
                .and_then(|k| k.as_table_mut()),
        };
        if let Some(t) = table {
            t.insert(key, value);
        }
    }
    toml::to_string(&root).unwrap_or_default()
}

fn table_at<'a>(root: &'a mut toml::Table, path: &[&str]) -> Option<&'a mut toml::Table> {
    let mut t = root;
    for p in path {
        t = t.get_mut(*p)?.as_table_mut()?;
    }
    Some(t)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics_and_every_rejection_is_located(text in ".{0,400}") {
        load_and_check(&text)?;
    }

    #[test]
    fn toml_ish_text_never_panics_and_every_rejection_is_located(
        tokens in prop::collection::vec(token(), 0..80)
    ) {
        load_and_check(&tokens.concat())?;
    }

    #[test]
    fn wrong_types_and_hostile_values_never_panic_and_are_located(
        edits in prop::collection::vec(
            (0usize..7, prop::sample::select(KEYS).prop_map(String::from), value()),
            1..5,
        )
    ) {
        load_and_check(&mutated(edits))?;
    }
}

/// The mutation base must load, or every structured case would be a
/// rejection for the same reason.
#[test]
fn the_fuzzing_base_is_valid() {
    let text = mutated(Vec::new());
    let file = SourceFile::new(Path::new(FILE), text.clone());
    if let Err(e) = parse(&file) {
        panic!("{e}\n{text}");
    }
}
