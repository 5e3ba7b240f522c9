//! Unified diffs for the plan output.

use similar::TextDiff;

/// `--- a/PATH` / `+++ b/PATH` diff from `old` to `new` (empty old = new file).
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a{path}"), &format!("b{path}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn shows_added_lines_with_headers() {
        let d = super::unified_diff("/etc/x", "a\n", "a\nb\n");
        assert!(d.starts_with("--- a/etc/x\n+++ b/etc/x\n"), "{d}");
        assert!(d.contains("+b\n"), "{d}");
    }
}
