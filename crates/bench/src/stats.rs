//! Percentiles, medians and the result table (stdout and Markdown).

use std::time::Duration;

/// The `p`-th percentile (0–100) by nearest rank; `None` for no samples.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// How a row's number is judged.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Reported only.
    None,
    /// Chatlink's value at most this.
    AtMost(f64),
    /// Chatlink's value at least this.
    AtLeast(f64),
    /// Chatlink / baseline at least this.
    RatioAtLeast(f64),
    /// Chatlink / baseline at most this.
    RatioAtMost(f64),
}

/// Which way is better for a guarded number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// How the slowdown guard (`--check`) reads a row: under a stable key, either Chatlink's value
/// or its ratio to the same run's baseline, and which way is better. `slack` is added to the
/// allowed value of absolute times: a scheduler hiccup on a shared 2-core machine costs a few
/// milliseconds whatever the code does, which would double a 5 ms figure on its own.
#[derive(Debug, Clone, Copy)]
pub struct Guard {
    pub key: &'static str,
    pub ratio: bool,
    pub better: Better,
    pub slack: f64,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    pub unit: String,
    pub baseline: Option<f64>,
    pub chatlink: f64,
    pub target: Target,
    pub guard: Option<Guard>,
    /// A correctness figure (exact replay, every stream delivered): its target must pass for a
    /// guarded run to pass, whatever the baseline file says.
    pub must_pass: bool,
}

impl Row {
    pub fn new(
        scenario: &str,
        metric: &str,
        unit: &str,
        baseline: Option<f64>,
        chatlink: f64,
        target: Target,
    ) -> Row {
        Row {
            scenario: scenario.into(),
            metric: metric.into(),
            unit: unit.into(),
            baseline,
            chatlink,
            target,
            guard: None,
            must_pass: false,
        }
    }

    /// Guards Chatlink's ratio to the same run's baseline.
    pub fn guard_ratio(mut self, key: &'static str, better: Better) -> Row {
        self.guard = Some(Guard {
            key,
            ratio: true,
            better,
            slack: 0.0,
        });
        self
    }

    /// Guards Chatlink's own value (a start-up or listing time), with `slack` in its unit.
    pub fn guard_value(mut self, key: &'static str, slack: f64) -> Row {
        self.guard = Some(Guard {
            key,
            ratio: false,
            better: Better::Lower,
            slack,
        });
        self
    }

    pub fn must_pass(mut self) -> Row {
        self.must_pass = true;
        self
    }

    /// The number the guard compares: the ratio or the value.
    pub fn guarded(&self) -> Option<(Guard, f64)> {
        let g = self.guard?;
        let v = if g.ratio {
            self.ratio()?
        } else {
            self.chatlink
        };
        v.is_finite().then_some((g, v))
    }

    pub fn ratio(&self) -> Option<f64> {
        self.baseline
            .filter(|b| *b != 0.0)
            .map(|b| self.chatlink / b)
    }

    /// `Some(pass)` for rows with a target.
    pub fn pass(&self) -> Option<bool> {
        let v = self.chatlink;
        match self.target {
            Target::None => None,
            Target::AtMost(t) => Some(v <= t),
            Target::AtLeast(t) => Some(v >= t),
            Target::RatioAtLeast(t) => Some(self.ratio().is_some_and(|r| r >= t)),
            Target::RatioAtMost(t) => Some(self.ratio().is_some_and(|r| r <= t)),
        }
    }

    fn target_text(&self) -> String {
        let u = &self.unit;
        match self.target {
            Target::None => "—".into(),
            Target::AtMost(t) => format!("≤ {} {u}", num(t)),
            Target::AtLeast(t) => format!("≥ {} {u}", num(t)),
            Target::RatioAtLeast(t) => format!("≥ {:.0}% of baseline", t * 100.0),
            Target::RatioAtMost(t) => format!("≤ {}× baseline", num(t)),
        }
    }

    fn cells(&self) -> [String; 7] {
        let with_unit = |v: f64| format!("{} {}", num(v), self.unit);
        [
            self.scenario.clone(),
            self.metric.clone(),
            self.baseline.map(with_unit).unwrap_or_else(|| "—".into()),
            with_unit(self.chatlink),
            self.ratio()
                .map(|r| format!("{r:.2}×"))
                .unwrap_or_else(|| "—".into()),
            self.target_text(),
            match self.pass() {
                None => "—".into(),
                Some(true) => "pass".into(),
                Some(false) => "FAIL".into(),
            },
        ]
    }
}

fn num(v: f64) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

const HEADER: [&str; 7] = [
    "scenario", "metric", "baseline", "Chatlink", "ratio", "target", "result",
];

pub fn text_table(rows: &[Row]) -> String {
    let cells: Vec<[String; 7]> = rows.iter().map(Row::cells).collect();
    let mut width = HEADER.map(|h| h.chars().count());
    for r in &cells {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |r: [&str; 7]| {
        r.iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![line(HEADER)];
    out.extend(
        cells
            .iter()
            .map(|r| line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]])),
    );
    out.join("\n")
}

pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = format!(
        "| {} |\n|{}\n",
        HEADER.join(" | "),
        "---|".repeat(HEADER.len())
    );
    for r in rows {
        out.push_str(&format!("| {} |\n", r.cells().join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&s, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&s, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&s, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&s[..1], 99.0), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn targets_judge_values_and_ratios() {
        let r = Row::new("s", "m", "ms", Some(10.0), 25.0, Target::RatioAtMost(3.0));
        assert_eq!(r.pass(), Some(true));
        let r = Row::new(
            "s",
            "m",
            "/s",
            Some(100.0),
            30.0,
            Target::RatioAtLeast(0.35),
        );
        assert_eq!(r.pass(), Some(false));
        let r = Row::new("s", "m", "MB", None, 39.0, Target::AtMost(40.0));
        assert_eq!(r.pass(), Some(true));
        assert_eq!(
            Row::new("s", "m", "B", None, 1.0, Target::None).pass(),
            None
        );
        assert!(markdown_table(&[r]).contains("| pass |"));
    }
}
