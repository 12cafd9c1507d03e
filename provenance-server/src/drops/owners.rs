//! Who holds what (issue 22, the studio's "My pieces"): `GET /v1/owners/{key}/items`, every
//! item whose current owner is `key`, and `GET /v1/recoveries/{digest}/items`, every item
//! whose current ownership committed to the recovery key with that digest (spec §3.1: what a
//! recovery sheet can move after a lost phone). Both are served from the fold's index
//! ([`super::stats::holdings`]) after folding what the log holds now, at most
//! [`MAX_HELD_PAGE`] items per answer with a `next` cursor (`?limit=&after=`).
//!
//! They are public, not behind `serve --stats token` (spec §15): every fact in them is in the
//! items' public histories.

use actix_web::{web, HttpRequest, HttpResponse};
use provenance_core::{codes, ItemId, KeyError, PublicKey, RecoveryDigest};

use super::stats::holdings::{Page, PageLimit, MAX_HELD_PAGE};
use super::{refreshed, Engine};
use crate::ledger::LedgerError;

/// Characters of a refused parameter echoed in the problem's detail, at most.
const ECHO: usize = 64;

/// A refused path or query parameter of the holdings routes (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// `{key}` is not 43 characters of canonical unpadded base64url (`ledger.bad_request`).
    #[error("{0:?} is not a public key (43 characters of unpadded base64url)")]
    KeySpelling(String),
    /// `{key}` is spelled right but is no usable Ed25519 key (`decode.bad_public_key`).
    #[error("{0:?} is not a valid, canonical, non-weak Ed25519 public key")]
    KeyPoint(String),
    /// `{digest}` is not 64 lower-case hex characters (`ledger.bad_request`).
    #[error("{0:?} is not a recovery digest (64 lower-case hex characters)")]
    Digest(String),
    /// `limit` is not a decimal number from 1 to 1,000 (`ledger.bad_request`).
    #[error("query parameter limit must be a number from 1 to {MAX_HELD_PAGE}, not {0:?}")]
    Limit(String),
    /// `after` is not an item id (`ledger.bad_request`).
    #[error("query parameter after must be an item id (26 characters of base32), not {0:?}")]
    After(String),
}

impl QueryError {
    /// The spec's code (both are 400).
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::KeyPoint(_) => codes::DECODE_BAD_PUBLIC_KEY,
            QueryError::KeySpelling(_)
            | QueryError::Digest(_)
            | QueryError::Limit(_)
            | QueryError::After(_) => codes::LEDGER_BAD_REQUEST,
        }
    }
}

impl From<QueryError> for LedgerError {
    fn from(e: QueryError) -> Self {
        LedgerError::coded(e.code(), e.to_string())
    }
}

/// At most [`ECHO`] characters of hostile text, for a detail.
fn echo(text: &str) -> String {
    text.chars().take(ECHO).collect()
}

/// Parses the `{key}` path parameter.
pub fn parse_key(text: &str) -> Result<PublicKey, QueryError> {
    PublicKey::from_base64url(text).map_err(|e| match e {
        KeyError::BadPoint => QueryError::KeyPoint(echo(text)),
        _ => QueryError::KeySpelling(echo(text)),
    })
}

/// Parses the `{digest}` path parameter: exactly 64 lower-case hex characters (one spelling
/// per digest, as the ledger writes them).
pub fn parse_digest(text: &str) -> Result<RecoveryDigest, QueryError> {
    let bad = || QueryError::Digest(echo(text));
    let bytes = text.as_bytes();
    if bytes.len() != 64 || !bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        *slot = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(RecoveryDigest(out))
}

