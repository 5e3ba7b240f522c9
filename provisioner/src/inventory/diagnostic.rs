//! Rendering of errors that point into a source file: `error: ...`, then
//! `FILE:LINE:COL`, the offending line, carets under the span, and a help line.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem found in a file, located by a byte range into its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Option<Range<usize>>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Self {
            message: message.into(),
            span,
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A file's path and text, kept together so spans can be turned into lines.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: &Path, text: String) -> Self {
        Self {
            path: path.to_path_buf(),
            text,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }

    fn line_text(&self, line: usize) -> &str {
        self.text.lines().nth(line - 1).unwrap_or("")
    }

    /// Renders one diagnostic in the style of rustc and just.
    pub fn render(&self, diag: &Diagnostic) -> String {
        let mut out = format!("error: {}\n", diag.message);
        if let Some(span) = &diag.span {
            let (line, col) = self.line_col(span.start);
            let text = self.line_text(line);
            let gutter = line.to_string().len();
            let width = caret_width(text, col, span);
            let _ = writeln!(
                out,
                "{:gutter$}--> {}:{line}:{col}",
                "",
                self.path.display()
            );
            let _ = writeln!(out, "{:gutter$} |", "");
            let _ = writeln!(out, "{line} | {text}");
            let _ = writeln!(
                out,
                "{:gutter$} | {:pad$}{}",
                "",
                "",
                "^".repeat(width),
                pad = col - 1
            );
        } else {
            let _ = writeln!(out, "  --> {}", self.path.display());
        }
        if let Some(help) = &diag.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }

    pub fn render_all(&self, diags: &[Diagnostic]) -> String {
        diags
            .iter()
            .map(|d| self.render(d))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Carets cover the span, clipped to the end of its first line, and at least one.
fn caret_width(line_text: &str, col: usize, span: &Range<usize>) -> usize {
    let remaining = line_text.chars().count().saturating_sub(col - 1);
    span.len().min(remaining).max(1)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile::new(Path::new("inv.toml"), text.to_string())
    }

    #[test]
    fn renders_location_line_and_carets() {
        let f = file("[defaults]\nparalel = 4\n");
        let start = f.text.find("paralel").unwrap();
        let d = Diagnostic::new("unknown key `paralel`", Some(start..start + 7))
            .with_help("did you mean `parallel`?");
        let out = f.render(&d);
        assert_eq!(
            out,
            "error: unknown key `paralel`\n --> inv.toml:2:1\n  |\n2 | paralel = 4\n  | ^^^^^^^\n  = help: did you mean `parallel`?\n"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let f = file("name = \"é\" x");
        let at = f.text.find('x').unwrap();
        assert_eq!(f.line_col(at), (1, 12));
    }

    #[test]
    fn suggests_only_close_words() {
        assert_eq!(
            did_you_mean("paralel", ["parallel", "port"]),
            Some("parallel")
        );
        assert_eq!(did_you_mean("zzz", ["parallel", "port"]), None);
    }
}
