//! Reading a pasted setup message: which round it belongs to and whose key
//! signed it, so a wrong, stale or foreign message is refused with a line that
//! names the problem and the fix. monero 0.18 key-exchange messages are
//! `MultisigxV2R1` + base58(private message key, signing key, signature) for
//! the first round and `MultisigxV2Rn` + base58(round, message keys, signing
//! key, signature) for the later ones; the signing key stays the same for one
//! participant across rounds. The last "message" is the wallet's address.

use crate::config::Network;
use crate::config::escrow::looks_like_address;

/// Rounds of a 2-of-3 setup on monero 0.18: prepare, make, two exchanges (the
/// last one gives the address, which participants report as round 4).
pub const ADDRESS_ROUND: u8 = 4;

const FIRST_PREFIX: &str = "MultisigxV2R1";
const LATER_PREFIX: &str = "MultisigxV2Rn";
const LEGACY_PREFIX: &str = "MultisigV1";
/// Longest text accepted in the form (real messages are 189 and 236 characters).
pub const MAX_MESSAGE_CHARS: usize = 4096;

/// What a pasted message says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The text without surrounding white space.
    pub text: String,
    /// The setup round it belongs to (1 to 4).
    pub round: u8,
    /// The participant's signing key (hex) for rounds 1 to 3.
    pub signer: Option<String>,
}

/// Reads a message pasted for `expected` round. Errors are shown to the person
/// who pasted it.
pub fn parse(raw: &str, expected: u8, network: Network) -> Result<Parsed, String> {
    let text: String = raw.split_whitespace().collect();
    if text.is_empty() {
        return Err("The box is empty: paste the text your wallet printed.".to_owned());
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err("That text is far longer than a multisig message: paste only what your wallet printed for this step.".to_owned());
    }
    if expected == ADDRESS_ROUND {
        if text.starts_with("Multisig") {
            return Err("This step wants your multisig wallet's address (run `address` in monero-wallet-cli), not a Multisig message.".to_owned());
        }
        if !looks_like_address(&text, network) {
            return Err(format!(
                "That is not a standard {network} address: run `address` in your multisig wallet and paste the 95-character address it shows."
            ));
        }
        return Ok(Parsed {
            text,
            round: ADDRESS_ROUND,
            signer: None,
        });
    }
    if text.starts_with(LEGACY_PREFIX) {
        return Err("That is an old-style MultisigV1 message from a wallet before monero 0.18: update your wallet to 0.18 or later and start this step again.".to_owned());
    }
    let (round, signer) = if let Some(body) = text.strip_prefix(FIRST_PREFIX) {
        let bytes = decode(body)?;
        if bytes.len() != 128 {
            return Err(cut_off());
        }
        (1u8, hex(&bytes[32..64]))
    } else if let Some(body) = text.strip_prefix(LATER_PREFIX) {
        let bytes = decode(body)?;
        // round (varint, < 128 here), key count (varint), keys, signer, signature.
        let (Some(&round), Some(&count)) = (bytes.first(), bytes.get(1)) else {
            return Err(cut_off());
        };
        let signer_at = 2 + 32 * usize::from(count);
        if round >= 0x80 || count >= 0x80 || bytes.len() != signer_at + 32 + 64 {
            return Err(cut_off());
        }
        (round, hex(&bytes[signer_at..signer_at + 32]))
    } else if looks_like_address(&text, network) {
        return Err(format!(
            "That is an address, but this is round {expected}: paste the Multisig message your wallet printed for this round."
        ));
    } else {
        return Err(format!(
            "That is not a multisig message: round {expected} messages start with \"{}\". Copy the whole text your wallet printed.",
            if expected == 1 {
                FIRST_PREFIX
            } else {
                LATER_PREFIX
            }
        ));
    };
    if round != expected {
        return Err(if round < expected {
            format!(
                "That is a round {round} message, but this escrow is at round {expected}: run the round {expected} command shown below and paste what it prints."
            )
        } else {
            format!(
                "That is a round {round} message, but this escrow is still at round {expected}: paste the round {expected} message."
            )
        });
    }
    Ok(Parsed {
        text,
        round,
        signer: Some(signer),
    })
}

fn cut_off() -> String {
    "That message is incomplete or altered: copy the whole text again, from \"Multisig\" to the end.".to_owned()
}

fn decode(body: &str) -> Result<Vec<u8>, String> {
    base58_monero::decode(body).map_err(|_| cut_off())
}

fn hex(b: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(b)
}

/// The digest that makes a message usable once, by one escrow. Key-exchange
/// messages are unique by their text; an address (round 4) is the same for all
/// three participants by design, so it is bound to escrow and participant.
pub fn digest(order_id: i64, participant: &str, text: &str) -> String {
    use sha2::Digest;
    let bound = if text.starts_with("Multisig") {
        text.to_owned()
    } else {
        format!("address {order_id} {participant} {text}")
    };
    hex(&sha2::Sha256::digest(bound.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later(round: u8, signer: u8) -> String {
        let mut b = vec![round, 2];
        b.extend([7u8; 64]);
        b.extend([signer; 32]);
        b.extend([1u8; 64]);
        format!("{LATER_PREFIX}{}", base58_monero::encode(&b).unwrap())
    }

    #[test]
    fn rounds_and_signers_are_read() {
        let mut b = vec![9u8; 32];
        b.extend([5u8; 32]);
        b.extend([1u8; 64]);
        let first = format!("{FIRST_PREFIX}{}", base58_monero::encode(&b).unwrap());
        assert_eq!(first.len(), 189, "the length wallets print");
        let p = parse(&format!("  {first}\n"), 1, Network::Regtest).unwrap();
        assert_eq!((p.round, p.signer.unwrap()), (1, "05".repeat(32)));
        let m = later(3, 4);
        assert_eq!(m.len(), 236);
        let p = parse(&m, 3, Network::Regtest).unwrap();
        assert_eq!((p.round, p.signer.unwrap()), (3, "04".repeat(32)));
    }

    #[test]
    fn wrong_things_are_named() {
        let e = parse(&later(2, 1), 3, Network::Regtest).unwrap_err();
        assert!(
            e.contains("round 2 message") && e.contains("round 3"),
            "{e}"
        );
        let e = parse(&later(3, 1), 2, Network::Regtest).unwrap_err();
        assert!(e.contains("still at round 2"), "{e}");
        let mut cut = later(2, 1);
        cut.truncate(200);
        assert!(
            parse(&cut, 2, Network::Regtest)
                .unwrap_err()
                .contains("incomplete")
        );
        assert!(
            parse("MultisigV1abc", 1, Network::Regtest)
                .unwrap_err()
                .contains("0.18")
        );
        assert!(
            parse("hello", 1, Network::Regtest)
                .unwrap_err()
                .contains("MultisigxV2R1")
        );
        assert!(
            parse("", 1, Network::Regtest)
                .unwrap_err()
                .contains("empty")
        );
        let addr = format!("4{}", "A".repeat(94));
        assert!(
            parse(&addr, 2, Network::Regtest)
                .unwrap_err()
                .contains("address")
        );
        assert_eq!(parse(&addr, 4, Network::Regtest).unwrap().text, addr);
        assert!(
            parse(&later(2, 1), 4, Network::Regtest)
                .unwrap_err()
                .contains("not a Multisig")
        );
        assert!(parse(&addr, 4, Network::Stagenet).is_err());
    }
}
