//! The demo data set: categories, accounts of every role, listings with drawn
//! pictures (stored in one transaction through the store layer), and orders in
//! every state, moved there through the domain API's transition path.

use super::pictures;
use super::words::{CATEGORIES, Dice, listing_text};
use crate::market::accounts;
use crate::market::auth::{self, AdminCap, Role, Viewer};
use crate::market::escrow::Outcome;
use crate::market::listings::{Encoded, encode};
use crate::market::orders::state::{OrderState, Party};
use crate::market::orders::{self, Action, OrderInput, Timing, escrow_events, jobs};
use crate::market::{MarketError, now, site};
use crate::store::{Db, listings as store_listings};

/// A demo sign-in, printed for the person trying the shop.
#[derive(Debug, Clone)]
pub struct Login {
    /// What the account is for.
    pub role: &'static str,
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// What was seeded.
#[derive(Debug, Default)]
pub struct Seeded {
    /// Listings created.
    pub listings: usize,
    /// Pictures stored.
    pub images: usize,
    /// Orders created.
    pub orders: usize,
}

/// An account the demo made, with a session to act as it.
struct Person {
    viewer: Viewer,
    token: String,
}

const VENDORS: [&str; 4] = [
    "amber_atelier",
    "north_press",
    "kettle_and_co",
    "green_thumb",
];
const BUYERS: [&str; 6] = ["alice", "bruno", "chen", "dara", "emeka", "fatima"];

fn err(e: MarketError) -> String {
    format!("demo data: {e}")
}

/// A demo account's password (printed with the shop's address; demo only).
pub fn password(name: &str) -> String {
    format!("{name}-demo-pass")
}

/// Every demo account: what it is for, and its name.
pub fn names() -> Vec<(&'static str, &'static str)> {
    let mut out = vec![
        ("admin", "admin"),
        ("arbiter", "arbiter"),
        ("moderator", "moderator"),
    ];
    out.extend(VENDORS.iter().map(|v| ("vendor", *v)));
    out.extend(BUYERS.iter().map(|b| ("buyer", *b)));
    out
}

async fn person(db: &Db, name: &str, role: Option<Role>) -> Result<Person, String> {
    let pw = password(name);
    let id = if role == Some(Role::Admin) {
        accounts::create_admin(db, name, &pw)
            .await
            .map_err(err)?
            .account_id
    } else {
        accounts::register(db, name, &pw)
            .await
            .map_err(err)?
            .account_id
    };
    if let Some(r) = role.filter(|r| *r != Role::Admin) {
        accounts::set_role(db, &AdminCap::console(), id, r, true, "demo account")
            .await
            .map_err(err)?;
    }
    // A session only to act as this person while seeding; ended afterwards.
    let token = auth::start_session(db, id).await.map_err(err)?;
    let viewer = auth::viewer_from_cookie(db, &token)
        .await
        .map_err(err)?
        .ok_or("demo data: a fresh session was not found")?;
    Ok(Person { viewer, token })
}

/// One listing to store.
struct Spec {
    vendor: i64,
    fields: store_listings::ListingFields,
    created_at: i64,
    /// Which of the drawn pictures it shows.
    picture: Option<usize>,
}

/// Draws and encodes pictures on every core.
fn draw_all(wanted: Vec<(u64, usize)>) -> Vec<Result<Encoded, String>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = wanted.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = wanted
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&(n, k)| encode(&pictures::draw(n, k)).map_err(err))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err("drawing failed".to_owned())])
            })
            .collect()
    })
}

/// Different pictures per category; listings share them (drawing is the slow part).
const VARIANTS: usize = 20;

