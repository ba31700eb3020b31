//! Reviews: the buyer of a completed order rates it once (1 to 5, with text) and the
//! vendor may answer once. The listing's rating figures change in the same
//! transaction as the review; vendor figures are computed from the reviews.

use super::auth::Viewer;
use super::orders::state::OrderState;
use super::orders::{self, OrderView, Relation};
use super::text::bounded;
use super::{MarketError, MarketResult, catalogue, listings, now};
use crate::store::reviews::{self as store, About, NewReview};
use crate::store::{Db, notifications};

pub use crate::store::reviews::Review;

/// Reviews per page.
pub const PAGE_SIZE: i64 = 10;
/// Longest review or reply, in characters.
pub const MAX_REVIEW_CHARS: usize = 2000;

/// The review of an order the viewer may see.
pub async fn for_order(db: &Db, view: &OrderView) -> MarketResult<Option<Review>> {
    let id = view.order.id;
    Ok(db.read(move |c| store::for_order(c, id)).await?)
}

/// Whether the viewer may review the order now.
pub fn may_review(view: &OrderView, existing: Option<&Review>) -> bool {
    view.relation == Relation::Buyer
        && view.order.state == OrderState::Completed
        && existing.is_none()
}

/// Whether the viewer may answer the order's review now.
pub fn may_reply(view: &OrderView, existing: Option<&Review>) -> bool {
    view.relation == Relation::Vendor && existing.is_some_and(|r| r.reply.is_none())
}

