//! Sessions: stored by the SHA-256 of the cookie value.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// What a valid session resolves to.
#[derive(Debug)]
pub struct SessionRow {
    /// Account.
    pub account_id: i64,
    /// Username.
    pub username: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Form token of this session.
    pub csrf_token: String,
    /// Last write of last-seen.
    pub last_seen_at: i64,
    /// Unread notifications.
    pub unread: i64,
}

/// A session as listed to its owner.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// Started.
    pub created_at: i64,
    /// Last seen (to 5 minutes).
    pub last_seen_at: i64,
    /// Whether this is the session asking.
    pub current: bool,
}

/// Stores a new session.
pub fn insert(
    c: &mut Connection,
    hash: &[u8],
    account_id: i64,
    csrf: &str,
    now: i64,
    expires: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO sessions (id_hash, account_id, csrf_token, created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
        params![hash, account_id, csrf, now, expires],
    )?;
    Ok(())
}

/// One query: the session, its account (only if active), roles and unread count.
pub fn lookup(c: &Connection, hash: &[u8], now: i64) -> Result<Option<SessionRow>, StoreError> {
    let row = c
        .prepare_cached(
            "SELECT s.account_id, a.username, s.csrf_token, s.last_seen_at,
                    (SELECT group_concat(role) FROM account_roles r WHERE r.account_id = a.id),
                    (SELECT count(*) FROM notifications n WHERE n.account_id = a.id AND n.read_at IS NULL)
             FROM sessions s JOIN accounts a ON a.id = s.account_id
             WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND a.status = 'active'",
        )?
        .query_row(params![hash, now], |r| {
            let roles: Option<String> = r.get(4)?;
            Ok(SessionRow {
                account_id: r.get(0)?,
                username: r.get(1)?,
                csrf_token: r.get(2)?,
                last_seen_at: r.get(3)?,
                roles: roles
                    .map(|s| s.split(',').map(str::to_owned).collect())
                    .unwrap_or_default(),
                unread: r.get(5)?,
            })
        })
        .optional()?;
    Ok(row)
}

/// Moves last-seen and expiry forward.
pub fn touch(c: &mut Connection, hash: &[u8], now: i64, expires: i64) -> Result<(), StoreError> {
    c.execute(
        "UPDATE sessions SET last_seen_at = ?2, expires_at = ?3 WHERE id_hash = ?1",
        params![hash, now, expires],
    )?;
    Ok(())
}

/// Deletes one session.
pub fn delete(c: &mut Connection, hash: &[u8]) -> Result<(), StoreError> {
    c.execute("DELETE FROM sessions WHERE id_hash = ?1", params![hash])?;
    Ok(())
}

/// Deletes every session of an account; returns how many.
pub fn delete_all(c: &Connection, account_id: i64) -> Result<usize, StoreError> {
    Ok(c.execute(
        "DELETE FROM sessions WHERE account_id = ?1",
        params![account_id],
    )?)
}

/// An account's sessions, newest first.
pub fn list(
    c: &Connection,
    account_id: i64,
    current: &[u8],
) -> Result<Vec<SessionInfo>, StoreError> {
    let mut stmt = c.prepare(
        "SELECT created_at, last_seen_at, id_hash = ?2 FROM sessions
         WHERE account_id = ?1 ORDER BY created_at DESC LIMIT 100",
    )?;
    let rows = stmt
        .query_map(params![account_id, current], |r| {
            Ok(SessionInfo {
                created_at: r.get(0)?,
                last_seen_at: r.get(1)?,
                current: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Removes expired sessions; returns how many.
pub fn purge_expired(c: &Connection, now: i64) -> Result<usize, StoreError> {
    Ok(c.execute("DELETE FROM sessions WHERE expires_at <= ?1", params![now])?)
}
