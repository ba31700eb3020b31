//! Once a minute, turns souk's own figures into history points: HTTP rate, error
//! rate and latency percentiles by route (from the same counters and histogram
//! buckets Prometheus scrapes, so the UI and Prometheus agree), the Monero poll,
//! shop figures, disk, memory and CPU.
//!
//! The recorder offers no read API, so the sampler reads the rendered text.
//! `prometheus-parse` was considered and refused: it splits label values on `,`
//! and `}`, and route templates such as `/static/{*path}` contain braces.

use std::collections::BTreeMap;

use crate::telemetry::poller::PollState;

/// One sample line of the text format.
#[derive(Debug, Clone, PartialEq)]
pub struct Line<'a> {
    /// Metric name.
    pub name: &'a str,
    /// Label pairs, values unescaped.
    pub labels: Vec<(&'a str, String)>,
    /// The value.
    pub value: f64,
}

impl Line<'_> {
    /// A label's value.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a sample line; comments, blank and malformed lines give None.
pub fn parse_line(line: &str) -> Option<Line<'_>> {
    let line = line.trim_end();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            rest = rest.trim_start_matches(',');
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = rest.find('=')?;
            let key = &rest[..eq];
            let mut chars = rest[eq + 1..].char_indices();
            if chars.next()?.1 != '"' {
                return None;
            }
            let mut value = String::new();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    '"' => {
                        end = Some(eq + 1 + i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            rest = &rest[end?..];
            labels.push((key, value));
        }
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Line {
        name,
        labels,
        value,
    })
}

#[derive(Debug, Clone, Default)]
struct RouteCounters {
    requests: f64,
    errors: f64,
    /// Cumulative bucket counts by upper bound.
    buckets: BTreeMap<Le, f64>,
}

/// A bucket bound that sorts (`+Inf` last).
#[derive(Debug, Clone, Copy)]
struct Le(f64);
impl PartialEq for Le {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o).is_eq()
    }
}
impl Eq for Le {}
impl PartialOrd for Le {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Le {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

#[derive(Debug, Clone)]
struct Counters {
    at: f64,
    routes: BTreeMap<String, RouteCounters>,
    cpu_seconds: Option<f64>,
}

/// What the sampler reads at one instant.
pub struct Inputs<'a> {
    /// Unix time, seconds.
    pub now: f64,
    /// The recorder's exposition text.
    pub exposition: &'a str,
    /// The Monero poll.
    pub poll: &'a PollState,
    /// Shop figures (name, label, value).
    pub shop: Vec<(&'static str, Option<String>, i64)>,
    /// Free bytes in the data dir.
    pub disk_free: Option<u64>,
    /// Resident memory.
    pub rss: Option<u64>,
    /// CPU seconds used so far.
    pub cpu_seconds: Option<f64>,
}

/// Keeps the previous counters to turn them into rates.
#[derive(Debug, Default)]
pub struct Sampler {
    prev: Option<Counters>,
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `histogram_quantile` over bucket increments: linear inside the bucket.
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(prev.0);
            }
            let in_bucket = count - prev.1;
            let frac = if in_bucket > 0.0 {
                (rank - prev.1) / in_bucket
            } else {
                1.0
            };
            return Some(prev.0 + (le - prev.0) * frac);
        }
        prev = (le, count);
    }
    Some(prev.0)
}

