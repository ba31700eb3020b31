//! The built-in metrics UI at `/` on the metrics listener: current values and
//! SVG charts of the history, server-rendered, no JavaScript, a meta refresh and
//! time range links. Reads only the monitor's snapshot and history.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::charts::{Series, Window, display_value, format_display, line_chart};
use super::{AppState, WebError};
use crate::telemetry::history::{History, Point, Tier, Unit, spec};
use crate::telemetry::monitor::unix_now;
use crate::telemetry::poller::PollState;

/// The UI's stylesheet, embedded.
const UI_CSS: &str = include_str!("../../assets/metrics/ui.css");

/// `GET /ui.css`.
pub async fn stylesheet() -> Response {
    let mut res = UI_CSS.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

/// `?range=`.
#[derive(Debug, Deserialize)]
pub struct RangeQuery {
    range: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Range {
    Hour,
    Day,
    Week,
}

impl Range {
    fn parse(s: Option<&str>) -> Option<Self> {
        match s {
            None | Some("24h") => Some(Self::Day),
            Some("1h") => Some(Self::Hour),
            Some("7d") => Some(Self::Week),
            _ => None,
        }
    }
    fn key(self) -> &'static str {
        match self {
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
        }
    }
    fn span(self) -> i64 {
        match self {
            Self::Hour => 3600,
            Self::Day => 86400,
            Self::Week => 7 * 86400,
        }
    }
    fn tier(self) -> Tier {
        match self {
            Self::Week => Tier::Quarter,
            _ => Tier::Minute,
        }
    }
}

struct RangeLink {
    label: &'static str,
    href: &'static str,
    current: bool,
}

struct Tile {
    label: &'static str,
    value: String,
    note: String,
    state: &'static str,
}

struct LegendItem {
    class: String,
    label: String,
    value: String,
}

struct Card {
    title: String,
    svg: String,
    legend: Vec<LegendItem>,
}

struct RouteRow {
    route: String,
    rate: String,
    errors: String,
    p50: String,
    p95: String,
    p99: String,
}

struct Section {
    title: &'static str,
    note: Option<String>,
    empty: Option<String>,
    cards: Vec<Card>,
    rows: Vec<RouteRow>,
}

#[derive(Template)]
#[template(path = "metrics/dashboard.html")]
struct Dashboard<'a> {
    shop_name: &'a str,
    generated: String,
    refresh_secs: u64,
    ranges: Vec<RangeLink>,
    tiles: Vec<Tile>,
    sections: Vec<Section>,
    version: &'static str,
}

/// Integer piconero as XMR with four decimals, truncated (tiles and legends;
/// `/metrics` has the exact integer).
pub fn xmr_short(piconero: u64) -> String {
    let whole = piconero / 1_000_000_000_000;
    let frac = (piconero % 1_000_000_000_000) / 100_000_000;
    format!("{whole}.{frac:04} XMR")
}

/// Draws the chart for `keys` (series key, legend label) from `h`.
fn card(
    h: &History,
    w: Window,
    tier: Tier,
    title: &str,
    keys: &[(&str, &str)],
    zero_based: bool,
) -> Card {
    let unit = keys.first().map(|(k, _)| spec(k).0).unwrap_or(Unit::Count);
    let data: Vec<Vec<Point>> = keys
        .iter()
        .map(|(k, _)| h.points(k, tier, w.from))
        .collect();
    let series: Vec<Series<'_>> = keys
        .iter()
        .zip(&data)
        .map(|((_, label), points)| Series { label, points })
        .collect();
    let svg = line_chart(title, unit, &series, w, zero_based);
    let legend = keys
        .iter()
        .zip(&data)
        .enumerate()
        .map(|(i, ((_, label), points))| LegendItem {
            class: format!("s{i}"),
            label: (*label).to_owned(),
            value: points
                .last()
                .map(|p| value_text(unit, p.v))
                .unwrap_or_else(|| "–".to_owned()),
        })
        .collect();
    Card {
        title: title.to_owned(),
        svg,
        legend,
    }
}

fn value_text(unit: Unit, v: i64) -> String {
    match unit {
        Unit::Piconero => xmr_short(v.max(0) as u64),
        u => format_display(u, display_value(u, v)),
    }
}

