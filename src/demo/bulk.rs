//! Benchmark-sized order history: many orders in one transaction through the
//! store's insert and compare-and-set transition (the same rows the domain writes),
//! spread over the states a long-running shop accumulates.

use super::words::Dice;
use crate::market::now;
use crate::market::orders::state::OrderState;
use crate::store::Db;
use crate::store::orders::{self as store, NewOrder, Stamp};

// Stock is not reserved for these orders, so none is released when they end.

/// The path to each final mix of states: most orders completed, some in flight.
const MIX: [(u64, &[OrderState]); 8] = [
    (
        55,
        &[
            OrderState::AwaitingPayment,
            OrderState::Paid,
            OrderState::Shipped,
            OrderState::Completed,
        ],
    ),
    (
        10,
        &[
            OrderState::AwaitingPayment,
            OrderState::Paid,
            OrderState::Shipped,
        ],
    ),
    (6, &[OrderState::AwaitingPayment, OrderState::Paid]),
    (4, &[OrderState::AwaitingPayment]),
    (10, &[OrderState::Cancelled]),
    (10, &[OrderState::AwaitingPayment, OrderState::Expired]),
    (
        3,
        &[
            OrderState::AwaitingPayment,
            OrderState::Paid,
            OrderState::Disputed,
        ],
    ),
    (
        2,
        &[
            OrderState::AwaitingPayment,
            OrderState::Paid,
            OrderState::Disputed,
            OrderState::Resolved,
        ],
    ),
];

/// Inserts `count` orders from `buyers` for random active listings; returns how many.
pub async fn orders(db: &Db, buyers: &[i64], count: usize) -> Result<usize, String> {
    let buyers = buyers.to_vec();
    db.write(move |c| {
        let listings: Vec<(i64, i64, String, i64)> = c
            .prepare(
                "SELECT id, vendor_id, title, price_piconero FROM listings WHERE state = 'active'",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        if listings.is_empty() || buyers.is_empty() {
            return Ok(0);
        }
        let mut dice = Dice::new(23);
        let t = now();
        let tx = c.transaction()?;
        for n in 0..count {
            let (listing_id, vendor_id, title, price) = dice.pick(&listings).clone();
            let placed = t - 90 * 86_400 + (90 * 86_400 * n as i64) / count as i64;
            let order = NewOrder {
                public_id: format!("bench{n:08}"),
                buyer_id: *dice.pick(&buyers),
                vendor_id,
                listing_id,
                listing_title: title,
                quantity: 1,
                unit_price: price,
                delivery_label: "Letter, 3 to 5 days".to_owned(),
                delivery_price: 0,
                total: price,
                delivery_note: None,
                payment_deadline: placed + 7200,
            };
            let id = store::insert(&tx, &order, placed)?;
            let mut roll = dice.below(100);
            let path = MIX
                .iter()
                .find(|(weight, _)| {
                    let hit = roll < *weight;
                    roll = roll.saturating_sub(*weight);
                    hit
                })
                .map_or(&[][..], |(_, p)| *p);
            let mut from = OrderState::Created;
            for (i, to) in path.iter().enumerate() {
                let at = placed + 3600 * (i as i64 + 1);
                let mut stamp = Stamp::default();
                if to.is_final() {
                    stamp.ended = Some((at, at + 30 * 86_400));
                }
                stamp.outcome = match to {
                    OrderState::Completed => Some(("release", 100)),
                    OrderState::Resolved => Some(("split", 50)),
                    _ => None,
                };
                store::transition(&tx, id, from, *to, None, "benchmark history", &stamp, at)?;
                from = *to;
            }
        }
        tx.commit()?;
        Ok(count)
    })
    .await
    .map_err(|e| format!("benchmark orders: {e}"))
}
