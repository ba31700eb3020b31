//! Order threads: buyer and vendor write to each other; an arbiter joins once the
//! order is disputed; moderators may read the thread of an order that was reported.
//! Evidence images (re-encoded, metadata stripped) are messages with an image, seen
//! only by the parties and arbiters. Everyone else is told the order does not exist.

use super::auth::Viewer;
use super::listings::reencode;
use super::orders::state::OrderState;
use super::text::bounded;
use super::{MarketError, MarketResult, now};
use crate::store::orders::{self as order_store, OrderRow};
use crate::store::{Db, StoreError, disputes, messages as store, notifications};

pub use crate::store::messages::Message;

/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 5000;
/// Longest caption of an evidence image.
pub const MAX_CAPTION_CHARS: usize = 500;
/// Messages per page of a thread.
pub const PAGE_SIZE: i64 = 50;
/// Evidence images one person may add to one order.
pub const MAX_EVIDENCE_IMAGES: i64 = 10;

/// Why the viewer may read a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The order's buyer.
    Buyer,
    /// The order's vendor.
    Vendor,
    /// An arbiter, because the order was disputed.
    Arbiter,
    /// A moderator, because the order was reported (read only).
    Moderator,
}

impl Reader {
    /// For people ("buyer", "vendor" ...).
    pub fn label(self) -> &'static str {
        match self {
            Reader::Buyer => "buyer",
            Reader::Vendor => "vendor",
            Reader::Arbiter => "arbiter",
            Reader::Moderator => "moderator",
        }
    }
}

/// A thread as the viewer may see it.
#[derive(Debug, Clone)]
pub struct Thread {
    /// The order (its delivery note removed: the thread page never shows it).
    pub order: OrderRow,
    /// Why the viewer may read.
    pub reader: Reader,
    /// Whether the viewer may write now.
    pub can_post: bool,
    /// Whether the viewer may add evidence images now (parties, during a dispute).
    pub can_add_evidence: bool,
    /// Whether the viewer may see evidence images.
    pub sees_images: bool,
    /// The vendor's PGP key, shown to the buyer so sensitive text can be encrypted.
    pub vendor_pgp: Option<String>,
}

/// The thread of an order, if the viewer may read it (else `NotFound`).
pub async fn thread(db: &Db, viewer: &Viewer, public_id: &str) -> MarketResult<Thread> {
    let pid = public_id.to_owned();
    let (mut order, disputed_ever, reported, pgp) = db
        .read(move |c| {
            let Some(o) = order_store::by_public_id(c, &pid)? else {
                return Ok(None);
            };
            let disputed = disputes::latest_for_order(c, o.id)?.is_some();
            let reported = store::order_was_reported(c, o.id)?;
            let pgp = store::pgp_key_of(c, o.vendor_id)?;
            Ok(Some((o, disputed, reported, pgp)))
        })
        .await?
        .ok_or(MarketError::NotFound)?;
    let reader = if order.buyer_id == viewer.account_id {
        Reader::Buyer
    } else if order.vendor_id == viewer.account_id {
        Reader::Vendor
    } else if disputed_ever && viewer.arbiter().is_ok() {
        Reader::Arbiter
    } else if reported && viewer.moderator().is_ok() {
        Reader::Moderator
    } else {
        return Err(MarketError::NotFound);
    };
    let disputed_now = order.state == OrderState::Disputed;
    let party = matches!(reader, Reader::Buyer | Reader::Vendor);
    order.delivery_note = None;
    Ok(Thread {
        can_post: party || (reader == Reader::Arbiter && disputed_now),
        can_add_evidence: party && disputed_now,
        sees_images: reader != Reader::Moderator,
        vendor_pgp: if reader == Reader::Buyer { pgp } else { None },
        reader,
        order,
    })
}

/// A message as shown in a thread.
#[derive(Debug, Clone)]
pub struct MessageView {
    /// The stored message.
    pub message: Message,
    /// The author's part in the order ("buyer", "vendor", "arbiter").
    pub role: &'static str,
    /// Written by the viewer.
    pub mine: bool,
}

/// One page of a thread, oldest message first.
#[derive(Debug, Clone)]
pub struct ThreadPage {
    /// The messages.
    pub messages: Vec<MessageView>,
    /// This page (1-based).
    pub page: i64,
    /// Number of pages (at least 1).
    pub pages: i64,
    /// Number of messages.
    pub total: i64,
}