fn latest(h: &History, key: &str) -> Option<i64> {
    h.latest(key)
        .filter(|p| p.ts >= unix_now() as i64 - 3 * 60)
        .map(|p| p.v)
}

fn tiles(state: &AppState, poll: &PollState, h: &History) -> Vec<Tile> {
    let mut t = Vec::new();
    let tile = |label, value: String, note: String, state| Tile {
        label,
        value,
        note,
        state,
    };
    let rate = latest(h, "http.rate");
    t.push(tile(
        "Requests",
        rate.map(|v| value_text(Unit::MilliPerSecond, v))
            .unwrap_or_else(|| "–".into()),
        "last minute".into(),
        if rate.is_some() { "ok" } else { "idle" },
    ));
    let errors = latest(h, "http.errors");
    t.push(tile(
        "5xx errors",
        errors
            .map(|v| value_text(Unit::MilliPerSecond, v))
            .unwrap_or_else(|| "–".into()),
        "last minute".into(),
        match errors {
            Some(0) => "ok",
            Some(_) => "bad",
            None => "idle",
        },
    ));
    t.push(tile(
        "p99 latency",
        latest(h, "http.p99")
            .map(|v| value_text(Unit::Micros, v))
            .unwrap_or_else(|| "–".into()),
        "last minute".into(),
        "idle",
    ));
    match &poll.daemon {
        None if !state.monitor.poller.enabled() || state.config.monero.daemon_url.is_empty() => t
            .push(tile(
                "Monero daemon",
                "not configured".into(),
                "[monero] daemon_url".into(),
                "idle",
            )),
        None => t.push(tile(
            "Monero daemon",
            "…".into(),
            "first poll pending".into(),
            "idle",
        )),
        Some(d) => match &d.figures {
            None => t.push(tile(
                "Monero daemon",
                "down".into(),
                "unreachable".into(),
                "bad",
            )),
            Some(f) => {
                let synced = f.info.synchronized && poll.network_mismatch.is_none();
                t.push(tile(
                    "Chain height",
                    f.info.height.to_string(),
                    if poll.network_mismatch.is_some() {
                        format!("wrong network: {}", f.info.nettype)
                    } else if f.info.synchronized {
                        format!("synchronized · target {}", f.target_height())
                    } else {
                        format!("syncing to {}", f.target_height())
                    },
                    if synced { "ok" } else { "bad" },
                ));
                t.push(tile(
                    "Peers",
                    format!(
                        "{} in / {} out",
                        f.info.incoming_connections_count, f.info.outgoing_connections_count
                    ),
                    if f.info.offline {
                        "offline mode".into()
                    } else {
                        String::new()
                    },
                    "idle",
                ));
                t.push(tile(
                    "Tx pool",
                    f.pool.txs_total.to_string(),
                    format_display(Unit::Bytes, f.pool.bytes_total as f64),
                    "idle",
                ));
            }
        },
    }
    match &poll.wallet {
        None if state.config.monero.wallet_url.is_empty() => t.push(tile(
            "Wallet",
            "not configured".into(),
            "[monero] wallet_url".into(),
            "idle",
        )),
        None => t.push(tile(
            "Wallet",
            "…".into(),
            "first poll pending".into(),
            "idle",
        )),
        Some(w) => match w.figures.as_ref().map(|f| f.open) {
            None => t.push(tile("Wallet", "down".into(), "unreachable".into(), "bad")),
            Some(None) => t.push(tile(
                "Wallet",
                "no wallet open".into(),
                String::new(),
                "bad",
            )),
            Some(Some(open)) => {
                t.push(tile(
                    "Wallet balance",
                    xmr_short(open.balance.balance),
                    format!("unlocked {}", xmr_short(open.balance.unlocked_balance)),
                    "ok",
                ));
            }
        },
    }
    let held = state
        .monitor
        .shop
        .values()
        .into_iter()
        .find(|(name, _, _)| *name == "souk_escrow_held_piconero")
        .map(|(_, _, v)| v);
    t.push(tile(
        "Held in escrow",
        held.map(|v| xmr_short(v.max(0) as u64))
            .unwrap_or_else(|| "–".into()),
        "received, not yet paid out".into(),
        if held.is_some() { "ok" } else { "idle" },
    ));
    let disk = crate::health::disk_free_bytes(&state.config.data_dir).ok();
    let min_free = state
        .config
        .server
        .min_free_disk_mb
        .saturating_mul(1024 * 1024);
    t.push(tile(
        "Disk free",
        disk.map(|d| format_display(Unit::Bytes, d as f64))
            .unwrap_or_else(|| "–".into()),
        "data dir".into(),
        match disk {
            Some(d) if d >= min_free => "ok",
            Some(_) => "bad",
            None => "idle",
        },
    ));
    let process = metrics_process::collector::collect();
    t.push(tile(
        "Memory",
        process
            .resident_memory_bytes
            .map(|b| format_display(Unit::Bytes, b as f64))
            .unwrap_or_else(|| "–".into()),
        "resident".into(),
        "idle",
    ));
    t.push(tile(
        "CPU",
        latest(h, "sys.cpu")
            .map(|v| value_text(Unit::Ppm, v))
            .unwrap_or_else(|| "–".into()),
        "of one core, last minute".into(),
        "idle",
    ));
    t
}

