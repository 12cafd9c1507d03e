//! `spec/provenance.cddl` validates the CBOR of every valid vector, and refuses broken shapes.
#![allow(
    clippy::unwrap_used,
    missing_docs,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use serde_json::Value as Json;

#[path = "support/payload_vectors.rs"]
#[allow(dead_code)]
mod payload_vectors;

fn spec_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec")
}

/// Validates `cbor` against `rule` of the spec's CDDL (the validator checks the first rule).
fn validate(rule: &str, cbor: &[u8]) -> Result<(), String> {
    let cddl = std::fs::read_to_string(spec_dir().join("provenance.cddl")).unwrap();
    let doc = format!("root = {rule}\n{cddl}");
    cddl::validate_cbor_from_slice(&doc, cbor, None).map_err(|e| e.to_string())
}

/// Validates a COSE_Sign1 layer by layer: envelope shape, protected header, payload.
fn validate_sign1(bytes: &[u8], payload_rule: &str) -> Result<(), String> {
    validate("sign1-shape", bytes)?;
    let value: ciborium::Value = ciborium::de::from_reader(bytes).unwrap();
    let ciborium::Value::Tag(18, inner) = value else {
        return Err("not tag 18".into());
    };
    let ciborium::Value::Array(fields) = *inner else {
        return Err("not an array".into());
    };
    let (ciborium::Value::Bytes(protected), ciborium::Value::Bytes(payload)) =
        (&fields[0], &fields[2])
    else {
        return Err("protected or payload not a byte string".into());
    };
    validate("protected-header", protected)?;
    validate(payload_rule, payload)
}

/// Validates a payload item: a label (record-sign1) or a history container and its records.
fn validate_payload_item(bytes: &[u8]) -> Result<(), String> {
    if bytes.first() == Some(&0xd2) {
        return validate_sign1(bytes, "record-payload");
    }
    validate("history-container-shape", bytes)?;
    let value: ciborium::Value = ciborium::de::from_reader(bytes).unwrap();
    let ciborium::Value::Map(entries) = value else {
        return Err("not a map".into());
    };
    for (k, v) in entries {
        let records = match (k.as_integer().map(i128::from), v) {
            (Some(1), ciborium::Value::Array(items)) => items,
            (Some(3), ciborium::Value::Bytes(head)) => {
                validate_sign1(&head, "head-statement-payload")?;
                continue;
            }
            // The anchor is validated whole by the shape rule.
            (Some(4), _) => continue,
            (_, single) => vec![single],
        };
        for r in records {
            let ciborium::Value::Bytes(r) = r else {
                return Err("record not a byte string".into());
            };
            validate_sign1(&r, "record-payload")?;
        }
    }
    Ok(())
}

fn load(name: &str) -> Json {
    serde_json::from_str(&std::fs::read_to_string(spec_dir().join("vectors").join(name)).unwrap())
        .unwrap()
}

#[test]
fn every_valid_record_vector_matches_the_cddl() {
    for r in load("records.json")["records"].as_array().unwrap() {
        let bytes = hex::decode(r["cose_hex"].as_str().unwrap()).unwrap();
        validate_sign1(&bytes, "record-payload").unwrap_or_else(|e| panic!("{}: {e}", r["name"]));
    }
}

#[test]
fn every_genuine_payload_and_its_trust_list_match_the_cddl() {
    let vectors = payload_vectors::load();
    let mut checked = 0;
    for v in vectors.iter().filter(|v| v.is_genuine()) {
        let cbor =
            provenance_core::base45::decode(v.payload.strip_prefix("PV1:").unwrap()).unwrap();
        validate_payload_item(&cbor).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        validate_sign1(&v.trust_list(), "trust-list-payload")
            .unwrap_or_else(|e| panic!("{} trust list: {e}", v.name));
        checked += 1;
    }
    assert!(checked >= 5);
    // Among them the fresh item's head statement, whose seq is 0 (issue 16.1).
    let fresh: Vec<&str> = vectors
        .iter()
        .map(|v| v.name.as_str())
        .filter(|n| n.ends_with("fresh-item"))
        .collect();
    assert_eq!(fresh, ["living-fresh-item", "anchored-fresh-item"]);
}

#[test]
fn the_cddl_refuses_wrong_shapes() {
    // A detached payload, an alg -8 header and a container without records.
    let vectors = payload_vectors::load();
    let find = |name: &str| {
        let v = vectors.iter().find(|v| v.name == name).unwrap();
        provenance_core::base45::decode(v.payload.strip_prefix("PV1:").unwrap()).unwrap()
    };
    assert!(validate_payload_item(&find("record-detached")).is_err());
    assert!(
        validate_payload_item(&find("edition-over-cap")).is_ok(),
        "rules beyond shape are the verifier's"
    );
    assert!(validate_payload_item(&find("container-empty-records")).is_err());
    assert!(validate_payload_item(&find("record-alg-eddsa")).is_err());
}
