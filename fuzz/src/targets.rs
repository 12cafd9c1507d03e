//! The fuzz targets' bodies: what each target does with an input and the invariants it
//! asserts. Defined once, here: the cargo-fuzz binaries (`fuzz_targets/<name>.rs`) call them,
//! and `provenance-core/tests/fuzz_regressions.rs` replays every committed regression and seed
//! through the same functions on stable Rust. A panic is a finding.

use std::sync::OnceLock;

use provenance_core::checkpoint::Checkpoint;
use provenance_core::head::{HeadError, HeadStatement};
use provenance_core::limits::MAX_HISTORY_BYTES;
use provenance_core::log::{
    consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion,
    MemoryTree, TreeHash,
};
use provenance_core::{DecodedRecord, Payload, Record, TrustList, VerifiedChain};

use super::{
    cose_bytes, key, link_after, public, seed, sign_cose, signer, world, HEAD_AAD, TRUST_AAD,
};

/// Payload decode and verify: the input as a `PV1:` string ([`Payload::decode`]) and as the raw
/// CBOR of a payload or history file ([`Payload::from_cbor`]); whatever decodes is verified
/// against the vector world's trust list. Accepted inputs must re-encode to the same bytes.
pub fn payload(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(payload) = Payload::decode(text) {
            assert_eq!(payload.encode(), text.trim(), "payload string round trip");
            check_payload(&payload);
        }
    }
    if let Ok(payload) = Payload::from_cbor(data, MAX_HISTORY_BYTES) {
        assert_eq!(payload.to_cbor(), data, "payload CBOR round trip");
        check_payload(&payload);
    }
}

/// Receive codes and recovery-sheet codes (spec §7.6): any text parses or is refused without
/// panicking; an accepted code re-encodes to the same text (prefix and base45 upper-cased), so
/// each code has one spelling.
pub fn recovery_codes(data: &[u8]) {
    use provenance_core::recovery::{ReceiveCode, RecoverySheetCode};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let spelled = text.trim_matches(['\r', '\n']).to_ascii_uppercase();
    if let Ok(code) = ReceiveCode::parse(text) {
        assert_eq!(code.encode(), spelled, "receive code round trip");
    }
    if let Ok(sheet) = RecoverySheetCode::parse(text) {
        assert_eq!(sheet.encode(), spelled, "recovery-sheet code round trip");
    }
}

/// A decoded payload verifies, if at all, to a chain that ends at its last record.
fn check_payload(payload: &Payload) {
    let world = world();
    let records = payload.records();
    assert!(!records.is_empty(), "a decoded payload carries a record");
    if let Ok(verified) = payload.verify(&world.trust, world.now) {
        // A verified payload's chain ends at its last record.
        let last = records.last().copied().unwrap_or_default();
        assert_eq!(verified.chain.head(), super::hash(last));
        assert_eq!(verified.chain.seq() as usize + 1, records.len());
    }
    let _ = payload.verify(&world.trust_no_ledger, world.now);
}