/// A page of the thread; `None` asks for the last page (where the newest are).
pub async fn page(
    db: &Db,
    viewer: &Viewer,
    thread: &Thread,
    page: Option<i64>,
) -> MarketResult<ThreadPage> {
    let o = &thread.order;
    let (order_id, buyer, vendor, me) = (o.id, o.buyer_id, o.vendor_id, viewer.account_id);
    let (total, pages, page, rows) = db
        .read(move |c| {
            let total = store::count(c, order_id)?;
            let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
            let page = page.unwrap_or(pages).clamp(1, pages);
            let rows = store::page(c, order_id, PAGE_SIZE, (page - 1) * PAGE_SIZE)?;
            Ok((total, pages, page, rows))
        })
        .await?;
    let messages = rows
        .into_iter()
        .map(|m| MessageView {
            role: if m.author_id == buyer {
                "buyer"
            } else if m.author_id == vendor {
                "vendor"
            } else {
                "arbiter"
            },
            mine: m.author_id == me,
            message: m,
        })
        .collect();
    Ok(ThreadPage {
        messages,
        page,
        pages,
        total,
    })
}

/// How many messages an order's thread has (for the order page's link).
pub async fn count(db: &Db, order_id: i64) -> MarketResult<i64> {
    Ok(db.read(move |c| store::count(c, order_id)).await?)
}

/// Writes a message to the thread and tells the other people in it.
pub async fn post(db: &Db, viewer: &Viewer, public_id: &str, body: &str) -> MarketResult<()> {
    let thread = thread(db, viewer, public_id).await?;
    check_may_post(&thread)?;
    let body = bounded("The message", body, 1, MAX_MESSAGE_CHARS)?;
    append(db, viewer, &thread.order, body, None).await
}

fn check_may_post(thread: &Thread) -> MarketResult<()> {
    match thread.reader {
        _ if thread.can_post => Ok(()),
        Reader::Moderator => Err(MarketError::Forbidden),
        _ => Err(MarketError::Conflict(
            "The dispute on this order is decided: arbiters no longer write in its thread."
                .to_owned(),
        )),
    }
}