fn route_rows(h: &History, tier: Tier, from: i64) -> Vec<RouteRow> {
    let mut rows: Vec<(i64, RouteRow)> = h
        .keys("route.rate:")
        .into_iter()
        .filter_map(|key| {
            let route = key.strip_prefix("route.rate:")?.to_owned();
            let mean = |k: &str| {
                let p = h.points(k, tier, from);
                (!p.is_empty()).then(|| p.iter().map(|p| p.v).sum::<i64>() / p.len() as i64)
            };
            let worst = |k: &str| h.points(k, tier, from).iter().map(|p| p.v).max();
            let rate = mean(&key)?;
            let show =
                |v: Option<i64>, u| v.map(|v| value_text(u, v)).unwrap_or_else(|| "–".into());
            Some((
                rate,
                RouteRow {
                    rate: value_text(Unit::MilliPerSecond, rate),
                    errors: show(mean(&format!("route.errors:{route}")), Unit::MilliPerSecond),
                    p50: show(worst(&format!("route.p50:{route}")), Unit::Micros),
                    p95: show(worst(&format!("route.p95:{route}")), Unit::Micros),
                    p99: show(worst(&format!("route.p99:{route}")), Unit::Micros),
                    route,
                },
            ))
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    rows.into_iter().map(|(_, r)| r).take(12).collect()
}

fn section(title: &'static str) -> Section {
    Section {
        title,
        note: None,
        empty: None,
        cards: Vec::new(),
        rows: Vec::new(),
    }
}

/// `GET /`.
pub async fn dashboard(
    State(state): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, WebError> {
    let range = Range::parse(q.range.as_deref()).ok_or_else(|| {
        WebError::BadRequest("Unknown time range: use ?range=1h, 24h or 7d.".to_owned())
    })?;
    let now = unix_now() as i64;
    let tier = range.tier();
    let step = tier.secs();
    let to = now - now.rem_euclid(step) + step;
    let w = Window {
        from: to - range.span(),
        to,
        step,
    };
    let poll = state.monitor.poller.snapshot();
    let monero = &state.config.monero;
    let page = state.monitor.with_history(|h| {
        let mut sections = Vec::new();

        let mut http = section("Shop traffic");
        http.cards.push(card(h, w, tier, "Requests per second", &[("http.rate", "all"), ("http.errors", "5xx")], true));
        http.cards.push(card(
            h,
            w,
            tier,
            "Latency",
            &[("http.p50", "p50"), ("http.p95", "p95"), ("http.p99", "p99")],
            true,
        ));
        http.rows = route_rows(h, tier, w.from);
        if http.rows.is_empty() {
            http.note = Some("No requests recorded in this range yet.".into());
        }
        sections.push(http);

        let mut daemon = section("Monero daemon");
        if monero.daemon_url.is_empty() {
            daemon.empty = Some("No daemon configured: set [monero] daemon_url to your monerod's RPC (for example http://127.0.0.1:18081).".into());
        } else {
            daemon.cards.push(card(h, w, tier, "Height vs target", &[("daemon.height", "height"), ("daemon.target", "target")], false));
            daemon.cards.push(card(h, w, tier, "Peers", &[("daemon.peers_in", "in"), ("daemon.peers_out", "out")], true));
            daemon.cards.push(card(h, w, tier, "Transaction pool", &[("daemon.pool_txs", "transactions")], true));
            daemon.cards.push(card(h, w, tier, "Daemon reachable", &[("daemon.up", "up")], true));
        }
        sections.push(daemon);

        let mut wallet = section("Wallet");
        if monero.wallet_url.is_empty() {
            wallet.empty = Some("No wallet configured: set [monero] wallet_url and wallet_login_file.".into());
        } else {
            wallet.cards.push(card(h, w, tier, "Balance", &[("wallet.balance", "total"), ("wallet.unlocked", "unlocked")], true));
            wallet.cards.push(card(h, w, tier, "Wallet reachable", &[("wallet.up", "up")], true));
        }
        sections.push(wallet);

        let mut shop = section("Orders, escrows and disputes");
        if state.monitor.shop.defined() {
            shop.cards.push(card(h, w, tier, "Open orders by state", &[
                ("shop.souk_orders:awaiting_payment", "awaiting payment"),
                ("shop.souk_orders:paid", "paid"),
                ("shop.souk_orders:shipped", "shipped"),
                ("shop.souk_orders:disputed", "disputed"),
            ], true));
            shop.cards.push(card(h, w, tier, "Held in escrow", &[("shop.souk_escrow_held_piconero", "held")], true));
            shop.cards.push(card(h, w, tier, "Escrows", &[
                ("shop.souk_escrows:awaiting_payment", "awaiting payment"),
                ("shop.souk_escrows:held", "held"),
                ("shop.souk_escrows:paying_out", "paying out"),
            ], true));
            shop.cards.push(card(h, w, tier, "Disputes and payouts waiting", &[
                ("shop.souk_disputes_open", "open disputes"),
                ("shop.souk_payouts_pending", "payouts not final"),
            ], true));
        } else {
            shop.empty = Some("Orders and escrows by state, amounts held in escrow, open disputes and pending payouts appear here once the marketplace and escrow are running. This database has no order tables yet.".into());
        }
        sections.push(shop);

        let mut backup = section("Backups");
        match h.latest("backup.last_success") {
            Some(p) if p.v > 0 => {
                let age = (now - p.v).max(0);
                backup.note = Some(format!("Last successful backup {} ago.", age_text(age)));
            }
            _ => backup.empty = Some("No backup recorded yet: scheduled, encrypted backups report their last success, size and age here once backups are set up.".into()),
        }
        sections.push(backup);

        let mut system = section("souk process and disk");
        system.cards.push(card(h, w, tier, "Disk free", &[("sys.disk_free", "data dir"), ("daemon.free_space", "monerod")], true));
        system.cards.push(card(h, w, tier, "Memory (resident)", &[("sys.rss", "souk")], true));
        system.cards.push(card(h, w, tier, "CPU (share of one core)", &[("sys.cpu", "souk")], true));
        sections.push(system);

        let tiles = tiles(&state, &poll, h);
        Dashboard {
            shop_name: &state.config.shop.name,
            generated: chrono::DateTime::from_timestamp(now, 0)
                .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default(),
            refresh_secs: 60,
            ranges: [Range::Hour, Range::Day, Range::Week]
                .into_iter()
                .map(|r| RangeLink {
                    label: r.key(),
                    href: match r {
                        Range::Hour => "/?range=1h",
                        Range::Day => "/?range=24h",
                        Range::Week => "/?range=7d",
                    },
                    current: r == range,
                })
                .collect(),
            tiles,
            sections,
            version: crate::telemetry::metrics::VERSION,
        }
        .render()
    })?;
    Ok(Html(page).into_response())
}

fn age_text(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 3 * 86400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piconero_print_exactly_as_xmr() {
        assert_eq!(xmr_short(0), "0.0000 XMR");
        assert_eq!(xmr_short(1_500_000_000_000), "1.5000 XMR");
        assert_eq!(xmr_short(u64::MAX), "18446744.0737 XMR");
        assert_eq!(xmr_short(17_592_186_044_415), "17.5921 XMR");
    }
}
