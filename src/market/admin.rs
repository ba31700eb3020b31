//! Administration: roles, account standing, vendor applications, and what the
//! admin pages read (accounts, categories, the audit log). Everything here takes
//! an [`AdminCap`]; nothing here lets an admin act on their own account, so no
//! admin can raise their own rights or lock themselves out by accident.

use super::accounts::required_reason;
use super::auth::{AdminCap, Role};
use super::{MarketError, MarketResult, now};
use crate::store::accounts::{AccountSummary, Application};
use crate::store::admin::{AccountDetail, CategoryUse};
use crate::store::audit::Entry;
use crate::store::{Db, accounts, admin, audit, notifications, sessions};

/// Rows per page on the admin pages.
pub const PAGE_SIZE: i64 = 25;
/// Audit entries per page.
pub const AUDIT_PAGE_SIZE: i64 = 50;

/// A page of rows and whether another follows.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    /// The rows.
    pub rows: Vec<T>,
    /// 1-based page number.
    pub page: i64,
    /// Whether a next page exists.
    pub has_next: bool,
}

impl<T> Paged<T> {
    /// Cuts the one extra row that was fetched to learn whether a next page exists.
    pub fn from_extra(mut rows: Vec<T>, page: i64, size: i64) -> Self {
        let has_next = rows.len() as i64 > size;
        rows.truncate(size as usize);
        Self {
            rows,
            page,
            has_next,
        }
    }
}

/// Offset of a 1-based page.
fn offset(page: i64, size: i64) -> i64 {
    (page.max(1) - 1) * size
}

/// The acting admin's account for the audit log (None: the operator's console).
fn actor(admin: &AdminCap) -> Option<i64> {
    Some(admin.account_id()).filter(|id| *id != 0)
}

/// Nobody changes their own roles or standing, not even an admin: another admin
/// (or the operator's console) must do it.
fn refuse_self(admin: &AdminCap, account_id: i64) -> MarketResult<()> {
    if admin.account_id() == account_id {
        Err(MarketError::Forbidden)
    } else {
        Ok(())
    }
}

/// Grants or revokes a role (admins only, never on their own account); every
/// change is audited and the account holder is told. Revoking `vendor` pauses
/// the vendor's active listings, so they leave the catalogue with the role.
pub async fn set_role(
    db: &Db,
    admin: &AdminCap,
    account_id: i64,
    role: Role,
    grant: bool,
    reason: &str,
) -> MarketResult<()> {
    refuse_self(admin, account_id)?;
    let reason = required_reason(reason)?;
    let (by, t) = (actor(admin), now());
    let changed = db
        .write(move |c| {
            let tx = c.transaction()?;
            if accounts::username(&tx, account_id)?.is_none() {
                return Ok(false);
            }
            let (action, kind, text) = if grant {
                accounts::grant_role(&tx, account_id, role.as_str(), by, t)?;
                let text = format!("You now have the {role} role.");
                ("grant_role", "role_granted", text)
            } else {
                accounts::revoke_role(&tx, account_id, role.as_str())?;
                let text = format!("Your {role} role was removed: {reason}");
                ("revoke_role", "role_revoked", text)
            };
            let mut target = format!("account {account_id} role {role}");
            if !grant && role == Role::Vendor {
                let paused = admin::pause_listings_of(&tx, account_id, t)?;
                if paused > 0 {
                    target.push_str(&format!(" ({paused} listings paused)"));
                }
            }
            notifications::push(&tx, account_id, kind, &text, "/account", t)?;
            audit::record(&tx, by, action, &target, &reason, t)?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if changed {
        Ok(())
    } else {
        Err(MarketError::NotFound)
    }
}

/// An account's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// May sign in and use the shop.
    Active,
    /// Shut out for now.
    Suspended,
    /// Shut out for good (an admin can still reinstate).
    Banned,
}

impl Standing {
    /// From the form value / stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "banned" => Some(Self::Banned),
            _ => None,
        }
    }

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Banned => "banned",
        }
    }
}

