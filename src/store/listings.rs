//! Listings, their delivery options and images; categories.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// A category.
#[derive(Debug, Clone)]
pub struct Category {
    /// Id.
    pub id: i64,
    /// URL name.
    pub slug: String,
    /// Display name.
    pub name: String,
}

/// All categories in display order.
pub fn categories(c: &Connection) -> Result<Vec<Category>, StoreError> {
    let mut stmt =
        c.prepare_cached("SELECT id, slug, name FROM categories ORDER BY position, name")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Category {
                id: r.get(0)?,
                slug: r.get(1)?,
                name: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Adds or renames a category by slug.
pub fn upsert_category(
    c: &Connection,
    slug: &str,
    name: &str,
    position: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO categories (slug, name, position) VALUES (?1, ?2, ?3)
         ON CONFLICT (slug) DO UPDATE SET name = ?2, position = ?3",
        params![slug, name, position],
    )?;
    Ok(())
}

/// Removes a category that no listing uses; false when in use or absent.
pub fn delete_category(c: &Connection, slug: &str) -> Result<bool, StoreError> {
    Ok(c.execute(
        "DELETE FROM categories WHERE slug = ?1
         AND NOT EXISTS (SELECT 1 FROM listings l WHERE l.category_id = categories.id)",
        [slug],
    )? == 1)
}

/// A delivery option.
#[derive(Debug, Clone)]
pub struct DeliveryOption {
    /// Id.
    pub id: i64,
    /// Label ("Letter, 3-5 days").
    pub label: String,
    /// Price in piconero.
    pub price: i64,
}

/// The fields a vendor edits.
#[derive(Debug, Clone)]
pub struct ListingFields {
    /// Category id.
    pub category_id: i64,
    /// Title.
    pub title: String,
    /// Description (Markdown subset).
    pub description: String,
    /// Price per unit, piconero.
    pub price: i64,
    /// Units in stock.
    pub stock: i64,
    /// Delivery options (label, price).
    pub delivery: Vec<(String, i64)>,
}

/// Creates a listing with its delivery options.
pub fn insert(
    c: &Connection,
    vendor_id: i64,
    f: &ListingFields,
    now: i64,
) -> Result<i64, StoreError> {
    c.execute(
        "INSERT INTO listings (vendor_id, category_id, title, description, price_piconero, stock, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![vendor_id, f.category_id, f.title, f.description, f.price, f.stock, now],
    )?;
    let id = c.last_insert_rowid();
    replace_delivery(c, id, &f.delivery)?;
    Ok(id)
}

/// Updates a listing owned by `vendor_id` that moderators have not taken down.
pub fn update(
    c: &Connection,
    id: i64,
    vendor_id: i64,
    f: &ListingFields,
    now: i64,
) -> Result<bool, StoreError> {
    let n = c.execute(
        "UPDATE listings SET category_id = ?3, title = ?4, description = ?5, price_piconero = ?6,
                stock = ?7, updated_at = ?8
         WHERE id = ?1 AND vendor_id = ?2 AND state IN ('active', 'paused')",
        params![
            id,
            vendor_id,
            f.category_id,
            f.title,
            f.description,
            f.price,
            f.stock,
            now
        ],
    )?;
    if n == 1 {
        replace_delivery(c, id, &f.delivery)?;
    }
    Ok(n == 1)
}

fn replace_delivery(
    c: &Connection,
    listing_id: i64,
    options: &[(String, i64)],
) -> Result<(), StoreError> {
    c.execute(
        "DELETE FROM delivery_options WHERE listing_id = ?1",
        [listing_id],
    )?;
    let mut stmt = c.prepare_cached(
        "INSERT INTO delivery_options (listing_id, label, price_piconero, position) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, (label, price)) in options.iter().enumerate() {
        stmt.execute(params![listing_id, label, price, i as i64])?;
    }
    Ok(())
}

/// Moves a listing between vendor-controlled states (compare-and-set on the allowed
/// `from` states); false when not the vendor's or not in such a state.
pub fn set_state_by_vendor(
    c: &Connection,
    id: i64,
    vendor_id: i64,
    to: &str,
    from: &[&str],
    now: i64,
) -> Result<bool, StoreError> {
    let placeholders = from
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "UPDATE listings SET state = ?3, updated_at = ?4 WHERE id = ?1 AND vendor_id = ?2 AND state IN ({placeholders})"
    );
    Ok(c.execute(&sql, params![id, vendor_id, to, now])? == 1)
}

