//! Checked conversions between stored columns and the store's values.

use std::time::{SystemTime, UNIX_EPOCH};

use provenance_core::PublicKey;

use crate::store::StoreError;

/// A stored byte string as a fixed-size array.
pub(super) fn blob<const N: usize>(v: Vec<u8>, what: &'static str) -> Result<[u8; N], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt(what))
}

/// A stored public key.
pub(super) fn key(v: Vec<u8>) -> Result<PublicKey, StoreError> {
    PublicKey::from_bytes(&blob::<32>(v, "public key")?)
        .map_err(|_| StoreError::Corrupt("public key"))
}

/// A stored bigint as the unsigned value it was written from.
pub(super) fn u(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("a negative stored integer"))
}

/// An unsigned value for a bigint column (bounded by the rules before it gets here).
pub(super) fn int(v: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange(what))
}

/// A u64 as the 20-digit zero-padded text that sorts as the number.
pub(super) fn u64_text(v: u64) -> String {
    format!("{v:020}")
}

/// The u64 a 20-digit stored text spells.
pub(super) fn u64_from_text(v: &str) -> Result<u64, StoreError> {
    match v.parse() {
        Ok(n) if v.len() == 20 => Ok(n),
        _ => Err(StoreError::Corrupt("a stored 20-digit number")),
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}