impl Sampler {
    /// The figures for one minute as (series key, value) pairs.
    pub fn sample(&mut self, i: &Inputs<'_>) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        let mut routes: BTreeMap<String, RouteCounters> = BTreeMap::new();
        let mut backup = None;
        for line in i.exposition.lines().filter_map(parse_line) {
            match line.name {
                "souk_http_requests_total" => {
                    let Some(route) = line.label("route") else {
                        continue;
                    };
                    let r = routes.entry(route.to_owned()).or_default();
                    r.requests += line.value;
                    if line.label("status").is_some_and(|s| s.starts_with('5')) {
                        r.errors += line.value;
                    }
                }
                "souk_http_request_duration_seconds_bucket" => {
                    let (Some(route), Some(le)) = (line.label("route"), line.label("le")) else {
                        continue;
                    };
                    let le = match le {
                        "+Inf" => f64::INFINITY,
                        v => match v.parse() {
                            Ok(v) => v,
                            Err(_) => continue,
                        },
                    };
                    *routes
                        .entry(route.to_owned())
                        .or_default()
                        .buckets
                        .entry(Le(le))
                        .or_default() += line.value;
                }
                "souk_backup_last_success_timestamp_seconds" => backup = Some(line.value),
                _ => {}
            }
        }
        let now = Counters {
            at: i.now,
            routes,
            cpu_seconds: i.cpu_seconds,
        };
        if let Some(prev) = &self.prev {
            let dt = now.at - prev.at;
            if dt >= 1.0 {
                rates(&mut out, prev, &now, dt);
            }
        }
        if let Some(b) = backup {
            out.push(("backup.last_success".into(), b as i64));
        }
        poll_figures(&mut out, i.poll);
        for (name, label, v) in &i.shop {
            let key = match label {
                Some(l) => format!("shop.{name}:{l}"),
                None => format!("shop.{name}"),
            };
            out.push((key, *v));
        }
        if let Some(d) = i.disk_free {
            out.push(("sys.disk_free".into(), clamp(d)));
        }
        if let Some(r) = i.rss {
            out.push(("sys.rss".into(), clamp(r)));
        }
        self.prev = Some(now);
        out
    }
}

fn rates(out: &mut Vec<(String, i64)>, prev: &Counters, now: &Counters, dt: f64) {
    // A counter that went down was reset (restart): its increase is its value.
    let inc = |a: f64, b: f64| if b >= a { b - a } else { b };
    let milli = |v: f64| (v / dt * 1000.0).round() as i64;
    let micros = |s: f64| (s * 1e6).round() as i64;
    let mut total_req = 0.0;
    let mut total_err = 0.0;
    let mut total_buckets: BTreeMap<Le, f64> = BTreeMap::new();
    for (route, c) in &now.routes {
        let p = prev.routes.get(route).cloned().unwrap_or_default();
        let req = inc(p.requests, c.requests);
        let err = inc(p.errors, c.errors);
        total_req += req;
        total_err += err;
        out.push((format!("route.rate:{route}"), milli(req)));
        out.push((format!("route.errors:{route}"), milli(err)));
        let buckets: Vec<(f64, f64)> = c
            .buckets
            .iter()
            .map(|(le, n)| {
                let d = inc(p.buckets.get(le).copied().unwrap_or(0.0), *n);
                *total_buckets.entry(*le).or_default() += d;
                (le.0, d)
            })
            .collect();
        for (q, name) in [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")] {
            if let Some(v) = quantile(q, &buckets) {
                out.push((format!("route.{name}:{route}"), micros(v)));
            }
        }
    }
    out.push(("http.rate".into(), milli(total_req)));
    out.push(("http.errors".into(), milli(total_err)));
    let buckets: Vec<(f64, f64)> = total_buckets.iter().map(|(le, n)| (le.0, *n)).collect();
    for (q, name) in [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")] {
        if let Some(v) = quantile(q, &buckets) {
            out.push((format!("http.{name}"), micros(v)));
        }
    }
    if let (Some(a), Some(b)) = (prev.cpu_seconds, now.cpu_seconds) {
        out.push(("sys.cpu".into(), ((inc(a, b) / dt) * 1e6).round() as i64));
    }
}

