//! SVG line charts drawn by souk for the metrics UI: axes with "nice" ticks in
//! the series' unit, UTC time labels, one polyline per series (broken at gaps),
//! no script. Colours come from the stylesheet (classes `s0`..`s3`), so the CSP
//! needs no inline styles.

use std::fmt::Write;

use crate::telemetry::history::{Point, Unit};

const W: f64 = 600.0;
const H: f64 = 190.0;
const LEFT: f64 = 68.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;

/// One series to draw.
pub struct Series<'a> {
    /// Legend text.
    pub label: &'a str,
    /// Points in time order.
    pub points: &'a [Point],
}

/// The time window of a chart.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Left edge, Unix seconds.
    pub from: i64,
    /// Right edge, Unix seconds.
    pub to: i64,
    /// Resolution of the points (gaps longer than 2.5 steps break the line).
    pub step: i64,
}

/// A stored integer in display units (f64 is fine here: it only places pixels).
pub fn display_value(unit: Unit, v: i64) -> f64 {
    match unit {
        Unit::Count | Unit::Bytes | Unit::UnixTime => v as f64,
        Unit::MilliPerSecond => v as f64 / 1000.0,
        Unit::Micros => v as f64 / 1e6,
        Unit::Piconero => v as f64 / 1e12,
        Unit::Ppm => v as f64 / 1e4,
    }
}

/// Formats a display value with its unit, compactly.
pub fn format_display(unit: Unit, x: f64) -> String {
    match unit {
        Unit::Count => {
            if x.abs() >= 1e6 {
                format!("{:.1}M", x / 1e6)
            } else if x.abs() >= 1e4 {
                format!("{:.0}k", x / 1e3)
            } else if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.1}")
            }
        }
        Unit::MilliPerSecond => {
            if x >= 100.0 {
                format!("{x:.0}/s")
            } else if x >= 10.0 {
                format!("{x:.1}/s")
            } else {
                format!("{x:.2}/s")
            }
        }
        Unit::Micros => {
            if x >= 1.0 {
                format!("{x:.2} s")
            } else if x >= 0.01 {
                format!("{:.0} ms", x * 1e3)
            } else if x >= 0.001 {
                format!("{:.1} ms", x * 1e3)
            } else {
                format!("{:.0} µs", x * 1e6)
            }
        }
        Unit::Bytes => bytes(x),
        Unit::Piconero => {
            if x >= 10.0 || x == 0.0 {
                format!("{x:.0} XMR")
            } else {
                format!("{x:.2} XMR")
            }
        }
        Unit::Ppm => format!("{x:.1} %"),
        Unit::UnixTime => format!("{x:.0}"),
    }
}

fn bytes(x: f64) -> String {
    const K: f64 = 1024.0;
    if x >= K * K * K * K {
        format!("{:.1} TiB", x / (K * K * K * K))
    } else if x >= K * K * K {
        format!("{:.1} GiB", x / (K * K * K))
    } else if x >= K * K {
        format!("{:.0} MiB", x / (K * K))
    } else if x >= K {
        format!("{:.0} KiB", x / K)
    } else {
        format!("{x:.0} B")
    }
}