/// Single record decode, and the chain rules behind the signature.
///
/// Every input is used twice:
/// 1. as record bytes: [`DecodedRecord::decode`], then as the next record of each prefix of the
///    vector chain ([`VerifiedChain::extend`]) and as a mint ([`VerifiedChain::start`]);
/// 2. `[selector, payload...]`: the payload is signed as a COSE_Sign1 by the vector key and at
///    the chain position the selector picks, so that mutations of the payload reach every rule
///    after the signature check.
///
/// Round trip: an accepted record's envelope re-encodes (by an independent encoder) to exactly
/// its bytes, its payload re-encodes to exactly the payload, and re-signing the decoded record
/// gives the signed bytes.
pub fn record(data: &[u8]) {
    let world = world();

    // 1. Raw record bytes.
    if let Ok(decoded) = DecodedRecord::decode(data) {
        let payload = decoded.record.to_payload();
        let signature: [u8; 64] = data[data.len() - 64..].try_into().expect("64 bytes");
        assert_eq!(
            cose_bytes(&decoded.signer.0, &payload, &signature),
            data,
            "record envelope round trip"
        );
        assert_eq!(decoded.hash, super::hash(data));
        let at = usize::from(data[data.len() - 1]) % world.prefixes.len();
        let mut chain = world.prefixes[at].clone();
        if let Ok(record) = chain.extend(data, &world.trust, world.now) {
            assert_eq!(record.bytes(), data);
            assert_eq!(chain.head(), decoded.hash);
        }
        let _ = VerifiedChain::start(data, &world.trust, world.now);
    }
    if let Ok(record) = Record::from_payload(data) {
        assert_eq!(record.to_payload(), data, "record payload round trip");
    }

    // 2. A signed payload at a chosen position.
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let seed = signer(selector);
    // Position: 0 = genesis (no link), k = after prefix k-1 of the vector chain.
    let position = usize::from(selector / 7) % (world.prefixes.len() + 1);
    let link = position
        .checked_sub(1)
        .map(|k| link_after(&world.prefixes[k]));
    let aad = link
        .as_ref()
        .map(|l| l.external_aad().to_vec())
        .unwrap_or_default();
    let bytes = super::sign_cose(seed, payload, &aad);
    let parsed = Record::from_payload(payload);
    match DecodedRecord::decode(&bytes) {
        Ok(decoded) => {
            let record = parsed.expect("the envelope adds nothing a payload decode refuses");
            assert_eq!(decoded.record, record);
            assert_eq!(
                decoded.record.sign(&key(seed), link.as_ref()),
                bytes,
                "re-signing a decoded record gives its bytes"
            );
        }
        Err(_) => {
            // Only the size limit of the envelope can refuse a payload that parses.
            if parsed.is_ok() {
                assert!(bytes.len() > provenance_core::limits::MAX_RECORD_BYTES);
            }
            return;
        }
    }
    match position {
        0 => {
            if let Ok((chain, record)) = VerifiedChain::start(&bytes, &world.trust, world.now) {
                assert_eq!(record.bytes(), &bytes[..]);
                assert_eq!(chain.seq(), 0);
                assert!(chain.mint().number >= 1 && chain.mint().number <= chain.mint().size);
            }
        }
        k => {
            let mut chain = world.prefixes[k - 1].clone();
            let before = chain.seq();
            match chain.extend(&bytes, &world.trust, world.now) {
                Ok(_) => assert_eq!(chain.seq(), before + 1),
                Err(_) => assert_eq!(chain.seq(), before, "a refused record leaves the chain"),
            }
        }
    }
}

/// Trust list decode ([`TrustList::verify`]).
///
/// Every input is used twice: as trust-list bytes (pinned to the vector operator, and as its
/// own anchor), and as a trust-list *payload* signed here by the vector operator, so that
/// mutations of the content reach every check after the signature. Round trip: an accepted
/// list re-signed by its operator gives exactly its bytes.
pub fn trust_list(data: &[u8]) {
    let world = world();
    let operator = public(seed::OPERATOR);

    // 1. Raw bytes.
    let pinned = TrustList::verify(data, Some(&operator));
    let anchor = TrustList::verify(data, None);
    if let Ok(list) = &pinned {
        assert_eq!(list.operator(), &operator);
        assert_eq!(
            list.content().sign(&key(seed::OPERATOR)),
            data,
            "trust list round trip"
        );
        let again = anchor.as_ref().expect("pinned implies self-anchored");
        assert_eq!(again.content(), list.content());
    }
    if let Ok(list) = &anchor {
        // The fuzzer cannot sign; an accepted list is signed by a vector key we can re-sign.
        if let Some(s) = seed::ALL.iter().find(|s| public(**s) == *list.operator()) {
            assert_eq!(list.content().sign(&key(*s)), data, "trust list round trip");
        }
    }

    // 2. The input as the signed content.
    let bytes = sign_cose(seed::OPERATOR, data, TRUST_AAD);
    if let Ok(list) = TrustList::verify(&bytes, Some(&operator)) {
        assert_eq!(
            list.content().sign(&key(seed::OPERATOR)),
            bytes,
            "re-signing a decoded trust list gives its bytes"
        );
        for entry in &list.content().entries {
            assert!(list.entry(&entry.key.key_id()).is_some());
            let _ = entry.validity_at(world.now);
        }
    }
}

