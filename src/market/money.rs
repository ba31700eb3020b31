//! Amounts of Monero as integer piconero (1 XMR = 10^12 piconero), parsed from and
//! shown as exact decimal XMR. No floating point anywhere.

use std::fmt;

/// Piconero per XMR.
pub const PICONERO_PER_XMR: u64 = 1_000_000_000_000;

/// An amount in piconero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Piconero(pub u64);

impl Piconero {
    /// Parses a decimal XMR amount such as `0.25` or `12` (at most 12 decimals).
    pub fn parse_xmr(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("enter an amount in XMR, e.g. 0.25".to_owned());
        }
        let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if !digits(whole) || !digits(frac) || (whole.is_empty() && frac.is_empty()) {
            return Err(format!(
                "\"{t}\" is not an amount in XMR: use digits and one dot, e.g. 0.25"
            ));
        }
        if frac.len() > 12 {
            return Err(format!(
                "\"{t}\" has more than 12 decimals: Monero counts in piconero (0.000000000001)"
            ));
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| format!("\"{t}\" is too large"))?
        };
        let frac_value: u64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<12}")
                .parse()
                .expect("12 ascii digits fit in u64")
        };
        whole
            .checked_mul(PICONERO_PER_XMR)
            .and_then(|w| w.checked_add(frac_value))
            .map(Self)
            .ok_or_else(|| format!("\"{t}\" is too large"))
    }

    /// Sum, refusing overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }

    /// Product with a count, refusing overflow.
    pub fn checked_mul(self, n: u64) -> Option<Self> {
        self.0.checked_mul(n).map(Self)
    }

    /// As SQLite stores it.
    pub fn as_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    /// From SQLite (negative values never occur: the schema checks them).
    pub fn from_i64(v: i64) -> Self {
        Self(u64::try_from(v).unwrap_or(0))
    }
}

/// Exact XMR with trailing zeros trimmed: `0.25`, `12`, `0.000000000001`.
impl fmt::Display for Piconero {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / PICONERO_PER_XMR;
        let frac = self.0 % PICONERO_PER_XMR;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let s = format!("{frac:012}");
            write!(f, "{whole}.{}", s.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_exactly() {
        for (text, pico, shown) in [
            ("1", 1_000_000_000_000, "1"),
            ("0.25", 250_000_000_000, "0.25"),
            (".5", 500_000_000_000, "0.5"),
            ("12.000000000001", 12_000_000_000_001, "12.000000000001"),
            ("0.000000000001", 1, "0.000000000001"),
            ("3.10", 3_100_000_000_000, "3.1"),
        ] {
            let p = Piconero::parse_xmr(text).unwrap();
            assert_eq!(p.0, pico, "{text}");
            assert_eq!(p.to_string(), shown);
        }
    }

    #[test]
    fn refuses_what_is_not_an_amount() {
        for bad in [
            "",
            "abc",
            "1.2.3",
            "-1",
            "1e3",
            "0.0000000000001",
            "99999999999999999999",
            ".",
        ] {
            assert!(Piconero::parse_xmr(bad).is_err(), "{bad}");
        }
    }
}
