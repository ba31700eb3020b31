//! Accounts: registration, sign-in with throttling and optional two-factor,
//! password changes, recovery codes, roles, vendor applications, suspension.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use super::auth::{Role, Viewer};
use super::{MarketError, MarketResult, digest, now, random_bytes};
use crate::store::{Db, StoreError, accounts, audit, sessions};

// Role, standing and application decisions live with the rest of administration.
pub use super::admin::{decide_application, set_role, set_status};

/// Recovery codes handed out at registration.
pub const RECOVERY_CODES: usize = 8;
/// Failed sign-ins allowed before a lock starts.
const FREE_FAILURES: i64 = 5;
/// The longest lock.
const MAX_LOCK_SECS: i64 = 3600;

/// Checks a username: 3 to 32 letters, digits, `_` or `-`.
pub fn check_username(name: &str) -> MarketResult<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !(3..=32).contains(&name.chars().count()) || !ok_chars {
        return Err(MarketError::Invalid(
            "A username has 3 to 32 characters: letters, digits, _ or -.".to_owned(),
        ));
    }
    Ok(())
}

/// Checks a new password: at least 10 characters, at most 1024, not the username.
pub fn check_password(username: &str, password: &str) -> MarketResult<()> {
    let n = password.chars().count();
    if n < 10 {
        return Err(MarketError::Invalid(
            "Choose a password of at least 10 characters.".to_owned(),
        ));
    }
    if n > 1024 {
        return Err(MarketError::Invalid(
            "That password is too long (1024 characters at most).".to_owned(),
        ));
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(MarketError::Invalid(
            "The password must not be the username.".to_owned(),
        ));
    }
    Ok(())
}

/// Argon2id with the crate's defaults, off the async runtime.
pub async fn hash_password(password: String) -> MarketResult<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| MarketError::Store(StoreError::Task(format!("password hashing: {e}"))))
    })
    .await
    .map_err(|e| MarketError::Store(StoreError::Task(e.to_string())))?
}

/// Verifies a password against a stored hash, off the async runtime.
pub async fn verify_password(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// Fresh recovery codes (shown once) and their hashes (stored).
fn new_recovery_codes() -> (Vec<String>, Vec<Vec<u8>>) {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let raw = data_encoding::BASE32_NOPAD.encode(&random_bytes::<10>());
            format!(
                "{}-{}-{}-{}",
                &raw[0..4],
                &raw[4..8],
                &raw[8..12],
                &raw[12..16]
            )
        })
        .collect();
    let hashes = codes.iter().map(|c| digest(&normalize_code(c))).collect();
    (codes, hashes)
}

/// Recovery codes are compared without dashes, spaces or case.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A new account, and the recovery codes to show once.
#[derive(Debug)]
pub struct Registered {
    /// Account id.
    pub account_id: i64,
    /// The codes, shown once.
    pub recovery_codes: Vec<String>,
}

/// Registers an account. Nobody chooses a role here: roles come from admins.
pub async fn register(db: &Db, username: &str, password: &str) -> MarketResult<Registered> {
    check_username(username)?;
    check_password(username, password)?;
    let hash = hash_password(password.to_owned()).await?;
    let (codes, hashes) = new_recovery_codes();
    let name = username.to_owned();
    let t = now();
    let id = db
        .write(move |c| {
            let tx = c.transaction()?;
            let Some(id) = accounts::insert(&tx, &name, &hash, t)? else {
                return Ok(None);
            };
            accounts::replace_recovery_codes(&tx, id, &hashes)?;
            tx.commit()?;
            Ok(Some(id))
        })
        .await?
        .ok_or_else(|| {
            MarketError::Invalid("That username is taken: choose another one.".to_owned())
        })?;
    Ok(Registered {
        account_id: id,
        recovery_codes: codes,
    })
}

/// Lock length after `failures` consecutive failures.
fn lock_secs(failures: i64) -> i64 {
    if failures < FREE_FAILURES {
        return 0;
    }
    let doublings = (failures - FREE_FAILURES).min(10) as u32;
    (30i64 << doublings).min(MAX_LOCK_SECS)
}

/// The same answer for a wrong name, a wrong password and a wrong code.
fn wrong_credentials() -> MarketError {
    MarketError::Invalid("Wrong username, password or two-factor code.".to_owned())
}

/// A stored hash to verify against when the account does not exist, so both
/// cases take the same time.
async fn dummy_hash() -> String {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            hash_password("not a real password".to_owned())
                .await
                .unwrap_or_default()
        })
        .await
        .clone()
}

