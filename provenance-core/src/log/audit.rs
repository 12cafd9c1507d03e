//! The auditor's check of the whole log (`provenance log verify`): every leaf recomputed from
//! the record bytes the ledger serves, in order, until the tree reaches a signed checkpoint's
//! size; then the recomputed root must be the checkpoint's root, and a saved earlier
//! checkpoint's root must be the root of the first leaves. Pure: the caller fetches the entries
//! (in pages, from any source) and feeds them in.
//!
//! Together with a consistency proof between the two checkpoints this catches a ledger that
//! changed a stored record (its leaf no longer hashes to the signed root) and a ledger that
//! rewrote history and re-signed (the saved root no longer matches).

use super::{item_leaf, leaf_hash, root, run_leaf, MemoryTree, TreeHash};
use crate::codes;
use crate::codes::ErrorCode;
use crate::ids::{ItemId, RunId};

/// A checkpoint's two facts an audit needs: how many leaves, and their root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of leaves.
    pub size: u64,
    /// The root of those leaves.
    pub root: TreeHash,
}

/// One log entry as the ledger serves it: what the leaf must be recomputed from.
#[derive(Debug, Clone, Copy)]
pub enum Leaf<'a> {
    /// An item record at position `seq` of its chain.
    Record {
        /// The item.
        item: ItemId,
        /// The record's position in the item's chain.
        seq: u64,
        /// The record's exact bytes.
        bytes: &'a [u8],
    },
    /// A run manifest.
    Run {
        /// The run.
        run: RunId,
        /// The manifest's exact bytes.
        bytes: &'a [u8],
    },
}

impl Leaf<'_> {
    /// The leaf hash (spec §12).
    pub fn hash(&self) -> TreeHash {
        match self {
            Leaf::Record { item, seq, bytes } => leaf_hash(&item_leaf(item, *seq, bytes)),
            Leaf::Run { run, bytes } => leaf_hash(&run_leaf(run, bytes)),
        }
    }
}

/// Why an audit fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The saved checkpoint is larger than the current one: the log shrank.
    #[error("the log shrank: the saved checkpoint has {saved} leaves, the current one {current}")]
    Shrank {
        /// The saved checkpoint's size.
        saved: u64,
        /// The current checkpoint's size.
        current: u64,
    },
    /// The first `size` recomputed leaves do not have the saved checkpoint's root.
    #[error(
        "the log was rewritten: the first {size} leaves, recomputed from the stored records, do \
         not have the saved checkpoint's root"
    )]
    SavedRootMismatch {
        /// The saved checkpoint's size.
        size: u64,
    },
    /// All recomputed leaves do not have the current checkpoint's root.
    #[error(
        "the stored records do not hash to the current checkpoint's root ({size} leaves): a \
         record was changed"
    )]
    RootMismatch {
        /// The current checkpoint's size.
        size: u64,
    },
    /// An entry came with another index than the next leaf's.
    #[error("log entry {got} came where entry {expected} was due")]
    OutOfOrder {
        /// The next leaf's index.
        expected: u64,
        /// The index the entry claimed.
        got: u64,
    },
    /// More entries than the checkpoint covers.
    #[error("the ledger served more log entries than the checkpoint's {size}")]
    TooMany {
        /// The current checkpoint's size.
        size: u64,
    },
    /// The audit ended before every leaf of the checkpoint was recomputed.
    #[error("the ledger served {have} of the checkpoint's {size} log entries")]
    Incomplete {
        /// Leaves recomputed.
        have: u64,
        /// The current checkpoint's size.
        size: u64,
    },
}

impl ErrorCode for AuditError {
    fn code(&self) -> &'static str {
        match self {
            AuditError::Shrank { .. } => codes::LOG_SIZE_ORDER,
            AuditError::SavedRootMismatch { .. } | AuditError::RootMismatch { .. } => {
                codes::LOG_ROOT_MISMATCH
            }
            AuditError::OutOfOrder { .. }
            | AuditError::TooMany { .. }
            | AuditError::Incomplete { .. } => codes::LOG_ENTRIES_INCOMPLETE,
        }
    }
}