/// Stores `count` listings spread over the vendors and categories, newest last;
/// one in `picture_every` gets a drawn picture.
async fn listings(
    db: &Db,
    vendors: &[i64],
    categories: &[i64],
    count: usize,
    picture_every: usize,
) -> Result<(usize, usize), String> {
    let mut dice = Dice::new(7);
    let t = now();
    let span = 60 * 86_400i64;
    // Fewer variants for a small shop (tests), all of them from 1000 listings on.
    let variants = (count / 50).clamp(1, VARIANTS);
    let mut specs = Vec::with_capacity(count);
    for i in 0..count {
        let k = i % CATEGORIES.len();
        let (title, description) = listing_text(&mut dice, k);
        // Prices from 0.005 to about 4 XMR, in round-ish steps.
        let price = (5 + dice.below(80) * dice.below(50) + dice.below(20)) as i64 * 1_000_000_000;
        let mut delivery = vec![("Letter, 3 to 5 days".to_owned(), 0)];
        if dice.below(2) == 0 {
            delivery.push(("Tracked parcel".to_owned(), 20_000_000_000));
        }
        if dice.below(4) == 0 {
            delivery.push(("Express".to_owned(), 60_000_000_000));
        }
        specs.push(Spec {
            vendor: *dice.pick(vendors),
            fields: store_listings::ListingFields {
                category_id: categories[k],
                title,
                description,
                price,
                stock: 1 + dice.below(40) as i64,
                delivery,
            },
            created_at: t - span + span * i as i64 / count.max(1) as i64,
            picture: (i % picture_every == 0)
                .then_some((i / CATEGORIES.len() * 7 + i) % variants * CATEGORIES.len() + k),
        });
    }
    let wanted: Vec<(u64, usize)> = (0..variants * CATEGORIES.len())
        .map(|p| ((p / CATEGORIES.len()) as u64, p % CATEGORIES.len()))
        .collect();
    let drawn = tokio::task::spawn_blocking(move || draw_all(wanted))
        .await
        .map_err(|e| format!("demo data: {e}"))?
        .into_iter()
        .collect::<Result<Vec<Encoded>, String>>()?;
    let images = specs.iter().filter(|s| s.picture.is_some()).count();
    db.write(move |c| {
        let tx = c.transaction()?;
        for s in &specs {
            let id = store_listings::insert(&tx, s.vendor, &s.fields, s.created_at)?;
            if let Some((ct, w, h, full, thumb, etag)) = s.picture.map(|p| &drawn[p]) {
                store_listings::insert_image(&tx, id, ct, *w, *h, full, thumb, etag, s.created_at)?;
            }
        }
        tx.commit()?;
        Ok(())
    })
    .await
    .map_err(|e| format!("demo data: {e}"))?;
    Ok((count, images))
}

/// Places an order and drives it to `target` the way the shop would get there.
async fn order_in_state(
    db: &Db,
    buyer: &Person,
    vendor: &Person,
    arbiter: &Person,
    listing: i64,
    target: OrderState,
    note: &str,
) -> Result<(), String> {
    let timing = Timing::default();
    let row = crate::market::listings::view(db, None, listing)
        .await
        .map_err(err)?;
    let input = OrderInput {
        listing_id: listing,
        quantity: "1".to_owned(),
        delivery_option: row.delivery[0].id.to_string(),
        delivery_note: note.to_owned(),
    };
    let public_id = orders::place(db, &None, timing, &buyer.viewer, &input)
        .await
        .map_err(err)?;
    let id = orders::view(db, &buyer.viewer, &public_id)
        .await
        .map_err(err)?
        .order
        .id;
    let path: &[OrderState] = match target {
        OrderState::Created => &[],
        OrderState::AwaitingPayment => &[OrderState::AwaitingPayment],
        OrderState::Expired => &[OrderState::Expired],
        OrderState::Cancelled => &[OrderState::Cancelled],
        OrderState::Paid => &[OrderState::AwaitingPayment, OrderState::Paid],
        OrderState::Shipped => &[
            OrderState::AwaitingPayment,
            OrderState::Paid,
            OrderState::Shipped,
        ],
        OrderState::Completed => &[
            OrderState::AwaitingPayment,
            OrderState::Paid,
            OrderState::Shipped,
            OrderState::Completed,
        ],
        OrderState::Disputed => &[
            OrderState::AwaitingPayment,
            OrderState::Paid,
            OrderState::Shipped,
            OrderState::Disputed,
        ],
        OrderState::Resolved => &[
            OrderState::AwaitingPayment,
            OrderState::Paid,
            OrderState::Disputed,
            OrderState::Resolved,
        ],
    };
    for step in path {
        match step {
            OrderState::AwaitingPayment => escrow_events::payment_requested(db, timing, id).await,
            OrderState::Paid => escrow_events::funded(db, timing, id).await,
            OrderState::Shipped => {
                orders::act(db, timing, &vendor.viewer, &public_id, Action::Ship).await
            }
            OrderState::Completed => {
                orders::act(db, timing, &buyer.viewer, &public_id, Action::Finalize).await
            }
            OrderState::Cancelled => {
                orders::act(db, timing, &buyer.viewer, &public_id, Action::Cancel).await
            }
            OrderState::Expired => {
                // A payment request whose window has already closed; the expiry job does the rest.
                let closed = Timing {
                    payment_window_secs: -60,
                    ..timing
                };
                escrow_events::payment_requested(db, closed, id)
                    .await
                    .map_err(err)?;
                jobs::expire_unpaid(db, timing).await.map(|_| ())
            }
            // TODO(social): open and decide disputes through the disputes domain API
            // once it lands; until then the demo uses the same transition path.
            OrderState::Disputed | OrderState::Resolved => {
                let o = orders::view(db, &buyer.viewer, &public_id)
                    .await
                    .map_err(err)?
                    .order;
                let (party, actor, reason, outcome) = if *step == OrderState::Disputed {
                    (
                        Party::Buyer,
                        buyer.viewer.account_id,
                        "demo: the parcel has not arrived",
                        None,
                    )
                } else {
                    (
                        Party::Arbiter,
                        arbiter.viewer.account_id,
                        "demo: both sides share the loss",
                        Some(Outcome::Split { vendor_percent: 50 }),
                    )
                };
                if !o.state.may_become(*step, party) {
                    return Err(format!("demo data: {} cannot become {step}", o.state));
                }
                orders::apply(db, timing, &o, *step, Some(actor), reason, outcome).await
            }
            OrderState::Created => Ok(()),
        }
        .map_err(err)?;
    }
    Ok(())
}

