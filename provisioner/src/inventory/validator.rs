//! The collector of inventory problems: every error is kept with its span,
//! so one bad value never hides the others. Shared by validation and layering.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

use super::diagnostic::{did_you_mean, Diagnostic, SourceFile};
use super::raw::Section;
use super::values;
use crate::release::checksums;

pub(super) struct Validator<'f> {
    pub(super) file: &'f SourceFile,
    pub diags: Vec<Diagnostic>,
    pub base_dir: PathBuf,
}

impl Validator<'_> {
    pub fn error(&mut self, message: impl Into<String>, span: Range<usize>) {
        self.diags.push(Diagnostic::new(message, Some(span)));
    }

    /// Reports every key that no raw struct declares, at any depth.
    pub fn unknown_keys(&mut self, table: &DeTable, section: Section, context: &str) {
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let known = section.keys();
            if !known.contains(&name) {
                let mut d = Diagnostic::new(
                    format!("unknown key `{name}` in {context}"),
                    Some(key.span()),
                );
                if let Some(near) = did_you_mean(name, known.iter().copied()) {
                    d = d.with_help(format!("did you mean `{near}`?"));
                }
                self.diags.push(d);
                continue;
            }
            match (section, name, value.get_ref()) {
                (Section::Root, "groups", DeValue::Table(groups)) => {
                    for (group, body) in groups {
                        if let DeValue::Table(t) = body.get_ref() {
                            let ctx = format!("[groups.{}]", group.get_ref());
                            self.unknown_keys(t, Section::Group, &ctx);
                        }
                    }
                }
                (Section::Root, "hosts", DeValue::Array(hosts)) => {
                    for (i, body) in hosts.iter().enumerate() {
                        if let DeValue::Table(t) = body.get_ref() {
                            self.unknown_keys(t, Section::Host, &format!("[[hosts]] #{}", i + 1));
                        }
                    }
                }
                (_, _, DeValue::Table(t)) => {
                    if let Some(child) = section.child(name) {
                        self.unknown_keys(t, child, &format!("[{name}]"));
                    }
                }
                _ => {}
            }
        }
    }

    /// Deserializes one section; a type error is reported at its own span.
    pub fn section<T: DeserializeOwned + Default>(
        &mut self,
        value: Option<&Spanned<DeValue>>,
    ) -> T {
        let Some(value) = value else {
            return T::default();
        };
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(t) => t,
            Err(e) => {
                let span = e.span().unwrap_or(value.span());
                self.error(e.message().trim().to_string(), span);
                T::default()
            }
        }
    }

    pub fn enum_value<T: ValueEnum>(&mut self, value: &Spanned<String>, key: &str) -> Option<T> {
        let text = value.get_ref();
        if let Ok(t) = T::from_str(text, false) {
            return Some(t);
        }
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        let mut d = Diagnostic::new(
            format!(
                "invalid {key} `{text}`; expected one of: {}",
                names.join(", ")
            ),
            Some(value.span()),
        );
        if let Some(near) = did_you_mean(text, names.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{near}`?"));
        }
        self.diags.push(d);
        None
    }

    pub fn parsed<T: std::str::FromStr<Err = String>>(
        &mut self,
        value: &Spanned<String>,
    ) -> Option<T> {
        match value.get_ref().parse() {
            Ok(t) => Some(t),
            Err(message) => {
                self.error(message, value.span());
                None
            }
        }
    }

    /// The value when `check` finds nothing wrong with it; else the problem
    /// is reported at the value.
    pub fn checked(
        &mut self,
        value: &Spanned<String>,
        check: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        match check(value.get_ref()) {
            None => Some(value.get_ref().clone()),
            Some(problem) => {
                self.error(problem, value.span());
                None
            }
        }
    }

    /// A controller path: relative to the inventory, `~/` is home.
    pub fn checked_path(&mut self, value: &Spanned<String>, key: &str) -> Option<PathBuf> {
        self.checked(value, |p| values::path(key, p))
            .map(|p| self.path(&p))
    }

    pub fn in_range(&mut self, value: &Spanned<i64>, key: &str, range: Range<i64>) -> Option<i64> {
        let n = *value.get_ref();
        if range.contains(&n) {
            Some(n)
        } else {
            let hi = range.end - 1;
            self.error(
                format!("{key} = {n} is out of range ({}..={hi})", range.start),
                value.span(),
            );
            None
        }
    }

    /// Paths in the inventory are relative to the inventory file; `~/` is home.
    pub fn path(&self, raw: &str) -> PathBuf {
        if let Some(rest) = raw.strip_prefix("~/") {
            if let Some(home) = std::env::var_os("HOME") {
                return PathBuf::from(home).join(rest);
            }
        }
        self.base_dir.join(raw)
    }

    pub fn timeout(&mut self, value: &Spanned<i64>, key: &str) -> Option<Duration> {
        self.in_range(value, key, 1..86_401)
            .map(|s| Duration::from_secs(s as u64))
    }

    pub fn known_version(&self, version: crate::release::Version) -> bool {
        checksums::knows_version(version)
    }
}
