//! `[rollout]`: how `katafleet upgrade` goes through the fleet: batch sizes
//! (`serial`, a canary first, the last size repeating), how many failures
//! stop it (`max_fail_percentage`), and what happens between batches.

use std::ops::Range;

use toml::Spanned;

use super::diagnostic::{did_you_mean, Diagnostic};
use super::raw::{RawBatch, RawPause, RawRollout, RawSerial};
use super::validator::Validator;

/// One batch's size, as the inventory gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    Hosts(usize),
    /// Of the selected hosts, rounded up, at least one host.
    Percent(u32),
}

impl BatchSize {
    /// How many hosts this batch takes out of `selected`.
    pub fn of(self, selected: usize) -> usize {
        match self {
            BatchSize::Hosts(n) => n,
            BatchSize::Percent(p) => (selected * p as usize).div_ceil(100).max(1),
        }
    }
}

impl std::fmt::Display for BatchSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchSize::Hosts(n) => write!(f, "{n}"),
            BatchSize::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// What happens once a batch is done and before the next starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    /// Wait this many seconds (0: go on at once).
    Seconds(u64),
    /// Ask on the terminal; without one, stop.
    Confirm,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutSettings {
    pub serial: Vec<BatchSize>,
    /// The rollout stops before the next batch once failed hosts exceed
    /// this share of the selected hosts (0: any failure stops it).
    pub max_fail_percentage: u32,
    pub pause: Pause,
}

impl Default for RolloutSettings {
    /// A canary, then all the rest; any failure stops; no pause.
    fn default() -> Self {
        Self {
            serial: vec![BatchSize::Hosts(1), BatchSize::Percent(100)],
            max_fail_percentage: 0,
            pause: Pause::Seconds(0),
        }
    }
}

const CONFIRM: &str = "confirm";

