//! Cron schedules as operators write them: standard 5-field crontab lines
//! (`17 * * * *`, Sunday = 0 or 7) or 6/7 fields starting with seconds as the
//! `cron` crate reads them (Sunday = 1). All times are UTC.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// A parsed schedule plus how it was read, for `check-config` to show.
#[derive(Clone)]
pub struct Schedule {
    inner: cron::Schedule,
    /// The expression as the `cron` crate reads it (seconds first).
    pub normalized: String,
    /// What kind of line the operator wrote.
    pub form: &'static str,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({} from {})", self.normalized, self.form)
    }
}

impl Schedule {
    /// Parses a 5-, 6- or 7-field expression; the error says what was expected.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let (normalized, form) = match fields.len() {
            5 => {
                let dow = crontab_dow_to_cron(fields[4])
                    .map_err(|e| format!("\"{expr}\": day-of-week field: {e}"))?;
                (
                    format!(
                        "0 {} {} {} {} {}",
                        fields[0], fields[1], fields[2], fields[3], dow
                    ),
                    "5-field crontab line",
                )
            }
            6 => (fields.join(" "), "6-field line with seconds"),
            7 => (fields.join(" "), "7-field line with seconds and year"),
            n => {
                return Err(format!(
                    "\"{expr}\" has {n} fields: write a crontab line like \"17 3 * * *\" (minute hour day month weekday) or 6 fields starting with seconds"
                ));
            }
        };
        let inner = cron::Schedule::from_str(&normalized).map_err(|e| {
            format!("\"{expr}\" is not a valid schedule ({e}): write e.g. \"17 3 * * *\"")
        })?;
        if inner.upcoming(Utc).next().is_none() {
            return Err(format!("\"{expr}\" never fires: check the date fields"));
        }
        Ok(Self {
            inner,
            normalized,
            form,
        })
    }

    /// The next time the schedule fires strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.inner.after(&after).next()
    }

    /// The next `n` times from now.
    pub fn upcoming(&self, n: usize) -> Vec<DateTime<Utc>> {
        self.inner.upcoming(Utc).take(n).collect()
    }
}

/// Crontab weekdays are 0-7 with Sunday = 0 and 7; the `cron` crate counts 1-7 from
/// Sunday = 1. Names and steps over `*` read the same in both.
fn crontab_dow_to_cron(field: &str) -> Result<String, String> {
    let shift = |n: &str| -> Result<u32, String> {
        let v: u32 = n
            .parse()
            .map_err(|_| format!("\"{n}\" is not a weekday number 0-7 or a name like MON"))?;
        if v > 7 {
            return Err(format!("{v} is not a weekday (0-7, Sunday is 0 or 7)"));
        }
        Ok(v % 7 + 1)
    };
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        let numeric = range.chars().all(|c| c.is_ascii_digit() || c == '-') && !range.is_empty();
        if !numeric {
            out.push(part.to_owned());
            continue;
        }
        let suffix = step.map(|s| format!("/{s}")).unwrap_or_default();
        match range.split_once('-') {
            None => out.push(format!("{}{suffix}", shift(range)?)),
            Some((a, b)) => {
                let (a_raw, b_raw): (u32, u32) = (
                    a.parse()
                        .map_err(|_| format!("\"{part}\" is not a weekday range"))?,
                    b.parse()
                        .map_err(|_| format!("\"{part}\" is not a weekday range"))?,
                );
                if a_raw > b_raw || b_raw > 7 {
                    return Err(format!("\"{part}\" is not a weekday range (0-7, low-high)"));
                }
                if b_raw == 7 && a_raw > 0 {
                    // e.g. 5-7 (Fri..Sun) becomes 6-7 plus 1 in the crate's numbering.
                    if step.is_some() {
                        return Err(format!("\"{part}\": write steps over 0-6 instead"));
                    }
                    out.push(format!("{}-7", shift(a)?));
                    out.push("1".to_owned());
                } else {
                    let b = if b_raw == 7 { 6 } else { b_raw };
                    let first = shift(a)?;
                    let last = b % 7 + 1;
                    out.push(format!("{first}-{last}{suffix}"));
                    if b_raw == 7 {
                        out.push("1".to_owned());
                    }
                }
            }
        }
    }
    Ok(out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike, Weekday};

    fn next(expr: &str, from: DateTime<Utc>) -> DateTime<Utc> {
        Schedule::parse(expr).unwrap().next_after(from).unwrap()
    }

    #[test]
    fn five_fields_get_a_zero_second() {
        let s = Schedule::parse("17 3 * * *").unwrap();
        assert_eq!(s.normalized, "0 17 3 * * *");
        assert_eq!(s.form, "5-field crontab line");
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let n = s.next_after(t0).unwrap();
        assert_eq!((n.hour(), n.minute(), n.second()), (3, 17, 0));
    }

    #[test]
    fn six_fields_are_taken_as_is() {
        let s = Schedule::parse("30 0 4 * * *").unwrap();
        assert_eq!(s.form, "6-field line with seconds");
        let n = s
            .next_after(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
            .unwrap();
        assert_eq!((n.hour(), n.minute(), n.second()), (4, 0, 30));
    }

    #[test]
    fn crontab_weekdays_keep_their_meaning() {
        // 2026-01-01 is a Thursday.
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
        assert_eq!(next("0 3 * * 0", t0).weekday(), Weekday::Sun);
        assert_eq!(next("0 3 * * 7", t0).weekday(), Weekday::Sun);
        assert_eq!(next("0 3 * * 1", t0).weekday(), Weekday::Mon);
        assert_eq!(next("0 3 * * 6", t0).weekday(), Weekday::Sat);
        assert_eq!(next("0 3 * * 1-5", t0).weekday(), Weekday::Fri);
        assert_eq!(next("0 3 * * MON", t0).weekday(), Weekday::Mon);
        let fri_to_sun = Schedule::parse("0 3 * * 5-7").unwrap();
        let days: Vec<Weekday> = fri_to_sun
            .inner
            .after(&t0)
            .take(3)
            .map(|d| d.weekday())
            .collect();
        assert_eq!(days, vec![Weekday::Fri, Weekday::Sat, Weekday::Sun]);
    }

    #[test]
    fn bad_lines_say_what_to_write() {
        assert!(
            Schedule::parse("* * *")
                .unwrap_err()
                .contains("has 3 fields")
        );
        assert!(
            Schedule::parse("61 * * * *")
                .unwrap_err()
                .contains("not a valid schedule")
        );
        assert!(
            Schedule::parse("0 3 * * 9")
                .unwrap_err()
                .contains("not a weekday")
        );
    }
}