/// Proof that an audit ran to the end: the log's first `size` leaves are the stored records,
/// and they have the checkpoint's root (and the saved one's, for the first leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Audited {
    /// Leaves recomputed.
    pub size: u64,
}

/// An audit in progress: feed it every entry in order with [`Audit::push`], then
/// [`Audit::finish`].
#[derive(Debug)]
pub struct Audit {
    saved: Option<TreeHead>,
    current: TreeHead,
    tree: MemoryTree,
}

impl Audit {
    /// Starts an audit of the log up to `current`, also checking `saved` (an earlier checkpoint
    /// the auditor kept) on the way; `saved` of size 0 checks nothing.
    pub fn new(saved: Option<TreeHead>, current: TreeHead) -> Result<Audit, AuditError> {
        if let Some(s) = saved {
            if s.size > current.size {
                return Err(AuditError::Shrank {
                    saved: s.size,
                    current: current.size,
                });
            }
        }
        Ok(Audit {
            saved: saved.filter(|s| s.size > 0),
            current,
            tree: MemoryTree::new(),
        })
    }

    /// The index of the next entry due.
    pub fn next_index(&self) -> u64 {
        self.tree.size()
    }

    /// Whether every leaf of the current checkpoint has been pushed.
    pub fn is_complete(&self) -> bool {
        self.tree.size() == self.current.size
    }

    /// Recomputes the entry at `index` (which must be [`Audit::next_index`]) and, when it
    /// completes the saved checkpoint's leaves, checks their root.
    pub fn push(&mut self, index: u64, leaf: Leaf<'_>) -> Result<(), AuditError> {
        if self.is_complete() {
            return Err(AuditError::TooMany {
                size: self.current.size,
            });
        }
        if index != self.tree.size() {
            return Err(AuditError::OutOfOrder {
                expected: self.tree.size(),
                got: index,
            });
        }
        self.tree.push(leaf.hash());
        if let Some(saved) = self.saved.filter(|s| s.size == self.tree.size()) {
            if self.root_of(saved.size)? != saved.root {
                return Err(AuditError::SavedRootMismatch { size: saved.size });
            }
        }
        Ok(())
    }

    /// Ends the audit: every leaf pushed, and their root is the current checkpoint's.
    pub fn finish(self) -> Result<Audited, AuditError> {
        if !self.is_complete() {
            return Err(AuditError::Incomplete {
                have: self.tree.size(),
                size: self.current.size,
            });
        }
        if self.root_of(self.current.size)? != self.current.root {
            return Err(AuditError::RootMismatch {
                size: self.current.size,
            });
        }
        Ok(Audited {
            size: self.current.size,
        })
    }

