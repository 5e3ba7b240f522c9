//! A facts probe transcript as editable data: values (`@@kv KEY VALUE`) and
//! named file blocks (`@@file NAME`, base64, `@@end`), in the probe's order
//! (the wire protocol of src/script/wire). Every other line is kept as it is.
//! Rendering an unedited transcript gives back the same bytes, so synthetic
//! cases are real transcripts with a few named edits.

use base64::Engine;

const END_PROBE: &str = "@@end-probe";
/// GNU `base64` wraps its output at 76 columns, and so does the probe.
const WRAP: usize = 76;

#[derive(Debug, Clone)]
enum Entry {
    /// Any other line, such as `@@katafleet-probe 1`.
    Line(String),
    Kv(String, String),
    File(String, String),
}

#[derive(Debug, Clone)]
pub struct Transcript {
    entries: Vec<Entry>,
}

impl Transcript {
    pub fn parse(text: &str) -> Self {
        let mut entries = Vec::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if let Some(name) = line.strip_prefix("@@file ") {
                let b64: String = lines.by_ref().take_while(|l| *l != "@@end").collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap_or_else(|e| panic!("block {name} is not base64: {e}"));
                let text = String::from_utf8(bytes)
                    .unwrap_or_else(|e| panic!("block {name} is not UTF-8: {e}"));
                entries.push(Entry::File(name.to_string(), text));
            } else if let Some(kv) = line.strip_prefix("@@kv ") {
                let (k, v) = kv.split_once(' ').unwrap_or((kv, ""));
                entries.push(Entry::Kv(k.to_string(), v.to_string()));
            } else {
                entries.push(Entry::Line(line.to_string()));
            }
        }
        Self { entries }
    }

    /// Reads a transcript from tests/fixtures/facts/.
    pub fn fixture(name: &str) -> Self {
        let path = super::tests_dir().join("fixtures/facts").join(name);
        Self::parse(
            &std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display())),
        )
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for entry in &self.entries {
            match entry {
                Entry::Line(line) => out.push_str(line),
                Entry::Kv(k, v) => {
                    out.push_str("@@kv ");
                    out.push_str(k);
                    out.push(' ');
                    out.push_str(v);
                }
                Entry::File(name, text) => {
                    out.push_str("@@file ");
                    out.push_str(name);
                    out.push('\n');
                    let b64 = base64::engine::general_purpose::STANDARD.encode(text);
                    for chunk in b64.as_bytes().chunks(WRAP) {
                        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
                        out.push('\n');
                    }
                    out.push_str("@@end");
                }
            }
            out.push('\n');
        }
        out
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find_map(|e| match e {
            Entry::Kv(k, v) if k == key => Some(v.as_str()),
            _ => None,
        })
    }

    pub fn file(&self, name: &str) -> Option<&str> {
        self.entries.iter().find_map(|e| match e {
            Entry::File(n, text) if n == name => Some(text.as_str()),
            _ => None,
        })
    }

    /// Sets `key` in place, or adds it before the end marker.
    pub fn set(mut self, key: &str, value: &str) -> Self {
        match self
            .entries
            .iter_mut()
            .find(|e| matches!(e, Entry::Kv(k, _) if k == key))
        {
            Some(Entry::Kv(_, v)) => *v = value.to_string(),
            _ => self.insert(Entry::Kv(key.into(), value.into())),
        }
        self
    }

    pub fn remove(mut self, key: &str) -> Self {
        let before = self.entries.len();
        self.entries
            .retain(|e| !matches!(e, Entry::Kv(k, _) if k == key));
        assert_ne!(before, self.entries.len(), "no key {key} to remove");
        self
    }

    /// Sets file block `name` in place, or adds it before the end marker.
    pub fn set_file(mut self, name: &str, text: &str) -> Self {
        match self
            .entries
            .iter_mut()
            .find(|e| matches!(e, Entry::File(n, _) if n == name))
        {
            Some(Entry::File(_, t)) => *t = text.to_string(),
            _ => self.insert(Entry::File(name.into(), text.into())),
        }
        self
    }

    pub fn remove_file(mut self, name: &str) -> Self {
        let before = self.entries.len();
        self.entries
            .retain(|e| !matches!(e, Entry::File(n, _) if n == name));
        assert_ne!(before, self.entries.len(), "no block {name} to remove");
        self
    }

    fn insert(&mut self, entry: Entry) {
        let end = self
            .entries
            .iter()
            .position(|e| matches!(e, Entry::Line(m) if m == END_PROBE))
            .expect("the transcript has an end marker");
        self.entries.insert(end, entry);
    }
}

#[test]
fn real_transcripts_render_back_byte_for_byte() {
    for name in ["debian12-nspawn.txt", "debian12-nspawn-provisioned.txt"] {
        let path = super::tests_dir().join("fixtures/facts").join(name);
        let text = std::fs::read_to_string(path).unwrap();
        let t = Transcript::parse(&text);
        assert!(t.render() == text, "{name} does not survive parse + render");
        // Read as values, not kept as opaque lines.
        assert_eq!(t.get("machine"), Some("x86_64"), "{name}");
    }
}

#[test]
fn edits_land_in_place_or_before_the_end_marker() {
    let t = Transcript::parse("@@katafleet-probe 1\n@@kv uid 0\n@@end-probe\n")
        .set("uid", "1000")
        .set("machine", "x86_64")
        .set_file("os-release", "ID=debian\n");
    assert_eq!(
        t.render(),
        "@@katafleet-probe 1\n@@kv uid 1000\n@@kv machine x86_64\n@@file os-release\nSUQ9ZGViaWFuCg==\n@@end\n@@end-probe\n"
    );
    assert_eq!(t.file("os-release"), Some("ID=debian\n"));
    assert_eq!(t.remove("machine").get("machine"), None);
}
