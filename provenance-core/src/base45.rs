//! Base45 (RFC 9285), strict: the decoder refuses characters outside the alphabet, a lone
//! trailing character, and groups whose value does not fit (RFC 9285 §4.2), so every byte
//! string has exactly one encoding. Written here because the codec must be strict and typed;
//! it is 60 lines and pinned by the RFC's examples.

/// The RFC 9285 alphabet (values 0..44).
pub const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Why a string is not base45.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base45Error {
    /// A character outside the alphabet.
    #[error("character outside the base45 alphabet")]
    BadCharacter,
    /// One character left over (length mod 3 == 1).
    #[error("dangling base45 character")]
    Dangling,
    /// A group decodes to a value too large for its bytes.
    #[error("base45 group out of range")]
    Overflow,
}

/// Encodes bytes as base45.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(2) * 3);
    for pair in bytes.chunks(2) {
        let (mut n, digits) = match pair {
            [a, b] => ((*a as u32) * 256 + *b as u32, 3),
            [a] => (*a as u32, 2),
            _ => unreachable!("chunks(2) yields 1 or 2 bytes"),
        };
        for _ in 0..digits {
            out.push(ALPHABET[(n % 45) as usize] as char);
            n /= 45;
        }
    }
    out
}

fn value(c: u8) -> Result<u32, Base45Error> {
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(Base45Error::BadCharacter)
}

/// Decodes base45 strictly.
pub fn decode(text: &str) -> Result<Vec<u8>, Base45Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 3 * 2 + 1);
    for group in bytes.chunks(3) {
        match group {
            [c, d, e] => {
                let n = value(*c)? + value(*d)? * 45 + value(*e)? * 45 * 45;
                let n = u16::try_from(n).map_err(|_| Base45Error::Overflow)?;
                out.extend_from_slice(&n.to_be_bytes());
            }
            [c, d] => {
                let n = value(*c)? + value(*d)? * 45;
                out.push(u8::try_from(n).map_err(|_| Base45Error::Overflow)?);
            }
            _ => {
                value(group[0])?;
                return Err(Base45Error::Dangling);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc9285_vectors() {
        let text = include_str!("../../spec/vectors/external/base45-rfc9285.json");
        let json: serde_json::Value = serde_json::from_str(text).expect("json");
        let valid = json["valid"].as_array().expect("valid");
        assert!(valid.len() >= 4);
        for case in valid {
            let bytes = hex::decode(case["hex"].as_str().expect("hex")).expect("hex");
            let encoded = case["base45"].as_str().expect("base45");
            assert_eq!(encode(&bytes), encoded);
            assert_eq!(decode(encoded).expect("decodes"), bytes);
        }
        let invalid = json["invalid"].as_array().expect("invalid");
        assert!(!invalid.is_empty());
        for case in invalid {
            let encoded = case["base45"].as_str().expect("base45");
            assert!(decode(encoded).is_err(), "{encoded:?} must be rejected");
        }
    }

    #[test]
    fn specific_rejections() {
        assert_eq!(decode("GGW"), Err(Base45Error::Overflow)); // 65535 + 1 and more
        assert_eq!(decode("ZZZ"), Err(Base45Error::Overflow));
        assert_eq!(decode("A"), Err(Base45Error::Dangling));
        assert_eq!(decode("ab"), Err(Base45Error::BadCharacter));
        assert_eq!(decode(":Z"), Err(Base45Error::Overflow));
    }

    proptest! {
        #[test]
        fn round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(decode(&encode(&bytes)), Ok(bytes));
        }

        #[test]
        fn decode_never_panics(text in "[0-9A-Z $%*+./:a-z-]{0,40}") {
            let _ = decode(&text);
        }
    }
}
