//! Reports and moderation: anyone signed in reports a listing, a user or an order
//! they are part of; moderators work through the queue, hide (reversibly) or
//! remove listings with a reason the vendor sees, restore hidden ones, and close
//! reports with a resolution. Every moderator action is audited and needs a reason.
//! A moderator never sees or handles reports about themselves or their listings.

use super::accounts::required_reason;
use super::admin::Paged;
use super::auth::{ModeratorCap, Viewer};
use super::text::bounded;
use super::{MarketError, MarketResult, listings, now, orders};
use crate::store::reports::{self as store, ListingBrief, ReportRow};
use crate::store::{Db, audit, notifications};

/// Open reports one person may have waiting at a time.
pub const MAX_OPEN_REPORTS: i64 = 20;
/// Longest report reason.
pub const MAX_REASON: usize = 2000;
/// Reports or listings per page.
pub const PAGE_SIZE: i64 = 25;

/// What can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// A listing.
    Listing,
    /// An account.
    User,
    /// An order the reporter is part of.
    Order,
}

impl ReportKind {
    /// From the form value / stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "listing" => Some(Self::Listing),
            "user" => Some(Self::User),
            "order" => Some(Self::Order),
            _ => None,
        }
    }

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Listing => "listing",
            Self::User => "user",
            Self::Order => "order",
        }
    }
}

/// A thing the viewer may report, resolved from the link's `kind` and `id`.
#[derive(Debug, Clone)]
pub struct ReportTarget {
    /// Kind.
    pub kind: ReportKind,
    /// Internal id (orders: not the public id).
    pub target_id: i64,
    /// The id as it appears in links (orders: the public id).
    pub link_id: String,
    /// "the listing “Lamp” by bob".
    pub label: String,
}

/// Resolves what the viewer wants to report. Things the viewer may not see are
/// "not found"; their own listing or account cannot be reported.
pub async fn target(db: &Db, viewer: &Viewer, kind: &str, id: &str) -> MarketResult<ReportTarget> {
    let kind = ReportKind::parse(kind).ok_or(MarketError::NotFound)?;
    let id = id.trim();
    let numeric = || id.parse::<i64>().map_err(|_| MarketError::NotFound);
    match kind {
        ReportKind::Listing => {
            let l = listings::view(db, Some(viewer), numeric()?).await?;
            if l.vendor_id == viewer.account_id {
                return Err(MarketError::Invalid(
                    "This is your own listing: there is nothing to report.".to_owned(),
                ));
            }
            Ok(ReportTarget {
                kind,
                target_id: l.id,
                link_id: l.id.to_string(),
                label: format!("the listing “{}” by {}", l.title, l.vendor_name),
            })
        }
        ReportKind::User => {
            let target_id = numeric()?;
            if target_id == viewer.account_id {
                return Err(MarketError::Invalid(
                    "You cannot report yourself.".to_owned(),
                ));
            }
            let me = viewer.account_id;
            let name = db
                .read(move |c| store::reportable_user(c, target_id, me))
                .await?
                .ok_or(MarketError::NotFound)?;
            Ok(ReportTarget {
                kind,
                target_id,
                link_id: target_id.to_string(),
                label: format!("the account {name}"),
            })
        }
        ReportKind::Order => {
            let v = orders::view(db, viewer, id).await?;
            Ok(ReportTarget {
                kind,
                target_id: v.order.id,
                link_id: v.order.public_id.clone(),
                label: format!("order {} (“{}”)", v.order.public_id, v.order.listing_title),
            })
        }
    }
}

/// Files a report. A second open report by the same person on the same target,
/// or more than [`MAX_OPEN_REPORTS`] open at once, is refused with a polite `Conflict`.
pub async fn file(
    db: &Db,
    viewer: &Viewer,
    kind: &str,
    id: &str,
    reason: &str,
) -> MarketResult<ReportTarget> {
    let target = target(db, viewer, kind, id).await?;
    let reason = bounded("The reason", reason, 1, MAX_REASON)?;
    let (me, k, tid, t) = (viewer.account_id, target.kind, target.target_id, now());
    db.write(move |c| {
        let tx = c.transaction()?;
        if store::open_by_reporter(&tx, me)? >= MAX_OPEN_REPORTS {
            return Ok(Err(MarketError::Conflict(format!(
                "You have {MAX_OPEN_REPORTS} reports waiting for the moderators already: \
                 please wait until they have looked at them."
            ))));
        }
        if !store::insert(&tx, me, k.as_str(), tid, &reason, t)? {
            return Ok(Err(MarketError::Conflict(
                "You have already reported this, thank you: the moderators will look at it."
                    .to_owned(),
            )));
        }
        tx.commit()?;
        Ok(Ok(()))
    })
    .await??;
    Ok(target)
}