/// History figures of one Monero poll (also recorded right after each poll).
pub fn poll_figures(out: &mut Vec<(String, i64)>, poll: &PollState) {
    const UP: i64 = 1_000_000;
    if let Some(d) = &poll.daemon {
        out.push(("daemon.up".into(), if d.up { UP } else { 0 }));
        if let Some(f) = &d.figures {
            out.push(("daemon.height".into(), clamp(f.info.height)));
            out.push(("daemon.target".into(), clamp(f.target_height())));
            out.push((
                "daemon.peers_in".into(),
                clamp(f.info.incoming_connections_count),
            ));
            out.push((
                "daemon.peers_out".into(),
                clamp(f.info.outgoing_connections_count),
            ));
            out.push(("daemon.pool_txs".into(), clamp(f.pool.txs_total)));
            out.push(("daemon.pool_bytes".into(), clamp(f.pool.bytes_total)));
            out.push(("daemon.free_space".into(), clamp(f.info.free_space)));
        }
    }
    if let Some(w) = &poll.wallet {
        out.push(("wallet.up".into(), if w.up { UP } else { 0 }));
        if let Some(open) = w.figures.as_ref().and_then(|f| f.open) {
            out.push(("wallet.balance".into(), clamp(open.balance.balance)));
            out.push((
                "wallet.unlocked".into(),
                clamp(open.balance.unlocked_balance),
            ));
            out.push(("wallet.height".into(), clamp(open.height)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_with_braces_commas_and_escapes() {
        let l = parse_line(
            r#"souk_http_requests_total{method="GET",route="/static/{*path}",status="404"} 2"#,
        )
        .unwrap();
        assert_eq!(l.name, "souk_http_requests_total");
        assert_eq!(l.label("route"), Some("/static/{*path}"));
        assert_eq!(l.value, 2.0);
        let l = parse_line(r#"x{a="q\"u,o}te",le="+Inf"} +Inf"#).unwrap();
        assert_eq!(l.label("a"), Some("q\"u,o}te"));
        assert!(l.value.is_infinite());
        assert_eq!(parse_line("up 1").unwrap().value, 1.0);
        assert!(parse_line("# HELP x y").is_none());
        assert!(parse_line("broken{a=1} 2").is_none());
    }

    #[test]
    fn quantiles_interpolate_like_prometheus() {
        let b = [
            (0.1, 50.0),
            (0.5, 90.0),
            (1.0, 100.0),
            (f64::INFINITY, 100.0),
        ];
        assert!((quantile(0.5, &b).unwrap() - 0.1).abs() < 1e-9);
        assert!((quantile(0.7, &b).unwrap() - 0.3).abs() < 1e-9);
        assert!((quantile(0.99, &b).unwrap() - 0.95).abs() < 1e-9);
        assert_eq!(quantile(0.5, &[(0.1, 0.0), (f64::INFINITY, 0.0)]), None);
    }

    #[test]
    fn rates_come_from_two_samples() {
        let poll = PollState::default();
        let text = |n: u32, e: u32| {
            format!(
                "souk_http_requests_total{{method=\"GET\",route=\"/\",status=\"200\"}} {n}\n\
souk_http_requests_total{{method=\"GET\",route=\"/\",status=\"500\"}} {e}\n\
souk_http_request_duration_seconds_bucket{{method=\"GET\",route=\"/\",le=\"0.01\"}} {n}\n\
souk_http_request_duration_seconds_bucket{{method=\"GET\",route=\"/\",le=\"+Inf\"}} {}\n",
                n + e
            )
        };
        let mut s = Sampler::default();
        let first = text(100, 0);
        let out = s.sample(&Inputs {
            now: 1000.0,
            exposition: &first,
            poll: &poll,
            shop: vec![],
            disk_free: Some(5),
            rss: None,
            cpu_seconds: Some(1.0),
        });
        assert!(
            !out.iter().any(|(k, _)| k == "http.rate"),
            "no rate from one sample"
        );
        let second = text(700, 60);
        let out: BTreeMap<String, i64> = s
            .sample(&Inputs {
                now: 1060.0,
                exposition: &second,
                poll: &poll,
                shop: vec![],
                disk_free: Some(5),
                rss: None,
                cpu_seconds: Some(4.0),
            })
            .into_iter()
            .collect();
        assert_eq!(out["http.rate"], 11_000, "660 requests in 60 s = 11/s");
        assert_eq!(out["http.errors"], 1_000);
        assert_eq!(out["route.rate:/"], 11_000);
        assert_eq!(out["sys.cpu"], 50_000, "3 CPU s in 60 s = 5 %");
        assert!(out["http.p50"] <= 10_000, "{out:?}");
    }
}
