//! Small display helpers the templates call.

use crate::market::Piconero;

/// Unix seconds as `2026-11-25 13:05 UTC`.
pub fn time(ts: &i64) -> String {
    chrono::DateTime::from_timestamp(*ts, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// Unix seconds as `2026-11-25`.
pub fn date(ts: &i64) -> String {
    chrono::DateTime::from_timestamp(*ts, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Piconero as exact XMR text.
pub fn xmr(pico: &i64) -> String {
    Piconero::from_i64(*pico).to_string()
}

/// Average rating text ("4.5") or an empty string.
pub fn rating(sum: &i64, count: &i64) -> String {
    crate::market::catalogue::rating_text(*sum, *count).unwrap_or_default()
}

/// Percent with one decimal, or "none" for an empty base.
pub fn percent(part: &i64, whole: &i64) -> String {
    if *whole <= 0 {
        return "none yet".to_owned();
    }
    let tenths = (part * 1000 + whole / 2) / whole;
    format!("{}.{} %", tenths / 10, tenths % 10)
}

/// A stored order state as people read it ("awaiting_payment" -> "Awaiting payment").
pub fn state_label(stored: &str) -> String {
    stored
        .parse::<crate::market::orders::state::OrderState>()
        .map(|s| s.label().to_owned())
        .unwrap_or_else(|_| stored.to_owned())
}
