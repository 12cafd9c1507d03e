//! Checked conversions between stored columns and the store's values, shared by both backends
//! (SQLite and PostgreSQL): fixed-size blobs, keys, integers (an error, never a silent 0), the
//! 20-digit text that sorts as a u64, and the clock.

use std::time::{SystemTime, UNIX_EPOCH};

use provenance_core::PublicKey;

use crate::store::StoreError;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

/// A stored byte string as a fixed-size array.
pub(crate) fn blob<const N: usize>(v: Vec<u8>, what: &'static str) -> Result<[u8; N], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt(what))
}

/// A stored public key.
pub(crate) fn key(v: Vec<u8>) -> Result<PublicKey, StoreError> {
    PublicKey::from_bytes(&blob::<32>(v, "public key")?)
        .map_err(|_| StoreError::Corrupt("public key"))
}

/// A stored integer as the unsigned value it was written from; a negative one is corruption,
/// never a silent 0.
pub(crate) fn u(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("a negative stored integer"))
}

/// An unsigned value for an integer column. Every value written through it is bounded by the
/// rules before it gets here (times by the clock, seq by the history limit, editions by the
/// run size limit, log indexes by the log), so an error is an invariant broken, not input.
pub(crate) fn to_int(v: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange(what))
}

/// A u64 as 20-digit zero-padded decimal text, which sorts as the number (trust versions).
pub(crate) fn u64_text(v: u64) -> String {
    format!("{v:020}")
}

/// The u64 a 20-digit stored text spells.
pub(crate) fn u64_from_text(v: &str) -> Result<u64, StoreError> {
    match v.parse() {
        Ok(n) if v.len() == 20 => Ok(n),
        _ => Err(StoreError::Corrupt("a stored 20-digit number")),
    }
}
