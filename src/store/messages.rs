//! Order threads: messages, evidence images (attachments), and the report lookup
//! that lets moderators read a thread.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// One message of a thread, with its author's name.
#[derive(Debug, Clone)]
pub struct Message {
    /// Id.
    pub id: i64,
    /// Author account.
    pub author_id: i64,
    /// Author name.
    pub author: String,
    /// Text (may be empty for an image with no caption).
    pub body: String,
    /// Evidence image, if the message carries one.
    pub image_id: Option<i64>,
    /// When.
    pub created_at: i64,
}

const COUNT_SQL: &str = "SELECT count(*) FROM messages WHERE order_id = ?1";
const PAGE_SQL: &str = "SELECT m.id, m.author_id, a.username, m.body, m.image_id, m.created_at
    FROM messages m JOIN accounts a ON a.id = m.author_id
    WHERE m.order_id = ?1 ORDER BY m.id LIMIT ?2 OFFSET ?3";
const ATTACHMENT_COUNT_SQL: &str =
    "SELECT count(*) FROM attachments WHERE order_id = ?1 AND author_id = ?2";
const REPORTED_SQL: &str =
    "SELECT EXISTS (SELECT 1 FROM reports WHERE target_kind = 'order' AND target_id = ?1)";

/// Appends a message; returns its id.
pub fn insert(
    c: &Connection,
    order_id: i64,
    author_id: i64,
    body: &str,
    image_id: Option<i64>,
    now: i64,
) -> Result<i64, StoreError> {
    c.execute(
        "INSERT INTO messages (order_id, author_id, body, image_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![order_id, author_id, body, image_id, now],
    )?;
    Ok(c.last_insert_rowid())
}

/// How many messages an order's thread has.
pub fn count(c: &Connection, order_id: i64) -> Result<i64, StoreError> {
    Ok(c.prepare_cached(COUNT_SQL)?
        .query_row([order_id], |r| r.get(0))?)
}

/// A page of an order's thread, oldest first.
pub fn page(
    c: &Connection,
    order_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<Message>, StoreError> {
    let mut stmt = c.prepare_cached(PAGE_SQL)?;
    let rows = stmt
        .query_map(params![order_id, limit, offset], |r| {
            Ok(Message {
                id: r.get(0)?,
                author_id: r.get(1)?,
                author: r.get(2)?,
                body: r.get(3)?,
                image_id: r.get(4)?,
                created_at: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Everyone who has written in the thread.
pub fn authors(c: &Connection, order_id: i64) -> Result<Vec<i64>, StoreError> {
    let mut stmt =
        c.prepare_cached("SELECT DISTINCT author_id FROM messages WHERE order_id = ?1")?;
    let rows = stmt
        .query_map([order_id], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Stores a re-encoded evidence image; returns its id.
pub fn insert_attachment(
    c: &Connection,
    order_id: i64,
    author_id: i64,
    content_type: &str,
    data: &[u8],
    now: i64,
) -> Result<i64, StoreError> {
    c.execute(
        "INSERT INTO attachments (order_id, author_id, content_type, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![order_id, author_id, content_type, data, now],
    )?;
    Ok(c.last_insert_rowid())
}

/// How many evidence images an author added to an order.
pub fn attachment_count(c: &Connection, order_id: i64, author_id: i64) -> Result<i64, StoreError> {
    Ok(c.prepare_cached(ATTACHMENT_COUNT_SQL)?
        .query_row(params![order_id, author_id], |r| r.get(0))?)
}

/// An evidence image: (order id, content type, bytes).
pub type AttachmentBlob = (i64, String, Vec<u8>);

/// One evidence image by id (callers decide who may see it).
pub fn attachment(c: &Connection, id: i64) -> Result<Option<AttachmentBlob>, StoreError> {
    Ok(
        c.prepare_cached("SELECT order_id, content_type, data FROM attachments WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?,
    )
}

/// Whether anyone ever reported the order (open or closed report).
pub fn order_was_reported(c: &Connection, order_id: i64) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(REPORTED_SQL)?
        .query_row([order_id], |r| r.get(0))?)
}

/// An account's published PGP public key, if any.
pub fn pgp_key_of(c: &Connection, account_id: i64) -> Result<Option<String>, StoreError> {
    Ok(
        c.prepare_cached("SELECT pgp_key FROM accounts WHERE id = ?1")?
            .query_row([account_id], |r| r.get(0))
            .optional()?
            .flatten(),
    )
}

/// `EXPLAIN QUERY PLAN` of a statement, one line per step (for index tests).
#[cfg(test)]
pub(crate) fn query_plan(c: &Connection, sql: &str) -> String {
    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let n = stmt.parameter_count();
    let params = vec![rusqlite::types::Value::Integer(1); n];
    stmt.query_map(rusqlite::params_from_iter(params), |r| {
        r.get::<_, String>(3)
    })
    .unwrap()
    .collect::<Result<Vec<_>, _>>()
    .unwrap()
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_queries_are_served_by_indexes() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::store::migrate::apply(&mut c).unwrap();
        for (sql, index) in [
            (PAGE_SQL, "messages_by_order"),
            (COUNT_SQL, "messages_by_order"),
            (ATTACHMENT_COUNT_SQL, "attachments_by_order"),
            (REPORTED_SQL, "reports_by_target"),
        ] {
            let plan = query_plan(&c, sql);
            assert!(plan.contains(index), "{sql}: {plan}");
            assert!(
                !plan.contains("TEMP B-TREE") && !plan.contains("SCAN m"),
                "{plan}"
            );
        }
    }
}
