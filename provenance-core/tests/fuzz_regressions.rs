//! Fuzz regressions in the normal suite: every input under `fuzz/regressions/<target>/` (each a
//! crash or invariant failure the fuzzer once found, see `fuzz/README.md`) and every committed
//! seed under `fuzz/seeds/<target>/` goes through the same decoders and invariants as the
//! cargo-fuzz target of that name (`fuzz/fuzz_targets/<target>.rs`), without the nightly
//! toolchain: nothing panics, and whatever is accepted re-encodes to exactly its bytes.
//! (`http_append` drives provenance-server and is not replayed here.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ed25519_dalek::Signer as _;
use provenance_core::checkpoint::Checkpoint;
use provenance_core::head::{HeadError, HeadStatement};
use provenance_core::limits::{MAX_HISTORY_BYTES, MAX_RECORD_BYTES};
use provenance_core::log::{verify_consistency, verify_inclusion, TreeHash};
use provenance_core::{
    ChainLink, DecodedRecord, Payload, Record, SigningKey, Timestamp, TrustList, VerifiedChain,
};

const OPERATOR: u8 = 1;
const LEDGER: u8 = 9;
/// `provenance_fuzz::seed::ALL`: the selector byte of the signing modes picks from these.
const SEEDS: [u8; 7] = [1, 2, 3, 4, 5, 7, 9];

struct World {
    trust: TrustList,
    trust_no_ledger: TrustList,
    now: Timestamp,
    prefixes: Vec<VerifiedChain>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed([seed; 32])
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let read = |name: &str| -> serde_json::Value {
            let text = std::fs::read_to_string(root().join("spec/vectors").join(name)).unwrap();
            serde_json::from_str(&text).unwrap()
        };
        let payloads = read("payloads.json");
        let label = payloads["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "label")
            .unwrap();
        let trust_bytes = hex::decode(label["trust_list_hex"].as_str().unwrap()).unwrap();
        let trust = TrustList::verify(&trust_bytes, Some(&key(OPERATOR).public_key())).unwrap();
        let mut content = trust.content().clone();
        content.ledger = None;
        let trust_no_ledger = TrustList::verify(&content.sign(&key(OPERATOR)), None).unwrap();
        let now = Timestamp::parse(label["now"].as_str().unwrap()).unwrap();
        let records: Vec<Vec<u8>> = read("records.json")["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| hex::decode(r["cose_hex"].as_str().unwrap()).unwrap())
            .collect();
        let (mut chain, _) = VerifiedChain::start(&records[1], &trust, now).unwrap();
        let mut prefixes = vec![chain.clone()];
        for r in &records[2..] {
            chain.extend(r, &trust, now).unwrap();
            prefixes.push(chain.clone());
        }
        World {
            trust,
            trust_no_ledger,
            now,
            prefixes,
        }
    })
}

fn bstr(bytes: &[u8], out: &mut Vec<u8>) {
    let n = bytes.len();
    match n {
        0..=23 => out.push(0x40 | n as u8),
        24..=0xff => out.extend_from_slice(&[0x58, n as u8]),
        0x100..=0xffff => {
            out.push(0x59);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(0x5a);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(bytes);
}

fn protected(kid: &[u8; 8]) -> Vec<u8> {
    let mut p = vec![0xa2, 0x01, 0x32, 0x04, 0x48];
    p.extend_from_slice(kid);
    p
}

/// The profiled COSE_Sign1 bytes, encoded independently of the library.
fn cose_bytes(kid: &[u8; 8], payload: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut out = vec![0xd2, 0x84];
    bstr(&protected(kid), &mut out);
    out.push(0xa0);
    bstr(payload, &mut out);
    bstr(signature, &mut out);
    out
}

fn sign_cose(seed: u8, payload: &[u8], aad: &[u8]) -> Vec<u8> {
    let kid = key(seed).public_key().key_id().0;
    let mut tbs = vec![0x84, 0x6a];
    tbs.extend_from_slice(b"Signature1");
    bstr(&protected(&kid), &mut tbs);
    bstr(aad, &mut tbs);
    bstr(payload, &mut tbs);
    let signature = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).sign(&tbs);
    cose_bytes(&kid, payload, &signature.to_bytes())
}

fn payload(data: &[u8]) {
    let w = world();
    let check = |p: &Payload| {
        let _ = p.verify(&w.trust, w.now);
        let _ = p.verify(&w.trust_no_ledger, w.now);
    };
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = Payload::decode(text) {
            assert_eq!(p.encode(), text.trim());
            check(&p);
        }
    }
    if let Ok(p) = Payload::from_cbor(data, MAX_HISTORY_BYTES) {
        assert_eq!(p.to_cbor(), data);
        check(&p);
    }
}

