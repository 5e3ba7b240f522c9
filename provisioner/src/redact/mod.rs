//! Secrets never leave katafleet in clear: registry credentials and tokens
//! in containerd's config (`[...registry.configs."reg".auth]` with
//! `username`, `password`, `auth`, `identitytoken`), in `daemon.json` or in
//! what the daemons print (`crictl info` shows the CRI config), and the
//! password in a `scheme://user:password@host` URL. Everything katafleet
//! shows or keeps passes through here first: plan diffs and plan JSON, the
//! tables and `--json` on stdout, the progress display, and every section
//! of the run's logs (`run::log`, which also has the base64 that scripts
//! carry decoded, masked and encoded again, and file payloads elided).
//!
//! Masking is by key, in any of the notations these files come in (TOML,
//! JSON, JSON inside a JSON string, YAML-ish `key: value`); any other place
//! in the same text that holds a masked value verbatim is masked too.

/// What a secret value becomes.
pub const MASK: &str = "<redacted>";

/// Keys whose values are secrets (matched without regard to case, as a
/// whole key: `password_file` is not one).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "auth",
    "authorization",
    "identitytoken",
    "identity_token",
    "registrytoken",
    "registry_token",
    "token",
    "access_token",
    "refresh_token",
    "secret",
    "client_secret",
    "username",
];

/// Keys whose values are masked where they stand but are too common to be
/// hunted down elsewhere in the text (`root` is a user name and a word).
const LOCAL_ONLY: &[&str] = &["username"];

/// Values shorter than this are masked where they stand only.
const MIN_HUNTED: usize = 6;

/// Masks every secret in `text`.
pub fn text(text: &str) -> String {
    let mut found = Vec::new();
    let keyed = by_key(text, &mut found);
    let masked = url_passwords(&keyed, &mut found);
    hunt(masked, found)
}

/// Serializes a secret-bearing string (a file katafleet will write) masked.
pub fn serialize<S: serde::Serializer>(value: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&text(value))
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Masks the value after every secret key followed by `=` or `:`.
fn by_key(text: &str, found: &mut Vec<String>) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let Some((key, after_key)) = key_at(&lower, i) else {
            i += 1;
            continue;
        };
        let Some(value_at) = assignment(bytes, after_key) else {
            i = after_key;
            continue;
        };
        match value_span(text, value_at) {
            Some((start, end)) if start < end => {
                if copied <= start {
                    out.push_str(&text[copied..start]);
                    out.push_str(MASK);
                    copied = end;
                }
                let value = &text[start..end];
                if !LOCAL_ONLY.contains(&key) && value.len() >= MIN_HUNTED {
                    found.push(value.to_string());
                }
                i = end;
            }
            _ => i = value_at.max(i + 1),
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The secret key that starts at `i` (a whole key, quoted or not), and
/// where it ends (after a closing quote).
fn key_at(lower: &str, i: usize) -> Option<(&'static str, usize)> {
    let bytes = lower.as_bytes();
    if i > 0 && is_key_char(bytes[i - 1]) {
        return None;
    }
    let rest = &bytes[i..];
    let key = SECRET_KEYS.iter().find(|k| {
        rest.starts_with(k.as_bytes()) && !rest.get(k.len()).copied().is_some_and(is_key_char)
    })?;
    let end = i + key.len();
    // A closing quote of a quoted key: `"password"`, `'password'`, `\"password\"`.
    let end = match &lower[end..] {
        r if r.starts_with("\\\"") => end + 2,
        r if r.starts_with('"') || r.starts_with('\'') => end + 1,
        _ => end,
    };
    Some((key, end))
}

/// After a key: blanks, `=` or `:`, blanks; where the value starts.
fn assignment(bytes: &[u8], mut j: usize) -> Option<usize> {
    while bytes.get(j).is_some_and(|b| *b == b' ' || *b == b'\t') {
        j += 1;
    }
    if !matches!(bytes.get(j), Some(b'=' | b':')) {
        return None;
    }
    // `::` is a path or a type, not an assignment.
    if bytes.get(j + 1) == Some(&b':') {
        return None;
    }
    j += 1;
    while bytes.get(j).is_some_and(|b| *b == b' ' || *b == b'\t') {
        j += 1;
    }
    Some(j)
}

/// The part of the value at `at` to mask: a string's inside, an array's
/// inside, or a bare word. None for a table (its keys are looked at one by
/// one) or nothing.
fn value_span(text: &str, at: usize) -> Option<(usize, usize)> {
    let rest = &text[at..];
    let inside = |open: &str, close: &str| {
        let start = at + open.len();
        let end = text[start..].find(close).map_or(text.len(), |e| start + e);
        Some((start, end))
    };
    if rest.starts_with("\"\"\"") {
        return inside("\"\"\"", "\"\"\"");
    }
    if rest.starts_with("'''") {
        return inside("'''", "'''");
    }
    if rest.starts_with("\\\"") {
        return inside("\\\"", "\\\"");
    }
    if rest.starts_with('\'') {
        let start = at + 1;
        let end = text[start..]
            .find(['\'', '\n'])
            .map_or(text.len(), |e| start + e);
        return Some((start, end));
    }
    if rest.starts_with('"') {
        let start = at + 1;
        let bytes = text.as_bytes();
        let mut j = start;
        while j < bytes.len() && bytes[j] != b'"' && bytes[j] != b'\n' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        let mut end = j.min(bytes.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        return Some((start, end));
    }
    if rest.starts_with('[') {
        let start = at + 1;
        let end = text[start..].find(']').map_or(text.len(), |e| start + e);
        return Some((start, end));
    }
    if rest.starts_with('{') {
        return None;
    }
    let end = rest
        .find(|c: char| c.is_whitespace() || ",;}]".contains(c))
        .map_or(text.len(), |e| at + e);
    Some((at, end))
}

/// `scheme://user:password@host`: the password.
fn url_passwords(text: &str, found: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let stop = tail
            .find(|c: char| c.is_whitespace() || "/\"'<>`".contains(c))
            .unwrap_or(tail.len());
        let authority = &tail[..stop];
        match authority.rfind('@').and_then(|a| {
            let userinfo = &authority[..a];
            userinfo.find(':').map(|c| (c, a))
        }) {
            Some((colon, at_sign)) if at_sign > colon + 1 => {
                let password = &authority[colon + 1..at_sign];
                if password != MASK {
                    if password.len() >= MIN_HUNTED {
                        found.push(password.to_string());
                    }
                    out.push_str(&authority[..=colon]);
                    out.push_str(MASK);
                    out.push_str(&authority[at_sign..]);
                } else {
                    out.push_str(authority);
                }
                rest = &tail[stop..];
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// Every other verbatim occurrence of a masked value.
fn hunt(mut text: String, mut found: Vec<String>) -> String {
    found.sort_by_key(|v| std::cmp::Reverse(v.len()));
    found.dedup();
    for value in found {
        if text.contains(&value) {
            text = text.replace(&value, MASK);
        }
    }
    text
}

#[cfg(test)]
mod tests;
