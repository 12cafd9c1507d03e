//! The web verifier's exports (features `wasm`, `wasm-scan`), run natively:
//! `cargo test -p provenance-verify --features wasm,wasm-scan --test web_exports`.
//! The wasm build itself is compared with the native `--json` output by
//! `provenance-verify/web/tests/vectors.test.mjs`.
#![cfg(all(feature = "wasm", feature = "wasm-scan"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::*;
use provenance_core::challenge;
use provenance_verify::wasm::{qr_modules, trust_info, verify_json, verify_with_challenge_json};
use provenance_verify::{scan::decode_qr, verify_text};

#[test]
fn verify_json_is_the_json_of_verify_text_with_the_trust_anchor() {
    let op = operator().public_key().to_base64url();
    for payload in [
        label(),
        history().encode_confirmed(),
        "PV1:nonsense".to_string(),
    ] {
        let expected = serde_json::to_string(&verify_text(
            &payload,
            &trust_bytes(),
            Some(&op),
            now().0,
            None,
        ))
        .unwrap();
        let got = verify_json(&payload, &trust_bytes(), Some(op.clone()), now().0);
        assert_eq!(got, expected);
        let json: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(json["trust_anchor"]["pinned"], true);
    }
    // Not pinned: the anchor says so. Pinned to someone else: refused.
    let json: serde_json::Value =
        serde_json::from_str(&verify_json(&label(), &trust_bytes(), None, now().0)).unwrap();
    assert_eq!(json["trust_anchor"]["pinned"], false);
    let other = stranger().public_key().to_base64url();
    let json: serde_json::Value =
        serde_json::from_str(&verify_json(&label(), &trust_bytes(), Some(other), now().0)).unwrap();
    assert_eq!(json["verdict"], "unreadable");
    assert_eq!(json["code"], "trust.operator_mismatch");
    let json: serde_json::Value = serde_json::from_str(&verify_json(
        &label(),
        &trust_bytes(),
        Some("not a key".into()),
        now().0,
    ))
    .unwrap();
    assert_eq!(json["verdict"], "unreadable");
}

#[test]
fn the_owner_challenge_passes_for_the_owner_only() {
    let payload = history().encode_confirmed();
    let nonce = "K7QH-2M9X-TDPA";
    let check = |answer: &str| -> serde_json::Value {
        let json =
            verify_with_challenge_json(&payload, &trust_bytes(), None, now().0, nonce, answer);
        serde_json::from_str(&json).unwrap()
    };
    let owner = challenge::prove(&owner2(), &history().item, nonce.as_bytes()).unwrap();
    let json = check(&owner);
    assert_eq!(json["owner_challenge"]["passed"], true);
    assert_eq!(json["exit_code"], 0);
    let previous = challenge::prove(&owner1(), &history().item, nonce.as_bytes()).unwrap();
    let json = check(&previous);
    assert_eq!(json["owner_challenge"]["passed"], false);
    assert_eq!(json["owner_challenge"]["code"], "proof.invalid");
    assert_eq!(json["exit_code"], 4);
    assert_eq!(
        check("garbage")["owner_challenge"]["code"],
        "proof.malformed"
    );
}

#[test]
fn trust_info_names_the_operator_the_page_pins() {
    let json: serde_json::Value = serde_json::from_str(&trust_info(&trust_bytes())).unwrap();
    assert_eq!(json["operator"], operator().public_key().to_base64url());
    assert_eq!(
        json["operator_key_id"],
        operator().public_key().key_id().to_string()
    );
    assert_eq!(json["version"], 1);
    assert!(json["issued_at"].as_str().unwrap().ends_with('Z'));
    let mut tampered = trust_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(trust_info(&tampered), "null");
}

#[test]
fn a_label_url_drawn_with_qr_modules_is_read_back_as_its_payload() {
    let url = format!(
        "https://ledger.example/v#{}",
        label().replace('%', "%25").replace(' ', "%20")
    );
    let grid = qr_modules(&url);
    let n = usize::from(grid[0]);
    let side = (n + 8) * 3;
    let mut luma = vec![255u8; side * side];
    for (i, &dark) in grid[1..].iter().enumerate() {
        let (mx, my) = (i % n + 4, i / n + 4);
        for dy in 0..3 {
            for dx in 0..3 {
                if dark == 1 {
                    luma[(my * 3 + dy) * side + mx * 3 + dx] = 0;
                }
            }
        }
    }
    let side = u32::try_from(side).unwrap();
    let texts: Vec<String> = serde_json::from_str(&decode_qr(side, side, &luma)).unwrap();
    assert_eq!(texts, vec![label()]);
}

#[test]
fn verify_online_json_is_the_json_of_verify_label_online() {
    let op = operator().public_key().to_base64url();
    let chain = history();
    let export = chain.confirmed().to_cbor();
    let answer = challenge::prove(&owner2(), &chain.item, b"n-1").unwrap();
    for (history, challenge) in [
        (export.clone(), None),
        (export, Some(("n-1", answer.as_str()))),
        (b"junk".to_vec(), None),
    ] {
        let expected = serde_json::to_string(&provenance_verify::verify_label_online(
            &label(),
            &history,
            &trust_bytes(),
            Some(&op),
            now().0,
            challenge,
        ))
        .unwrap();
        let got = provenance_verify::wasm::verify_online_json(
            &label(),
            &history,
            &trust_bytes(),
            Some(op.clone()),
            now().0,
            challenge.map(|c| c.0.to_string()),
            challenge.map(|c| c.1.to_string()),
        );
        assert_eq!(got, expected);
    }
}
