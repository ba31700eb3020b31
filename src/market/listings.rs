//! Vendors' listings: validation, ownership, vendor states, images.

use super::auth::{VendorCap, Viewer};
use super::text::bounded;
use super::{MarketError, MarketResult, Piconero, now};
use crate::store::{Db, listings};

pub use crate::store::listings::{Category, ListingRow};

/// Most delivery options per listing.
pub const MAX_DELIVERY_OPTIONS: usize = 5;
/// Most images per listing.
pub const MAX_IMAGES: i64 = 6;
/// Largest accepted upload per image.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Longest side of a stored image.
const FULL_SIDE: u32 = 1600;
/// Longest side of a thumbnail.
const THUMB_SIDE: u32 = 480;

/// What a vendor typed into the listing form.
#[derive(Debug, Clone, Default)]
pub struct ListingInput {
    /// Category slug.
    pub category: String,
    /// Title.
    pub title: String,
    /// Description (Markdown subset).
    pub description: String,
    /// Price per unit in XMR ("0.25").
    pub price_xmr: String,
    /// Units in stock.
    pub stock: String,
    /// Delivery options: label and price in XMR.
    pub delivery: Vec<(String, String)>,
}

async fn validate(db: &Db, input: &ListingInput) -> MarketResult<listings::ListingFields> {
    let title = bounded("The title", &input.title, 3, 120)?;
    let description = bounded("The description", &input.description, 1, 20_000)?;
    let price = Piconero::parse_xmr(&input.price_xmr)
        .map_err(|e| MarketError::Invalid(format!("Price: {e}.")))?;
    if price.0 == 0 {
        return Err(MarketError::Invalid(
            "Price: it must be more than 0.".to_owned(),
        ));
    }
    let stock: i64 = input
        .stock
        .trim()
        .parse()
        .ok()
        .filter(|s| (0..=1_000_000).contains(s))
        .ok_or_else(|| {
            MarketError::Invalid("Stock: enter a whole number from 0 to 1000000.".to_owned())
        })?;
    let mut delivery = Vec::new();
    for (label, price) in &input.delivery {
        if label.trim().is_empty() && price.trim().is_empty() {
            continue;
        }
        let label = bounded("A delivery option's name", label, 1, 80)?;
        let p = if price.trim().is_empty() {
            Piconero(0)
        } else {
            Piconero::parse_xmr(price)
                .map_err(|e| MarketError::Invalid(format!("Delivery \"{label}\": {e}.")))?
        };
        delivery.push((label, p.as_i64()));
    }
    if delivery.is_empty() {
        return Err(MarketError::Invalid(
            "Add at least one delivery option (it may cost 0).".to_owned(),
        ));
    }
    if delivery.len() > MAX_DELIVERY_OPTIONS {
        return Err(MarketError::Invalid(format!(
            "At most {MAX_DELIVERY_OPTIONS} delivery options."
        )));
    }
    let slug = input.category.trim().to_owned();
    let category = db
        .read(move |c| {
            Ok(listings::categories(c)?
                .into_iter()
                .find(|k| k.slug == slug))
        })
        .await?
        .ok_or_else(|| MarketError::Invalid("Choose a category from the list.".to_owned()))?;
    Ok(listings::ListingFields {
        category_id: category.id,
        title,
        description,
        price: price.as_i64(),
        stock,
        delivery,
    })
}

/// Creates a listing.
pub async fn create(db: &Db, vendor: &VendorCap, input: &ListingInput) -> MarketResult<i64> {
    let fields = validate(db, input).await?;
    let (id, t) = (vendor.account_id(), now());
    Ok(db
        .write(move |c| {
            let tx = c.transaction()?;
            let listing = listings::insert(&tx, id, &fields, t)?;
            tx.commit()?;
            Ok(listing)
        })
        .await?)
}