/// A report as the moderators' pages show it.
#[derive(Debug, Clone)]
pub struct ReportView {
    /// Report id.
    pub id: i64,
    /// Kind.
    pub kind: ReportKind,
    /// Who reported.
    pub reporter: String,
    /// What they wrote.
    pub reason: String,
    /// When.
    pub created_at: i64,
    /// Still open.
    pub open: bool,
    /// The resolution, once closed.
    pub resolution: Option<String>,
    /// What was reported, in words.
    pub target_label: String,
    /// Its state ("hidden", "banned", "shipped", "gone").
    pub target_state: String,
    /// A page about it, if moderators can open one.
    pub target_link: Option<String>,
    /// The listing, for listing reports (to act on it).
    pub listing_id: Option<i64>,
    /// The account, for user reports (admins manage it).
    pub user_id: Option<i64>,
    /// A moderator's earlier reason on the listing.
    pub moderation_reason: Option<String>,
    /// Open reports on the same target.
    pub open_on_target: i64,
}

impl From<ReportRow> for ReportView {
    fn from(r: ReportRow) -> Self {
        let kind = ReportKind::parse(&r.kind).unwrap_or(ReportKind::User);
        let mut v = ReportView {
            id: r.id,
            kind,
            reporter: r.reporter,
            reason: r.reason,
            created_at: r.created_at,
            open: r.state == "open",
            resolution: r.resolution,
            target_label: format!("{} {} (gone)", kind.as_str(), r.target_id),
            target_state: "gone".to_owned(),
            target_link: None,
            listing_id: None,
            user_id: None,
            moderation_reason: None,
            open_on_target: r.open_on_target,
        };
        if let Some((title, _, vendor, state, why)) = r.listing {
            v.target_label = format!("Listing “{title}” by {vendor}");
            v.target_link =
                (state != "deleted").then(|| format!("/moderation/listings/{}", r.target_id));
            v.listing_id = (state != "deleted").then_some(r.target_id);
            v.target_state = state;
            v.moderation_reason = why;
        } else if let Some((name, status, vendor)) = r.user {
            v.target_label = format!("Account {name}");
            v.target_link = (vendor && status == "active").then(|| format!("/vendors/{name}"));
            v.target_state = status;
            v.user_id = Some(r.target_id);
        } else if let Some((pid, title, _, buyer, _, vendor, state)) = r.order {
            v.target_label = format!("Order {pid} for “{title}” (buyer {buyer}, vendor {vendor})");
            v.target_state = state;
        }
        v
    }
}

/// Open reports, oldest first, without those about the moderator.
pub async fn queue(
    db: &Db,
    moderator: &ModeratorCap,
    page: i64,
) -> MarketResult<Paged<ReportView>> {
    let (me, page) = (moderator.account_id(), page.max(1));
    let off = (page - 1) * PAGE_SIZE;
    let rows = db
        .read(move |c| store::queue(c, me, PAGE_SIZE + 1, off))
        .await?;
    let rows = rows.into_iter().map(ReportView::from).collect();
    Ok(Paged::from_extra(rows, page, PAGE_SIZE))
}

/// One report (open or closed), unless it is about the moderator.
pub async fn report(db: &Db, moderator: &ModeratorCap, id: i64) -> MarketResult<ReportView> {
    let me = moderator.account_id();
    db.read(move |c| store::get(c, id, me))
        .await?
        .map(ReportView::from)
        .ok_or(MarketError::NotFound)
}

/// Closes a report with a resolution the reporter is told.
pub async fn close(
    db: &Db,
    moderator: &ModeratorCap,
    id: i64,
    resolution: &str,
) -> MarketResult<()> {
    let resolution = required_reason(resolution)?;
    let (me, t) = (moderator.account_id(), now());
    db.write(move |c| {
        let tx = c.transaction()?;
        let Some(row) = store::get(&tx, id, me)? else {
            return Ok(Err(MarketError::NotFound));
        };
        let Some(reporter) = store::close(&tx, id, me, &resolution, t)? else {
            return Ok(Err(MarketError::Conflict(
                "This report was closed already.".to_owned(),
            )));
        };
        let view = ReportView::from(row);
        notifications::push(
            &tx,
            reporter,
            "report_closed",
            &format!(
                "Your report about {} was closed: {resolution}",
                lowercase_first(&view.target_label)
            ),
            "/rules",
            t,
        )?;
        audit::record(
            &tx,
            Some(me),
            "report_closed",
            &format!("report {id} ({} {})", view.kind.as_str(), view.target_label),
            &resolution,
            t,
        )?;
        tx.commit()?;
        Ok(Ok(()))
    })
    .await?
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(f) => f.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What a moderator can do to a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingAction {
    /// Off the catalogue until a moderator restores it.
    Hide,
    /// Off the catalogue for good (the vendor may only delete it).
    Remove,
    /// A hidden listing goes back on the catalogue.
    Restore,
}

impl ListingAction {
    /// From the form value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hide" => Some(Self::Hide),
            "remove" => Some(Self::Remove),
            "restore" => Some(Self::Restore),
            _ => None,
        }
    }

    /// (target state, states it may come from, audit action / notification kind, verb).
    fn rule(
        self,
    ) -> (
        &'static str,
        &'static [&'static str],
        &'static str,
        &'static str,
    ) {
        match self {
            Self::Hide => ("hidden", &["active", "paused"], "listing_hidden", "hidden"),
            Self::Remove => (
                "removed",
                &["active", "paused", "hidden"],
                "listing_removed",
                "removed",
            ),
            Self::Restore => ("active", &["hidden"], "listing_restored", "restored"),
        }
    }

    /// Whether the action applies to a listing in `state` (for showing buttons).
    pub fn applies_to(self, state: &str) -> bool {
        self.rule().1.contains(&state)
    }
}

