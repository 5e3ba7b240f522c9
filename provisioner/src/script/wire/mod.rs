//! The one wire protocol between katafleet's host scripts and the
//! controller. Every protocol line starts with `@@`; anything else on stdout
//! is a command's stray output and is ignored. A line that starts with `@@`
//! but is no marker known here is an error: katafleet and its script
//! disagree, and silence would hide it.
//!
//! | marker | printed by (prelude.sh) | meaning |
//! | --- | --- | --- |
//! | `@@katafleet-probe N` / `@@end-probe` | probe.sh | the facts probe's start and end |
//! | `@@kv KEY VALUE` | `kf_kv` | one value on one line |
//! | `@@file NAME` base64 `@@end` | `kf_file` | a file's content |
//! | `@@block NAME EXIT` base64 `@@end` | `kf_block` | a command's exit status and output |
//! | `@@begin N` / `@@step N STATUS MSG` | `kf_begin` / `kf_report` | an apply step starts / ends |
//! | `@@warn MSG` | `kf_warn` | a problem that does not fail the step |
//! | `@@after-facts` | apply scripts | the facts gathered after apply follow |
//! | `@@bench LABEL MICROSECONDS` | verify's bench | one timed container start |

use std::collections::BTreeMap;

use base64::Engine;
use serde::Serialize;

/// How an apply step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Changed,
    Ok,
    Warn,
    Failed,
}

impl StepStatus {
    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "changed" => StepStatus::Changed,
            "ok" => StepStatus::Ok,
            "warn" => StepStatus::Warn,
            "failed" => StepStatus::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    ProbeStart {
        version: u32,
    },
    ProbeEnd,
    Value {
        key: String,
        value: String,
    },
    File {
        name: String,
        content: String,
    },
    Block {
        name: String,
        exit: i32,
        output: String,
    },
    Begin {
        step: usize,
    },
    Step {
        step: usize,
        status: StepStatus,
        message: String,
    },
    Warn {
        message: String,
    },
    AfterFacts,
    Bench {
        label: String,
        micros: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error(
        "the host script printed an unknown marker `{0}`; this katafleet and its script disagree"
    )]
    Unknown(String),
    #[error("the host script printed a malformed `{line}` ({why})")]
    Malformed { line: String, why: &'static str },
    #[error("the host script's `{0}` block was cut off before its `@@end`")]
    Unterminated(String),
    #[error("the host script's `{0}` block is not valid base64")]
    BadBase64(String),
}

/// A multi-line block being read.
#[derive(Debug)]
struct Pending {
    name: String,
    /// None for `@@file`, the exit status for `@@block`.
    exit: Option<i32>,
    base64: String,
}

/// Reads the protocol line by line, as a script streams it.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Option<Pending>,
}

impl Decoder {
    /// The marker this line completes, if any.
    pub fn line(&mut self, line: &str) -> Option<Result<Marker, WireError>> {
        if let Some(p) = &mut self.pending {
            if line != "@@end" {
                p.base64.push_str(line.trim());
                return None;
            }
            let p = self.pending.take()?;
            return Some(finish(p));
        }
        let rest = line.strip_prefix("@@")?;
        let (word, args) = rest.split_once(' ').unwrap_or((rest, ""));
        if word == "file" || word == "block" {
            return self.open(line, word, args).err().map(Err);
        }
        Some(single(line, word, args))
    }

    /// An error when the text ended inside a block.
    pub fn finish(self) -> Result<(), WireError> {
        match self.pending {
            Some(p) => Err(WireError::Unterminated(p.name)),
            None => Ok(()),
        }
    }

    fn open(&mut self, line: &str, word: &str, args: &str) -> Result<(), WireError> {
        let (name, exit) = if word == "file" {
            (args, None)
        } else {
            let (name, exit) = args
                .rsplit_once(' ')
                .ok_or_else(|| malformed(line, "no exit status"))?;
            let exit = exit
                .parse()
                .map_err(|_| malformed(line, "exit status is not a number"))?;
            (name, Some(exit))
        };
        if name.is_empty() {
            return Err(malformed(line, "no name"));
        }
        self.pending = Some(Pending {
            name: name.to_string(),
            exit,
            base64: String::new(),
        });
        Ok(())
    }
}

fn malformed(line: &str, why: &'static str) -> WireError {
    WireError::Malformed {
        line: line.chars().take(200).collect(),
        why,
    }
}

fn finish(p: Pending) -> Result<Marker, WireError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(p.base64.as_bytes())
        .map_err(|_| WireError::BadBase64(p.name.clone()))?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(match p.exit {
        None => Marker::File {
            name: p.name,
            content: text,
        },
        Some(exit) => Marker::Block {
            name: p.name,
            exit,
            output: text,
        },
    })
}