/// Edits one of the vendor's listings.
pub async fn update(
    db: &Db,
    vendor: &VendorCap,
    listing_id: i64,
    input: &ListingInput,
) -> MarketResult<()> {
    let fields = validate(db, input).await?;
    let (id, t) = (vendor.account_id(), now());
    let done = db
        .write(move |c| {
            let tx = c.transaction()?;
            let ok = listings::update(&tx, listing_id, id, &fields, t)?;
            tx.commit()?;
            Ok(ok)
        })
        .await?;
    if done {
        Ok(())
    } else {
        Err(MarketError::NotFound)
    }
}

/// What a vendor can do to their own listing's visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorAction {
    /// Take off the catalogue for now.
    Pause,
    /// Back on the catalogue.
    Resume,
    /// Gone for good (orders keep their copy of title and price).
    Delete,
}

/// Pauses, resumes or deletes one of the vendor's listings.
pub async fn vendor_action(
    db: &Db,
    vendor: &VendorCap,
    listing_id: i64,
    action: VendorAction,
) -> MarketResult<()> {
    // Someone else's listing (or a deleted one) does not exist for this vendor.
    for_edit(db, vendor, listing_id).await?;
    let (to, from): (&'static str, &'static [&'static str]) = match action {
        VendorAction::Pause => ("paused", &["active"]),
        VendorAction::Resume => ("active", &["paused"]),
        VendorAction::Delete => ("deleted", &["active", "paused", "hidden", "removed"]),
    };
    let (id, t) = (vendor.account_id(), now());
    let done = db
        .write(move |c| listings::set_state_by_vendor(c, listing_id, id, to, from, t))
        .await?;
    if done {
        Ok(())
    } else {
        Err(MarketError::Conflict(
            "That listing cannot be changed that way now.".to_owned(),
        ))
    }
}

/// A listing as the viewer may see it: everyone sees active listings of active
/// vendors; the vendor and moderators also see paused, hidden and removed ones.
pub async fn view(db: &Db, viewer: Option<&Viewer>, listing_id: i64) -> MarketResult<ListingRow> {
    let row = db
        .read(move |c| listings::get(c, listing_id))
        .await?
        .ok_or(MarketError::NotFound)?;
    let public = row.state == "active" && row.vendor_status == "active";
    let privileged = viewer.is_some_and(|v| v.account_id == row.vendor_id || v.moderator().is_ok());
    if row.state == "deleted" || !(public || privileged) {
        return Err(MarketError::NotFound);
    }
    Ok(row)
}

/// A listing for its vendor's edit form.
pub async fn for_edit(db: &Db, vendor: &VendorCap, listing_id: i64) -> MarketResult<ListingRow> {
    let row = db
        .read(move |c| listings::get(c, listing_id))
        .await?
        .ok_or(MarketError::NotFound)?;
    if row.vendor_id != vendor.account_id() || row.state == "deleted" {
        return Err(MarketError::NotFound);
    }
    Ok(row)
}

/// All categories.
pub async fn categories(db: &Db) -> MarketResult<Vec<Category>> {
    Ok(db.read(listings::categories).await?)
}

/// A re-encoded image: (content type, width, height, full JPEG, thumbnail JPEG, etag).
pub type Encoded = (&'static str, u32, u32, Vec<u8>, Vec<u8>, String);

/// Decodes an upload and re-encodes it as JPEG (which drops EXIF and every other
/// piece of metadata), plus a thumbnail. Anything that is not a real image is refused.
pub fn reencode(bytes: &[u8]) -> MarketResult<Encoded> {
    use image::ImageReader;
    use std::io::Cursor;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(MarketError::Invalid(format!(
            "That image is larger than {} MiB.",
            MAX_IMAGE_BYTES / (1024 * 1024)
        )));
    }
    let not_image = || {
        MarketError::Invalid(
            "That file is not a JPEG, PNG or WebP image this shop can read.".to_owned(),
        )
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_image())?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(10_000);
    limits.max_image_height = Some(10_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| not_image())?;
    encode(&img)
}

/// Encodes a decoded picture the way uploads are stored: a JPEG of at most
/// 1600 px a side and a thumbnail (the demo draws its pictures and stores them so).
pub fn encode(img: &image::DynamicImage) -> MarketResult<Encoded> {
    let full = if img.width() > FULL_SIDE || img.height() > FULL_SIDE {
        img.resize(FULL_SIDE, FULL_SIDE, image::imageops::FilterType::Triangle)
    } else {
        img.clone()
    };
    let thumb = img.thumbnail(THUMB_SIDE, THUMB_SIDE);
    let encode = |im: &image::DynamicImage, quality: u8| -> MarketResult<Vec<u8>> {
        let mut out = Vec::new();
        let rgb = im.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
            .encode_image(&rgb)
            .map_err(|e| MarketError::Invalid(format!("That image could not be processed: {e}")))?;
        Ok(out)
    };
    let full_bytes = encode(&full, 85)?;
    let thumb_bytes = encode(&thumb, 80)?;
    let etag = data_encoding::HEXLOWER.encode(&super::digest_bytes(&full_bytes)[..12]);
    Ok((
        "image/jpeg",
        full.width(),
        full.height(),
        full_bytes,
        thumb_bytes,
        etag,
    ))
}

/// Adds an image to one of the vendor's listings.
pub async fn add_image(
    db: &Db,
    vendor: &VendorCap,
    listing_id: i64,
    upload: Vec<u8>,
) -> MarketResult<i64> {
    for_edit(db, vendor, listing_id).await?;
    let encoded = tokio::task::spawn_blocking(move || reencode(&upload))
        .await
        .map_err(|e| MarketError::Store(crate::store::StoreError::Task(e.to_string())))??;
    let t = now();
    let (ct, w, h, full, thumb, etag) = encoded;
    let id = db
        .write(move |c| {
            let tx = c.transaction()?;
            if listings::image_count(&tx, listing_id)? >= MAX_IMAGES {
                return Ok(None);
            }
            let id = listings::insert_image(&tx, listing_id, ct, w, h, &full, &thumb, &etag, t)?;
            tx.commit()?;
            Ok(Some(id))
        })
        .await?;
    id.ok_or_else(|| MarketError::Invalid(format!("A listing has at most {MAX_IMAGES} images.")))
}

/// Removes an image from one of the vendor's listings.
pub async fn delete_image(db: &Db, vendor: &VendorCap, image_id: i64) -> MarketResult<()> {
    let id = vendor.account_id();
    if db
        .write(move |c| listings::delete_image(c, image_id, id))
        .await?
    {
        Ok(())
    } else {
        Err(MarketError::NotFound)
    }
}

/// An image for serving, if the viewer may see its listing.
pub async fn image(
    db: &Db,
    viewer: Option<&Viewer>,
    image_id: i64,
    thumb: bool,
) -> MarketResult<(String, Vec<u8>, String)> {
    let (ct, bytes, etag, state, vendor_id) = db
        .read(move |c| listings::image(c, image_id, thumb))
        .await?
        .ok_or(MarketError::NotFound)?;
    let privileged = viewer.is_some_and(|v| v.account_id == vendor_id || v.moderator().is_ok());
    if state == "deleted" || (state != "active" && !privileged) {
        return Err(MarketError::NotFound);
    }
    Ok((ct, bytes, etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reencoding_strips_metadata_and_refuses_non_images() {
        // A small PNG with a text chunk (metadata) in it.
        let mut png = Vec::new();
        let img =
            image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 128]));
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let (ct, w, h, full, thumb, _) = reencode(&png).unwrap();
        assert_eq!((ct, w, h), ("image/jpeg", 64, 48));
        assert_eq!(&full[..2], &[0xFF, 0xD8], "a JPEG");
        assert!(!full.windows(4).any(|w| w == b"Exif"), "no EXIF");
        assert!(!thumb.is_empty());
        assert!(reencode(b"<svg onload=alert(1)>").is_err());
        assert!(
            reencode(&png[..png.len() / 2]).is_err(),
            "a truncated image is refused"
        );
    }
}