/// Head statement decode ([`HeadStatement::verify`]) against the vector trust list, which names
/// the ledger key, and [`HeadStatement::check_against`] every prefix of the vector chain.
///
/// Every input is used twice: as statement bytes, and as a statement *payload* signed here by
/// the ledger key. Round trip: an accepted statement re-signed by the ledger key gives exactly
/// its bytes.
pub fn head(data: &[u8]) {
    let world = world();
    let ledger = key(seed::LEDGER);

    let check = |bytes: &[u8]| {
        let Ok(statement) = HeadStatement::verify(bytes, &world.trust, world.now) else {
            return;
        };
        assert_eq!(statement.sign(&ledger), bytes, "head statement round trip");
        assert!(matches!(
            HeadStatement::verify(bytes, &world.trust_no_ledger, world.now),
            Err(HeadError::NoLedgerKey)
        ));
        for chain in &world.prefixes {
            if statement.check_against(chain).is_ok() {
                assert_eq!(statement.item, chain.item());
                assert!(statement.seq >= chain.seq());
            }
        }
    };
    check(data);
    check(&sign_cose(seed::LEDGER, data, HEAD_AAD));
}

/// Leaves of the in-memory tree real proofs come from.
const TREE_LEAVES: u64 = 300;
/// The origin (and key name) of the fixed-origin check.
const FUZZ_ORIGIN: &str = "fuzz.example/log";

fn tree() -> &'static MemoryTree {
    static TREE: OnceLock<MemoryTree> = OnceLock::new();
    TREE.get_or_init(|| {
        let mut tree = MemoryTree::new();
        for i in 0..TREE_LEAVES {
            tree.push(leaf_hash(&i.to_be_bytes()));
        }
        tree
    })
}

/// Reads fixed-size fields off the front of the input, zero-padded past its end.
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
    /// A length byte (0..=40) and that many bytes: hashes of right and wrong lengths.
    fn hash(&mut self) -> Vec<u8> {
        let n = usize::from(self.u8()) % 41;
        self.take(n).to_vec()
    }
}

fn check_note(note: &str) {
    let ledger = public(seed::LEDGER);
    if let Ok(cp) = Checkpoint::verify_own_origin(note, &ledger) {
        round_trip(note, &cp, &cp.origin.clone());
    }
    if let Ok(cp) = Checkpoint::verify(note, FUZZ_ORIGIN, &ledger, Some(FUZZ_ORIGIN)) {
        assert_eq!(cp.origin, FUZZ_ORIGIN);
        round_trip(note, &cp, FUZZ_ORIGIN);
    }
}

/// An accepted note is `body() ‖ "\n" ‖ lines`, one of them the line `sign` writes.
fn round_trip(note: &str, cp: &Checkpoint, key_name: &str) {
    let body = cp.body();
    assert!(note.starts_with(&body), "checkpoint body round trip");
    let sigs = note[body.len()..]
        .strip_prefix('\n')
        .expect("blank line after the body");
    let signed = cp
        .sign(&key(seed::LEDGER), key_name)
        .expect("an accepted checkpoint can be signed under its key name");
    let line = signed[body.len() + 1..].trim_end_matches('\n');
    // Lines end with "\n" only (C2SP signed-note): nothing else may pass for the line.
    assert!(
        sigs.split('\n').any(|l| l == line),
        "the ledger's signature line round-trips"
    );
}

