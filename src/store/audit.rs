//! The append-only audit log of privileged actions (triggers refuse UPDATE and DELETE).

use rusqlite::{Connection, params};

use super::StoreError;

/// Appends one entry; call inside the transaction of the action itself.
pub fn record(
    c: &Connection,
    actor: Option<i64>,
    action: &str,
    target: &str,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO audit_log (actor_id, action, target, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![actor, action, target, reason, now],
    )?;
    Ok(())
}

/// One audit entry with the actor's name.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Who (None: the operator's console or the system).
    pub actor: Option<String>,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: i64,
}

/// Newest first, paginated.
pub fn page(c: &Connection, limit: i64, offset: i64) -> Result<Vec<Entry>, StoreError> {
    let mut stmt = c.prepare(
        "SELECT a.username, l.action, l.target, l.reason, l.at
         FROM audit_log l LEFT JOIN accounts a ON a.id = l.actor_id
         ORDER BY l.id DESC LIMIT ?1 OFFSET ?2",
    )?;
    let rows = stmt
        .query_map(params![limit, offset], |r| {
            Ok(Entry {
                actor: r.get(0)?,
                action: r.get(1)?,
                target: r.get(2)?,
                reason: r.get(3)?,
                at: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