fn number<T: std::str::FromStr>(line: &str, text: &str) -> Result<T, WireError> {
    text.trim()
        .parse()
        .map_err(|_| malformed(line, "expected a number"))
}

fn single(line: &str, word: &str, args: &str) -> Result<Marker, WireError> {
    Ok(match word {
        "katafleet-probe" => Marker::ProbeStart {
            version: number(line, args)?,
        },
        "end-probe" => Marker::ProbeEnd,
        "after-facts" => Marker::AfterFacts,
        "kv" => {
            let (key, value) = args.split_once(' ').unwrap_or((args, ""));
            if key.is_empty() {
                return Err(malformed(line, "no key"));
            }
            Marker::Value {
                key: key.to_string(),
                value: value.trim().to_string(),
            }
        }
        "begin" => Marker::Begin {
            step: number(line, args)?,
        },
        "step" => {
            let mut parts = args.splitn(3, ' ');
            let step = number(line, parts.next().unwrap_or_default())?;
            let status = parts
                .next()
                .and_then(StepStatus::parse)
                .ok_or_else(|| malformed(line, "unknown step status"))?;
            Marker::Step {
                step,
                status,
                message: parts.next().unwrap_or_default().trim().to_string(),
            }
        }
        "warn" => Marker::Warn {
            message: args.trim().to_string(),
        },
        "bench" => {
            let (label, micros) = args
                .split_once(' ')
                .ok_or_else(|| malformed(line, "no time"))?;
            Marker::Bench {
                label: label.to_string(),
                micros: number(line, micros)?,
            }
        }
        _ => return Err(WireError::Unknown(format!("@@{word}"))),
    })
}

/// Every marker in a finished script's stdout, in order.
pub fn parse(text: &str) -> Result<Vec<Marker>, WireError> {
    let mut decoder = Decoder::default();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(marker) = decoder.line(line) {
            out.push(marker?);
        }
    }
    decoder.finish()?;
    Ok(out)
}

/// `text` (a script's output) with the content of every `@@file` and
/// `@@block` decoded, passed through `f` and encoded again (76 characters a
/// line, as base64(1) writes them); everything else as it is. The run's log
/// uses it to mask secrets inside what scripts send base64-encoded.
pub fn map_contents(text: &str, f: impl Fn(&str) -> String) -> String {
    if !text.contains("@@file ") && !text.contains("@@block ") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut block: Option<String> = None;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        match block.take() {
            Some(b64) if bare == "@@end" => {
                out.push_str(&reencoded(&b64, &f));
                out.push_str(line);
            }
            Some(mut b64) => {
                b64.push_str(line);
                block = Some(b64);
            }
            None => {
                out.push_str(line);
                if bare.starts_with("@@file ") || bare.starts_with("@@block ") {
                    block = Some(String::new());
                }
            }
        }
    }
    if let Some(rest) = block {
        out.push_str(&reencoded(&rest, &f));
    }
    out
}

fn reencoded(b64: &str, f: &impl Fn(&str) -> String) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(bytes) = engine.decode(compact.as_bytes()) else {
        return b64.to_string();
    };
    let plain = String::from_utf8_lossy(&bytes);
    let mapped = f(&plain);
    if mapped == plain {
        return b64.to_string();
    }
    let encoded = engine.encode(mapped.as_bytes());
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 + 1);
    for chunk in encoded.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

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

/// What a script reported, by name: blocks (repeats kept as `NAME#2`, ...),
/// values, bench samples and warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub blocks: BTreeMap<String, Captured>,
    pub values: BTreeMap<String, String>,
    /// Block names in the order they appeared.
    pub order: Vec<String>,
    pub bench: Vec<(String, u64)>,
    pub warnings: Vec<String>,
}

impl Output {
    pub fn parse(text: &str) -> Result<Self, WireError> {
        Ok(Self::from_markers(parse(text)?))
    }

    /// Collects the markers that carry results; step markers belong to apply.
    pub fn from_markers(markers: impl IntoIterator<Item = Marker>) -> Self {
        let mut out = Output::default();
        for marker in markers {
            match marker {
                Marker::Block { name, exit, output } => {
                    let mut key = name.clone();
                    let mut n = 1;
                    while out.blocks.contains_key(&key) {
                        n += 1;
                        key = format!("{name}#{n}");
                    }
                    out.order.push(key.clone());
                    out.blocks.insert(key, Captured { exit, output });
                }
                Marker::Value { key, value } => {
                    out.values.insert(key, value);
                }
                Marker::Bench { label, micros } => out.bench.push((label, micros)),
                Marker::Warn { message } => out.warnings.push(message),
                _ => {}
            }
        }
        out
    }

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

#[cfg(test)]
mod tests;