/// Checks a sign-in. `jar` identifies the browser (its anonymous form cookie):
/// failures are throttled per jar and per account, never per IP (behind Tor
/// everyone is 127.0.0.1).
pub async fn sign_in(
    db: &Db,
    username: &str,
    password: &str,
    totp_code: &str,
    jar: &str,
) -> MarketResult<i64> {
    let t = now();
    let jar_hash = digest(jar);
    let (jar_failures, jar_locked) = {
        let jh = jar_hash.clone();
        db.read(move |c| accounts::jar_state(c, &jh)).await?
    };
    if jar_locked > t {
        return Err(MarketError::Throttled {
            retry_after_secs: (jar_locked - t) as u64,
        });
    }
    let name = username.trim().to_owned();
    let found = db
        .read(move |c| accounts::credentials_by_name(c, &name))
        .await?;
    let Some(cred) = found else {
        verify_password(password.to_owned(), dummy_hash().await).await;
        record_jar_failure(db, jar_hash, jar_failures, t).await?;
        return Err(wrong_credentials());
    };
    if cred.locked_until > t {
        return Err(MarketError::Throttled {
            retry_after_secs: (cred.locked_until - t) as u64,
        });
    }
    let password_ok = verify_password(password.to_owned(), cred.password_hash.clone()).await;
    let totp_step = match (&cred.totp_secret, password_ok) {
        (Some(secret), true) => match check_totp(secret, totp_code, t) {
            Some(step) if step > cred.totp_last_step => Some(step),
            _ => None,
        },
        _ => None,
    };
    let ok = password_ok && (cred.totp_secret.is_none() || totp_step.is_some());
    if !ok {
        let failures = cred.failed_logins + 1;
        let lock_until = match lock_secs(failures) {
            0 => 0,
            s => t + s,
        };
        let id = cred.id;
        db.write(move |c| accounts::record_failure(c, id, failures, lock_until))
            .await?;
        record_jar_failure(db, jar_hash, jar_failures, t).await?;
        return Err(wrong_credentials());
    }
    if cred.status != "active" {
        let reason = cred.status_reason.unwrap_or_default();
        return Err(MarketError::Conflict(format!(
            "This account is {}{}.",
            cred.status,
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            }
        )));
    }
    let id = cred.id;
    db.write(move |c| {
        accounts::record_success(c, id, totp_step)?;
        accounts::jar_success(c, &jar_hash)
    })
    .await?;
    Ok(id)
}

async fn record_jar_failure(db: &Db, jar_hash: Vec<u8>, previous: i64, t: i64) -> MarketResult<()> {
    let failures = previous + 1;
    let until = match lock_secs(failures) {
        0 => 0,
        s => t + s,
    };
    db.write(move |c| accounts::jar_failure(c, &jar_hash, failures, until, t))
        .await?;
    Ok(())
}

use super::two_factor::check_totp;
pub use super::two_factor::{
    disable_totp, enable_totp, new_totp_secret, totp_code_at, totp_enabled, totp_uri,
};

