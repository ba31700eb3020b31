//! In-app notifications: only ever shown to the account they belong to.

use rusqlite::{Connection, params};

use super::StoreError;

/// Adds a notification; call inside the transaction of the event.
pub fn push(
    c: &Connection,
    account_id: i64,
    kind: &str,
    text: &str,
    link: &str,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO notifications (account_id, kind, text, link, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![account_id, kind, text, link, now],
    )?;
    Ok(())
}

/// One notification.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Id.
    pub id: i64,
    /// Kind (order_paid, message, ...).
    pub kind: String,
    /// Text.
    pub text: String,
    /// Where it points (a path in this shop).
    pub link: String,
    /// When.
    pub created_at: i64,
    /// Read yet.
    pub read: bool,
}

/// The account's notifications, newest first.
pub fn page(
    c: &Connection,
    account_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Notification>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, kind, text, link, created_at, read_at IS NOT NULL FROM notifications
         WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt
        .query_map(params![account_id, limit, offset], |r| {
            Ok(Notification {
                id: r.get(0)?,
                kind: r.get(1)?,
                text: r.get(2)?,
                link: r.get(3)?,
                created_at: r.get(4)?,
                read: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Marks all of the account's notifications read.
pub fn mark_all_read(c: &Connection, account_id: i64, now: i64) -> Result<usize, StoreError> {
    Ok(c.execute(
        "UPDATE notifications SET read_at = ?2 WHERE account_id = ?1 AND read_at IS NULL",
        params![account_id, now],
    )?)
}
