//! Operator-editable pages (the rules page) and categories.

use super::accounts::required_reason;
use super::auth::AdminCap;
use super::text::bounded;
use super::{MarketError, MarketResult, now};
use crate::store::{Db, audit, listings};

/// A site page's title and Markdown body.
pub async fn page(db: &Db, slug: &str) -> MarketResult<(String, String)> {
    let slug = slug.to_owned();
    db.read(move |c| {
        use rusqlite::OptionalExtension;
        Ok(c.query_row(
            "SELECT title, body FROM site_pages WHERE slug = ?1",
            [slug],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
    })
    .await?
    .ok_or(MarketError::NotFound)
}

/// Replaces a site page's text (admins only, audited).
pub async fn set_page(
    db: &Db,
    admin: &AdminCap,
    slug: &str,
    title: &str,
    body: &str,
) -> MarketResult<()> {
    let title = bounded("The title", title, 1, 120)?;
    let body = bounded("The text", body, 1, 50_000)?;
    let (slug, by, t) = (slug.to_owned(), admin.account_id(), now());
    db.write(move |c| {
        let tx = c.transaction()?;
        tx.execute(
            "INSERT INTO site_pages (slug, title, body, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (slug) DO UPDATE SET title = ?2, body = ?3, updated_at = ?4",
            rusqlite::params![slug, title, body, t],
        )?;
        audit::record(
            &tx,
            (by != 0).then_some(by),
            "edit_page",
            &format!("page {slug}"),
            "page text changed",
            t,
        )?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    Ok(())
}

/// A category slug: lower-case letters, digits and dashes.
fn check_slug(slug: &str) -> MarketResult<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 40
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(MarketError::Invalid(
            "A category's short name uses a-z, 0-9 and - (at most 40).".to_owned(),
        ))
    }
}

/// Adds or renames a category (admins only, audited).
pub async fn upsert_category(
    db: &Db,
    admin: &AdminCap,
    slug: &str,
    name: &str,
    position: i64,
) -> MarketResult<()> {
    let slug = slug.trim().to_owned();
    check_slug(&slug)?;
    let name = bounded("The category name", name, 1, 60)?;
    let (by, t) = (admin.account_id(), now());
    db.write(move |c| {
        let tx = c.transaction()?;
        listings::upsert_category(&tx, &slug, &name, position)?;
        audit::record(
            &tx,
            (by != 0).then_some(by),
            "category_saved",
            &format!("category {slug}"),
            &name,
            t,
        )?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    Ok(())
}

/// Removes a category no listing uses (admins only, audited).
pub async fn delete_category(
    db: &Db,
    admin: &AdminCap,
    slug: &str,
    reason: &str,
) -> MarketResult<()> {
    let reason = required_reason(reason)?;
    let (slug, by, t) = (slug.to_owned(), admin.account_id(), now());
    let done = db
        .write(move |c| {
            let tx = c.transaction()?;
            if !listings::delete_category(&tx, &slug)? {
                return Ok(false);
            }
            audit::record(
                &tx,
                (by != 0).then_some(by),
                "category_deleted",
                &format!("category {slug}"),
                &reason,
                t,
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if done {
        Ok(())
    } else {
        Err(MarketError::Conflict(
            "That category is in use or does not exist.".to_owned(),
        ))
    }
}
