//! The catalogue: category pages, sorting, full-text search with filters, and
//! vendor profiles. Anonymous browsing needs no session.

use super::{MarketError, MarketResult, Piconero};
use crate::store::catalogue::{self, Filter};
use crate::store::{Db, listings};

pub use crate::store::catalogue::{Card, Sort, VendorProfile};

/// Cards per page.
pub const PAGE_SIZE: i64 = 24;
/// Deepest page served (deep OFFSETs cost; nobody pages that far by hand).
pub const MAX_PAGE: i64 = 400;

/// A catalogue request as typed into the search form or links.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Words to search for.
    pub q: String,
    /// Category slug.
    pub category: String,
    /// Vendor name.
    pub vendor: String,
    /// Lowest price in XMR.
    pub min_xmr: String,
    /// Highest price in XMR.
    pub max_xmr: String,
    /// newest, price_low, price_high, rating, relevance.
    pub sort: String,
    /// 1-based page.
    pub page: i64,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page {
    /// The cards.
    pub cards: Vec<Card>,
    /// Page number (1-based).
    pub page: i64,
    /// Whether a next page exists.
    pub has_next: bool,
    /// The sort in force.
    pub sort: Sort,
}

/// Turns what someone typed into a safe FTS5 query: each word becomes a quoted
/// term, so no input can be FTS5 syntax. The index stems words (porter), so
/// "rivers" and "river" find each other without slow prefix queries.
pub fn fts_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .map(|w| format!("\"{w}\""))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

fn parse_sort(s: &str, searching: bool) -> Sort {
    match s {
        "price_low" => Sort::PriceLow,
        "price_high" => Sort::PriceHigh,
        "rating" => Sort::Rating,
        "relevance" if searching => Sort::Relevance,
        // Newest first by default, searches included: best-match ranking scores
        // every match (milliseconds for a common word in a large shop).
        _ => Sort::Newest,
    }
}

/// Runs a catalogue query.
pub async fn search(db: &Db, query: &Query) -> MarketResult<Page> {
    let fts = fts_query(&query.q);
    let sort = parse_sort(&query.sort, fts.is_some());
    let price = |label: &str, s: &str| -> MarketResult<Option<i64>> {
        if s.trim().is_empty() {
            return Ok(None);
        }
        Piconero::parse_xmr(s)
            .map(|p| Some(p.as_i64()))
            .map_err(|e| MarketError::Invalid(format!("{label}: {e}.")))
    };
    let min_price = price("Lowest price", &query.min_xmr)?;
    let max_price = price("Highest price", &query.max_xmr)?;
    let page = query.page.clamp(1, MAX_PAGE);
    let (category, vendor) = (
        query.category.trim().to_owned(),
        query.vendor.trim().to_owned(),
    );
    let cards = db
        .read(move |c| {
            let category_id = if category.is_empty() {
                None
            } else {
                match listings::categories(c)?
                    .into_iter()
                    .find(|k| k.slug == category)
                {
                    Some(k) => Some(k.id),
                    None => return Ok(None),
                }
            };
            let vendor_id = if vendor.is_empty() {
                None
            } else {
                match crate::store::accounts::id_by_name(c, &vendor)? {
                    Some(id) => Some(id),
                    None => return Ok(Some(Vec::new())),
                }
            };
            let filter = Filter {
                category_id,
                vendor_id,
                min_price,
                max_price,
                fts,
            };
            catalogue::page(c, &filter, sort, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE).map(Some)
        })
        .await?
        .ok_or(MarketError::NotFound)?;
    let has_next = cards.len() as i64 > PAGE_SIZE;
    let cards = cards.into_iter().take(PAGE_SIZE as usize).collect();
    Ok(Page {
        cards,
        page,
        has_next,
        sort,
    })
}

/// A vendor's public profile.
pub async fn vendor_profile(db: &Db, username: &str) -> MarketResult<VendorProfile> {
    let name = username.to_owned();
    db.read(move |c| catalogue::vendor_profile(c, &name))
        .await?
        .ok_or(MarketError::NotFound)
}

/// Average rating with one decimal, as text ("4.5"), or None without reviews.
pub fn rating_text(sum: i64, count: i64) -> Option<String> {
    (count > 0).then(|| {
        let tenths = (sum * 10 + count / 2) / count;
        format!("{}.{}", tenths / 10, tenths % 10)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_cannot_be_fts_syntax() {
        assert_eq!(
            fts_query("red  shoes"),
            Some("\"red\" \"shoes\"".to_owned())
        );
        assert_eq!(
            fts_query("\" OR NEAR(a b) *"),
            Some("\"OR\" \"NEAR\" \"a\" \"b\"".to_owned())
        );
        assert_eq!(fts_query("  -- ** "), None);
    }

    #[test]
    fn ratings_round_to_a_tenth() {
        assert_eq!(rating_text(0, 0), None);
        assert_eq!(rating_text(9, 2), Some("4.5".to_owned()));
        assert_eq!(rating_text(14, 3), Some("4.7".to_owned()));
    }
}
