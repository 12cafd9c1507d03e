//! The global append-only Merkle log (RFC 9162 §2.1): hashing, proof generation over any
//! [`NodeSource`], and proof verification with typed errors. No I/O: the ledger supplies the
//! node hashes from its store.
//!
//! Leaf data (spec §12): `kind (1 byte: 1 item record, 2 run manifest) ‖ id (16 bytes: item id or
//! run id) ‖ seq (8 bytes, big-endian) ‖ record bytes`. Two policies beyond RFC 9162's algorithms,
//! as in transparency-dev/merkle: every hash is exactly 32 bytes, and a consistency proof from a
//! tree of size 0 is refused.

use sha2::{Digest, Sha256};

pub mod audit;

use crate::codes;
use crate::codes::ErrorCode;
use crate::ids::{ItemId, RunId};

/// A 32-byte Merkle tree hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TreeHash(pub [u8; 32]);

impl TreeHash {
    /// The hash of the empty tree: SHA-256 of no bytes.
    pub fn empty() -> Self {
        TreeHash(Sha256::digest([]).into())
    }

    /// Parses exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, LogError> {
        bytes
            .try_into()
            .map(TreeHash)
            .map_err(|_| LogError::BadHashLength)
    }
}

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> TreeHash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    TreeHash(h.finalize().into())
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &TreeHash, right: &TreeHash) -> TreeHash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    TreeHash(h.finalize().into())
}

/// The leaf data of an item record at position `seq`.
pub fn item_leaf(item: &ItemId, seq: u64, record_bytes: &[u8]) -> Vec<u8> {
    leaf_data(1, &item.0, seq, record_bytes)
}

/// The leaf data of a run manifest.
pub fn run_leaf(run: &RunId, record_bytes: &[u8]) -> Vec<u8> {
    leaf_data(2, &run.0, 0, record_bytes)
}

fn leaf_data(kind: u8, id: &[u8; 16], seq: u64, record: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(25 + record.len());
    data.push(kind);
    data.extend_from_slice(id);
    data.extend_from_slice(&seq.to_be_bytes());
    data.extend_from_slice(record);
    data
}

/// Why a proof does not verify, or cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A hash is not exactly 32 bytes.
    #[error("a hash is not 32 bytes")]
    BadHashLength,
    /// The leaf index is not below the tree size.
    #[error("leaf index out of range for the tree size")]
    IndexOutOfRange,
    /// The proof has too many or too few hashes for the sizes.
    #[error("proof has the wrong number of hashes")]
    WrongProofLength,
    /// The recomputed root differs from the given root.
    #[error("recomputed root does not match")]
    RootMismatch,
    /// A consistency proof from the empty tree (refused by policy).
    #[error("consistency from an empty tree is not proved")]
    EmptyFirstTree,
    /// The first size exceeds the second.
    #[error("first tree size exceeds the second")]
    SizeOrder,
}

impl ErrorCode for LogError {
    fn code(&self) -> &'static str {
        match self {
            LogError::BadHashLength => codes::LOG_BAD_HASH_LENGTH,
            LogError::IndexOutOfRange => codes::LOG_INDEX_OUT_OF_RANGE,
            LogError::WrongProofLength => codes::LOG_WRONG_PROOF_LENGTH,
            LogError::RootMismatch => codes::LOG_ROOT_MISMATCH,
            LogError::EmptyFirstTree => codes::LOG_EMPTY_FIRST_TREE,
            LogError::SizeOrder => codes::LOG_SIZE_ORDER,
        }
    }
}

/// Supplies the hash of a *perfect* subtree: the `2^level` leaves starting at `index << level`.
/// Level 0 is the leaf hashes. The ledger answers from SQLite, tests from memory.
pub trait NodeSource {
    /// The store's error.
    type Error;
    /// Hash of the perfect subtree `(level, index)`; it must be complete.
    fn perfect(&self, level: u32, index: u64) -> Result<TreeHash, Self::Error>;
}

fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n > 1);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH of leaves `[lo, hi)`, where `lo` is aligned as in RFC 9162's recursion.
fn subtree<S: NodeSource>(s: &S, lo: u64, hi: u64) -> Result<TreeHash, S::Error> {
    let n = hi - lo;
    if n == 0 {
        return Ok(TreeHash::empty());
    }
    if n.is_power_of_two() && lo.is_multiple_of(n) {
        return s.perfect(n.trailing_zeros(), lo / n);
    }
    let k = largest_power_of_two_below(n);
    Ok(node_hash(
        &subtree(s, lo, lo + k)?,
        &subtree(s, lo + k, hi)?,
    ))
}

/// The root of the first `size` leaves (RFC 9162 §2.1.1).
pub fn root<S: NodeSource>(s: &S, size: u64) -> Result<TreeHash, S::Error> {
    subtree(s, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1).
/// `Ok(None)` when `index >= size`.
pub fn inclusion_proof<S: NodeSource>(
    s: &S,
    index: u64,
    size: u64,
) -> Result<Option<Vec<TreeHash>>, S::Error> {
    if index >= size {
        return Ok(None);
    }
    let mut proof = Vec::new();
    path(s, index, 0, size, &mut proof)?;
    Ok(Some(proof))
}

fn path<S: NodeSource>(
    s: &S,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<TreeHash>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = largest_power_of_two_below(n);
    if m < k {
        path(s, m, lo, lo + k, out)?;
        out.push(subtree(s, lo + k, hi)?);
    } else {
        path(s, m - k, lo + k, hi, out)?;
        out.push(subtree(s, lo, lo + k)?);
    }
    Ok(())
}

/// The consistency proof between the trees of `first` and `second` leaves (RFC 9162 §2.1.4.1).
/// `Ok(None)` when `first == 0` or `first > second`.
pub fn consistency_proof<S: NodeSource>(
    s: &S,
    first: u64,
    second: u64,
) -> Result<Option<Vec<TreeHash>>, S::Error> {
    if first == 0 || first > second {
        return Ok(None);
    }
    let mut proof = Vec::new();
    subproof(s, first, 0, second, true, &mut proof)?;
    Ok(Some(proof))
}

fn subproof<S: NodeSource>(
    s: &S,
    m: u64,
    lo: u64,
    hi: u64,
    whole: bool,
    out: &mut Vec<TreeHash>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push(subtree(s, lo, hi)?);
        }
        return Ok(());
    }
    let k = largest_power_of_two_below(n);
    if m <= k {
        subproof(s, m, lo, lo + k, whole, out)?;
        out.push(subtree(s, lo + k, hi)?);
    } else {
        subproof(s, m - k, lo + k, hi, false, out)?;
        out.push(subtree(s, lo, lo + k)?);
    }
    Ok(())
}