/// Seeds the demo shop: `listing_count` listings, and either the demo's orders in
/// every state (`bulk_orders` 0) or that many orders for benchmarks.
pub async fn seed(db: &Db, listing_count: usize, bulk_orders: usize) -> Result<Seeded, String> {
    let console = AdminCap::console();
    for (i, (slug, name, _)) in CATEGORIES.iter().enumerate() {
        site::upsert_category(db, &console, slug, name, i as i64)
            .await
            .map_err(err)?;
    }
    let categories: Vec<i64> = {
        let all = crate::market::listings::categories(db).await.map_err(err)?;
        CATEGORIES
            .iter()
            .filter_map(|(slug, _, _)| all.iter().find(|k| k.slug == *slug).map(|k| k.id))
            .collect()
    };
    site::set_page(db, &console, "rules", "Rules", super::RULES)
        .await
        .map_err(err)?;
    let mut out = Seeded::default();
    let mut people = Vec::new();
    people.push(person(db, "admin", Some(Role::Admin)).await?);
    let arbiter = person(db, "arbiter", Some(Role::Arbiter)).await?;
    people.push(person(db, "moderator", Some(Role::Moderator)).await?);
    let mut vendors = Vec::new();
    for name in VENDORS {
        vendors.push(person(db, name, Some(Role::Vendor)).await?);
    }
    let mut buyers = Vec::new();
    for name in BUYERS {
        buyers.push(person(db, name, None).await?);
    }
    let vendor_ids: Vec<i64> = vendors.iter().map(|v| v.viewer.account_id).collect();
    let picture_every = listing_count.div_ceil(1000).max(1);
    (out.listings, out.images) =
        listings(db, &vendor_ids, &categories, listing_count, picture_every).await?;

    if bulk_orders > 0 {
        let buyer_ids: Vec<i64> = buyers.iter().map(|b| b.viewer.account_id).collect();
        out.orders = super::bulk::orders(db, &buyer_ids, bulk_orders).await?;
    } else {
        let states = [
            OrderState::Created,
            OrderState::AwaitingPayment,
            OrderState::Paid,
            OrderState::Shipped,
            OrderState::Completed,
            OrderState::Completed,
            OrderState::Disputed,
            OrderState::Resolved,
            OrderState::Cancelled,
            OrderState::Expired,
        ];
        let mut dice = Dice::new(11);
        let total = listing_count.max(1) as u64;
        for (n, target) in states.iter().cycle().take(states.len() * 3).enumerate() {
            let buyer = &buyers[n % buyers.len()];
            // A listing with stock to spare (ids run from 1 in a fresh shop).
            let mut found = None;
            for _ in 0..20 {
                let listing = 1 + dice.below(total) as i64;
                if let Ok(row) = crate::market::listings::view(db, None, listing).await
                    && row.stock > 1
                {
                    found = Some((listing, row.vendor_id));
                    break;
                }
            }
            let Some((listing, vendor_id)) = found else {
                continue;
            };
            let Some(vendor) = vendors.iter().find(|v| v.viewer.account_id == vendor_id) else {
                continue;
            };
            let note = format!("{} Example Street, flat {}", 10 + n, 1 + n % 9);
            order_in_state(db, buyer, vendor, &arbiter, listing, *target, &note).await?;
            out.orders += 1;
        }
    }
    for p in people
        .iter()
        .chain(&vendors)
        .chain(&buyers)
        .chain(std::iter::once(&arbiter))
    {
        auth::end_session(db, &p.token).await.map_err(err)?;
    }
    Ok(out)
}