/// The buyer reviews a completed order, once.
pub async fn post(
    db: &Db,
    viewer: &Viewer,
    public_id: &str,
    rating: &str,
    body: &str,
) -> MarketResult<()> {
    let view = orders::view(db, viewer, public_id).await?;
    if view.relation != Relation::Buyer {
        return Err(MarketError::Forbidden);
    }
    if view.order.state != OrderState::Completed {
        return Err(MarketError::Conflict(
            "You can review an order once it is completed.".to_owned(),
        ));
    }
    let rating: i64 = rating
        .trim()
        .parse()
        .ok()
        .filter(|r| (1..=5).contains(r))
        .ok_or_else(|| MarketError::Invalid("Rating: choose 1 to 5 stars.".to_owned()))?;
    let body = bounded("The review", body, 1, MAX_REVIEW_CHARS)?;
    let o = &view.order;
    let new = NewReview {
        order_id: o.id,
        listing_id: o.listing_id,
        vendor_id: o.vendor_id,
        buyer_id: o.buyer_id,
        rating,
        body,
    };
    let text = format!(
        "{} reviewed \"{}\": {rating} of 5.",
        viewer.username, o.listing_title
    );
    let link = format!("/orders/{}", o.public_id);
    let t = now();
    let added = db
        .write(move |c| {
            let tx = c.transaction()?;
            if !store::insert(&tx, &new, t)? {
                return Ok(false);
            }
            notifications::push(&tx, new.vendor_id, "review", &text, &link, t)?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if added {
        Ok(())
    } else {
        Err(MarketError::Conflict(
            "You have reviewed this order already.".to_owned(),
        ))
    }
}

/// The vendor answers the review of one of their orders, once.
pub async fn reply(db: &Db, viewer: &Viewer, public_id: &str, text: &str) -> MarketResult<()> {
    let view = orders::view(db, viewer, public_id).await?;
    if view.relation != Relation::Vendor {
        return Err(MarketError::Forbidden);
    }
    let text = bounded("The reply", text, 1, MAX_REVIEW_CHARS)?;
    let o = &view.order;
    let (order_id, vendor_id, buyer_id, t) = (o.id, o.vendor_id, o.buyer_id, now());
    let note = format!(
        "{} answered your review of \"{}\".",
        viewer.username, o.listing_title
    );
    let link = format!("/orders/{}", o.public_id);
    let outcome = db
        .write(move |c| {
            let tx = c.transaction()?;
            if !store::reply(&tx, order_id, vendor_id, &text, t)? {
                return Ok(Some(store::for_order(&tx, order_id)?.is_some()));
            }
            notifications::push(&tx, buyer_id, "review_reply", &note, &link, t)?;
            tx.commit()?;
            Ok(None)
        })
        .await?;
    match outcome {
        None => Ok(()),
        Some(true) => Err(MarketError::Conflict(
            "You have answered this review already.".to_owned(),
        )),
        Some(false) => Err(MarketError::Conflict(
            "There is no review of this order to answer.".to_owned(),
        )),
    }
}

/// A page of reviews, newest first.
#[derive(Debug, Clone)]
pub struct ReviewPage {
    /// The reviews.
    pub reviews: Vec<Review>,
    /// This page (1-based).
    pub page: i64,
    /// Whether a next page exists.
    pub has_next: bool,
}

async fn page_of(db: &Db, about: About, page: i64) -> MarketResult<ReviewPage> {
    let page = page.clamp(1, catalogue::MAX_PAGE);
    let mut reviews = db
        .read(move |c| store::page(c, about, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE))
        .await?;
    let has_next = reviews.len() as i64 > PAGE_SIZE;
    reviews.truncate(PAGE_SIZE as usize);
    Ok(ReviewPage {
        reviews,
        page,
        has_next,
    })
}

/// Reviews of a listing the viewer may see.
pub async fn of_listing(
    db: &Db,
    viewer: Option<&Viewer>,
    listing_id: i64,
    page: i64,
) -> MarketResult<(listings::ListingRow, ReviewPage)> {
    let listing = listings::view(db, viewer, listing_id).await?;
    let reviews = listing_page(db, &listing, page).await?;
    Ok((listing, reviews))
}

/// Reviews of a listing already shown to the viewer (the row proves it is visible).
pub async fn listing_page(
    db: &Db,
    listing: &listings::ListingRow,
    page: i64,
) -> MarketResult<ReviewPage> {
    page_of(db, About::Listing(listing.id), page).await
}

/// Reviews of all of a vendor's listings.
pub async fn of_vendor(
    db: &Db,
    username: &str,
    page: i64,
) -> MarketResult<(catalogue::VendorProfile, ReviewPage)> {
    let profile = catalogue::vendor_profile(db, username).await?;
    let reviews = vendor_page(db, &profile, page).await?;
    Ok((profile, reviews))
}

/// Reviews of a vendor whose public profile is shown.
pub async fn vendor_page(
    db: &Db,
    profile: &catalogue::VendorProfile,
    page: i64,
) -> MarketResult<ReviewPage> {
    page_of(db, About::Vendor(profile.id), page).await
}

/// How a reviewer is named in public: first and last letter only, so a review does
/// not tell the world who bought what.
pub fn masked_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.as_slice() {
        [] => String::new(),
        [only] => format!("{only}…"),
        [first, .., last] => format!("{first}…{last}"),
    }
}

/// A rating as five stars ("★★★☆☆").
pub fn stars(rating: &i64) -> String {
    let full = (*rating).clamp(0, 5) as usize;
    format!("{}{}", "★".repeat(full), "☆".repeat(5 - full))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::testing::Shop;

    async fn listing_figures(shop: &Shop) -> (i64, i64) {
        let id = shop.listing_id;
        shop.db
            .read(move |c| {
                let l = crate::store::listings::get(c, id)?.unwrap();
                Ok((l.rating_sum, l.rating_count))
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn only_the_buyer_of_a_completed_order_reviews_once() {
        let shop = Shop::new().await;
        let paid = shop.paid_order().await;
        let early = post(&shop.db, &shop.buyer, &paid.public_id, "5", "great").await;
        assert!(matches!(early, Err(MarketError::Conflict(_))), "{early:?}");

        let o = shop.completed_order().await;
        let pid = o.public_id.as_str();
        let stranger = shop.person("stranger", &[]).await;
        assert!(matches!(
            post(&shop.db, &stranger, pid, "1", "bad").await,
            Err(MarketError::NotFound)
        ));
        assert!(matches!(
            post(&shop.db, &shop.vendor, pid, "5", "my own goods are great").await,
            Err(MarketError::Forbidden)
        ));
        for (rating, body) in [("0", "x"), ("6", "x"), ("five", "x"), ("4", "  ")] {
            let r = post(&shop.db, &shop.buyer, pid, rating, body).await;
            assert!(
                matches!(r, Err(MarketError::Invalid(_))),
                "{rating} {body:?}: {r:?}"
            );
        }
        assert_eq!(listing_figures(&shop).await, (0, 0));

        post(&shop.db, &shop.buyer, pid, "4", "Arrived in two days.")
            .await
            .unwrap();
        assert_eq!(listing_figures(&shop).await, (4, 1));
        let again = post(&shop.db, &shop.buyer, pid, "1", "changed my mind").await;
        assert!(matches!(again, Err(MarketError::Conflict(_))), "{again:?}");
        assert_eq!(listing_figures(&shop).await, (4, 1), "counted once");

        let o2 = shop.completed_order().await;
        post(&shop.db, &shop.buyer, &o2.public_id, "1", "Broken.")
            .await
            .unwrap();
        assert_eq!(listing_figures(&shop).await, (5, 2));
        let profile = catalogue::vendor_profile(&shop.db, "vendor").await.unwrap();
        assert_eq!((profile.rating_sum, profile.rating_count), (5, 2));
        let (_, page) = of_listing(&shop.db, None, shop.listing_id, 1)
            .await
            .unwrap();
        assert_eq!(page.reviews.len(), 2);
        assert_eq!(page.reviews[0].body, "Broken.", "newest first");
    }

    #[tokio::test]
    async fn the_vendor_answers_once() {
        let shop = Shop::new().await;
        let o = shop.completed_order().await;
        let pid = o.public_id.as_str();
        let none = reply(&shop.db, &shop.vendor, pid, "thanks").await;
        assert!(matches!(none, Err(MarketError::Conflict(_))), "{none:?}");
        post(&shop.db, &shop.buyer, pid, "3", "Fine.")
            .await
            .unwrap();
        assert!(matches!(
            reply(&shop.db, &shop.buyer, pid, "me too").await,
            Err(MarketError::Forbidden)
        ));
        let before = shop.unread(shop.buyer.account_id).await;
        reply(&shop.db, &shop.vendor, pid, "Thanks for the order.")
            .await
            .unwrap();
        assert_eq!(shop.unread(shop.buyer.account_id).await, before + 1);
        let twice = reply(&shop.db, &shop.vendor, pid, "again").await;
        assert!(matches!(twice, Err(MarketError::Conflict(_))), "{twice:?}");
        let (_, page) = of_vendor(&shop.db, "vendor", 1).await.unwrap();
        assert_eq!(
            page.reviews[0].reply.as_deref(),
            Some("Thanks for the order.")
        );
    }

    #[test]
    fn reviewers_are_masked() {
        assert_eq!(masked_name("alice"), "a…e");
        assert_eq!(masked_name("x"), "x…");
        assert_eq!(masked_name("bö"), "b…ö");
        assert_eq!(stars(&3), "★★★☆☆");
    }
}
