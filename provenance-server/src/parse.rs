//! Parsing what people type: public keys (base64url or a key file), item ids, times.

use std::path::Path;

use provenance_core::codes;
use provenance_core::{ItemId, PublicKey, Timestamp};

use crate::client::CliError;
use crate::keyfile::read_key;

/// Parses a public key given as unpadded base64url, or as a file holding one (or a PEM
/// private key, whose public half is used).
pub fn parse_public(text: &str) -> Result<PublicKey, CliError> {
    if let Ok(key) = PublicKey::from_base64url(text) {
        return Ok(key);
    }
    let path = Path::new(text);
    if path.is_file() {
        let content = std::fs::read_to_string(path)
            .map_err(|e| CliError::io(format!("cannot read {}: {e}", path.display())))?;
        if content.contains("PRIVATE KEY") {
            return Ok(read_key(path)?.public_key());
        }
        return PublicKey::from_base64url(content.trim()).map_err(|e| {
            CliError::coded(
                format!("{}: {e}", path.display()),
                codes::DECODE_BAD_PUBLIC_KEY,
            )
        });
    }
    Err(CliError::coded(
        format!("{text:?} is neither a public key (43 characters of base64url) nor a key file"),
        codes::DECODE_BAD_PUBLIC_KEY,
    ))
}

/// Parses an item id (26 characters of base32).
pub fn parse_item(text: &str) -> Result<ItemId, CliError> {
    let trimmed = text.trim();
    ItemId::from_base32(trimmed).ok_or_else(|| {
        let base32 = |c: char| c.is_ascii_alphabetic() || ('2'..='7').contains(&c);
        let why = if trimmed.len() == 26 && trimmed.chars().all(base32) {
            "its last character sets padding bits no item id has (every id has one spelling)"
        } else {
            "an item id is 26 characters of base32 (a-z, 2-7)"
        };
        CliError::coded(
            format!("{text:?} is not an item id: {why}"),
            codes::LEDGER_BAD_REQUEST,
        )
    })
}

/// Parses a time: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` or seconds since the epoch.
pub fn parse_time(text: &str) -> Result<Timestamp, CliError> {
    Timestamp::parse(text).ok_or_else(|| {
        CliError::msg(format!(
            "{text:?} is not a time (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix seconds)"
        ))
    })
}
