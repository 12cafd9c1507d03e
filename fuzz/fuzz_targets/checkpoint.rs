//! Checkpoint notes and Merkle proofs. The first byte picks the mode:
//! - `0`: the rest as note text: [`Checkpoint::verify_own_origin`] and [`Checkpoint::verify`]
//!   with the ledger key. An accepted note re-encodes: its body is `Checkpoint::body()` and its
//!   ledger line is the one `Checkpoint::sign` writes.
//! - `1`: `origin 0x00 size(8) root(32) witness-line...`: signed here with the ledger key, which
//!   must verify to the same checkpoint, also with a fuzzer-chosen extra (witness) line.
//! - `2`: fuzzer-chosen indexes, sizes and hashes of any length for [`verify_inclusion`] and
//!   [`verify_consistency`] (must never panic), and real proofs from an in-memory tree, which
//!   must verify, and must fail once one bit is flipped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenance_core::checkpoint::Checkpoint;
use provenance_core::log::{
    consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion,
    MemoryTree, TreeHash,
};
use provenance_fuzz::{key, public, seed};
use std::sync::OnceLock;

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

fuzz_target!(|data: &[u8]| {
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
});
