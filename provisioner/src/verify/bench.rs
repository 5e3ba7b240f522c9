//! `verify --bench`: container start times with runc and with Kata on the
//! same host, as median and p90, and how many times slower Kata starts.

use serde::Serialize;

use crate::script::wire::Output;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    pub runs: usize,
    pub median_secs: f64,
    pub p90_secs: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bench {
    pub client: String,
    pub handler: String,
    pub runc: Timing,
    pub kata: Timing,
    /// Kata's median over runc's.
    pub ratio: f64,
}

impl Bench {
    /// One line: both runtimes' median and p90, and the ratio.
    pub fn summary(&self) -> String {
        format!(
            "{}/{}, {} runs each: runc {:.3}s median, {:.3}s p90; Kata {:.3}s median, {:.3}s p90; Kata/runc {}x",
            self.client,
            self.handler,
            self.kata.runs,
            self.runc.median_secs,
            self.runc.p90_secs,
            self.kata.median_secs,
            self.kata.p90_secs,
            self.ratio
        )
    }
}

/// Median (mean of the middle two for an even count) and nearest-rank p90.
pub fn timing(samples: &[f64]) -> Option<Timing> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
    Some(Timing {
        runs: n,
        median_secs: round(median),
        p90_secs: round(s[rank - 1]),
    })
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The `@@bench` samples of one label, in seconds.
pub fn samples(output: &Output, label: &str) -> Vec<f64> {
    output
        .bench
        .iter()
        .filter(|(l, _)| l == label)
        .map(|(_, us)| *us as f64 / 1e6)
        .collect()
}

pub fn compare(client: &str, handler: &str, output: &Output) -> Result<Bench, String> {
    let runc = timing(&samples(output, "runc"))
        .ok_or("no runc container started, so there is nothing to compare against")?;
    let kata = timing(&samples(output, "kata")).ok_or("no Kata container started")?;
    let ratio = if runc.median_secs > 0.0 {
        round(kata.median_secs / runc.median_secs * 10.0) / 10.0
    } else {
        0.0
    };
    Ok(Bench {
        client: client.into(),
        handler: handler.into(),
        runc,
        kata,
        ratio: round(ratio),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_by_nearest_rank() {
        let t = timing(&[0.5, 0.1, 0.3, 0.2, 0.4]).unwrap();
        assert_eq!((t.runs, t.median_secs, t.p90_secs), (5, 0.3, 0.5));
        let t = timing(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]).unwrap();
        assert_eq!((t.median_secs, t.p90_secs), (5.5, 9.0));
        assert!(timing(&[]).is_none());
    }

    #[test]
    fn the_ratio_compares_medians() {
        let out = "@@bench runc 200000\n@@bench kata 900000\n@@bench runc 200000\n@@bench kata 1100000\nnoise\n";
        let b = compare("ctr", "kata", &Output::parse(out).unwrap()).unwrap();
        assert_eq!(
            (b.runc.median_secs, b.kata.median_secs, b.ratio),
            (0.2, 1.0, 5.0)
        );
        let kata_only = Output::parse("@@bench kata 1\n").unwrap();
        assert!(compare("ctr", "kata", &kata_only).is_err());
    }
}