    /// The root of the first `size` leaves; `size` is never above the leaves pushed (the
    /// callers check), so a missing node means fewer leaves than that.
    fn root_of(&self, size: u64) -> Result<TreeHash, AuditError> {
        root(&self.tree, size).map_err(|_| AuditError::Incomplete {
            have: self.tree.size(),
            size,
        })
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<(ItemId, u64, Vec<u8>)> {
        (0..n)
            .map(|i| {
                (
                    ItemId([i as u8; 16]),
                    i % 3,
                    format!("record {i}").into_bytes(),
                )
            })
            .collect()
    }

    fn head_of(entries: &[(ItemId, u64, Vec<u8>)], size: usize) -> TreeHead {
        let mut tree = MemoryTree::new();
        for (item, seq, bytes) in &entries[..size] {
            tree.push(leaf_hash(&item_leaf(item, *seq, bytes)));
        }
        TreeHead {
            size: size as u64,
            root: root(&tree, size as u64).unwrap(),
        }
    }

    fn audit(
        entries: &[(ItemId, u64, Vec<u8>)],
        saved: Option<TreeHead>,
        current: TreeHead,
    ) -> Result<Audited, AuditError> {
        let mut audit = Audit::new(saved, current)?;
        for (i, (item, seq, bytes)) in entries.iter().enumerate() {
            let leaf = Leaf::Record {
                item: *item,
                seq: *seq,
                bytes,
            };
            audit.push(i as u64, leaf)?;
        }
        audit.finish()
    }

    #[test]
    fn an_honest_log_passes_for_every_saved_size() {
        let entries = leaves(13);
        let current = head_of(&entries, 13);
        for saved in 0..=13 {
            let got = audit(&entries, Some(head_of(&entries, saved)), current);
            assert_eq!(got, Ok(Audited { size: 13 }), "saved {saved}");
        }
        assert_eq!(
            audit(
                &[],
                None,
                TreeHead {
                    size: 0,
                    root: TreeHash::empty()
                }
            ),
            Ok(Audited { size: 0 })
        );
    }

    #[test]
    fn a_changed_record_fails_the_saved_or_the_current_root() {
        let entries = leaves(9);
        let saved = head_of(&entries, 5);
        let current = head_of(&entries, 9);
        let mut changed = entries.clone();
        changed[2].2.push(b'!');
        let err = audit(&changed, Some(saved), current).unwrap_err();
        assert_eq!(err, AuditError::SavedRootMismatch { size: 5 });
        assert_eq!(err.code(), codes::LOG_ROOT_MISMATCH);
        let mut changed = entries.clone();
        changed[7].1 += 1; // the same bytes at another position
        let err = audit(&changed, Some(saved), current).unwrap_err();
        assert_eq!(err, AuditError::RootMismatch { size: 9 });
        // A ledger that rewrote the log and re-signed: the new root is self-consistent, only
        // the saved checkpoint catches it.
        let rewritten_head = head_of(&changed, 9);
        assert!(audit(&changed, None, rewritten_head).is_ok());
        let mut earlier = entries.clone();
        earlier[1].2 = b"rewritten".to_vec();
        let err = audit(&earlier, Some(saved), head_of(&earlier, 9)).unwrap_err();
        assert_eq!(err, AuditError::SavedRootMismatch { size: 5 });
    }

    #[test]
    fn a_run_leaf_is_not_a_record_leaf() {
        let bytes = b"manifest".to_vec();
        let run = Leaf::Run {
            run: RunId([4; 16]),
            bytes: &bytes,
        };
        let record = Leaf::Record {
            item: ItemId([4; 16]),
            seq: 0,
            bytes: &bytes,
        };
        assert_ne!(run.hash(), record.hash());
    }

    #[test]
    fn entries_out_of_order_missing_or_extra_are_refused() {
        let entries = leaves(4);
        let current = head_of(&entries, 4);
        let mut a = Audit::new(None, current).unwrap();
        let (item, seq, bytes) = &entries[0];
        let leaf = Leaf::Record {
            item: *item,
            seq: *seq,
            bytes,
        };
        assert_eq!(
            a.push(1, leaf),
            Err(AuditError::OutOfOrder {
                expected: 0,
                got: 1
            })
        );
        a.push(0, leaf).unwrap();
        assert_eq!(a.finish(), Err(AuditError::Incomplete { have: 1, size: 4 }));
        let mut b = Audit::new(None, head_of(&entries, 1)).unwrap();
        b.push(0, leaf).unwrap();
        assert_eq!(b.push(1, leaf), Err(AuditError::TooMany { size: 1 }));
        for e in [
            AuditError::OutOfOrder {
                expected: 0,
                got: 1,
            },
            AuditError::Incomplete { have: 1, size: 4 },
            AuditError::TooMany { size: 1 },
        ] {
            assert_eq!(e.code(), codes::LOG_ENTRIES_INCOMPLETE);
        }
    }

    #[test]
    fn a_shrunk_log_is_refused_at_once() {
        let entries = leaves(6);
        let err = Audit::new(Some(head_of(&entries, 6)), head_of(&entries, 5)).unwrap_err();
        assert_eq!(
            err,
            AuditError::Shrank {
                saved: 6,
                current: 5
            }
        );
        assert_eq!(err.code(), codes::LOG_SIZE_ORDER);
    }
}
