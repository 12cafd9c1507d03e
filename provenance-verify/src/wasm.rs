//! The browser export (feature `wasm`): the same verification and the same JSON report as
//! `provenance-verify --json`, for the web verifier page (`provenance-verify/web/`). No rule is
//! re-implemented in JavaScript. Every function returns plain data and never panics: bad input
//! gives an `unreadable` report, an empty list or an empty string.
//!
//! It also draws QR codes (the owner challenge's nonce) with the qrcode crate's encoder. Reading
//! QR codes from camera frames is the separate, lazily loaded `scan` module (feature
//! `wasm-scan`), which keeps this one under its size budget.

use provenance_core::TrustList;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::{verify_text as report, Report};

/// Verifies `payload` (a `PV1:` string or a label URL) against the signed trust list bytes,
/// with the operator key pinned when given (base64url), at `now` (Unix seconds). Returns the
/// JSON report of `provenance-verify --json`.
#[wasm_bindgen]
pub fn verify_json(payload: &str, trust: &[u8], operator: Option<String>, now: u64) -> String {
    to_json(&report(payload, trust, operator.as_deref(), now, None))
}

/// [`verify_json`] plus the owner challenge: `nonce` is the buyer's challenge, `answer` the
/// seller's `provenance prove` output. The report's `owner_challenge` says whether it passed.
#[wasm_bindgen]
pub fn verify_with_challenge_json(
    payload: &str,
    trust: &[u8],
    operator: Option<String>,
    now: u64,
    nonce: &str,
    answer: &str,
) -> String {
    to_json(&report(
        payload,
        trust,
        operator.as_deref(),
        now,
        Some((nonce, answer)),
    ))
}

/// A label scanned online: `label` (the label URL or `PV1:` string) with `history`, the
/// full-history file its ledger answered (`GET /v1/items/{item}/export`), verified together
/// ([`crate::verify_label_online`]); the owner challenge too when `nonce` and `answer` are
/// given. The JSON report of the history, or a not-genuine one when the ledger's answer does not
/// check out.
#[wasm_bindgen]
pub fn verify_online_json(
    label: &str,
    history: &[u8],
    trust: &[u8],
    operator: Option<String>,
    now: u64,
    nonce: Option<String>,
    answer: Option<String>,
) -> String {
    let challenge = nonce.as_deref().zip(answer.as_deref());
    to_json(&crate::verify_label_online(
        label,
        history,
        trust,
        operator.as_deref(),
        now,
        challenge,
    ))
}

/// What the page shows about a trust list and what it pins: a JSON object `{operator,
/// operator_key_id, version, issued_at, entries}` (the operator key in unpadded base64url, the
/// issue time in RFC 3339) for a list whose signature verifies under the operator it names, or
/// `null`. The page remembers the operator key on first use and pins it from then on, so a later
/// list signed by anyone else is refused (`trust.operator_mismatch`).
#[wasm_bindgen]
pub fn trust_info(trust: &[u8]) -> String {
    let Ok(list) = TrustList::verify(trust, None) else {
        return "null".to_string();
    };
    let content = list.content();
    serde_json::json!({
        "operator": list.operator().to_base64url(),
        "operator_key_id": list.operator().key_id().to_string(),
        "version": content.version,
        "issued_at": content.issued_at.to_rfc3339(),
        "entries": content.entries.len(),
    })
    .to_string()
}

/// The QR code (error correction M) of `text` as its module grid: the first byte is the side
/// `n`, then `n * n` bytes, row by row, 1 for dark and 0 for light (no quiet zone). Empty when
/// the text does not fit a QR code. The page draws the owner challenge's nonce with it.
#[wasm_bindgen]
pub fn qr_modules(text: &str) -> Vec<u8> {
    let Ok(code) = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M) else {
        return Vec::new();
    };
    let Ok(side) = u8::try_from(code.width()) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(1 + code.width() * code.width());
    out.push(side);
    out.extend(
        code.to_colors()
            .into_iter()
            .map(|c| u8::from(c == qrcode::Color::Dark)),
    );
    out
}

fn to_json(report: &Report) -> String {
    serde_json::to_string(report).unwrap_or_else(|e| {
        format!("{{\"verdict\":\"unreadable\",\"code\":\"input.unreadable\",\"summary\":\"{e}\"}}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_modules_gives_the_side_then_one_byte_per_module() {
        let grid = qr_modules("K7QH-2M9X-TDPA");
        let n = usize::from(grid[0]);
        assert_eq!(n, 21, "version 1");
        assert_eq!(grid.len(), 1 + n * n);
        assert!(grid[1..].iter().all(|&m| m <= 1));
        // The finder pattern's top-left corner is dark, the module after its ring is light.
        assert_eq!((grid[1], grid[1 + 7]), (1, 0));
    }

    #[test]
    fn qr_modules_refuses_what_does_not_fit() {
        assert!(qr_modules(&"x".repeat(5000)).is_empty());
    }

    #[test]
    fn trust_info_is_null_for_a_list_that_does_not_verify() {
        assert_eq!(trust_info(b"not a trust list"), "null");
        assert_eq!(trust_info(&[]), "null");
    }
}
