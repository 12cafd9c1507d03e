//! The browser export (feature `wasm`): the same verification and the same JSON report as
//! `provenance-verify --json`, for the web verifier page. No rule is re-implemented in
//! JavaScript. Every function returns the report as a JSON string and never panics: bad input
//! gives an `unreadable` report.

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

fn to_json(report: &Report) -> String {
    serde_json::to_string(report).unwrap_or_else(|e| {
        format!("{{\"verdict\":\"unreadable\",\"code\":\"input.unreadable\",\"summary\":\"{e}\"}}")
    })
}
