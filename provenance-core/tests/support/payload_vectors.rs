//! The payload conformance vectors (`spec/vectors/payloads.json`), typed: the one loader of
//! them in Rust. The core's and the verifier's vector tests and the fuzz crate's world include
//! this file (`#[path]`), so a renamed field fails everywhere at once, with its name.

use std::path::{Path, PathBuf};

use provenance_core::{PublicKey, Timestamp};
use serde_json::Value;

/// One vector: a payload string, the trust list and operator key to check it with, `now`, and
/// the outcome the spec requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadVector {
    /// A unique name, e.g. `label`.
    pub name: String,
    /// What it exercises, for people.
    pub description: String,
    /// The `PV1:` payload string.
    pub payload: String,
    /// `genuine`, or the exact code of the first rule it breaks.
    pub expect: String,
    /// The warning codes a genuine payload carries, in order.
    pub warnings: Vec<String>,
    /// The verification time (RFC 3339).
    pub now: String,
    /// The signed trust list, hex.
    pub trust_list_hex: String,
    /// The trust list's operator key, hex.
    pub operator_public_key_hex: String,
}

impl PayloadVector {
    /// Whether the spec calls it genuine (every record verifies; warnings may apply).
    pub fn is_genuine(&self) -> bool {
        self.expect == "genuine"
    }

    /// The trust list's bytes.
    pub fn trust_list(&self) -> Vec<u8> {
        hex::decode(&self.trust_list_hex)
            .unwrap_or_else(|e| panic!("vector {}: trust_list_hex: {e}", self.name))
    }

    /// The operator key the trust list is pinned to.
    pub fn operator(&self) -> PublicKey {
        let bytes: [u8; 32] = hex::decode(&self.operator_public_key_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .unwrap_or_else(|| panic!("vector {}: operator_public_key_hex", self.name));
        PublicKey::from_bytes(&bytes)
            .unwrap_or_else(|e| panic!("vector {}: operator key: {e}", self.name))
    }

    /// `now` as a timestamp.
    pub fn now(&self) -> Timestamp {
        Timestamp::parse(&self.now).unwrap_or_else(|| panic!("vector {}: now", self.name))
    }

    fn from_json(v: &Value) -> PayloadVector {
        let name = v["name"].as_str().unwrap_or("(unnamed)").to_string();
        let text = |field: &str| -> String {
            v[field]
                .as_str()
                .unwrap_or_else(|| panic!("vector {name} lacks the string {field}"))
                .to_string()
        };
        let warnings = v["warnings"]
            .as_array()
            .unwrap_or_else(|| panic!("vector {name} lacks warnings"))
            .iter()
            .map(|w| {
                w.as_str()
                    .unwrap_or_else(|| panic!("vector {name}: a warning is not a string"))
                    .to_string()
            })
            .collect();
        PayloadVector {
            description: text("description"),
            payload: text("payload"),
            expect: text("expect"),
            warnings,
            now: text("now"),
            trust_list_hex: text("trust_list_hex"),
            operator_public_key_hex: text("operator_public_key_hex"),
            name,
        }
    }
}

/// Parses the text of `payloads.json`.
pub fn parse(text: &str) -> Vec<PayloadVector> {
    let json: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("payloads.json does not parse: {e}"));
    let vectors: Vec<PayloadVector> = json["vectors"]
        .as_array()
        .unwrap_or_else(|| panic!("payloads.json has no vectors array"))
        .iter()
        .map(PayloadVector::from_json)
        .collect();
    assert!(!vectors.is_empty(), "payloads.json holds no vectors");
    vectors
}

/// `spec/vectors/` of this checkout.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

/// Reads `spec/vectors/payloads.json`.
pub fn load() -> Vec<PayloadVector> {
    let path = vectors_dir().join("payloads.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse(&text)
}