fn record(data: &[u8]) {
    let w = world();
    if let Ok(decoded) = DecodedRecord::decode(data) {
        let sig = &data[data.len() - 64..];
        assert_eq!(
            cose_bytes(&decoded.signer.0, &decoded.record.to_payload(), sig),
            data
        );
        for prefix in &w.prefixes {
            let _ = prefix.clone().extend(data, &w.trust, w.now);
        }
        let _ = VerifiedChain::start(data, &w.trust, w.now);
    }
    if let Ok(r) = Record::from_payload(data) {
        assert_eq!(r.to_payload(), data);
    }
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let seed = SEEDS[usize::from(selector) % SEEDS.len()];
    let position = usize::from(selector / 7) % (w.prefixes.len() + 1);
    let link = position.checked_sub(1).map(|k| ChainLink {
        item: w.prefixes[k].item(),
        prev: w.prefixes[k].head(),
    });
    let aad = link
        .as_ref()
        .map(|l| l.external_aad().to_vec())
        .unwrap_or_default();
    let bytes = sign_cose(seed, body, &aad);
    let parsed = Record::from_payload(body);
    match DecodedRecord::decode(&bytes) {
        Ok(decoded) => {
            assert_eq!(Ok(&decoded.record), parsed.as_ref());
            assert_eq!(decoded.record.sign(&key(seed), link.as_ref()), bytes);
        }
        Err(_) => assert!(parsed.is_err() || bytes.len() > MAX_RECORD_BYTES),
    }
    match position {
        0 => drop(VerifiedChain::start(&bytes, &w.trust, w.now)),
        k => drop(w.prefixes[k - 1].clone().extend(&bytes, &w.trust, w.now)),
    }
}

fn trust_list(data: &[u8]) {
    let operator = key(OPERATOR).public_key();
    for bytes in [
        data.to_vec(),
        sign_cose(OPERATOR, data, b"provenance/v1 trust-list"),
    ] {
        if let Ok(list) = TrustList::verify(&bytes, Some(&operator)) {
            assert_eq!(list.content().sign(&key(OPERATOR)), bytes);
        }
        if let Ok(list) = TrustList::verify(&bytes, None) {
            if let Some(s) = SEEDS
                .iter()
                .find(|s| key(**s).public_key() == *list.operator())
            {
                assert_eq!(list.content().sign(&key(*s)), bytes);
            }
        }
    }
}

fn head(data: &[u8]) {
    let w = world();
    for bytes in [
        data.to_vec(),
        sign_cose(LEDGER, data, b"provenance/v1 head-statement"),
    ] {
        if let Ok(statement) = HeadStatement::verify(&bytes, &w.trust, w.now) {
            assert_eq!(statement.sign(&key(LEDGER)), bytes);
            assert!(matches!(
                HeadStatement::verify(&bytes, &w.trust_no_ledger, w.now),
                Err(HeadError::NoLedgerKey)
            ));
            for chain in &w.prefixes {
                let _ = statement.check_against(chain);
            }
        }
    }
}

