//! An offline check of a typed address for engines without a wallet at hand
//! (multisig): base58 with its Keccak checksum, then the network byte says the
//! network and the kind. The judgement and its messages are the wallet's.

use super::wallet_escrow::{Validity, judge_address};
use crate::config::Network;

/// Like the wallet's `validate_address` check: `Err(line)` names what is wrong
/// (not an address, integrated, another network).
pub fn check_address_offline(address: &str, network: Network) -> Result<(), String> {
    judge_address(&validity(address.trim()), network)
}

fn validity(address: &str) -> Validity {
    let invalid = Validity {
        valid: false,
        integrated: false,
        nettype: String::new(),
    };
    let Ok(bytes) = base58_monero::decode_check(address) else {
        return invalid;
    };
    // Network byte (one-byte varint for every Monero network), two keys, and
    // for integrated addresses an 8-byte payment id; the checksum is gone.
    let (nettype, integrated) = match (bytes.first(), bytes.len()) {
        (Some(18 | 42), 65) => ("mainnet", false),
        (Some(19), 73) => ("mainnet", true),
        (Some(53 | 63), 65) => ("testnet", false),
        (Some(54), 73) => ("testnet", true),
        (Some(24 | 36), 65) => ("stagenet", false),
        (Some(25), 73) => ("stagenet", true),
        _ => return invalid,
    };
    Validity {
        valid: true,
        integrated,
        nettype: nettype.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address of `prefix` with the keys all `fill`, checksummed.
    fn made(prefix: u8, extra: usize, fill: u8) -> String {
        let mut b = vec![prefix];
        b.extend(std::iter::repeat_n(fill, 64 + extra));
        base58_monero::encode_check(&b).unwrap()
    }

    #[test]
    fn network_kind_and_checksum_are_read_from_the_address() {
        let main = made(18, 0, 7);
        assert_eq!(main.len(), 95);
        assert!(check_address_offline(&main, Network::Mainnet).is_ok());
        assert!(check_address_offline(&main, Network::Regtest).is_ok());
        assert!(check_address_offline(&made(42, 0, 9), Network::Mainnet).is_ok());
        let stage = check_address_offline(&made(24, 0, 7), Network::Mainnet).unwrap_err();
        assert!(stage.contains("stagenet address"), "{stage}");
        let integrated = check_address_offline(&made(19, 8, 7), Network::Mainnet).unwrap_err();
        assert!(integrated.contains("Integrated"), "{integrated}");
        // One character changed breaks the checksum.
        let mut typo = main.clone().into_bytes();
        typo[50] = if typo[50] == b'2' { b'3' } else { b'2' };
        let typo = String::from_utf8(typo).unwrap();
        assert!(
            check_address_offline(&typo, Network::Mainnet)
                .unwrap_err()
                .contains("not a Monero address")
        );
        assert!(check_address_offline("hello", Network::Mainnet).is_err());
    }
}