fn parse_all(hashes: &[&[u8]]) -> Result<Vec<TreeHash>, LogError> {
    hashes.iter().map(|h| TreeHash::from_slice(h)).collect()
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2). Hashes are given as raw bytes so that
/// wrong lengths are refused here rather than truncated by a caller.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &[u8],
    proof: &[&[u8]],
    root: &[u8],
) -> Result<(), LogError> {
    let leaf = TreeHash::from_slice(leaf)?;
    let root = TreeHash::from_slice(root)?;
    let proof = parse_all(proof)?;
    if index >= size {
        return Err(LogError::IndexOutOfRange);
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in &proof {
        if sn == 0 {
            return Err(LogError::WrongProofLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(LogError::WrongProofLength);
    }
    if r != root {
        return Err(LogError::RootMismatch);
    }
    Ok(())
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2), with equal sizes needing an empty proof
/// and equal roots, and size 0 refused.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &[u8],
    second_root: &[u8],
    proof: &[&[u8]],
) -> Result<(), LogError> {
    if first > second {
        return Err(LogError::SizeOrder);
    }
    if first == 0 {
        return Err(LogError::EmptyFirstTree);
    }
    if first == second {
        // Nothing to prove: the same tree must have the same root (compared as given, as
        // transparency-dev/merkle does).
        if !proof.is_empty() {
            return Err(LogError::WrongProofLength);
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(LogError::RootMismatch)
        };
    }
    let first_root = TreeHash::from_slice(first_root)?;
    let second_root = TreeHash::from_slice(second_root)?;
    let proof = parse_all(proof)?;
    if proof.is_empty() {
        return Err(LogError::WrongProofLength);
    }
    let mut path: Vec<TreeHash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(first_root);
    }
    path.extend(proof);
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(LogError::WrongProofLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(LogError::WrongProofLength);
    }
    if fr != first_root || sr != second_root {
        return Err(LogError::RootMismatch);
    }
    Ok(())
}

/// An in-memory tree keeping every perfect subtree hash (about 2 hashes per leaf).
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<TreeHash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash and completes every perfect subtree it closes.
    pub fn push(&mut self, leaf: TreeHash) {
        let mut level = 0;
        let mut hash = leaf;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(hash);
            let len = self.levels[level].len();
            if len % 2 == 1 {
                break;
            }
            hash = node_hash(&self.levels[level][len - 2], &self.levels[level][len - 1]);
            level += 1;
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The perfect subtree hashes that `push` created, as `(level, index, hash)`: what a store
    /// must persist after appending leaf number `size - 1`.
    pub fn nodes_closed_by_last_leaf(&self) -> Vec<(u32, u64, TreeHash)> {
        let mut out = Vec::new();
        let Some(size) = self.size().checked_sub(0).filter(|s| *s > 0) else {
            return out;
        };
        let mut index = size - 1;
        for (level, hashes) in (0u32..).zip(&self.levels) {
            let Some(&hash) = usize::try_from(index).ok().and_then(|i| hashes.get(i)) else {
                break;
            };
            if hashes.len() as u64 != index + 1 {
                break;
            }
            out.push((level, index, hash));
            if index % 2 == 0 {
                break;
            }
            index /= 2;
        }
        out
    }
}

/// A subtree a [`MemoryTree`] does not hold: asked for beyond its leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the tree holds no complete subtree at level {level}, index {index}")]
pub struct MissingNode {
    /// The subtree's level (0: a leaf).
    pub level: u32,
    /// Its index at that level.
    pub index: u64,
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;

    fn perfect(&self, level: u32, index: u64) -> Result<TreeHash, Self::Error> {
        usize::try_from(level)
            .ok()
            .and_then(|l| self.levels.get(l))
            .zip(usize::try_from(index).ok())
            .and_then(|(hashes, i)| hashes.get(i).copied())
            .ok_or(MissingNode { level, index })
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn naive_root(leaves: &[TreeHash]) -> TreeHash {
        match leaves.len() {
            0 => TreeHash::empty(),
            1 => leaves[0],
            n => {
                let k = largest_power_of_two_below(n as u64) as usize;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn proofs_generated_for_every_size_verify() {
        let mut tree = MemoryTree::new();
        let mut leaves = Vec::new();
        let mut roots = vec![TreeHash::empty()];
        for i in 0..40u64 {
            let leaf = leaf_hash(&i.to_be_bytes());
            tree.push(leaf);
            leaves.push(leaf);
            let size = tree.size();
            let root = root(&tree, size).unwrap();
            assert_eq!(root, naive_root(&leaves));
            roots.push(root);
            for index in 0..size {
                let proof = inclusion_proof(&tree, index, size)
                    .unwrap()
                    .expect("in range");
                let refs: Vec<&[u8]> = proof.iter().map(|h| &h.0[..]).collect();
                assert_eq!(
                    verify_inclusion(index, size, &leaves[index as usize].0, &refs, &root.0),
                    Ok(())
                );
            }
            for first in 1..=size {
                let proof = consistency_proof(&tree, first, size)
                    .unwrap()
                    .expect("valid sizes");
                let refs: Vec<&[u8]> = proof.iter().map(|h| &h.0[..]).collect();
                assert_eq!(
                    verify_consistency(first, size, &roots[first as usize].0, &root.0, &refs),
                    Ok(()),
                    "{first} -> {size}"
                );
            }
        }
    }

    #[test]
    fn nodes_closed_by_last_leaf_lists_new_perfect_subtrees() {
        let mut tree = MemoryTree::new();
        for i in 0..8u64 {
            tree.push(leaf_hash(&[i as u8]));
        }
        let closed: Vec<(u32, u64)> = tree
            .nodes_closed_by_last_leaf()
            .iter()
            .map(|(l, i, _)| (*l, *i))
            .collect();
        assert_eq!(closed, vec![(0, 7), (1, 3), (2, 1), (3, 0)]);
    }
}
