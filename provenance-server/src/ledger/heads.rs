//! Head statements (signed per head, reused for [`HEAD_STATEMENT_REUSE_SECS`]), living
//! payloads and full-history exports.

use crate::api::HeadView;
use provenance_core::head::HeadStatement;
use provenance_core::payload::{HeadStatementBytes, LogAnchor};
use provenance_core::{verify_chain, ChainHead, ErrorCode, History, ItemId, Payload};

use crate::store::{RecordRow, StoreError};

use super::{
    now, ItemPayload, Ledger, LedgerError, HEAD_STATEMENT_REUSE_SECS, LIVING_BUDGET,
    MAX_CACHED_HEADS,
};

/// A signed head statement and what it says.
#[derive(Debug, Clone)]
pub struct SignedHead {
    /// The statement.
    pub statement: HeadStatement,
    /// Its COSE_Sign1 bytes, signed by the ledger key.
    pub bytes: Vec<u8>,
}

impl SignedHead {
    /// The JSON form of `GET /v1/items/{item}/head` (Accept: application/json).
    pub fn to_view(&self) -> HeadView {
        use base64::Engine;
        let s = &self.statement;
        HeadView {
            item: s.item.to_base32(),
            seq: s.seq,
            head: s.head.to_hex(),
            owner: s.owner.to_base64url(),
            stolen: s.stolen,
            void: s.void,
            repairs: s.repairs,
            transfers: s.transfers,
            badges: s.badges,
            time: s.time.to_rfc3339(),
            log_size: s.log_size,
            cose: base64::engine::general_purpose::STANDARD.encode(&self.bytes),
        }
    }
}

impl Ledger {
    fn sign_head(&self, chain: &ChainHead, log_size: u64) -> SignedHead {
        let statement = HeadStatement::for_head(chain, now(), log_size);
        let bytes = statement.sign(&self.signing_key);
        self.metrics.observe_head_signed();
        SignedHead { statement, bytes }
    }

    /// A head statement for `chain`: the one signed for this same head less than
    /// [`HEAD_STATEMENT_REUSE_SECS`] ago (and naming a log no larger than `max_log_size`), or a
    /// freshly signed one, which is then cached.
    fn cached_head(&self, chain: &ChainHead, log_size: u64, max_log_size: u64) -> SignedHead {
        let now = now();
        let reusable = |h: &SignedHead| {
            h.statement.seq == chain.seq()
                && h.statement.head == chain.head()
                && h.statement.log_size <= max_log_size
                && h.statement.time <= now
                && now.0 - h.statement.time.0 < HEAD_STATEMENT_REUSE_SECS
        };
        if let Some(hit) = self
            .heads
            .lock()
            .ok()
            .and_then(|heads| heads.get(&chain.item()).filter(|h| reusable(h)).cloned())
        {
            return hit;
        }
        let fresh = self.sign_head(chain, log_size);
        if let Ok(mut heads) = self.heads.lock() {
            if heads.len() >= MAX_CACHED_HEADS {
                heads.clear();
            }
            heads.insert(chain.item(), fresh.clone());
        }
        fresh
    }

    /// The log size a fresh statement names: the latest checkpoint's, and never less than the
    /// leaves of the records it speaks for.
    fn log_size_for(&self, records: &[RecordRow]) -> u64 {
        let checkpoint = self.store.checkpoint().map_or(0, |c| c.size);
        let last = records
            .last()
            .and_then(|r| r.log_index)
            .map_or(0, |i| i + 1);
        checkpoint.max(last)
    }

    /// `GET /v1/items/{item}/head`: a fresh ledger-signed head statement.
    pub fn head(&self, item: &ItemId) -> Result<SignedHead, LedgerError> {
        let state = self.item_state(item)?;
        let chain = state.chain.clone()?;
        let log_size = self.log_size_for(&state.records);
        Ok(self.cached_head(chain.chain_head(), log_size, u64::MAX))
    }

    /// The living payload (spec §14.2): mint and a fresh head statement, plus every later
    /// record if the whole container fits [`LIVING_BUDGET`] bytes (so the string fits a QR at
    /// ECC M). If the stored history no longer verifies, the label (mint only).
    pub fn living_payload(&self, item: &ItemId) -> Result<ItemPayload, LedgerError> {
        let state = self.item_state(item)?;
        let records: Vec<Vec<u8>> = state.records.iter().map(|r| r.bytes.clone()).collect();
        let Ok(chain) = &state.chain else {
            let mint = records.first().cloned().unwrap_or_default();
            return Ok(ItemPayload {
                text: Payload::Label(mint).encode(),
                form: "label",
            });
        };
        let head = self.cached_head(
            chain.chain_head(),
            self.log_size_for(&state.records),
            u64::MAX,
        );
        let living = History::living(&records, HeadStatementBytes(head.bytes), LIVING_BUDGET);
        let form = if living.records.len() == records.len() {
            "living"
        } else {
            "living-mint"
        };
        Ok(ItemPayload {
            text: Payload::History(living).encode(),
            form,
        })
    }

    /// `GET /v1/items/{item}/export`: the full-history file (spec §14.4): every record, the
    /// run manifest, a fresh head statement and the log anchor (latest checkpoint and the last
    /// record's inclusion proof at its size), read from one snapshot.
    pub fn export(&self, item: &ItemId) -> Result<History, LedgerError> {
        let snap = self
            .store
            .export(item)?
            .ok_or_else(|| LedgerError::not_found(format!("no item {item} on this ledger")))?;
        let trust = self.trust_list();
        let chain = verify_chain(snap.records.iter().map(|r| r.bytes.as_slice()), &trust, now())
            .map_err(|e| {
                LedgerError::new(422, e.code(),
                    format!("the stored history of item {item} does not verify under the current trust list: {e}"),
                )
            })?;
        let (Some(cp), Some((index, proof))) = (snap.checkpoint, snap.proof) else {
            return Err(LedgerError::internal(&StoreError::Corrupt(
                "no checkpoint covers the item's last record",
            )));
        };
        let head = self.cached_head(chain.chain_head(), cp.size, cp.size);
        Ok(History {
            records: snap.records.into_iter().map(|r| r.bytes).collect(),
            run: snap.run,
            head: Some(HeadStatementBytes(head.bytes)),
            anchor: Some(LogAnchor {
                checkpoint: cp.note,
                index,
                proof: proof.into_iter().map(|h| h.0).collect(),
            }),
        })
    }
}
