//! In-app notifications. Each belongs to one account and is pushed inside the
//! transaction of its event; these functions only ever touch the viewer's own.

use super::auth::Viewer;
use super::{MarketResult, now};
use crate::store::{Db, notifications as store};

pub use crate::store::notifications::Notification;

/// Notifications per page.
pub const PAGE_SIZE: i64 = 25;

/// A page of the viewer's notifications, newest first, and whether more exist.
pub async fn page(db: &Db, viewer: &Viewer, page: i64) -> MarketResult<(Vec<Notification>, bool)> {
    let (id, offset) = (viewer.account_id, (page.max(1) - 1) * PAGE_SIZE);
    let mut rows = db
        .read(move |c| store::page(c, id, PAGE_SIZE + 1, offset))
        .await?;
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok((rows, more))
}

/// Marks all of the viewer's notifications read; returns how many were unread.
pub async fn mark_all_read(db: &Db, viewer: &Viewer) -> MarketResult<usize> {
    let (id, t) = (viewer.account_id, now());
    Ok(db.write(move |c| store::mark_all_read(c, id, t)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::testing::Shop;

    #[tokio::test]
    async fn each_account_sees_only_its_own() {
        let shop = Shop::new().await;
        let stranger = shop.person("stranger", &[]).await;
        let o = shop.paid_order().await;
        crate::market::messages::post(&shop.db, &shop.vendor, &o.public_id, "Shipping today.")
            .await
            .unwrap();
        let (mine, _) = page(&shop.db, &shop.buyer, 1).await.unwrap();
        let kinds: Vec<_> = mine.iter().map(|n| n.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["message", "order_paid", "payment_ready"],
            "newest first"
        );
        assert!(
            mine.iter()
                .all(|n| n.link.starts_with(&format!("/orders/{}", o.public_id)))
        );
        let (theirs, _) = page(&shop.db, &stranger, 1).await.unwrap();
        assert!(theirs.is_empty());
        let vendor_before = shop.unread(shop.vendor.account_id).await;
        assert_eq!(mark_all_read(&shop.db, &shop.buyer).await.unwrap(), 3);
        assert_eq!(shop.unread(shop.buyer.account_id).await, 0);
        assert_eq!(
            shop.unread(shop.vendor.account_id).await,
            vendor_before,
            "others untouched"
        );
        let (read, _) = page(&shop.db, &shop.buyer, 1).await.unwrap();
        assert!(read.iter().all(|n| n.read));
    }
}