/// Hides, removes or restores a listing. The vendor is notified with the reason
/// (and sees it on the listing's edit page); hiding or removing also closes the
/// open reports on the listing and tells their reporters. Moderators never act on
/// their own listings.
pub async fn act_on_listing(
    db: &Db,
    moderator: &ModeratorCap,
    listing_id: i64,
    action: ListingAction,
    reason: &str,
) -> MarketResult<()> {
    let reason = required_reason(reason)?;
    let (me, t) = (moderator.account_id(), now());
    let (to, from, kind, verb) = action.rule();
    db.write(move |c| {
        let tx = c.transaction()?;
        let Some(l) = store::listing(&tx, listing_id)? else {
            return Ok(Err(MarketError::NotFound));
        };
        if l.vendor_id == me {
            return Ok(Err(MarketError::Forbidden));
        }
        let kept_reason = (action != ListingAction::Restore).then_some(reason.as_str());
        if !store::set_state(&tx, listing_id, to, from, kept_reason, t)? {
            return Ok(Err(MarketError::Conflict(format!(
                "This listing is {}: it cannot be {verb} now.",
                l.state
            ))));
        }
        let text = match action {
            ListingAction::Hide => format!("A moderator hid your listing “{}”: {reason}", l.title),
            ListingAction::Remove => {
                format!("A moderator removed your listing “{}”: {reason}", l.title)
            }
            ListingAction::Restore => {
                format!("Your listing “{}” is back on the shop: {reason}", l.title)
            }
        };
        notifications::push(
            &tx,
            l.vendor_id,
            kind,
            &text,
            &format!("/sell/{listing_id}/edit"),
            t,
        )?;
        if action != ListingAction::Restore {
            let resolution = format!("Listing {verb}: {reason}");
            for reporter in store::close_all_on(&tx, "listing", listing_id, me, &resolution, t)? {
                notifications::push(
                    &tx,
                    reporter,
                    "report_closed",
                    &format!(
                        "The listing “{}” you reported was {verb}. Thank you.",
                        l.title
                    ),
                    "/rules",
                    t,
                )?;
            }
        }
        audit::record(
            &tx,
            Some(me),
            kind,
            &format!("listing {listing_id}"),
            &reason,
            t,
        )?;
        tx.commit()?;
        Ok(Ok(()))
    })
    .await?
}

/// A listing as the moderators see it, and whether it is the moderator's own.
pub async fn listing(
    db: &Db,
    moderator: &ModeratorCap,
    listing_id: i64,
) -> MarketResult<(ListingBrief, bool)> {
    let l = db
        .read(move |c| store::listing(c, listing_id))
        .await?
        .ok_or(MarketError::NotFound)?;
    let own = l.vendor_id == moderator.account_id();
    Ok((l, own))
}

/// Hidden listings (restorable), newest first.
pub async fn hidden(
    db: &Db,
    _moderator: &ModeratorCap,
    page: i64,
) -> MarketResult<Paged<ListingBrief>> {
    let page = page.max(1);
    let off = (page - 1) * PAGE_SIZE;
    let rows = db
        .read(move |c| store::hidden(c, PAGE_SIZE + 1, off))
        .await?;
    Ok(Paged::from_extra(rows, page, PAGE_SIZE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_actions_parse() {
        for k in [ReportKind::Listing, ReportKind::User, ReportKind::Order] {
            assert_eq!(ReportKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ReportKind::parse("admin"), None);
        assert!(ListingAction::Hide.applies_to("active"));
        assert!(!ListingAction::Hide.applies_to("removed"));
        assert!(ListingAction::Remove.applies_to("hidden"));
        assert!(ListingAction::Restore.applies_to("hidden"));
        assert!(
            !ListingAction::Restore.applies_to("removed"),
            "removal is final"
        );
        assert!(!ListingAction::Restore.applies_to("deleted"));
        assert_eq!(ListingAction::parse("delete"), None);
    }

    #[test]
    fn labels_read_in_a_sentence() {
        assert_eq!(lowercase_first("Listing “X”"), "listing “X”");
        assert_eq!(lowercase_first(""), "");
    }
}
