//! Commands that run on a host after the facts probe, in the same script,
//! and what they left: `@@block NAME EXIT` then base64 of the combined
//! output, then `@@end`; `@@kv KEY VALUE` for single values.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Serialize;

/// Shell helpers every extra script starts with (also after the probe).
pub const SH_LIB: &str = r#"
export LC_ALL=C
PATH=/run/current-system/sw/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
have() { command -v "$1" >/dev/null 2>&1; }
kf_block() {
    kf_name=$1; shift
    kf_f=$(mktemp) || return 1
    "$@" >"$kf_f" 2>&1
    kf_rc=$?
    echo "@@block $kf_name $kf_rc"
    head -c 262144 "$kf_f" | base64
    echo "@@end"
    rm -f "$kf_f"
    return $kf_rc
}
kf_kv() { printf '@@kv %s %s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ')"; }
"#;

/// One command's exit status and output (stdout and stderr together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Captured {
    pub exit: i32,
    pub output: String,
}

impl Captured {
    pub fn ok(&self) -> bool {
        self.exit == 0
    }
}

/// Everything the extra script printed, by name; later blocks of the same
/// name are kept in order under `NAME`, `NAME#2`, ...
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub blocks: BTreeMap<String, Captured>,
    pub values: BTreeMap<String, String>,
    /// Names in the order they appeared.
    pub order: Vec<String>,
}

impl Output {
    pub fn block(&self, name: &str) -> Option<&Captured> {
        self.blocks.get(name)
    }

    pub fn value(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

pub fn parse(text: &str) -> Output {
    let mut out = Output::default();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("@@block ") {
            let (name, exit) = rest.rsplit_once(' ').unwrap_or((rest, "-1"));
            let b64: String = lines.by_ref().take_while(|l| *l != "@@end").collect();
            let output = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|_| format!("(undecodable output of {name})"));
            let mut key = name.to_string();
            let mut n = 1;
            while out.blocks.contains_key(&key) {
                n += 1;
                key = format!("{name}#{n}");
            }
            out.order.push(key.clone());
            out.blocks.insert(
                key,
                Captured {
                    exit: exit.trim().parse().unwrap_or(-1),
                    output,
                },
            );
        } else if let Some(rest) = line.strip_prefix("@@kv ") {
            let (k, v) = rest.split_once(' ').unwrap_or((rest, ""));
            out.values.insert(k.to_string(), v.trim().to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_values_and_repeats() {
        let text = "noise\n@@block ctr-plugins 0\naGVsbG8K\n@@end\n@@kv since 1700000000\n@@block run 1\nYQ==\n@@end\n@@block run 0\nYg==\n@@end\n";
        let o = parse(text);
        assert_eq!(o.block("ctr-plugins").unwrap().output, "hello\n");
        assert!(o.block("ctr-plugins").unwrap().ok());
        assert_eq!(o.value("since"), Some("1700000000"));
        assert_eq!(o.block("run").unwrap().exit, 1);
        assert_eq!(o.block("run#2").unwrap().output, "b");
        assert_eq!(o.order, ["ctr-plugins", "run", "run#2"]);
    }

    #[test]
    fn the_shell_helper_speaks_the_same_protocol() {
        let script = format!(
            "{SH_LIB}\nkf_block greet sh -c 'echo hi; echo oops >&2; exit 3'\nkf_kv k 'a\nb'\n"
        );
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        let o = parse(&String::from_utf8_lossy(&out.stdout));
        let b = o.block("greet").unwrap();
        assert_eq!((b.exit, b.output.as_str()), (3, "hi\noops\n"));
        assert_eq!(o.value("k"), Some("a b"));
    }
}
