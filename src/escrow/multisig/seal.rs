//! Escrow wallet passwords: random per escrow, stored sealed with
//! XChaCha20-Poly1305 under a key derived from `[escrow] wallet_key_file`. The
//! order id is the associated data, so a sealed password copied to another
//! escrow's row does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::Digest;

use crate::config::Secret;
use crate::market::random_bytes;

const NONCE: usize = 24;

/// The sealing key (derived once from the secret file).
pub struct WalletKey(XChaCha20Poly1305);

impl std::fmt::Debug for WalletKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WalletKey([redacted])")
    }
}

impl WalletKey {
    /// Derives the key from the secret file's content.
    pub fn from_secret(secret: &Secret) -> Self {
        let mut h = sha2::Sha256::new();
        h.update(b"souk multisig wallet passwords v1\0");
        h.update(secret.expose().as_bytes());
        let key: [u8; 32] = h.finalize().into();
        Self(XChaCha20Poly1305::new(&key.into()))
    }

    /// A fresh random password for a new escrow wallet.
    pub fn new_password() -> String {
        data_encoding::BASE64URL_NOPAD.encode(&random_bytes::<32>())
    }

    /// Nonce followed by the sealed password.
    pub fn seal(&self, order_id: i64, password: &str) -> Vec<u8> {
        let nonce = random_bytes::<NONCE>();
        let aad = order_id.to_be_bytes();
        let sealed = self
            .0
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: password.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("sealing a short password cannot fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    /// Opens a sealed password; `None` when the key or the escrow is not the one
    /// it was sealed with.
    pub fn open(&self, order_id: i64, sealed: &[u8]) -> Option<String> {
        if sealed.len() <= NONCE {
            return None;
        }
        let aad = order_id.to_be_bytes();
        let plain = self
            .0
            .decrypt(
                XNonce::from_slice(&sealed[..NONCE]),
                Payload {
                    msg: &sealed[NONCE..],
                    aad: &aad,
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

impl WalletKey {
    /// A setup message sealed for storage (base64): round 1 carries a private
    /// key share, and the database goes into backups.
    pub fn seal_message(&self, order_id: i64, text: &str) -> String {
        let nonce = random_bytes::<NONCE>();
        let aad = message_aad(order_id);
        let sealed = self
            .0
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: text.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("sealing a message cannot fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        data_encoding::BASE64URL_NOPAD.encode(&out)
    }

    /// Opens a stored message; `None` when it was not sealed for this escrow
    /// with this key.
    pub fn open_message(&self, order_id: i64, stored: &str) -> Option<String> {
        let raw = data_encoding::BASE64URL_NOPAD
            .decode(stored.as_bytes())
            .ok()?;
        if raw.len() <= NONCE {
            return None;
        }
        let aad = message_aad(order_id);
        let plain = self
            .0
            .decrypt(
                XNonce::from_slice(&raw[..NONCE]),
                Payload {
                    msg: &raw[NONCE..],
                    aad: &aad,
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

/// Messages and passwords use different associated data, so one cannot be
/// passed off as the other.
fn message_aad(order_id: i64) -> Vec<u8> {
    let mut aad = b"message ".to_vec();
    aad.extend(order_id.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_opens_only_for_its_escrow_and_key() {
        let key = WalletKey::from_secret(&crate::config::escrow::test_secret("one"));
        let pw = WalletKey::new_password();
        let sealed = key.seal(7, &pw);
        assert!(!sealed.windows(pw.len()).any(|w| w == pw.as_bytes()));
        assert_eq!(key.open(7, &sealed).as_deref(), Some(pw.as_str()));
        assert_eq!(key.open(8, &sealed), None, "another escrow");
        let other = WalletKey::from_secret(&crate::config::escrow::test_secret("two"));
        assert_eq!(other.open(7, &sealed), None, "another key");
        assert_ne!(key.seal(7, &pw), sealed, "a fresh nonce each time");
        let m = key.seal_message(7, "MultisigxV2R1abc");
        assert!(!m.contains("Multisig"));
        assert_eq!(key.open_message(7, &m).as_deref(), Some("MultisigxV2R1abc"));
        assert_eq!(key.open_message(8, &m), None);
        assert_eq!(other.open_message(7, &m), None);
    }
}
