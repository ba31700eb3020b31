//! What the admin pages read: one account in detail, categories with their use,
//! the counts on the admin front page.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// An account as the admin's account page shows it.
#[derive(Debug, Clone)]
pub struct AccountDetail {
    /// Id.
    pub id: i64,
    /// Name.
    pub username: String,
    /// `active`, `suspended` or `banned`.
    pub status: String,
    /// Why suspended or banned.
    pub status_reason: Option<String>,
    /// Member since.
    pub created_at: i64,
    /// Role names.
    pub roles: Vec<String>,
    /// Listings that are not deleted.
    pub listings: i64,
    /// Orders placed.
    pub bought: i64,
    /// Orders received as vendor.
    pub sold: i64,
    /// Open reports about the account itself.
    pub open_reports: i64,
    /// Sessions right now.
    pub sessions: i64,
}

/// One account with its figures.
pub fn account(c: &Connection, id: i64) -> Result<Option<AccountDetail>, StoreError> {
    let found = c
        .query_row(
            "SELECT a.id, a.username, a.status, a.status_reason, a.created_at,
                (SELECT count(*) FROM listings l WHERE l.vendor_id = a.id AND l.state <> 'deleted'),
                (SELECT count(*) FROM orders o WHERE o.buyer_id = a.id),
                (SELECT count(*) FROM orders o WHERE o.vendor_id = a.id),
                (SELECT count(*) FROM reports r WHERE r.target_kind = 'user' AND r.target_id = a.id
                    AND r.state = 'open'),
                (SELECT count(*) FROM sessions s WHERE s.account_id = a.id)
             FROM accounts a WHERE a.id = ?1",
            [id],
            |r| {
                Ok(AccountDetail {
                    id: r.get(0)?,
                    username: r.get(1)?,
                    status: r.get(2)?,
                    status_reason: r.get(3)?,
                    created_at: r.get(4)?,
                    roles: Vec::new(),
                    listings: r.get(5)?,
                    bought: r.get(6)?,
                    sold: r.get(7)?,
                    open_reports: r.get(8)?,
                    sessions: r.get(9)?,
                })
            },
        )
        .optional()?;
    let Some(mut detail) = found else {
        return Ok(None);
    };
    detail.roles = super::accounts::roles(c, id)?;
    Ok(Some(detail))
}

/// The applicant of a vendor application and whether it is still pending.
pub fn application_applicant(c: &Connection, id: i64) -> Result<Option<(i64, bool)>, StoreError> {
    Ok(c.query_row(
        "SELECT account_id, state = 'pending' FROM vendor_applications WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?)
}

/// Puts a vendor's active listings on pause (when the vendor role is revoked);
/// returns how many.
pub fn pause_listings_of(c: &Connection, vendor_id: i64, now: i64) -> Result<usize, StoreError> {
    Ok(c.execute(
        "UPDATE listings SET state = 'paused', updated_at = ?2 WHERE vendor_id = ?1 AND state = 'active'",
        params![vendor_id, now],
    )?)
}

/// A category with the number of listings that use it (any state: a category
/// in use cannot be deleted).
#[derive(Debug, Clone)]
pub struct CategoryUse {
    /// Short name.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Position in lists.
    pub position: i64,
    /// Listings in it.
    pub listings: i64,
}

/// All categories in display order with their use.
pub fn categories(c: &Connection) -> Result<Vec<CategoryUse>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT k.slug, k.name, k.position,
            (SELECT count(*) FROM listings l WHERE l.category_id = k.id)
         FROM categories k ORDER BY k.position, k.name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(CategoryUse {
                slug: r.get(0)?,
                name: r.get(1)?,
                position: r.get(2)?,
                listings: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Work waiting for staff: (open reports, pending vendor applications).
pub fn waiting(c: &Connection) -> Result<(i64, i64), StoreError> {
    Ok(c.query_row(
        "SELECT (SELECT count(*) FROM reports WHERE state = 'open'),
                (SELECT count(*) FROM vendor_applications WHERE state = 'pending')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}
