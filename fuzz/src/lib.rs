//! Shared world for the fuzz targets: the conformance-vector world of `spec/vectors/` (its
//! trust list, its chain of records, its fixed-seed keys, its `now`) and a tiny COSE_Sign1
//! signer, so that targets can sign fuzzer-chosen payloads and reach the rules behind the
//! signature check.
//!
//! The vectors are compiled in (`include_str!`), so a target always fuzzes against the vectors
//! in the tree. The keys are those of `provenance-core/tests/vectors.rs` (`[seed; 32]`).
#![forbid(unsafe_code)]

#[path = "targets.rs"]
pub mod targets;

/// The typed loader of `payloads.json`, shared with the core's and the verifier's tests.
#[path = "../../provenance-core/tests/support/payload_vectors.rs"]
#[allow(dead_code)]
mod payload_vectors;

use std::sync::OnceLock;

use ed25519_dalek::Signer as _;
use provenance_core::{
    ChainLink, ItemId, PublicKey, RecordHash, SigningKey, Timestamp, TrustList, VerifiedChain,
};

const PAYLOADS_JSON: &str = include_str!("../../spec/vectors/payloads.json");
const RECORDS_JSON: &str = include_str!("../../spec/vectors/records.json");

/// The external_aad of trust lists (spec §2).
pub const TRUST_AAD: &[u8] = b"provenance/v1 trust-list";
/// The external_aad of head statements (spec §14.1).
pub const HEAD_AAD: &[u8] = b"provenance/v1 head-statement";

/// Seeds of the vector world's keys (`SigningKey::from_seed([seed; 32])`).
pub mod seed {
    /// The trust-list operator.
    pub const OPERATOR: u8 = 1;
    /// The maker (runs, mints, void).
    pub const MAKER: u8 = 2;
    /// The repair desk.
    pub const DESK: u8 = 3;
    /// The event host.
    pub const HOST: u8 = 4;
    /// The buyer (first transferee).
    pub const BUYER: u8 = 5;
    /// A key in no role.
    pub const STRANGER: u8 = 7;
    /// The ledger key (head statements, checkpoints).
    pub const LEDGER: u8 = 9;
    /// Every seed a target may pick from.
    pub const ALL: [u8; 7] = [OPERATOR, MAKER, DESK, HOST, BUYER, STRANGER, LEDGER];
}

/// The vector world, built once per process.
pub struct World {
    /// The vectors' trust list bytes (operator-signed, names the ledger key).
    pub trust_bytes: Vec<u8>,
    /// The verified trust list.
    pub trust: TrustList,
    /// The same operator's list without a ledger key (for `head.no_ledger_key`).
    pub trust_no_ledger: TrustList,
    /// `now` of the payload vectors.
    pub now: Timestamp,
    /// The run manifest of `records.json`.
    pub run: Vec<u8>,
    /// The item chain of `records.json`: mint first, then every later record.
    pub chain: Vec<Vec<u8>>,
    /// The verified chain after each prefix: `prefixes[k]` holds records `0..=k`.
    pub prefixes: Vec<VerifiedChain>,
    /// Every payload string of `payloads.json` (valid and invalid).
    pub payloads: Vec<String>,
}

fn hex_field(v: &serde_json::Value, field: &str) -> Vec<u8> {
    let text = v[field].as_str().unwrap_or_default();
    hex::decode(text).unwrap_or_default()
}

