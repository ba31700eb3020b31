//! Reports and the moderators' side of listings: the queue, closing reports, the
//! compare-and-set that hides, removes and restores a listing.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// Files a report; false when the same person already has an open report on the
/// same target (the partial unique index of migration 0004).
pub fn insert(
    c: &Connection,
    reporter: i64,
    kind: &str,
    target_id: i64,
    reason: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "INSERT INTO reports (reporter_id, target_kind, target_id, reason, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        params![reporter, kind, target_id, reason, now],
    )? == 1)
}

/// How many reports of this person are still open.
pub fn open_by_reporter(c: &Connection, reporter: i64) -> Result<i64, StoreError> {
    Ok(c.query_row(
        "SELECT count(*) FROM reports WHERE reporter_id = ?1 AND state = 'open'",
        [reporter],
        |r| r.get(0),
    )?)
}

/// The name of an account `viewer` may report: an active vendor (whose profile is
/// public) or the other party of one of the viewer's orders. None otherwise, so
/// reports cannot be used to find out which account ids exist.
pub fn reportable_user(c: &Connection, id: i64, viewer: i64) -> Result<Option<String>, StoreError> {
    Ok(c.query_row(
        "SELECT a.username FROM accounts a WHERE a.id = ?1 AND (
            (a.status = 'active' AND EXISTS (SELECT 1 FROM account_roles r
                WHERE r.account_id = a.id AND r.role = 'vendor'))
            OR EXISTS (SELECT 1 FROM orders o WHERE o.buyer_id = ?2 AND o.vendor_id = a.id)
            OR EXISTS (SELECT 1 FROM orders o WHERE o.vendor_id = ?2 AND o.buyer_id = a.id))",
        params![id, viewer],
        |r| r.get(0),
    )
    .optional()?)
}

/// A report with what the moderator needs to judge it, from one query.
#[derive(Debug, Clone)]
pub struct ReportRow {
    /// Report id.
    pub id: i64,
    /// `listing`, `user` or `order`.
    pub kind: String,
    /// Internal id of the target.
    pub target_id: i64,
    /// What the reporter wrote.
    pub reason: String,
    /// `open` or `closed`.
    pub state: String,
    /// Moderator's resolution.
    pub resolution: Option<String>,
    /// Filed.
    pub created_at: i64,
    /// Reporter's name.
    pub reporter: String,
    /// Listing target: title, vendor id, vendor name, state, moderator's reason.
    pub listing: Option<(String, i64, String, String, Option<String>)>,
    /// User target: name, status, whether a vendor.
    pub user: Option<(String, String, bool)>,
    /// Order target: public id, title, buyer id, buyer, vendor id, vendor, state.
    pub order: Option<(String, String, i64, String, i64, String, String)>,
    /// Open reports on the same target (this one included).
    pub open_on_target: i64,
}

const REPORT_SELECT: &str =
    "SELECT r.id, r.target_kind, r.target_id, r.reason, r.state, r.resolution,
        r.created_at, rep.username,
        l.title, l.vendor_id, lv.username, l.state, l.moderation_reason,
        u.username, u.status,
        EXISTS (SELECT 1 FROM account_roles ur WHERE ur.account_id = u.id AND ur.role = 'vendor'),
        o.public_id, o.listing_title, o.buyer_id, ob.username, o.vendor_id, ov.username, o.state,
        (SELECT count(*) FROM reports r2 WHERE r2.state = 'open'
            AND r2.target_kind = r.target_kind AND r2.target_id = r.target_id)
    FROM reports r
    JOIN accounts rep ON rep.id = r.reporter_id
    LEFT JOIN listings l ON r.target_kind = 'listing' AND l.id = r.target_id
    LEFT JOIN accounts lv ON lv.id = l.vendor_id
    LEFT JOIN accounts u ON r.target_kind = 'user' AND u.id = r.target_id
    LEFT JOIN orders o ON r.target_kind = 'order' AND o.id = r.target_id
    LEFT JOIN accounts ob ON ob.id = o.buyer_id
    LEFT JOIN accounts ov ON ov.id = o.vendor_id";

/// Reports that involve account `?N` (as the reported user, the vendor of the
/// reported listing, or a party to the reported order): a moderator never
/// handles, or even sees, reports about themselves.
fn involves(param: usize) -> String {
    format!(
        "((r.target_kind = 'user' AND r.target_id = ?{param})
          OR (r.target_kind = 'listing' AND l.vendor_id = ?{param})
          OR (r.target_kind = 'order' AND (o.buyer_id = ?{param} OR o.vendor_id = ?{param})))"
    )
}

