//! The Merkle log: the latest checkpoint, inclusion and consistency proofs, and pages of
//! entries for auditors.

use std::sync::Arc;

use crate::api::{ConsistencyProof, InclusionProof, LogEntries, LogEntryView};
use provenance_core::codes;
use provenance_core::log::TreeHash;

use crate::store::{LogEntry, SignedCheckpoint, StoreError};

use super::{Ledger, LedgerError, MAX_ENTRIES_PAGE};

fn hashes_hex(hashes: &[TreeHash]) -> Vec<String> {
    hashes.iter().map(|h| hex::encode(h.0)).collect()
}

impl Ledger {
    /// The latest signed checkpoint, or 500 if the store has none (it always signs one at open).
    pub fn checkpoint(&self) -> Result<Arc<SignedCheckpoint>, LedgerError> {
        self.store.checkpoint().ok_or_else(|| {
            LedgerError::internal(&StoreError::Corrupt("the log has no signed checkpoint"))
        })
    }

    fn check_size(&self, size: u64, name: &str) -> Result<Arc<SignedCheckpoint>, LedgerError> {
        let cp = self.checkpoint()?;
        if size > cp.size {
            return Err(LedgerError::not_found(format!(
                "{name}={size} is beyond the log's latest checkpoint (size {})",
                cp.size
            )));
        }
        Ok(cp)
    }

    /// `GET /v1/log/inclusion?index=I&size=N`.
    pub fn inclusion(&self, index: u64, size: u64) -> Result<InclusionProof, LedgerError> {
        self.check_size(size, "size")?;
        if index >= size {
            return Err(LedgerError::coded(
                codes::LOG_INDEX_OUT_OF_RANGE,
                format!("leaf index {index} is not below the tree size {size}"),
            ));
        }
        let proof = self.store.inclusion_proof(index, size)?;
        let leaf = self
            .store
            .log_entries(index, index + 1)?
            .first()
            .map(|e| hex::encode(e.leaf_hash.0));
        Ok(InclusionProof {
            index,
            size,
            leaf_hash: leaf,
            proof: hashes_hex(&proof),
        })
    }

    /// `GET /v1/log/consistency?first=A&second=B`.
    pub fn consistency(&self, first: u64, second: u64) -> Result<ConsistencyProof, LedgerError> {
        self.check_size(second, "second")?;
        if first > second {
            return Err(LedgerError::coded(
                codes::LOG_SIZE_ORDER,
                format!("first={first} exceeds second={second}"),
            ));
        }
        if first == 0 {
            return Err(LedgerError::coded(
                codes::LOG_EMPTY_FIRST_TREE,
                "a consistency proof from the empty tree proves nothing (spec §12)",
            ));
        }
        let proof = self.store.consistency_proof(first, second)?;
        Ok(ConsistencyProof {
            first,
            second,
            proof: hashes_hex(&proof),
        })
    }

    /// `GET /v1/log/entries?start=A&end=B`: at most [`MAX_ENTRIES_PAGE`] leaves from `start`,
    /// never beyond the latest checkpoint.
    pub fn entries(&self, start: u64, end: u64) -> Result<LogEntries, LedgerError> {
        use base64::Engine;
        let cp = self.checkpoint()?;
        if start >= end {
            return Err(LedgerError::bad_request(format!(
                "start={start} must be below end={end}"
            )));
        }
        if start >= cp.size {
            return Err(LedgerError::not_found(format!(
                "start={start} is beyond the log's latest checkpoint (size {})",
                cp.size
            )));
        }
        let end = end.min(cp.size).min(start.saturating_add(MAX_ENTRIES_PAGE));
        let entries = self
            .store
            .log_entries(start, end)?
            .iter()
            .map(|e: &LogEntry| LogEntryView {
                index: e.index,
                kind: e.kind.name().to_string(),
                id: provenance_core::ItemId(e.id).to_base32(),
                seq: e.seq,
                leaf_hash: hex::encode(e.leaf_hash.0),
                bytes: e
                    .bytes
                    .as_ref()
                    .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
            })
            .collect();
        Ok(LogEntries {
            start,
            end,
            size: cp.size,
            entries,
        })
    }
}
