//! Identifier newtypes: item ids, run ids, record hashes and timestamps.

use std::fmt;

use sha2::{Digest, Sha256};

/// SHA-256 of a record's exact COSE_Sign1 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordHash(pub [u8; 32]);

impl RecordHash {
    /// Hashes the bytes exactly as received.
    pub fn of(record_bytes: &[u8]) -> Self {
        RecordHash(Sha256::digest(record_bytes).into())
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex_lower(&self.0)
    }

    /// Parses 64 hex characters.
    pub fn from_hex(text: &str) -> Option<Self> {
        parse_hex::<32>(text).map(RecordHash)
    }
}

impl fmt::Debug for RecordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordHash({})", self.to_hex())
    }
}

impl fmt::Display for RecordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

macro_rules! short_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 16]);

        impl $name {
            /// Derives the id from the exact bytes of the record that creates it:
            /// the first 16 bytes of their SHA-256.
            pub fn derive(record_bytes: &[u8]) -> Self {
                Self::from_hash(&RecordHash::of(record_bytes))
            }

            /// The id of the record whose hash is `hash`: `derive` without hashing twice.
            pub(crate) fn from_hash(hash: &RecordHash) -> Self {
                let mut id = [0u8; 16];
                id.copy_from_slice(&hash.0[..16]);
                $name(id)
            }

            /// The 26-character lower-case base32 (RFC 4648, no padding) form shown to people.
            pub fn to_base32(&self) -> String {
                base32_encode(&self.0)
            }

            /// Parses the base32 form (case-insensitive).
            pub fn from_base32(text: &str) -> Option<Self> {
                base32_decode_16(text).map($name)
            }

            /// The first 8 characters of the base32 form, for labels and listings.
            pub fn short(&self) -> String {
                self.to_base32()[..8].to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_base32())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_base32())
            }
        }
    };
}

short_id!(
    /// An item's id: derived from its mint record's bytes, so it cannot collide or be squatted.
    ItemId
);
short_id!(
    /// A production run's id: derived from its run manifest's bytes.
    RunId
);

/// Seconds since the Unix epoch (UTC). Core never reads a clock: times come in as arguments.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Formats as an RFC 3339 UTC date-time, e.g. `2026-03-02T10:00:00Z`.
    pub fn to_rfc3339(&self) -> String {
        let (y, m, d) = civil_from_days((self.0 / 86_400) as i64);
        let secs = self.0 % 86_400;
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )
    }

    /// Formats the date only, e.g. `2026-03-02`.
    pub fn to_date(&self) -> String {
        self.to_rfc3339()[..10].to_string()
    }

    /// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`, or plain seconds since the epoch.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text.parse().ok().map(Timestamp);
        }
        let bytes = text.as_bytes();
        let num = |range: std::ops::Range<usize>| -> Option<u64> {
            let part = text.get(range)?;
            if part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || y < 1970 {
            return None;
        }
        let days = days_from_civil(
            i64::try_from(y).ok()?,
            u32::try_from(m).ok()?,
            u32::try_from(d).ok()?,
        );
        if days < 0 {
            return None;
        }
        let mut secs = days as u64 * 86_400;
        if bytes.len() > 10 {
            if bytes.len() != 20
                || bytes[10] != b'T'
                || bytes[13] != b':'
                || bytes[16] != b':'
                || bytes[19] != b'Z'
            {
                return None;
            }
            let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
            if h > 23 || mi > 59 || s > 59 {
                return None;
            }
            secs += h * 3600 + mi * 60 + s;
        }
        Some(Timestamp(secs))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

// Howard Hinnant's civil-date algorithms (public domain).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "Hinnant's civil_from_days: 1 <= day <= 31 and 1 <= month <= 12 for every input"
)]
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32_encode(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(26);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32_ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode_16(text: &str) -> Option<[u8; 16]> {
    if text.len() != 26 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut buffer: u32 = 0;
    let mut bits = 0;
    let mut n = 0;
    for c in text.bytes() {
        let v = BASE32_ALPHABET
            .iter()
            .position(|&a| a == c.to_ascii_lowercase())
            .and_then(|v| u32::try_from(v).ok())?;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = u8::try_from(buffer >> bits).ok()?;
            n += 1;
        }
        buffer &= (1 << bits) - 1;
    }
    // 26 * 5 = 130 bits = 128 + 2 padding bits, which must be zero (one spelling per id).
    (n == 16 && buffer == 0).then_some(out)
}

/// Lower-case hex, without a formatter call per byte (the verifier's hot path shows hashes).
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn timestamps_format_and_parse() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00Z");
        let t = Timestamp::parse("2026-03-02T10:11:12Z").expect("valid");
        assert_eq!(t.to_rfc3339(), "2026-03-02T10:11:12Z");
        assert_eq!(
            Timestamp::parse("2026-03-02"),
            Some(Timestamp(t.0 - 10 * 3600 - 11 * 60 - 12))
        );
        assert_eq!(
            Timestamp::parse("1700000000"),
            Some(Timestamp(1_700_000_000))
        );
        for bad in [
            "",
            "2026-13-01",
            "2026-03-02T25:00:00Z",
            "2026/03/02",
            "2026-03-02T10:11:12",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn base32_round_trips(bytes in any::<[u8; 16]>()) {
            let id = ItemId(bytes);
            let text = id.to_base32();
            prop_assert_eq!(text.len(), 26);
            prop_assert_eq!(ItemId::from_base32(&text), Some(id));
            prop_assert_eq!(ItemId::from_base32(&text.to_uppercase()), Some(id));
        }

        #[test]
        fn rfc3339_round_trips(secs in 0u64..8_000_000_000) {
            let t = Timestamp(secs);
            prop_assert_eq!(Timestamp::parse(&t.to_rfc3339()), Some(t));
        }
    }

    #[test]
    fn base32_rejects_nonzero_padding_bits_and_bad_chars() {
        let text = ItemId([0; 16]).to_base32();
        let mut bad = text.clone();
        bad.replace_range(25..26, "b");
        assert_eq!(ItemId::from_base32(&bad), None);
        assert_eq!(ItemId::from_base32("0000000000000000000000000a"), None);
        assert_eq!(ItemId::from_base32(&text[..25]), None);
    }
}