fn report_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportRow> {
    let listing = match r.get::<_, Option<String>>(8)? {
        Some(title) => Some((title, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?)),
        None => None,
    };
    let user = match r.get::<_, Option<String>>(13)? {
        Some(name) => Some((name, r.get(14)?, r.get(15)?)),
        None => None,
    };
    let order = match r.get::<_, Option<String>>(16)? {
        Some(pid) => Some((
            pid,
            r.get(17)?,
            r.get(18)?,
            r.get(19)?,
            r.get(20)?,
            r.get(21)?,
            r.get(22)?,
        )),
        None => None,
    };
    Ok(ReportRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        target_id: r.get(2)?,
        reason: r.get(3)?,
        state: r.get(4)?,
        resolution: r.get(5)?,
        created_at: r.get(6)?,
        reporter: r.get(7)?,
        listing,
        user,
        order,
        open_on_target: r.get(23)?,
    })
}

/// Open reports oldest first, leaving out those that involve `moderator`.
pub fn queue(
    c: &Connection,
    moderator: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<ReportRow>, StoreError> {
    let sql = format!(
        "{REPORT_SELECT} WHERE r.state = 'open' AND NOT {}
         ORDER BY r.created_at, r.id LIMIT ?2 OFFSET ?3",
        involves(1)
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![moderator, limit, offset], report_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// One report, unless it involves `moderator`.
pub fn get(c: &Connection, id: i64, moderator: i64) -> Result<Option<ReportRow>, StoreError> {
    let sql = format!("{REPORT_SELECT} WHERE r.id = ?2 AND NOT {}", involves(1));
    Ok(c.prepare_cached(&sql)?
        .query_row(params![moderator, id], report_row)
        .optional()?)
}

/// Closes an open report (compare-and-set on `open`); returns the reporter.
pub fn close(
    c: &Connection,
    id: i64,
    by: i64,
    resolution: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(c.query_row(
        "UPDATE reports SET state = 'closed', handled_by = ?2, resolution = ?3, handled_at = ?4
         WHERE id = ?1 AND state = 'open' RETURNING reporter_id",
        params![id, by, resolution, now],
        |r| r.get(0),
    )
    .optional()?)
}

/// Closes every open report on a target; returns the reporters.
pub fn close_all_on(
    c: &Connection,
    kind: &str,
    target_id: i64,
    by: i64,
    resolution: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut stmt = c.prepare_cached(
        "UPDATE reports SET state = 'closed', handled_by = ?3, resolution = ?4, handled_at = ?5
         WHERE target_kind = ?1 AND target_id = ?2 AND state = 'open' RETURNING reporter_id",
    )?;
    let rows = stmt
        .query_map(params![kind, target_id, by, resolution, now], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// What a moderator needs to know about a listing before acting on it.
#[derive(Debug, Clone)]
pub struct ListingBrief {
    /// Id.
    pub id: i64,
    /// Vendor.
    pub vendor_id: i64,
    /// Vendor's name.
    pub vendor_name: String,
    /// Title.
    pub title: String,
    /// State.
    pub state: String,
    /// The last moderator's reason.
    pub moderation_reason: Option<String>,
    /// Price, piconero.
    pub price: i64,
    /// Last change.
    pub updated_at: i64,
    /// Open reports on it.
    pub open_reports: i64,
}

const BRIEF_SELECT: &str =
    "SELECT l.id, l.vendor_id, a.username, l.title, l.state, l.moderation_reason,
        l.price_piconero, l.updated_at,
        (SELECT count(*) FROM reports r WHERE r.target_kind = 'listing' AND r.target_id = l.id
            AND r.state = 'open')
    FROM listings l JOIN accounts a ON a.id = l.vendor_id";

fn brief_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ListingBrief> {
    Ok(ListingBrief {
        id: r.get(0)?,
        vendor_id: r.get(1)?,
        vendor_name: r.get(2)?,
        title: r.get(3)?,
        state: r.get(4)?,
        moderation_reason: r.get(5)?,
        price: r.get(6)?,
        updated_at: r.get(7)?,
        open_reports: r.get(8)?,
    })
}

/// One listing for the moderators (deleted ones are gone for them too).
pub fn listing(c: &Connection, id: i64) -> Result<Option<ListingBrief>, StoreError> {
    let sql = format!("{BRIEF_SELECT} WHERE l.id = ?1 AND l.state <> 'deleted'");
    Ok(c.prepare_cached(&sql)?
        .query_row([id], brief_row)
        .optional()?)
}

/// Hidden listings, newest first (served by the `listings_newest` index).
pub fn hidden(c: &Connection, limit: i64, offset: i64) -> Result<Vec<ListingBrief>, StoreError> {
    let sql = format!(
        "{BRIEF_SELECT} WHERE l.state = 'hidden'
         ORDER BY l.created_at DESC, l.id DESC LIMIT ?1 OFFSET ?2"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params![limit, offset], brief_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Moves a listing between moderation states with a compare-and-set on the
/// allowed `from` states; the reason is kept for the vendor (None clears it).
/// Returns false when the listing is not in one of those states any more.
pub fn set_state(
    c: &Connection,
    id: i64,
    to: &str,
    from: &[&str],
    reason: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let placeholders = (0..from.len())
        .map(|i| format!("?{}", i + 5))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE listings SET state = ?2, moderation_reason = ?3, updated_at = ?4
         WHERE id = ?1 AND state IN ({placeholders})"
    );
    let mut values: Vec<rusqlite::types::Value> = vec![
        id.into(),
        to.to_owned().into(),
        reason.map(str::to_owned).into(),
        now.into(),
    ];
    values.extend(
        from.iter()
            .map(|s| rusqlite::types::Value::from((*s).to_owned())),
    );
    Ok(c.execute(&sql, rusqlite::params_from_iter(values))? == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrate::apply(&mut c).unwrap();
        c.execute_batch(
            "INSERT INTO accounts (id, username, password_hash, created_at) VALUES
                (1, 'alice', 'x', 0), (2, 'bob', 'x', 0), (3, 'mo', 'x', 0);
             INSERT INTO categories (id, slug, name) VALUES (1, 'misc', 'Misc');
             INSERT INTO listings (id, vendor_id, category_id, title, description, price_piconero,
                stock, created_at, updated_at) VALUES (10, 2, 1, 'Lamp', 'd', 5, 1, 0, 0);",
        )
        .unwrap();
        c
    }

    #[test]
    fn one_open_report_per_person_and_target() {
        let c = db();
        assert!(insert(&c, 1, "listing", 10, "fake", 1).unwrap());
        assert!(!insert(&c, 1, "listing", 10, "again", 2).unwrap());
        assert!(insert(&c, 3, "listing", 10, "also", 3).unwrap());
        assert_eq!(open_by_reporter(&c, 1).unwrap(), 1);
        let first = queue(&c, 3, 10, 0).unwrap();
        // The moderator's own report is fine to see; the vendor's listing is not theirs.
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].reason, "fake", "oldest first");
        assert_eq!(first[0].open_on_target, 2);
        assert_eq!(first[0].listing.as_ref().map(|l| l.2.as_str()), Some("bob"));
        assert!(queue(&c, 2, 10, 0).unwrap().is_empty(), "bob is the vendor");
        assert!(get(&c, first[0].id, 2).unwrap().is_none());
        assert_eq!(close(&c, first[0].id, 3, "ok", 4).unwrap(), Some(1));
        assert_eq!(close(&c, first[0].id, 3, "ok", 4).unwrap(), None, "once");
        assert!(
            insert(&c, 1, "listing", 10, "back again", 5).unwrap(),
            "after closing, again"
        );
        assert_eq!(
            close_all_on(&c, "listing", 10, 3, "gone", 6).unwrap().len(),
            2
        );
    }

    fn plan(c: &Connection, sql: &str, params: impl rusqlite::Params) -> String {
        let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(params, |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn the_queue_and_the_hidden_list_are_served_by_indexes() {
        let c = db();
        let queue = format!(
            "{REPORT_SELECT} WHERE r.state = 'open' AND NOT {}
             ORDER BY r.created_at, r.id LIMIT ?2 OFFSET ?3",
            involves(1)
        );
        let p = plan(&c, &queue, params![1, 10, 0]);
        assert!(p.contains("USING INDEX reports_queue"), "{p}");
        assert!(!p.contains("TEMP B-TREE") && !p.contains("SCAN"), "{p}");
        let hidden = format!(
            "{BRIEF_SELECT} WHERE l.state = 'hidden' ORDER BY l.created_at DESC, l.id DESC LIMIT ?1 OFFSET ?2"
        );
        let p = plan(&c, &hidden, params![10, 0]);
        assert!(p.contains("USING INDEX listings_newest"), "{p}");
        assert!(!p.contains("TEMP B-TREE") && !p.contains("SCAN"), "{p}");
    }

    #[test]
    fn moderation_states_are_compare_and_set() {
        let c = db();
        assert!(set_state(&c, 10, "hidden", &["active", "paused"], Some("why"), 1).unwrap());
        assert!(!set_state(&c, 10, "hidden", &["active", "paused"], Some("why"), 1).unwrap());
        assert_eq!(hidden(&c, 10, 0).unwrap().len(), 1);
        assert!(set_state(&c, 10, "active", &["hidden"], None, 2).unwrap());
        let l = listing(&c, 10).unwrap().unwrap();
        assert_eq!((l.state.as_str(), l.moderation_reason), ("active", None));
    }
}