/// Parses the query: `limit` (1 to [`MAX_HELD_PAGE`], default the maximum) and `after` (an
/// item id, the previous page's `next`). Other parameters are ignored.
pub fn parse_page(query: &str) -> Result<Page, QueryError> {
    let mut page = Page::default();
    for (name, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
        match name {
            "limit" => {
                let limit = (!value.is_empty()
                    && value.len() <= 4
                    && value.bytes().all(|b| b.is_ascii_digit()))
                .then(|| value.parse().ok())
                .flatten()
                .and_then(PageLimit::new);
                page.limit = limit.ok_or_else(|| QueryError::Limit(echo(value)))?;
            }
            "after" => {
                let after = ItemId::from_base32(value);
                page.after = Some(after.ok_or_else(|| QueryError::After(echo(value)))?);
            }
            _ => {}
        }
    }
    Ok(page)
}

fn path_param<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.match_info().get(name).unwrap_or("")
}

/// `GET /v1/owners/{key}/items`: [`crate::api::OwnedItems`].
pub async fn owned_items(
    req: HttpRequest,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, LedgerError> {
    let key = parse_key(path_param(&req, "key"))?;
    let page = parse_page(req.query_string())?;
    refreshed(&engine)?;
    let answer = engine.read(|s| s.owned_by(&key, page));
    Ok(HttpResponse::Ok().json(answer))
}

/// `GET /v1/recoveries/{digest}/items`: [`crate::api::CommittedItems`].
pub async fn committed_items(
    req: HttpRequest,
    engine: web::Data<Engine>,
) -> Result<HttpResponse, LedgerError> {
    let digest = parse_digest(path_param(&req, "digest"))?;
    let page = parse_page(req.query_string())?;
    refreshed(&engine)?;
    let answer = engine.read(|s| s.committed_to(&digest, page));
    Ok(HttpResponse::Ok().json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use provenance_core::SigningKey;

    #[test]
    fn keys_are_parsed_at_the_edge_with_their_own_codes() {
        let key = SigningKey::from_seed([4; 32]).public_key();
        assert_eq!(parse_key(&key.to_base64url()), Ok(key));
        for bad in ["", "abc", &"A".repeat(44), &"é".repeat(43), "%00"] {
            let e = parse_key(bad).unwrap_err();
            assert_eq!(e.code(), codes::LEDGER_BAD_REQUEST, "{bad:?}");
        }
        // 32 zero bytes: spelled right, a point of small order.
        let weak = parse_key(&"A".repeat(43)).unwrap_err();
        assert_eq!(weak.code(), codes::DECODE_BAD_PUBLIC_KEY);
        // A long hostile parameter is not echoed whole.
        let long = "x".repeat(10_000);
        let detail = LedgerError::from(parse_key(&long).unwrap_err()).detail;
        assert!(detail.len() < 200, "{detail}");
    }

    #[test]
    fn digests_are_64_lower_case_hex() {
        let d = RecoveryDigest::of(&SigningKey::from_seed([5; 32]).public_key());
        assert_eq!(parse_digest(&d.to_string()), Ok(d));
        let upper = d.to_string().to_uppercase();
        for bad in [
            "",
            &upper,
            &d.to_string()[..63],
            &format!("{d}0"),
            &format!("+{}", &d.to_string()[1..]),
            &"é".repeat(32),
        ] {
            assert!(
                matches!(parse_digest(bad), Err(QueryError::Digest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_query_names_a_limit_and_a_cursor() {
        assert_eq!(parse_page(""), Ok(Page::default()));
        let item = ItemId([7; 16]);
        let page = parse_page(&format!("limit=2&after={}&x=y", item.to_base32())).unwrap();
        assert_eq!((page.after, page.limit.get()), (Some(item), 2));
        for bad in [
            "limit=0",
            "limit=1001",
            "limit=",
            "limit=-1",
            "limit=99999999999999999999999",
            "limit=1e3",
        ] {
            assert!(
                matches!(parse_page(bad), Err(QueryError::Limit(_))),
                "{bad}"
            );
        }
        assert!(matches!(parse_page("after=zz"), Err(QueryError::After(_))));
    }
}