/// The world (panics only if the compiled-in vectors are broken).
pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let records: serde_json::Value =
            serde_json::from_str(RECORDS_JSON).expect("records.json parses");
        let vectors = payload_vectors::parse(PAYLOADS_JSON);
        let label = vectors
            .iter()
            .find(|v| v.name == "label")
            .expect("the label vector");
        let trust_bytes = label.trust_list();
        let operator = key(seed::OPERATOR).public_key();
        let trust = TrustList::verify(&trust_bytes, Some(&operator)).expect("vector trust list");
        let mut content = trust.content().clone();
        content.ledger = None;
        let trust_no_ledger = TrustList::verify(&content.sign(&key(seed::OPERATOR)), None)
            .expect("trust list without ledger key");
        let now = label.now();
        let all: Vec<Vec<u8>> = records["records"]
            .as_array()
            .expect("record vectors")
            .iter()
            .map(|r| hex_field(r, "cose_hex"))
            .collect();
        let run = all[0].clone();
        let chain = all[1..].to_vec();
        let mut prefixes = Vec::new();
        let (mut verified, _) =
            VerifiedChain::start(&chain[0], &trust, now).expect("vector mint verifies");
        prefixes.push(verified.clone());
        for record in &chain[1..] {
            verified
                .extend(record, &trust, now)
                .expect("vector record verifies");
            prefixes.push(verified.clone());
        }
        World {
            trust_bytes,
            trust,
            trust_no_ledger,
            now,
            run,
            chain,
            prefixes,
            payloads: vectors.into_iter().map(|v| v.payload).collect(),
        }
    })
}

/// The vector world's key with this seed.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed([seed; 32])
}

/// The link a record extending `chain` is signed for.
pub fn link_after(chain: &VerifiedChain) -> ChainLink {
    ChainLink {
        item: chain.item(),
        prev: chain.head(),
    }
}

/// The 32-byte public key of a seed, as a [`PublicKey`].
pub fn public(seed: u8) -> PublicKey {
    key(seed).public_key()
}

/// The item id of the vector chain.
pub fn vector_item() -> ItemId {
    world().prefixes[0].item()
}

/// The hash of a record's bytes.
pub fn hash(bytes: &[u8]) -> RecordHash {
    RecordHash::of(bytes)
}

fn cbor_head(major: u8, len: usize, out: &mut Vec<u8>) {
    let m = major << 5;
    let len = len as u64;
    if len < 24 {
        out.push(m | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[m | 24, len as u8]);
    } else if len <= 0xffff {
        out.push(m | 25);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else if len <= 0xffff_ffff {
        out.push(m | 26);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

fn bstr(bytes: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, bytes.len(), out);
    out.extend_from_slice(bytes);
}

/// The profiled protected header `{1: -19, 4: kid}` for a key id (spec §2).
pub fn protected(kid: &[u8; 8]) -> Vec<u8> {
    let mut p = vec![0xa2, 0x01, 0x32, 0x04, 0x48];
    p.extend_from_slice(kid);
    p
}

/// The canonical tagged COSE_Sign1 bytes of a profiled envelope (spec §2), written out by
/// hand so that the targets check the library's encoder against an independent one.
pub fn cose_bytes(kid: &[u8; 8], payload: &[u8], signature: &[u8; 64]) -> Vec<u8> {
    let mut out = vec![0xd2, 0x84];
    bstr(&protected(kid), &mut out);
    out.push(0xa0);
    bstr(payload, &mut out);
    bstr(signature, &mut out);
    out
}

/// Signs arbitrary `payload` bytes as a profiled COSE_Sign1 with the key of `seed`, binding
/// `external_aad` (RFC 9052 §4.4 Sig_structure, written out by hand).
pub fn sign_cose(seed: u8, payload: &[u8], external_aad: &[u8]) -> Vec<u8> {
    let dalek = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let kid = key(seed).public_key().key_id().0;
    let mut tbs = vec![0x84, 0x6a];
    tbs.extend_from_slice(b"Signature1");
    bstr(&protected(&kid), &mut tbs);
    bstr(external_aad, &mut tbs);
    bstr(payload, &mut tbs);
    let signature = dalek.sign(&tbs).to_bytes();
    cose_bytes(&kid, payload, &signature)
}

/// Picks the signer seed from a selector byte.
pub fn signer(selector: u8) -> u8 {
    seed::ALL[usize::from(selector) % seed::ALL.len()]
}
