//! Writing Prometheus text exposition by hand for the series souk renders from a
//! snapshot at scrape time (Monero poller, database figures). The recorder of
//! `metrics-exporter-prometheus` cannot forget a series, so figures that must
//! vanish when their source is down are rendered here instead: a series that is
//! missing from a scrape is marked stale by Prometheus at once.

use std::fmt::Write;

/// Metric type in the `# TYPE` line.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A value that goes up and down.
    Gauge,
    /// A count that only grows (Prometheus treats a drop as a reset).
    Counter,
}

/// A sample value: integers are written exactly (piconero do not fit an f64).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// Exact integer.
    Int(i128),
    /// Measured quantity.
    Float(f64),
}

impl From<u64> for Num {
    fn from(v: u64) -> Self {
        Self::Int(v.into())
    }
}

impl From<i64> for Num {
    fn from(v: i64) -> Self {
        Self::Int(v.into())
    }
}

impl From<bool> for Num {
    fn from(v: bool) -> Self {
        Self::Int(v.into())
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

/// Writes `# HELP` and `# TYPE` for a family.
pub fn family(out: &mut String, name: &str, kind: Kind, help: &str) {
    let kind = match kind {
        Kind::Gauge => "gauge",
        Kind::Counter => "counter",
    };
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Writes one sample line.
pub fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl Into<Num>) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push('}');
    }
    let _ = match value.into() {
        Num::Int(i) => writeln!(out, " {i}"),
        Num::Float(f) if f.is_nan() => writeln!(out, " NaN"),
        Num::Float(f) if f.is_infinite() => {
            writeln!(out, " {}", if f > 0.0 { "+Inf" } else { "-Inf" })
        }
        Num::Float(f) => writeln!(out, " {f}"),
    };
}

/// A family with one unlabelled sample.
pub fn gauge(out: &mut String, name: &str, help: &str, value: impl Into<Num>) {
    family(out, name, Kind::Gauge, help);
    sample(out, name, &[], value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_exact_integers_and_escaped_labels() {
        let mut s = String::new();
        gauge(&mut s, "a_piconero", "Big.", u64::MAX);
        family(&mut s, "b", Kind::Gauge, "B.");
        sample(&mut s, "b", &[("v", "x\"y\\z")], 0.5);
        assert_eq!(
            s,
            "# HELP a_piconero Big.\n# TYPE a_piconero gauge\na_piconero 18446744073709551615\n\
# HELP b B.\n# TYPE b gauge\nb{v=\"x\\\"y\\\\z\"} 0.5\n"
        );
    }
}
