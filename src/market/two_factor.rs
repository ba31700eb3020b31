//! Two-factor sign-in (TOTP, RFC 6238): secrets, codes with replay protection
//! (the caller stores the last accepted step), turning it on and off.

use super::accounts::verify_password;
use super::auth::Viewer;
use super::{MarketError, MarketResult, now, random_bytes};
use crate::store::{Db, accounts, audit};

/// The time step a TOTP code is valid for (one step of skew either way).
pub(super) fn check_totp(secret_b32: &str, code: &str, t: i64) -> Option<i64> {
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_b32.as_bytes())
        .ok()?;
    let totp = totp_rs::Builder::new().with_secret(secret).build().ok()?;
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    totp.check(&code, t as u64).map(|s| s as i64)
}

/// The code an authenticator app shows at time `t` (tests and the demo use it).
pub fn totp_code_at(secret_b32: &str, t: i64) -> Option<String> {
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_b32.as_bytes())
        .ok()?;
    let totp = totp_rs::Builder::new().with_secret(secret).build().ok()?;
    Some(totp.generate(t as u64).to_string())
}

/// A new two-factor secret (base32), to show to the user before they confirm it.
pub fn new_totp_secret() -> String {
    data_encoding::BASE32_NOPAD.encode(&random_bytes::<20>())
}

/// The `otpauth://` URI an authenticator app scans.
pub fn totp_uri(shop: &str, username: &str, secret: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(shop),
        enc(username),
        enc(shop)
    )
}

/// Turns two-factor on after the user proved their app shows the right code.
pub async fn enable_totp(db: &Db, viewer: &Viewer, secret: &str, code: &str) -> MarketResult<()> {
    let t = now();
    let Some(step) = check_totp(secret, code, t) else {
        return Err(MarketError::Invalid(
            "That code does not match: check the time on your device and enter the current code."
                .to_owned(),
        ));
    };
    let (id, secret) = (viewer.account_id, secret.to_owned());
    db.write(move |c| {
        let tx = c.transaction()?;
        accounts::set_totp(&tx, id, Some(&secret), step)?;
        audit::record(
            &tx,
            Some(id),
            "totp_enabled",
            &format!("account {id}"),
            "by the account holder",
            t,
        )?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    Ok(())
}

/// Turns two-factor off; needs the password.
pub async fn disable_totp(db: &Db, viewer: &Viewer, password: &str) -> MarketResult<()> {
    let id = viewer.account_id;
    let cred = db
        .read(move |c| accounts::credentials_by_id(c, id))
        .await?
        .ok_or(MarketError::NotFound)?;
    if !verify_password(password.to_owned(), cred.password_hash).await {
        return Err(MarketError::Invalid("Wrong password.".to_owned()));
    }
    let t = now();
    db.write(move |c| {
        let tx = c.transaction()?;
        accounts::set_totp(&tx, id, None, 0)?;
        audit::record(
            &tx,
            Some(id),
            "totp_disabled",
            &format!("account {id}"),
            "by the account holder",
            t,
        )?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    Ok(())
}

/// Whether two-factor is on for the viewer.
pub async fn totp_enabled(db: &Db, viewer: &Viewer) -> MarketResult<bool> {
    let id = viewer.account_id;
    Ok(db
        .read(move |c| accounts::credentials_by_id(c, id))
        .await?
        .is_some_and(|c| c.totp_secret.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totp_codes_verify_with_skew() {
        let secret = new_totp_secret();
        let t = 1_800_000_000;
        let code = totp_code_at(&secret, t).unwrap();
        assert_eq!(check_totp(&secret, &code, t), Some(t / 30));
        assert_eq!(
            check_totp(&secret, &code, t + 30),
            Some(t / 30),
            "one step late is fine"
        );
        assert_eq!(check_totp(&secret, &code, t + 90), None);
        assert_eq!(check_totp(&secret, "000000x", t), None);
    }
}