/// A listing with everything its page shows.
#[derive(Debug, Clone)]
pub struct ListingRow {
    /// Id.
    pub id: i64,
    /// Vendor account.
    pub vendor_id: i64,
    /// Vendor name.
    pub vendor_name: String,
    /// Vendor account status.
    pub vendor_status: String,
    /// Category id.
    pub category_id: i64,
    /// Category name.
    pub category_name: String,
    /// Category slug.
    pub category_slug: String,
    /// Title.
    pub title: String,
    /// Description source.
    pub description: String,
    /// Price per unit.
    pub price: i64,
    /// Stock.
    pub stock: i64,
    /// State.
    pub state: String,
    /// Moderator's reason.
    pub moderation_reason: Option<String>,
    /// Sum of ratings.
    pub rating_sum: i64,
    /// Number of ratings.
    pub rating_count: i64,
    /// Created.
    pub created_at: i64,
    /// Delivery options.
    pub delivery: Vec<DeliveryOption>,
    /// Image ids in order.
    pub images: Vec<i64>,
}

/// One listing by id (any state; callers decide who may see it).
pub fn get(c: &Connection, id: i64) -> Result<Option<ListingRow>, StoreError> {
    let row = c
        .prepare_cached(
            "SELECT l.id, l.vendor_id, a.username, a.status, l.category_id, k.name, k.slug, l.title, l.description,
                    l.price_piconero, l.stock, l.state, l.moderation_reason, l.rating_sum, l.rating_count, l.created_at
             FROM listings l JOIN accounts a ON a.id = l.vendor_id JOIN categories k ON k.id = l.category_id
             WHERE l.id = ?1",
        )?
        .query_row([id], |r| {
            Ok(ListingRow {
                id: r.get(0)?,
                vendor_id: r.get(1)?,
                vendor_name: r.get(2)?,
                vendor_status: r.get(3)?,
                category_id: r.get(4)?,
                category_name: r.get(5)?,
                category_slug: r.get(6)?,
                title: r.get(7)?,
                description: r.get(8)?,
                price: r.get(9)?,
                stock: r.get(10)?,
                state: r.get(11)?,
                moderation_reason: r.get(12)?,
                rating_sum: r.get(13)?,
                rating_count: r.get(14)?,
                created_at: r.get(15)?,
                delivery: Vec::new(),
                images: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut row) = row else { return Ok(None) };
    row.delivery = c
        .prepare_cached(
            "SELECT id, label, price_piconero FROM delivery_options WHERE listing_id = ?1 ORDER BY position",
        )?
        .query_map([id], |r| Ok(DeliveryOption { id: r.get(0)?, label: r.get(1)?, price: r.get(2)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    row.images = c
        .prepare_cached("SELECT id FROM listing_images WHERE listing_id = ?1 ORDER BY position")?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(row))
}

/// A row of a vendor's own listing table: id, title, price, stock, state.
pub type VendorListing = (i64, String, i64, i64, String);

/// A vendor's own listings (any state but deleted), newest first.
pub fn by_vendor(
    c: &Connection,
    vendor_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<VendorListing>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, title, price_piconero, stock, state FROM listings
         WHERE vendor_id = ?1 AND state <> 'deleted' ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt
        .query_map(params![vendor_id, limit, offset], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Stores a re-encoded image at the end of the listing's gallery.
#[allow(clippy::too_many_arguments)]
pub fn insert_image(
    c: &Connection,
    listing_id: i64,
    content_type: &str,
    width: u32,
    height: u32,
    full: &[u8],
    thumb: &[u8],
    etag: &str,
    now: i64,
) -> Result<i64, StoreError> {
    c.execute(
        "INSERT INTO listing_images (listing_id, position, content_type, width, height, full, thumb, etag, created_at)
         VALUES (?1, coalesce((SELECT max(position) + 1 FROM listing_images WHERE listing_id = ?1), 0),
                 ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![listing_id, content_type, width, height, full, thumb, etag, now],
    )?;
    Ok(c.last_insert_rowid())
}

/// Number of images of a listing.
pub fn image_count(c: &Connection, listing_id: i64) -> Result<i64, StoreError> {
    Ok(c.query_row(
        "SELECT count(*) FROM listing_images WHERE listing_id = ?1",
        [listing_id],
        |r| r.get(0),
    )?)
}

/// Deletes an image of a listing owned by `vendor_id`.
pub fn delete_image(c: &Connection, image_id: i64, vendor_id: i64) -> Result<bool, StoreError> {
    Ok(c.execute(
        "DELETE FROM listing_images WHERE id = ?1
         AND listing_id IN (SELECT id FROM listings WHERE vendor_id = ?2)",
        params![image_id, vendor_id],
    )? == 1)
}

/// An image to serve: content type, bytes, etag, its listing's state and vendor.
pub type ImageBlob = (String, Vec<u8>, String, String, i64);

/// An image's bytes with what decides who may see it.
pub fn image(c: &Connection, image_id: i64, thumb: bool) -> Result<Option<ImageBlob>, StoreError> {
    let col = if thumb { "i.thumb" } else { "i.full" };
    let sql = format!(
        "SELECT i.content_type, {col}, i.etag, l.state, l.vendor_id FROM listing_images i
         JOIN listings l ON l.id = i.listing_id WHERE i.id = ?1"
    );
    Ok(c.query_row(&sql, [image_id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .optional()?)
}