/// Fixed-size fields off the front of the input, zero-padded (as in the fuzz target).
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }
    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        let got = self.take(8);
        b[..got.len()].copy_from_slice(got);
        u64::from_be_bytes(b)
    }
    fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }
    fn hash(&mut self) -> Vec<u8> {
        let n = usize::from(self.u8()) % 41;
        self.take(n).to_vec()
    }
}

fn check_note(note: &str) {
    let ledger = key(LEDGER).public_key();
    let accepted = [
        Checkpoint::verify_own_origin(note, &ledger).map(|cp| (cp.origin.clone(), cp)),
        Checkpoint::verify(note, "fuzz.example/log", &ledger, Some("fuzz.example/log"))
            .map(|cp| ("fuzz.example/log".to_string(), cp)),
    ];
    for (name, cp) in accepted.into_iter().flatten() {
        let body = cp.body();
        let sigs = note.strip_prefix(&format!("{body}\n")).unwrap();
        let signed = cp.sign(&key(LEDGER), &name).unwrap();
        let line = signed[body.len() + 1..].trim_end_matches('\n');
        assert!(sigs.split('\n').any(|l| l == line));
    }
}

fn checkpoint(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Ok(note) = std::str::from_utf8(rest) {
                check_note(note);
            }
        }
        1 => {
            let (origin, rest) = match rest.iter().position(|b| *b == 0) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            let Ok(origin) = std::str::from_utf8(origin) else {
                return;
            };
            let mut r = Reader(rest);
            let size = r.u64();
            let mut root = [0u8; 32];
            let got = r.take(32);
            root[..got.len()].copy_from_slice(got);
            let cp = Checkpoint {
                origin: origin.to_string(),
                size,
                root: TreeHash(root),
            };
            let Some(note) = cp.sign(&key(LEDGER), origin) else {
                return;
            };
            if note.len() <= provenance_core::checkpoint::MAX_CHECKPOINT_BYTES {
                let got = Checkpoint::verify_own_origin(&note, &key(LEDGER).public_key());
                assert_eq!(got.as_ref(), Ok(&cp));
            }
            if let Ok(extra) = std::str::from_utf8(r.0) {
                check_note(&format!("{note}{extra}"));
            }
        }
        _ => {
            // Fuzzer-chosen sizes, indexes and hashes: only "no panic" is asserted.
            let mut r = Reader(rest);
            let (index, size, first, second) = (r.u64(), r.u64(), r.u64(), r.u64());
            let _flip = r.u8();
            let leaf = r.hash();
            let root_a = r.hash();
            let root_b = r.hash();
            let mut proof = Vec::new();
            while !r.0.is_empty() && proof.len() < 80 {
                proof.push(r.hash());
            }
            let refs: Vec<&[u8]> = proof.iter().map(Vec::as_slice).collect();
            let _ = verify_inclusion(index, size, &leaf, &refs, &root_a);
            let _ = verify_consistency(first, second, &root_a, &root_b, &refs);
        }
    }
}

/// Every file of `fuzz/<dir>/<target>/`, with its path.
fn inputs(dir: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let path = root().join("fuzz").join(dir).join(target);
    let Ok(entries) = std::fs::read_dir(&path) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn replay(target: &str, check: fn(&[u8])) {
    let mut count = 0;
    for dir in ["regressions", "seeds"] {
        for (path, bytes) in inputs(dir, target) {
            let outcome = std::panic::catch_unwind(|| check(&bytes));
            assert!(outcome.is_ok(), "{} fails again", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no seeds for {target}: run fuzz/seeds.py");
}

#[test]
fn payload_inputs() {
    replay("payload", payload);
}

#[test]
fn record_inputs() {
    replay("record", record);
}

#[test]
fn trust_list_inputs() {
    replay("trust_list", trust_list);
}

#[test]
fn head_inputs() {
    replay("head", head);
}

#[test]
fn checkpoint_inputs() {
    replay("checkpoint", checkpoint);
}