/// Ticks from `lo` to `hi`, about `n` of them, at 1/2/5 x 10^k (or powers of
/// two for bytes).
fn ticks(lo: f64, hi: f64, n: usize, unit: Unit) -> (f64, f64, Vec<f64>) {
    let span = (hi - lo).max(f64::EPSILON);
    let raw = span / n as f64;
    let step = if unit == Unit::Bytes && raw >= 1024.0 {
        let p = 2f64.powi(raw.log2().ceil() as i32);
        // 1, 2, 4 ... x 2^k keeps labels like 256 MiB.
        p.max(1.0)
    } else {
        let mag = 10f64.powf(raw.log10().floor());
        let f = raw / mag;
        mag * if f <= 1.0 {
            1.0
        } else if f <= 2.0 {
            2.0
        } else if f <= 5.0 {
            5.0
        } else {
            10.0
        }
    };
    // Counts and bytes have no fractions worth a tick.
    let step = if matches!(unit, Unit::Count | Unit::Bytes) {
        step.max(1.0)
    } else {
        step
    };
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let mut t = Vec::new();
    let mut x = start;
    while x <= end + step * 0.5 && t.len() < 20 {
        t.push(x);
        x += step;
    }
    (start, end.max(start + step), t)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Time labels: every 10 min (1 h), 3 h (24 h) or day (7 d).
fn time_ticks(w: Window) -> (i64, &'static str) {
    let span = w.to - w.from;
    if span <= 2 * 3600 {
        (600, "%H:%M")
    } else if span <= 2 * 86400 {
        (3 * 3600, "%H:%M")
    } else {
        (86400, "%a %d")
    }
}

/// Draws a line chart; `zero_based` starts the y axis at 0 (rates, sizes) rather
/// than at the data's minimum (heights).
pub fn line_chart(
    title: &str,
    unit: Unit,
    series: &[Series<'_>],
    w: Window,
    zero_based: bool,
) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(title)
    );
    let values: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.ts >= w.from && p.ts <= w.to)
        .map(|p| display_value(unit, p.v))
        .collect();
    let (px0, px1, py0, py1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let _ = write!(
        svg,
        r#"<rect class="plot" x="{px0}" y="{py0}" width="{}" height="{}"/>"#,
        px1 - px0,
        py1 - py0
    );
    // Time axis.
    let (every, fmt) = time_ticks(w);
    let tx = |ts: i64| px0 + (ts - w.from) as f64 / (w.to - w.from).max(1) as f64 * (px1 - px0);
    let mut t = w.from - w.from.rem_euclid(every) + every;
    while t < w.to {
        let x = tx(t);
        let label = chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.format(fmt).to_string())
            .unwrap_or_default();
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{x:.1}" y1="{py0}" x2="{x:.1}" y2="{py1}"/><text class="xl" x="{x:.1}" y="{}">{label}</text>"#,
            py1 + 16.0
        );
        t += every;
    }
    if values.is_empty() {
        let _ = write!(
            svg,
            r#"<text class="empty" x="{}" y="{}">no data in this range yet</text></svg>"#,
            (px0 + px1) / 2.0,
            (py0 + py1) / 2.0
        );
        return svg;
    }
    let mut lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if zero_based {
        lo = lo.min(0.0);
    }
    if (hi - lo).abs() < f64::EPSILON {
        // A flat line sits in the middle of a small range around it.
        let pad = if hi.abs() > 0.0 { hi.abs() * 0.1 } else { 1.0 };
        hi += pad;
        if !zero_based || lo - pad >= 0.0 {
            lo -= pad;
        }
    }
    let (lo, hi, yt) = ticks(lo, hi, 4, unit);
    let ty = |v: f64| py1 - (v - lo) / (hi - lo) * (py1 - py0);
    for v in yt {
        let y = ty(v);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{px0}" y1="{y:.1}" x2="{px1}" y2="{y:.1}"/><text class="yl" x="{}" y="{:.1}">{}</text>"#,
            px0 - 6.0,
            y + 4.0,
            esc(&format_display(unit, v))
        );
    }
    // The first series is drawn last, so it stays visible where lines overlap.
    for (i, s) in series.iter().enumerate().rev() {
        let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut prev: Option<i64> = None;
        for p in s.points.iter().filter(|p| p.ts >= w.from && p.ts <= w.to) {
            if prev.is_none_or(|q| p.ts - q > w.step * 5 / 2) {
                runs.push(Vec::new());
            }
            if let Some(run) = runs.last_mut() {
                run.push((tx(p.ts), ty(display_value(unit, p.v))));
            }
            prev = Some(p.ts);
        }
        for run in runs {
            if run.len() == 1 {
                let _ = write!(
                    svg,
                    r#"<circle class="dot s{i}" cx="{:.1}" cy="{:.1}" r="2.5"/>"#,
                    run[0].0, run[0].1
                );
            } else {
                svg.push_str(&format!(r#"<polyline class="line s{i}" points=""#));
                for (x, y) in run {
                    let _ = write!(svg, "{x:.1},{y:.1} ");
                }
                let _ = write!(svg, r#""><title>{}</title></polyline>"#, esc(s.label));
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_axes_lines_gaps_and_empty_states() {
        let pts: Vec<Point> = (0..60)
            .filter(|m| !(20..30).contains(m))
            .map(|m| Point {
                ts: 3600 + m * 60,
                v: 1000 * m,
            })
            .collect();
        let w = Window {
            from: 3600,
            to: 7200,
            step: 60,
        };
        let svg = line_chart(
            "Requests",
            Unit::MilliPerSecond,
            &[Series {
                label: "all",
                points: &pts,
            }],
            w,
            true,
        );
        assert_eq!(
            svg.matches("<polyline").count(),
            2,
            "the gap breaks the line"
        );
        assert!(svg.contains(">01:10<"), "time labels: {svg}");
        assert!(svg.contains("/s<"), "unit on the axis: {svg}");
        assert!(!svg.contains("style="), "no inline styles");
        let empty = line_chart("x", Unit::Bytes, &[], w, true);
        assert!(empty.contains("no data in this range yet"));
    }

    #[test]
    fn units_read_well() {
        assert_eq!(
            format_display(Unit::Bytes, 3.5 * 1024.0 * 1024.0 * 1024.0),
            "3.5 GiB"
        );
        assert_eq!(format_display(Unit::Micros, 0.0042), "4.2 ms");
        assert_eq!(format_display(Unit::Piconero, 17.592186044415), "18 XMR");
        assert_eq!(format_display(Unit::Piconero, 2.5), "2.50 XMR");
        assert_eq!(format_display(Unit::Ppm, 12.34), "12.3 %");
    }
}
