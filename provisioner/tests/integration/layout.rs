//! The tree shows the pipeline, and stays that way: no two files of
//! `src/` depend on each other (directly or around a loop), and only
//! `script/` writes shell or reads its markers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/plan/containerd/mod.rs` → `plan::containerd`; lib.rs and main.rs → ``.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file without its `#[cfg(test)]` part and comments.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Paths `crate::a::b...` and `super::a...` in `code`, with use-groups expanded.
fn references(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let text: String = bytes.iter().collect();
    for (start, _) in text
        .match_indices("crate::")
        .chain(text.match_indices("super::"))
    {
        if start > 0 && bytes[start - 1].is_alphanumeric() {
            continue;
        }
        let (base, rest) = if text[start..].starts_with("crate::") {
            (Vec::new(), &text[start + 7..])
        } else {
            // `super` of module a::b is a, for a.rs-style and mod.rs files alike.
            let mut parent = module.to_vec();
            parent.pop();
            (parent, &text[start + 7..])
        };
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut segments: Vec<String> = path
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let after = &rest[path.len()..];
        if let Some(group) = after.strip_prefix('{') {
            let inner: String = group.chars().take_while(|c| *c != '}').collect();
            for item in inner.split(',') {
                let head = item.trim().split("::").next().unwrap_or_default();
                let head = head.split_whitespace().next().unwrap_or_default();
                if !head.is_empty() && head != "self" {
                    let mut p = base.clone();
                    p.extend(segments.iter().cloned());
                    p.push(head.to_string());
                    out.push(p);
                }
            }
        }
        let mut p = base;
        p.append(&mut segments);
        out.push(p);
    }
    out
}

#[test]
fn no_file_depends_on_another_that_depends_back_on_it() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> =
        files.iter().map(|f| (module_of(f), f.clone())).collect();
    let resolve = |mut path: Vec<String>| {
        while !path.is_empty() && !modules.contains_key(&path) {
            path.pop();
        }
        path
    };
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        if module.last().is_some_and(|m| m == "tests") {
            continue;
        }
        for reference in references(module, &code(file)) {
            let target = resolve(reference);
            // A child using its ancestors' items is how Rust modules work.
            let ancestor = target.len() < module.len() && module.starts_with(&target);
            if !target.is_empty() && &target != module && !ancestor {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    let mut cycles = Vec::new();
    let mut state: BTreeMap<Vec<String>, u8> = BTreeMap::new();
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
        cycles: &mut Vec<String>,
    ) {
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let at = stack.iter().position(|n| n == next).unwrap_or(0);
                    let names: Vec<String> = stack[at..].iter().map(|m| m.join("::")).collect();
                    cycles.push(format!("{} -> {}", names.join(" -> "), next.join("::")));
                }
                None => visit(next, edges, state, stack, cycles),
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
    }
    for module in modules.keys() {
        if !state.contains_key(module) {
            visit(module, &edges, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
    // The check sees real edges (a broken parser would find none and pass).
    assert!(
        edges[&vec!["run".to_string(), "pipeline".to_string()]].contains(&vec!["plan".to_string()])
    );
}

#[test]
fn only_script_reads_the_wire_protocol_or_quotes_for_sh() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut offenders = Vec::new();
    for file in files {
        let module = module_of(&file);
        if module.first().is_some_and(|m| m == "script")
            || module.last().is_some_and(|m| m == "tests")
        {
            continue;
        }
        let code = code(&file);
        // A marker parsed by hand, or a second quoting function.
        if code.contains("strip_prefix(\"@@") || code.contains("replace('\\'', \"'\\\\''\")") {
            offenders.push(file.display().to_string());
        }
    }
    assert!(offenders.is_empty(), "outside script/: {offenders:?}");
}