/// Changes the password and ends every other session.
pub async fn change_password(
    db: &Db,
    viewer: &Viewer,
    current: &str,
    new: &str,
) -> MarketResult<()> {
    check_password(&viewer.username, new)?;
    let id = viewer.account_id;
    let cred = db
        .read(move |c| accounts::credentials_by_id(c, id))
        .await?
        .ok_or(MarketError::NotFound)?;
    if !verify_password(current.to_owned(), cred.password_hash).await {
        return Err(MarketError::Invalid(
            "The current password is wrong.".to_owned(),
        ));
    }
    let hash = hash_password(new.to_owned()).await?;
    let csrf = viewer.csrf_token.clone();
    db.write(move |c| {
        let tx = c.transaction()?;
        accounts::set_password(&tx, id, &hash)?;
        tx.execute(
            "DELETE FROM sessions WHERE account_id = ?1 AND csrf_token <> ?2",
            rusqlite::params![id, csrf],
        )?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    Ok(())
}

/// Resets a forgotten password with a recovery code; ends every session and
/// returns fresh codes when the last one was used.
pub async fn reset_with_recovery_code(
    db: &Db,
    username: &str,
    code: &str,
    new: &str,
    jar: &str,
) -> MarketResult<Option<Vec<String>>> {
    check_password(username, new)?;
    let t = now();
    let jar_hash = digest(jar);
    let (jar_failures, jar_locked) = {
        let jh = jar_hash.clone();
        db.read(move |c| accounts::jar_state(c, &jh)).await?
    };
    if jar_locked > t {
        return Err(MarketError::Throttled {
            retry_after_secs: (jar_locked - t) as u64,
        });
    }
    let name = username.trim().to_owned();
    let Some(id) = db.read(move |c| accounts::id_by_name(c, &name)).await? else {
        record_jar_failure(db, jar_hash, jar_failures, t).await?;
        return Err(MarketError::Invalid(
            "Wrong username or recovery code.".to_owned(),
        ));
    };
    let hash = hash_password(new.to_owned()).await?;
    let code_hash = digest(&normalize_code(code));
    let (fresh, fresh_hashes) = new_recovery_codes();
    let used = db
        .write(move |c| {
            let tx = c.transaction()?;
            if !accounts::use_recovery_code(&tx, id, &code_hash, t)? {
                return Ok(None);
            }
            accounts::set_password(&tx, id, &hash)?;
            sessions::delete_all(&tx, id)?;
            let left = accounts::recovery_codes_left(&tx, id)?;
            if left == 0 {
                accounts::replace_recovery_codes(&tx, id, &fresh_hashes)?;
            }
            audit::record(
                &tx,
                Some(id),
                "password_reset",
                &format!("account {id}"),
                "recovery code used",
                t,
            )?;
            tx.commit()?;
            Ok(Some(left))
        })
        .await?;
    match used {
        None => {
            record_jar_failure(db, jar_hash, jar_failures, t).await?;
            Err(MarketError::Invalid(
                "Wrong username or recovery code.".to_owned(),
            ))
        }
        Some(0) => Ok(Some(fresh)),
        Some(_) => Ok(None),
    }
}

/// Creates the first (or another) admin from the operator's console.
pub async fn create_admin(db: &Db, username: &str, password: &str) -> MarketResult<Registered> {
    let reg = register(db, username, password).await?;
    let id = reg.account_id;
    let t = now();
    db.write(move |c| {
        let tx = c.transaction()?;
        accounts::grant_role(&tx, id, Role::Admin.as_str(), None, t)?;
        audit::record(
            &tx,
            None,
            "grant_role",
            &format!("account {id}"),
            "admin created from the console (souk admin create)",
            t,
        )?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    Ok(reg)
}

/// Asks to become a vendor (or becomes one at once when the operator opened vendor sign-up).
pub async fn apply_as_vendor(
    db: &Db,
    viewer: &Viewer,
    statement: &str,
    open_signup: bool,
) -> MarketResult<()> {
    if viewer.has(Role::Vendor) {
        return Err(MarketError::Conflict(
            "You are a vendor already.".to_owned(),
        ));
    }
    let statement = statement.trim().to_owned();
    if statement.chars().count() > 2000 {
        return Err(MarketError::Invalid(
            "Keep the statement under 2000 characters.".to_owned(),
        ));
    }
    let (id, t) = (viewer.account_id, now());
    let filed = db
        .write(move |c| {
            let tx = c.transaction()?;
            if open_signup {
                accounts::grant_role(&tx, id, Role::Vendor.as_str(), None, t)?;
                audit::record(
                    &tx,
                    Some(id),
                    "grant_role",
                    &format!("account {id} role vendor"),
                    "open vendor sign-up",
                    t,
                )?;
            } else if !accounts::insert_application(&tx, id, &statement, t)? {
                return Ok(false);
            }
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if filed {
        Ok(())
    } else {
        Err(MarketError::Conflict(
            "Your application is already waiting for an admin.".to_owned(),
        ))
    }
}

/// Sets or removes the vendor's public PGP key (an armored public key block).
pub async fn set_pgp_key(db: &Db, vendor: &super::auth::VendorCap, key: &str) -> MarketResult<()> {
    let key = key.trim().replace("\r\n", "\n");
    let stored = if key.is_empty() {
        None
    } else {
        if key.len() > 20_000
            || !key.starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
            || !key.ends_with("-----END PGP PUBLIC KEY BLOCK-----")
        {
            return Err(MarketError::Invalid(
                "Paste an armored public key: from -----BEGIN PGP PUBLIC KEY BLOCK----- to -----END PGP PUBLIC KEY BLOCK-----.".to_owned(),
            ));
        }
        Some(key)
    };
    let id = vendor.account_id();
    db.write(move |c| accounts::set_pgp_key(c, id, stored.as_deref()))
        .await?;
    Ok(())
}

/// The account's PGP key.
pub async fn pgp_key(db: &Db, viewer: &Viewer) -> MarketResult<Option<String>> {
    let id = viewer.account_id;
    Ok(db
        .read(move |c| {
            Ok(
                c.query_row("SELECT pgp_key FROM accounts WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?,
            )
        })
        .await?)
}

/// The viewer's latest vendor application.
pub async fn latest_application(
    db: &Db,
    viewer: &Viewer,
) -> MarketResult<Option<accounts::Application>> {
    let id = viewer.account_id;
    Ok(db
        .read(move |c| accounts::latest_application(c, id))
        .await?)
}

/// Privileged actions need a reason for the audit log.
pub fn required_reason(reason: &str) -> MarketResult<String> {
    let r = reason.trim();
    if r.is_empty() {
        return Err(MarketError::Invalid(
            "Give a reason: it goes into the audit log.".to_owned(),
        ));
    }
    if r.chars().count() > 1000 {
        return Err(MarketError::Invalid(
            "Keep the reason under 1000 characters.".to_owned(),
        ));
    }
    Ok(r.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_grows_and_is_capped() {
        assert_eq!(lock_secs(4), 0);
        assert_eq!(lock_secs(5), 30);
        assert_eq!(lock_secs(6), 60);
        assert_eq!(lock_secs(50), MAX_LOCK_SECS);
    }

    #[test]
    fn recovery_codes_compare_loosely() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let sloppy = codes[0].to_lowercase().replace('-', " ");
        assert_eq!(digest(&normalize_code(&sloppy)), hashes[0]);
    }

    #[test]
    fn usernames_and_passwords_are_checked() {
        assert!(check_username("ab").is_err());
        assert!(check_username("good_name-1").is_ok());
        assert!(check_username("bad name").is_err());
        assert!(check_username("<script>").is_err());
        assert!(check_password("alice", "short").is_err());
        assert!(check_password("alicealice", "AliceAlice").is_err());
        assert!(check_password("alice", "long enough password").is_ok());
    }
}
