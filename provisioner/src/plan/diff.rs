//! Unified diffs for the plan output.

use similar::TextDiff;

/// `--- a/PATH` / `+++ b/PATH` diff from `old` to `new` (empty old = new
/// file), with secrets masked: diffs are shown, logged and put in JSON.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    let diff = TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a{path}"), &format!("b{path}"))
        .to_string();
    crate::redact::text(&diff)
}

#[cfg(test)]
mod tests {
    #[test]
    fn shows_added_lines_with_headers() {
        let d = super::unified_diff("/etc/x", "a\n", "a\nb\n");
        assert!(d.starts_with("--- a/etc/x\n+++ b/etc/x\n"), "{d}");
        assert!(d.contains("+b\n"), "{d}");
    }

    #[test]
    fn secrets_in_context_and_changed_lines_are_masked() {
        let old = "[r.auth]\n  password = \"hunter2-x\"\n";
        let new = "[r.auth]\n  password = \"hunter2-x\"\n[x]\n";
        let d = super::unified_diff("/etc/x", old, new);
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains(" password = \"<redacted>\""), "{d}");
        let d = super::unified_diff("/etc/x", "", old);
        assert!(!d.contains("hunter2") && d.contains("+  password"), "{d}");
    }
}