/// Stores a message (with an optional new attachment) and notifies everyone else in
/// the thread, in one transaction.
async fn append(
    db: &Db,
    viewer: &Viewer,
    order: &OrderRow,
    body: String,
    image: Option<(&'static str, Vec<u8>)>,
) -> MarketResult<()> {
    let (order_id, author, t) = (order.id, viewer.account_id, now());
    let mut people = vec![order.buyer_id, order.vendor_id];
    let in_dispute = order.state == OrderState::Disputed;
    let link = format!("/orders/{}/messages", order.public_id);
    let text = format!(
        "{} wrote about \"{}\"{}.",
        viewer.username,
        order.listing_title,
        if image.is_some() { " (an image)" } else { "" }
    );
    let added = db
        .write(move |c| {
            let tx = c.transaction()?;
            let image_id = match &image {
                Some((ct, data)) => {
                    if store::attachment_count(&tx, order_id, author)? >= MAX_EVIDENCE_IMAGES {
                        return Ok(false);
                    }
                    Some(store::insert_attachment(
                        &tx, order_id, author, ct, data, t,
                    )?)
                }
                None => None,
            };
            store::insert(&tx, order_id, author, &body, image_id, t)?;
            // Arbiters who wrote in the thread have joined it and hear about replies
            // while the dispute is open.
            if in_dispute {
                people.extend(store::authors(&tx, order_id)?);
            }
            people.sort_unstable();
            people.dedup();
            for who in people.into_iter().filter(|p| *p != author) {
                notifications::push(&tx, who, "message", &text, &link, t)?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if added {
        Ok(())
    } else {
        Err(MarketError::Invalid(format!(
            "You can add at most {MAX_EVIDENCE_IMAGES} images to one order."
        )))
    }
}

/// Adds an evidence image (with an optional caption) to a disputed order's thread.
/// Only the buyer and the vendor may, while the dispute is open.
pub async fn add_evidence(
    db: &Db,
    viewer: &Viewer,
    public_id: &str,
    upload: Vec<u8>,
    caption: &str,
) -> MarketResult<()> {
    let thread = thread(db, viewer, public_id).await?;
    if !matches!(thread.reader, Reader::Buyer | Reader::Vendor) {
        return Err(MarketError::Forbidden);
    }
    if !thread.can_add_evidence {
        return Err(MarketError::Conflict(
            "Images can be added as evidence while the order is in dispute.".to_owned(),
        ));
    }
    let caption = bounded("The caption", caption, 0, MAX_CAPTION_CHARS)?;
    let encoded = tokio::task::spawn_blocking(move || reencode(&upload))
        .await
        .map_err(|e| MarketError::Store(StoreError::Task(e.to_string())))??;
    let (content_type, _, _, full, _, _) = encoded;
    append(
        db,
        viewer,
        &thread.order,
        caption,
        Some((content_type, full)),
    )
    .await
}

/// An evidence image, for the order's buyer and vendor and for arbiters once the
/// order was disputed; `NotFound` for everyone else (moderators included).
pub async fn attachment(db: &Db, viewer: &Viewer, id: i64) -> MarketResult<(String, Vec<u8>)> {
    let (order_id, content_type, data) = db
        .read(move |c| store::attachment(c, id))
        .await?
        .ok_or(MarketError::NotFound)?;
    let (order, disputed) = db
        .read(move |c| {
            let o = order_store::by_id(c, order_id)?;
            Ok((o, disputes::latest_for_order(c, order_id)?.is_some()))
        })
        .await?;
    let order = order.ok_or(MarketError::NotFound)?;
    let party = viewer.account_id == order.buyer_id || viewer.account_id == order.vendor_id;
    if party || (disputed && viewer.arbiter().is_ok()) {
        Ok((content_type, data))
    } else {
        Err(MarketError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::testing::{Shop, png};

    #[tokio::test]
    async fn who_reads_and_who_writes() {
        let shop = Shop::new().await;
        let o = shop.paid_order().await;
        let pid = o.public_id.as_str();
        let (buyer, vendor) = (shop.buyer.clone(), shop.vendor.clone());
        let (stranger, arbiter, moderator) = (
            shop.person("stranger", &[]).await,
            shop.person("arbiter", &["arbiter"]).await,
            shop.person("moderator", &["moderator"]).await,
        );
        assert_eq!(
            thread(&shop.db, &buyer, pid).await.unwrap().reader,
            Reader::Buyer
        );
        assert_eq!(
            thread(&shop.db, &vendor, pid).await.unwrap().reader,
            Reader::Vendor
        );
        for outsider in [&stranger, &arbiter, &moderator] {
            assert!(matches!(
                thread(&shop.db, outsider, pid).await,
                Err(MarketError::NotFound)
            ));
        }
        post(&shop.db, &buyer, pid, "  hello <b>vendor</b> ")
            .await
            .unwrap();
        assert!(matches!(
            post(&shop.db, &buyer, pid, "   ").await,
            Err(MarketError::Invalid(_))
        ));
        let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
        assert!(matches!(
            post(&shop.db, &buyer, pid, &long).await,
            Err(MarketError::Invalid(_))
        ));
        post(&shop.db, &buyer, pid, &"y".repeat(MAX_MESSAGE_CHARS))
            .await
            .unwrap();

        // A report lets moderators read, never write or see images.
        shop.report_order(o.id).await;
        let t = thread(&shop.db, &moderator, pid).await.unwrap();
        assert_eq!(
            (t.reader, t.can_post, t.sees_images),
            (Reader::Moderator, false, false)
        );
        assert!(matches!(
            post(&shop.db, &moderator, pid, "hi").await,
            Err(MarketError::Forbidden)
        ));

        // A dispute lets arbiters in, to read and write while it is open.
        shop.dispute(&buyer, pid).await;
        let t = thread(&shop.db, &arbiter, pid).await.unwrap();
        assert_eq!((t.reader, t.can_post), (Reader::Arbiter, true));
        assert!(
            t.order.delivery_note.is_none(),
            "the thread never carries the note"
        );
        post(&shop.db, &arbiter, pid, "Please both send photos.")
            .await
            .unwrap();
        let p = page(&shop.db, &arbiter, &t, None).await.unwrap();
        assert_eq!(p.total, 3);
        assert_eq!(
            p.messages[0].message.body, "hello <b>vendor</b>",
            "trimmed, stored as typed"
        );
        assert_eq!(p.messages[0].role, "buyer");
        assert_eq!(p.messages[2].role, "arbiter");
        assert!(p.messages[2].mine);
        assert!(matches!(
            thread(&shop.db, &stranger, pid).await,
            Err(MarketError::NotFound)
        ));
    }

    #[tokio::test]
    async fn others_in_the_thread_are_notified_not_the_author() {
        let shop = Shop::new().await;
        let o = shop.paid_order().await;
        let pid = o.public_id.as_str();
        let arbiter = shop.person("arbiter", &["arbiter"]).await;
        let bystander = shop.person("bystander", &["arbiter"]).await;
        let before = |who: &Viewer| shop.unread(who.account_id);
        let (b0, v0) = (before(&shop.buyer).await, before(&shop.vendor).await);
        post(&shop.db, &shop.buyer, pid, "when will it ship?")
            .await
            .unwrap();
        assert_eq!(shop.unread(shop.buyer.account_id).await, b0);
        assert_eq!(shop.unread(shop.vendor.account_id).await, v0 + 1);
        shop.dispute(&shop.vendor.clone(), pid).await;
        // Every arbiter hears of the dispute itself; the thread is another matter.
        let bystander0 = shop.unread(bystander.account_id).await;
        assert_eq!(bystander0, 1, "arbiters are told a dispute opened");
        post(&shop.db, &arbiter, pid, "looking into it")
            .await
            .unwrap();
        let a0 = shop.unread(arbiter.account_id).await;
        post(&shop.db, &shop.vendor, pid, "here is my side")
            .await
            .unwrap();
        assert_eq!(
            shop.unread(arbiter.account_id).await,
            a0 + 1,
            "a joined arbiter hears"
        );
        assert_eq!(
            shop.unread(bystander.account_id).await,
            bystander0,
            "other arbiters do not hear the thread"
        );
        let dispute = shop
            .db
            .read(move |c| Ok(disputes::latest_for_order(c, o.id)?.unwrap().id))
            .await
            .unwrap();
        let decision = crate::market::disputes::DecisionInput {
            decision: "refund".to_owned(),
            vendor_percent: String::new(),
            rationale: "Nothing was shipped.".to_owned(),
        };
        let cap = arbiter.arbiter().unwrap();
        crate::market::disputes::decide(&shop.db, shop.timing, &None, &cap, dispute, &decision)
            .await
            .unwrap();
        let a1 = shop.unread(arbiter.account_id).await;
        post(&shop.db, &shop.vendor, pid, "fair enough")
            .await
            .unwrap();
        assert_eq!(
            shop.unread(arbiter.account_id).await,
            a1,
            "not after the decision"
        );
    }

    #[tokio::test]
    async fn evidence_images_only_in_a_dispute_and_only_for_the_parties_and_arbiters() {
        let shop = Shop::new().await;
        let o = shop.paid_order().await;
        let pid = o.public_id.as_str();
        let arbiter = shop.person("arbiter", &["arbiter"]).await;
        let stranger = shop.person("stranger", &[]).await;
        let refused = add_evidence(&shop.db, &shop.buyer, pid, png(), "").await;
        assert!(
            matches!(refused, Err(MarketError::Conflict(_))),
            "{refused:?}"
        );
        shop.dispute(&shop.buyer.clone(), pid).await;
        let not_image = add_evidence(&shop.db, &shop.buyer, pid, b"GIF89a nope".to_vec(), "").await;
        assert!(matches!(not_image, Err(MarketError::Invalid(_))));
        add_evidence(&shop.db, &shop.buyer, pid, png(), "the box was empty")
            .await
            .unwrap();
        let t = thread(&shop.db, &arbiter, pid).await.unwrap();
        assert!(matches!(
            add_evidence(&shop.db, &arbiter, pid, png(), "").await,
            Err(MarketError::Forbidden)
        ));
        let p = page(&shop.db, &arbiter, &t, Some(1)).await.unwrap();
        let image = p.messages[0].message.image_id.expect("an image message");
        assert_eq!(p.messages[0].message.body, "the box was empty");
        for who in [&shop.buyer, &shop.vendor, &arbiter] {
            let (ct, bytes) = attachment(&shop.db, who, image).await.unwrap();
            assert_eq!(ct, "image/jpeg");
            assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
        }
        assert!(matches!(
            attachment(&shop.db, &stranger, image).await,
            Err(MarketError::NotFound)
        ));
    }
}
