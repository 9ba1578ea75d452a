//! The slowdown guard behind `make bench-quick`: a quick run's guarded numbers (ratios to the
//! same run's bare-axum baseline, start-up and listing times) against the figures recorded from
//! earlier quick runs in `bench/quick-baseline.json`. A number more than [`FACTOR`] times worse
//! than recorded fails the run, as does any correctness row (exact replay, every stream served).
//! Quick figures are only ever compared with quick figures: the full bench's data is 10× larger.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::procs::Result;
use crate::stats::{Better, Row, median};

/// How much worse than recorded a guarded number may get.
pub const FACTOR: f64 = 2.0;

#[derive(Debug, Serialize, Deserialize)]
pub struct Recorded {
    /// What the figures are and how to renew them.
    pub note: String,
    pub commit: String,
    pub values: BTreeMap<String, f64>,
}

/// Writes the guarded numbers of several whole suites, each key's median, as the new baseline.
pub fn record(path: &Path, suites: &[Vec<Row>], commit: &str) -> Result<()> {
    let mut seen: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for row in suites.iter().flatten() {
        if let Some((g, v)) = row.guarded() {
            seen.entry(g.key.to_owned()).or_default().push(v);
        }
    }
    let values = seen.into_iter().map(|(k, v)| (k, median(&v))).collect();
    let recorded = Recorded {
        note: "Guarded figures of `chatlink-bench --quick` on this project's 2-core machines \
               (ratios to the same run's bare-axum baseline, or ms), each the median of three \
               suites. `make bench-quick` fails when a number is more than 2x worse. Renew \
               with `make bench-quick-record` after a change that is meant to move them, and \
               say why in the commit."
            .into(),
        commit: commit.to_owned(),
        values,
    };
    std::fs::write(path, serde_json::to_string_pretty(&recorded)? + "\n")?;
    Ok(())
}

/// What is wrong with this run against the recorded figures; empty when it passes.
pub fn check(recorded: &Recorded, rows: &[Row]) -> Vec<String> {
    let mut problems = Vec::new();
    for row in rows {
        let name = format!("{}: {}", row.scenario, row.metric);
        if row.must_pass && row.pass() == Some(false) {
            problems.push(format!(
                "{name} is {}, which fails its target",
                row.chatlink
            ));
        }
        let Some(guard) = row.guard else { continue };
        let Some((_, value)) = row.guarded() else {
            problems.push(format!("{name}: no number was measured"));
            continue;
        };
        let Some(&was) = recorded.values.get(guard.key) else {
            problems.push(format!(
                "{name} ({}) is not in the baseline file: record one with `make bench-quick-record`",
                guard.key
            ));
            continue;
        };
        let (worse, limit) = match guard.better {
            Better::Lower => {
                let limit = was * FACTOR + guard.slack;
                (value > limit, limit)
            }
            Better::Higher => {
                let limit = was / FACTOR;
                (value < limit, limit)
            }
        };
        let what = if guard.ratio {
            "ratio to baseline"
        } else {
            row.unit.as_str()
        };
        eprintln!(
            "guard {}: {value:.3} {what} (recorded {was:.3}, limit {limit:.3}){}",
            guard.key,
            if worse { "  <- SLOWER" } else { "" }
        );
        if worse {
            problems.push(format!(
                "{name}: {value:.3} {what} is more than {FACTOR}x worse than the recorded {was:.3}"
            ));
        }
    }
    problems
}

pub fn load(path: &Path) -> Result<Recorded> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the quick baseline {}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a quick baseline: {e}", path.display()))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Target;

    fn recorded(pairs: &[(&str, f64)]) -> Recorded {
        Recorded {
            note: String::new(),
            commit: "c".into(),
            values: pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        }
    }

    #[test]
    fn a_number_twice_as_bad_fails_and_noise_passes() {
        let base = recorded(&[("rate", 0.10), ("p99", 5.0), ("start", 8.0)]);
        let rate = |v: f64| {
            Row::new("1", "rate", "/s", Some(100.0), v, Target::None)
                .guard_ratio("rate", Better::Higher)
        };
        let p99 = |v: f64| {
            Row::new("1", "p99", "ms", Some(2.0), v, Target::None).guard_ratio("p99", Better::Lower)
        };
        let start =
            |v: f64| Row::new("4", "start", "ms", None, v, Target::None).guard_value("start", 5.0);
        assert!(check(&base, &[rate(8.0), p99(12.0), start(20.0)]).is_empty());
        assert_eq!(check(&base, &[rate(4.9)]).len(), 1, "half the rate");
        assert_eq!(check(&base, &[p99(20.2)]).len(), 1, "p99 ratio over 10");
        assert_eq!(check(&base, &[start(21.5)]).len(), 1, "over 2x plus slack");
    }

    #[test]
    fn broken_correctness_and_unrecorded_numbers_fail() {
        let base = recorded(&[]);
        let inexact = Row::new("1", "inexact", "", None, 1.0, Target::AtMost(0.0)).must_pass();
        assert_eq!(check(&base, &[inexact]).len(), 1);
        let new = Row::new("4", "new", "ms", None, 1.0, Target::None).guard_value("new", 1.0);
        assert!(check(&base, &[new])[0].contains("not in the baseline"));
        let missing =
            Row::new("4", "gone", "ms", None, f64::NAN, Target::None).guard_value("gone", 1.0);
        assert!(check(&recorded(&[("gone", 1.0)]), &[missing])[0].contains("no number"));
    }
}