/// Checkpoint notes and Merkle proofs. The first byte picks the mode:
/// - `0`: the rest as note text: [`Checkpoint::verify_own_origin`] and [`Checkpoint::verify`]
///   with the ledger key. An accepted note re-encodes: its body is `Checkpoint::body()` and its
///   ledger line is the one `Checkpoint::sign` writes.
/// - `1`: `origin 0x00 size(8) root(32) witness-line...`: signed here with the ledger key, which
///   must verify to the same checkpoint, also with a fuzzer-chosen extra (witness) line.
/// - `2`: fuzzer-chosen indexes, sizes and hashes of any length for [`verify_inclusion`] and
///   [`verify_consistency`] (must never panic), and real proofs from an in-memory tree, which
///   must verify, and must fail once one bit is flipped.
pub fn checkpoint(data: &[u8]) {
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
            let Some(note) = cp.sign(&key(seed::LEDGER), origin) else {
                assert!(
                    origin.is_empty()
                        || origin.contains(['\n', '\r'])
                        || origin.chars().any(|c| c.is_whitespace() || c == '+'),
                    "sign refused a valid origin"
                );
                return;
            };
            if note.len() <= provenance_core::checkpoint::MAX_CHECKPOINT_BYTES {
                let got = Checkpoint::verify_own_origin(&note, &public(seed::LEDGER));
                assert_eq!(got.as_ref(), Ok(&cp), "signed checkpoint verifies");
                assert!(Checkpoint::verify_own_origin(&note, &public(seed::OPERATOR)).is_err());
            }
            // A witness line (any text) after the ledger's.
            if let Ok(extra) = std::str::from_utf8(r.0) {
                let with = format!("{note}{extra}");
                check_note(&with);
            }
        }
        _ => {
            let mut r = Reader(rest);
            let (index, size, first, second) = (r.u64(), r.u64(), r.u64(), r.u64());
            let flip = r.u8();
            let leaf = r.hash();
            let root_a = r.hash();
            let root_b = r.hash();
            let mut proof = Vec::new();
            while !r.0.is_empty() && proof.len() < 80 {
                proof.push(r.hash());
            }
            let proof_refs: Vec<&[u8]> = proof.iter().map(Vec::as_slice).collect();
            let _ = verify_inclusion(index, size, &leaf, &proof_refs, &root_a);
            let _ = verify_consistency(first, second, &root_a, &root_b, &proof_refs);

            // Real proofs in a tree of at most TREE_LEAVES leaves.
            let tree = tree();
            let size = size % TREE_LEAVES + 1;
            let index = index % size;
            let leaf = leaf_hash(&index.to_be_bytes());
            let root_n = root(tree, size).expect("in-memory");
            let proof = inclusion_proof(tree, index, size)
                .expect("in-memory")
                .expect("index < size");
            let refs: Vec<&[u8]> = proof.iter().map(|h| h.0.as_slice()).collect();
            assert_eq!(
                verify_inclusion(index, size, &leaf.0, &refs, &root_n.0),
                Ok(())
            );
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = usize::from(flip) % bad.len();
                bad[i].0[usize::from(flip >> 3) % 32] ^= 1 << (flip & 7);
                let refs: Vec<&[u8]> = bad.iter().map(|h| h.0.as_slice()).collect();
                assert!(verify_inclusion(index, size, &leaf.0, &refs, &root_n.0).is_err());
            }
            let second = second % TREE_LEAVES + 1;
            let first = first % second + 1;
            let root_1 = root(tree, first).expect("in-memory");
            let root_2 = root(tree, second).expect("in-memory");
            let proof = consistency_proof(tree, first, second)
                .expect("in-memory")
                .expect("0 < first <= second");
            let refs: Vec<&[u8]> = proof.iter().map(|h| h.0.as_slice()).collect();
            assert_eq!(
                verify_consistency(first, second, &root_1.0, &root_2.0, &refs),
                Ok(())
            );
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = usize::from(flip) % bad.len();
                bad[i].0[usize::from(flip >> 3) % 32] ^= 1 << (flip & 7);
                let refs: Vec<&[u8]> = bad.iter().map(|h| h.0.as_slice()).collect();
                assert!(verify_consistency(first, second, &root_1.0, &root_2.0, &refs).is_err());
            }
        }
    }
}
