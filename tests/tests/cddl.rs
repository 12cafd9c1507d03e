//! Issue 16.1: what a real ledger serves for a fresh item (only its mint) matches
//! spec/provenance.cddl: the head statement (seq 0), the living payload and the export.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use ciborium::Value;
use common::{get, Server};

fn spec_cddl() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spec/provenance.cddl"
    ))
    .unwrap()
}

/// Validates `cbor` against `rule` of the spec's CDDL.
fn validate(rule: &str, cbor: &[u8]) -> Result<(), String> {
    let doc = format!("root = {rule}\n{}", spec_cddl());
    cddl::validate_cbor_from_slice(&doc, cbor, None).map_err(|e| format!("{rule}: {e}"))
}

/// A COSE_Sign1 layer by layer (the cddl crate cannot follow `.cbor` inside arrays).
fn validate_sign1(bytes: &[u8], payload_rule: &str) -> Result<(), String> {
    validate("sign1-shape", bytes)?;
    let Value::Tag(18, inner) = ciborium::de::from_reader(bytes).unwrap() else {
        return Err("not tag 18".into());
    };
    let Value::Array(fields) = *inner else {
        return Err("not an array".into());
    };
    let (Value::Bytes(protected), Value::Bytes(payload)) = (&fields[0], &fields[2]) else {
        return Err("protected or payload not a byte string".into());
    };
    validate("protected-header", protected)?;
    validate(payload_rule, payload)
}

/// A history container: its shape, every record, and the head statement.
fn validate_history(bytes: &[u8]) -> Result<(), String> {
    validate("history-container-shape", bytes)?;
    let Value::Map(entries) = ciborium::de::from_reader(bytes).unwrap() else {
        return Err("not a map".into());
    };
    for (k, v) in entries {
        match (k.as_integer().map(i128::from), v) {
            (Some(1), Value::Array(records)) => {
                for r in records {
                    let Value::Bytes(r) = r else {
                        return Err("record not a byte string".into());
                    };
                    validate_sign1(&r, "record-payload")?;
                }
            }
            (Some(2), Value::Bytes(run)) => validate_sign1(&run, "record-payload")?,
            (Some(3), Value::Bytes(head)) => validate_sign1(&head, "head-statement-payload")?,
            (Some(4), _) => {}
            (key, _) => return Err(format!("unexpected container key {key:?}")),
        }
    }
    Ok(())
}

#[test]
fn a_fresh_items_head_payload_and_export_match_the_cddl() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    server.parties(&[("maker", "maker")]);
    let run = server.run_of("maker", "T", 1);
    let item = server.mint_of("maker", &run, 1).remove(0);

    let (status, head) = get(
        &format!("{}/v1/items/{item}/head", server.url),
        "application/cose",
    );
    assert_eq!(status, 200);
    validate_sign1(&head, "head-statement-payload").unwrap();

    let payload = server.ok(&["payload", &item]);
    let cbor =
        provenance_core::base45::decode(payload.trim().strip_prefix("PV1:").unwrap()).unwrap();
    validate_history(&cbor).unwrap();

    let (status, export) = get(
        &format!("{}/v1/items/{item}/export", server.url),
        "application/cbor",
    );
    assert_eq!(status, 200);
    validate_history(&export).unwrap();

    // The rule still bites: a record's seq (≥ 1) is not a head statement's seq (≥ 0).
    let doc = format!("root = seq\n{}", spec_cddl());
    assert!(cddl::validate_cbor_from_slice(&doc, &[0x00], None).is_err());
}