/// Suspends, bans or reinstates an account (admins only, never their own).
/// Its sessions are deleted in the same transaction, so it is signed out at once;
/// the reason is what the person sees when they try to sign in.
pub async fn set_status(
    db: &Db,
    admin: &AdminCap,
    account_id: i64,
    status: Standing,
    reason: &str,
) -> MarketResult<()> {
    refuse_self(admin, account_id)?;
    let reason = required_reason(reason)?;
    let (by, t) = (actor(admin), now());
    let done = db
        .write(move |c| {
            let tx = c.transaction()?;
            let Some(before) = accounts::credentials_by_id(&tx, account_id)? else {
                return Ok(false);
            };
            let active = status == Standing::Active;
            let stored_reason = (!active).then_some(reason.as_str());
            accounts::set_status(&tx, account_id, status.as_str(), stored_reason)?;
            if active && before.status != "active" {
                notifications::push(
                    &tx,
                    account_id,
                    "account_reinstated",
                    "Your account is active again.",
                    "/account",
                    t,
                )?;
            } else if !active {
                sessions::delete_all(&tx, account_id)?;
            }
            audit::record(
                &tx,
                by,
                &format!("account_{}", status.as_str()),
                &format!("account {account_id}"),
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
        Err(MarketError::NotFound)
    }
}

/// Approves or rejects a vendor application (admins only, never their own).
pub async fn decide_application(
    db: &Db,
    admin: &AdminCap,
    application_id: i64,
    approve: bool,
    reason: &str,
) -> MarketResult<()> {
    let reason = if approve && reason.trim().is_empty() {
        "approved".to_owned()
    } else {
        required_reason(reason)?
    };
    let (by, t) = (actor(admin), now());
    let me = admin.account_id();
    db.write(move |c| {
        let tx = c.transaction()?;
        match admin::application_applicant(&tx, application_id)? {
            None => return Ok(Err(MarketError::NotFound)),
            Some((applicant, _)) if applicant == me => return Ok(Err(MarketError::Forbidden)),
            Some((_, false)) => {
                return Ok(Err(MarketError::Conflict(
                    "That application was decided already.".to_owned(),
                )));
            }
            Some(_) => {}
        }
        let Some(applicant) =
            accounts::decide_application(&tx, application_id, approve, by, &reason, t)?
        else {
            return Ok(Err(MarketError::Conflict(
                "That application was decided already.".to_owned(),
            )));
        };
        if approve {
            accounts::grant_role(&tx, applicant, Role::Vendor.as_str(), by, t)?;
        }
        let (action, text) = if approve {
            (
                "vendor_approved",
                "Your vendor application was approved: you can now create listings.".to_owned(),
            )
        } else {
            (
                "vendor_rejected",
                format!("Your vendor application was not approved: {reason}"),
            )
        };
        notifications::push(&tx, applicant, action, &text, "/account", t)?;
        audit::record(&tx, by, action, &format!("account {applicant}"), &reason, t)?;
        tx.commit()?;
        Ok(Ok(()))
    })
    .await?
}

/// Pending vendor applications, oldest first.
pub async fn pending_applications(
    db: &Db,
    _admin: &AdminCap,
    page: i64,
) -> MarketResult<Paged<Application>> {
    let off = offset(page, PAGE_SIZE);
    let rows = db
        .read(move |c| accounts::pending_applications(c, PAGE_SIZE + 1, off))
        .await?;
    Ok(Paged::from_extra(rows, page.max(1), PAGE_SIZE))
}

/// Accounts whose name starts with `prefix`, by name.
pub async fn search_accounts(
    db: &Db,
    _admin: &AdminCap,
    prefix: &str,
    page: i64,
) -> MarketResult<Paged<AccountSummary>> {
    let (prefix, off) = (prefix.trim().to_owned(), offset(page, PAGE_SIZE));
    let rows = db
        .read(move |c| accounts::search_accounts(c, &prefix, PAGE_SIZE + 1, off))
        .await?;
    Ok(Paged::from_extra(rows, page.max(1), PAGE_SIZE))
}

/// One account in detail.
pub async fn account(db: &Db, _admin: &AdminCap, account_id: i64) -> MarketResult<AccountDetail> {
    db.read(move |c| admin::account(c, account_id))
        .await?
        .ok_or(MarketError::NotFound)
}

/// Categories with the number of listings in each.
pub async fn categories(db: &Db, _admin: &AdminCap) -> MarketResult<Vec<CategoryUse>> {
    Ok(db.read(admin::categories).await?)
}

/// The audit log, newest first. Read-only: the table refuses UPDATE and DELETE.
pub async fn audit_log(db: &Db, _admin: &AdminCap, page: i64) -> MarketResult<Paged<Entry>> {
    let off = offset(page, AUDIT_PAGE_SIZE);
    let rows = db
        .read(move |c| audit::page(c, AUDIT_PAGE_SIZE + 1, off))
        .await?;
    Ok(Paged::from_extra(rows, page.max(1), AUDIT_PAGE_SIZE))
}

/// Work waiting for staff: (open reports, pending vendor applications).
pub async fn waiting(db: &Db, _admin: &AdminCap) -> MarketResult<(i64, i64)> {
    Ok(db.read(admin::waiting).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_know_whether_more_follow() {
        let p = Paged::from_extra(vec![1, 2, 3], 1, 2);
        assert_eq!((p.rows, p.has_next), (vec![1, 2], true));
        let p = Paged::from_extra(vec![1, 2], 2, 2);
        assert_eq!((p.rows, p.has_next), (vec![1, 2], false));
        assert_eq!(offset(0, 25), 0);
        assert_eq!(offset(3, 25), 50);
    }

    #[test]
    fn standings_round_trip() {
        for s in [Standing::Active, Standing::Suspended, Standing::Banned] {
            assert_eq!(Standing::parse(s.as_str()), Some(s));
        }
        assert_eq!(Standing::parse("admin"), None);
    }
}