impl Validator<'_> {
    pub(super) fn rollout(&mut self, raw: &RawRollout) -> RolloutSettings {
        let mut s = RolloutSettings::default();
        if let Some(serial) = &raw.serial {
            let sizes = match serial.get_ref() {
                RawSerial::One(batch) => vec![self.batch(batch, serial.span())],
                RawSerial::Many(list) if list.is_empty() => {
                    self.error(
                        "serial = [] has no batch; list at least one size, e.g. [1, \"100%\"]",
                        serial.span(),
                    );
                    vec![None]
                }
                RawSerial::Many(list) => list
                    .iter()
                    .map(|b: &Spanned<RawBatch>| self.batch(b.get_ref(), b.span()))
                    .collect(),
            };
            if let Some(sizes) = sizes.into_iter().collect() {
                s.serial = sizes;
            }
        }
        if let Some(p) = &raw.max_fail_percentage {
            if let Some(n) = self.in_range(p, "max_fail_percentage", 0..101) {
                s.max_fail_percentage = n as u32;
            }
        }
        if let Some(pause) = &raw.pause_between_batches {
            match pause.get_ref() {
                RawPause::Seconds(n) => {
                    let n = Spanned::new(pause.span(), *n);
                    if let Some(n) = self.in_range(&n, "pause_between_batches", 0..86_401) {
                        s.pause = Pause::Seconds(n as u64);
                    }
                }
                RawPause::Word(w) if w == CONFIRM => s.pause = Pause::Confirm,
                RawPause::Word(w) => {
                    let mut d = Diagnostic::new(
                        format!("pause_between_batches = \"{w}\": write a number of seconds or \"{CONFIRM}\""),
                        Some(pause.span()),
                    );
                    if did_you_mean(w, [CONFIRM]).is_some() {
                        d = d.with_help(format!("did you mean `{CONFIRM}`?"));
                    }
                    self.diags.push(d);
                }
            }
        }
        s
    }

    /// One batch size, or None after reporting why it is wrong.
    fn batch(&mut self, raw: &RawBatch, span: Range<usize>) -> Option<BatchSize> {
        match raw {
            RawBatch::Hosts(n) if *n >= 1 => Some(BatchSize::Hosts(*n as usize)),
            RawBatch::Hosts(n) => {
                self.error(
                    format!("a batch of {n} hosts: a batch is at least 1 host (or a percentage such as \"10%\")"),
                    span,
                );
                None
            }
            RawBatch::Text(text) => {
                let Some(number) = text.trim().strip_suffix('%') else {
                    let mut d = Diagnostic::new(
                        format!("batch size `{text}` is neither a number of hosts nor a percentage such as \"10%\""),
                        Some(span),
                    );
                    if let Ok(n) = text.trim().parse::<u64>() {
                        d = d.with_help(format!(
                            "did you mean `{n}` (hosts, without quotes) or `\"{n}%\"`?"
                        ));
                    }
                    self.diags.push(d);
                    return None;
                };
                match number.trim().parse::<i64>() {
                    Ok(p) if (1..=100).contains(&p) => Some(BatchSize::Percent(p as u32)),
                    Ok(p) => {
                        self.error(
                            format!("batch size `{text}`: a percentage is 1% to 100% ({p}% is out of range)"),
                            span,
                        );
                        None
                    }
                    Err(_) => {
                        self.error(
                            format!("batch size `{text}`: a percentage is a whole number from 1% to 100%"),
                            span,
                        );
                        None
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{BatchSize, Pause, RolloutSettings};
    use crate::inventory::diagnostic::SourceFile;
    use crate::inventory::{parse, InventoryError};

    const HEAD: &str = "[kata]\nversion = \"4.2.0\"\nsha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n[[hosts]]\nname = \"a\"\n";

    fn load(extra: &str) -> Result<RolloutSettings, String> {
        let file = SourceFile::new(std::path::Path::new("inv.toml"), format!("{HEAD}{extra}"));
        match parse(&file) {
            Ok(inv) => Ok(inv.rollout),
            Err(InventoryError::Invalid { rendered, .. }) => Err(rendered),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn without_a_section_a_canary_goes_first_then_the_rest() {
        let s = load("").unwrap();
        assert_eq!(s.serial, [BatchSize::Hosts(1), BatchSize::Percent(100)]);
        assert_eq!((s.max_fail_percentage, s.pause), (0, Pause::Seconds(0)));
    }

    #[test]
    fn a_list_a_number_or_a_single_percentage() {
        let s = load("[rollout]\nserial = [1, \"10%\", \"50%\"]\nmax_fail_percentage = 20\npause_between_batches = \"confirm\"\n").unwrap();
        assert_eq!(
            s.serial,
            [
                BatchSize::Hosts(1),
                BatchSize::Percent(10),
                BatchSize::Percent(50)
            ]
        );
        assert_eq!((s.max_fail_percentage, s.pause), (20, Pause::Confirm));
        assert_eq!(
            load("[rollout]\nserial = 3\n").unwrap().serial,
            [BatchSize::Hosts(3)]
        );
        let s = load("[rollout]\nserial = \"25%\"\npause_between_batches = 30\n").unwrap();
        assert_eq!(
            (s.serial, s.pause),
            (vec![BatchSize::Percent(25)], Pause::Seconds(30))
        );
    }

    #[test]
    fn percentages_round_up_to_at_least_one_host() {
        assert_eq!(BatchSize::Percent(10).of(25), 3);
        assert_eq!(BatchSize::Percent(10).of(20), 2);
        assert_eq!(BatchSize::Percent(1).of(3), 1);
        assert_eq!(BatchSize::Percent(50).of(3), 2);
        assert_eq!(BatchSize::Percent(100).of(7), 7);
        assert_eq!(BatchSize::Hosts(4).of(2), 4);
    }

    #[test]
    fn every_bad_value_is_located() {
        let e = load("[rollout]\nserial = [0, \"150%\", -2, \"ten\", \"5\", \"0%\"]\nmax_fail_percentage = 101\npause_between_batches = \"confrim\"\nparalel = 1\n").unwrap_err();
        for want in [
            "a batch of 0 hosts: a batch is at least 1 host",
            "inv.toml:7:11",
            "batch size `150%`: a percentage is 1% to 100%",
            "inv.toml:7:14",
            "a batch of -2 hosts",
            "batch size `ten` is neither a number of hosts nor a percentage",
            "did you mean `5` (hosts, without quotes) or `\"5%\"`?",
            "batch size `0%`",
            "max_fail_percentage = 101 is out of range (0..=100)",
            "pause_between_batches = \"confrim\"",
            "did you mean `confirm`?",
            "unknown key `paralel` in [rollout]",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
        assert_eq!(e.matches("error: ").count(), 9, "{e}");
    }

    #[test]
    fn empty_lists_negative_pauses_and_wrong_types_are_refused() {
        let e = load("[rollout]\nserial = []\npause_between_batches = -1\n").unwrap_err();
        assert!(e.contains("serial = [] has no batch"), "{e}");
        assert!(
            e.contains("pause_between_batches = -1 is out of range"),
            "{e}"
        );
        let e = load("[rollout]\nserial = [1.5]\n").unwrap_err();
        assert!(e.contains("inv.toml:7:11"), "{e}");
    }
}
