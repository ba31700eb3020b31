//! Who is asking, and what they may do. A [`Viewer`] only comes from a valid
//! session; the capability types below only come from a viewer holding the role,
//! so a domain function that takes `&VendorCap` cannot be reached by anyone else.
//! This is the one place where roles are checked.

use std::fmt;

use super::{MarketError, MarketResult, digest, now, random_token};
use crate::store::{Db, sessions};

/// A role beyond "buyer", which everyone is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// May list goods.
    Vendor,
    /// Handles reports, hides and removes listings.
    Moderator,
    /// Decides disputes.
    Arbiter,
    /// Runs the shop: roles, bans, categories, rules.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Vendor, Role::Moderator, Role::Arbiter, Role::Admin];

    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Vendor => "vendor",
            Role::Moderator => "moderator",
            Role::Arbiter => "arbiter",
            Role::Admin => "admin",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signed-in person, as established from their session cookie.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Account id.
    pub account_id: i64,
    /// Username.
    pub username: String,
    roles: Vec<Role>,
    /// Token that this session's forms must carry.
    pub csrf_token: String,
    /// Unread notifications, for the header.
    pub unread: i64,
}

impl Viewer {
    /// Whether the viewer holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The viewer's roles.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// Proof of being a vendor.
    pub fn vendor(&self) -> MarketResult<VendorCap> {
        self.require(Role::Vendor).map(|id| VendorCap { id })
    }

    /// Proof of being a moderator (admins moderate too).
    pub fn moderator(&self) -> MarketResult<ModeratorCap> {
        if self.has(Role::Admin) {
            return Ok(ModeratorCap {
                id: self.account_id,
            });
        }
        self.require(Role::Moderator).map(|id| ModeratorCap { id })
    }

    /// Proof of being an arbiter.
    pub fn arbiter(&self) -> MarketResult<ArbiterCap> {
        self.require(Role::Arbiter).map(|id| ArbiterCap { id })
    }

    /// Proof of being an admin.
    pub fn admin(&self) -> MarketResult<AdminCap> {
        self.require(Role::Admin).map(|id| AdminCap { id })
    }

    fn require(&self, role: Role) -> MarketResult<i64> {
        if self.has(role) {
            Ok(self.account_id)
        } else {
            Err(MarketError::Forbidden)
        }
    }
}

macro_rules! capability {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name {
            id: i64,
        }

        impl $name {
            /// The account holding the capability.
            pub fn account_id(&self) -> i64 {
                self.id
            }
        }
    };
}

capability!(
    /// Proof that the holder is a vendor.
    VendorCap
);
capability!(
    /// Proof that the holder may moderate.
    ModeratorCap
);
capability!(
    /// Proof that the holder is an arbiter.
    ArbiterCap
);
capability!(
    /// Proof that the holder is an admin.
    AdminCap
);

impl AdminCap {
    /// For `souk admin` on the command line: the operator at the console is trusted.
    pub fn console() -> Self {
        Self { id: 0 }
    }

    /// The account to record as the actor (audit rows, decisions): none for the
    /// console, which is not an account.
    pub fn actor(&self) -> Option<i64> {
        (self.id != 0).then_some(self.id)
    }
}

/// How long an idle session lives.
pub const SESSION_IDLE_SECS: i64 = 30 * 86_400;
/// How often last-seen is written (not on every request).
const TOUCH_EVERY_SECS: i64 = 300;

/// A new session: the cookie value is returned once and only its hash is stored.
pub async fn start_session(db: &Db, account_id: i64) -> MarketResult<String> {
    let token = random_token();
    let hash = digest(&token);
    let csrf = random_token();
    let t = now();
    db.write(move |c| sessions::insert(c, &hash, account_id, &csrf, t, t + SESSION_IDLE_SECS))
        .await?;
    Ok(token)
}

/// The viewer behind a session cookie, or None when it is unknown, expired or the
/// account may not sign in any more.
pub async fn viewer_from_cookie(db: &Db, token: &str) -> MarketResult<Option<Viewer>> {
    let hash = digest(token);
    let t = now();
    let found = db
        .read({
            let hash = hash.clone();
            move |c| sessions::lookup(c, &hash, t)
        })
        .await?;
    let Some(s) = found else {
        return Ok(None);
    };
    if t - s.last_seen_at > TOUCH_EVERY_SECS {
        db.write(move |c| sessions::touch(c, &hash, t, t + SESSION_IDLE_SECS))
            .await?;
    }
    let roles = s.roles.iter().filter_map(|r| Role::parse(r)).collect();
    Ok(Some(Viewer {
        account_id: s.account_id,
        username: s.username,
        roles,
        csrf_token: s.csrf_token,
        unread: s.unread,
    }))
}

/// Ends the session behind a cookie.
pub async fn end_session(db: &Db, token: &str) -> MarketResult<()> {
    let hash = digest(token);
    db.write(move |c| sessions::delete(c, &hash)).await?;
    Ok(())
}

/// Ends every session of the viewer's account ("log out everywhere").
pub async fn end_all_sessions(db: &Db, viewer: &Viewer) -> MarketResult<usize> {
    let id = viewer.account_id;
    Ok(db.write(move |c| sessions::delete_all(c, id)).await?)
}

/// The viewer's sessions, newest first, with the current one marked.
pub async fn list_sessions(
    db: &Db,
    viewer: &Viewer,
    current_token: &str,
) -> MarketResult<Vec<sessions::SessionInfo>> {
    let id = viewer.account_id;
    let current = digest(current_token);
    Ok(db.read(move |c| sessions::list(c, id, &current)).await?)
}

/// Deletes expired sessions and stale sign-in throttle entries.
pub async fn purge_expired(db: &Db) -> MarketResult<()> {
    let t = now();
    db.write(move |c| {
        sessions::purge_expired(c, t)?;
        c.execute(
            "DELETE FROM login_throttle WHERE updated_at < ?1",
            [t - 86_400],
        )?;
        Ok(())
    })
    .await?;
    Ok(())
}
