//! The writes of records: `POST /v1/runs`, `POST /v1/items`, `POST /v1/items/{item}/records`,
//! and the caches they read: verified runs, and each item's [`ChainHead`] (the state the
//! append rules need, without the story).

use std::time::Instant;

use crate::api::{Ack, RecordAck, RunAck};
use provenance_core::codes;
use provenance_core::limits::MAX_HISTORY_RECORDS;
use provenance_core::{
    verify_chain, verify_run, ChainHead, ErrorCode, ItemId, PublicKey, RecordHash, RecordKind,
    RunId, TrustList, VerifiedChain, VerifiedRecord, VerifiedRun, VerifyError,
};

use crate::store::{Head, RecordRef, WriteOp, WriteOutcome};

use super::{now, unexpected, verify_status, Accepted, Ledger, LedgerError, MAX_CACHED_CHAINS};

fn answer(
    item: &ItemId,
    seq: u64,
    hash: &RecordHash,
    kind: RecordKind,
    log_index: Option<u64>,
) -> Ack {
    Ack::Record(RecordAck {
        item: item.to_base32(),
        seq,
        head: hash.to_hex(),
        kind: kind.name().to_string(),
        log_index,
        run: None,
    })
}

fn record_ref_answer(r: &RecordRef, hash: &RecordHash) -> Ack {
    answer(&r.item, r.seq, hash, r.kind, r.log_index)
}

fn with_run(mut body: Ack, run: Option<RunId>) -> Ack {
    if let Ack::Record(ack) = &mut body {
        ack.run = run.map(|r| r.to_base32());
    }
    body
}

impl Ledger {
    /// `POST /v1/runs`: registers a maker-signed run manifest.
    pub async fn register_run(&self, bytes: &[u8]) -> Result<Accepted, LedgerError> {
        let started = Instant::now();
        let id = RunId::derive(bytes);
        let hash = RecordHash::of(bytes);
        let body = |hash: &RecordHash, log_index: Option<u64>| {
            Ack::Run(RunAck {
                run: id.to_base32(),
                seq: 0,
                head: hash.to_hex(),
                kind: "run".to_string(),
                log_index,
            })
        };
        if let Some(row) = self.store.run(&id)? {
            if row.bytes == bytes {
                self.metrics.observe_idempotent();
                return Ok(Accepted {
                    created: false,
                    body: body(&row.hash, row.log_index),
                });
            }
        }
        let run = verify_run(bytes, &self.trust_list(), now())?;
        match self.write(WriteOp::Run(Box::new(run.clone()))).await? {
            WriteOutcome::Stored { log_index } => {
                self.metrics.observe_append("run", started.elapsed());
                self.cache_run(run);
                Ok(Accepted {
                    created: true,
                    body: body(&hash, log_index),
                })
            }
            WriteOutcome::RunAlreadyStored => {
                self.metrics.observe_idempotent();
                let log_index = self.store.run(&id)?.and_then(|r| r.log_index);
                Ok(Accepted {
                    created: false,
                    body: body(&hash, log_index),
                })
            }
            other => Err(unexpected(other)),
        }
    }

    pub(super) fn cache_run(&self, run: VerifiedRun) {
        if let Ok(mut runs) = self.runs.lock() {
            if runs.len() >= MAX_CACHED_CHAINS {
                runs.clear();
            }
            runs.insert(run.id(), run);
        }
    }

    /// The verified run for a mint: registered, verified under the current trust list, and
    /// signed by the same maker.
    pub(super) fn run_for_mint(
        &self,
        id: &RunId,
        maker: &PublicKey,
        trust: &TrustList,
    ) -> Result<VerifiedRun, LedgerError> {
        let cached = self.runs.lock().ok().and_then(|r| r.get(id).cloned());
        let run = match cached {
            Some(run) => run,
            None => {
                let Some(row) = self.store.run(id)? else {
                    return Err(LedgerError::coded(
                        codes::LEDGER_RUN_NOT_REGISTERED,
                        format!("run {id} is not registered on this ledger"),
                    ));
                };
                let run = verify_run(&row.bytes, trust, now()).map_err(|e| {
                    LedgerError::coded(
                        codes::LEDGER_RUN_NOT_REGISTERED,
                        format!("run {id} no longer verifies under the current trust list: {e}"),
                    )
                })?;
                self.cache_run(run.clone());
                run
            }
        };
        if run.maker().key != *maker {
            return Err(LedgerError::coded(
                codes::LEDGER_RUN_NOT_REGISTERED,
                format!("run {id} is registered by another maker"),
            ));
        }
        Ok(run)
    }

    /// `POST /v1/items`: takes a mint.
    pub async fn mint(&self, bytes: &[u8]) -> Result<Accepted, LedgerError> {
        let started = Instant::now();
        let hash = RecordHash::of(bytes);
        if let Some(found) = self.store.find_record(&hash)? {
            if found.seq == 0 {
                self.metrics.observe_idempotent();
                return Ok(Accepted {
                    created: false,
                    body: with_run(
                        record_ref_answer(&found, &hash),
                        self.store.item(&found.item)?.map(|i| i.run),
                    ),
                });
            }
        }
        let trust = self.trust_list();
        let (chain, record) = ChainHead::start(bytes, &trust, now())?;
        let run = self.run_for_mint(&chain.mint().run, &chain.maker().key, &trust)?;
        chain.check_run(&run)?;
        let item = chain.item();
        let edition = chain.mint().number;
        let op = WriteOp::Mint {
            item,
            run: run.id(),
            edition,
            record: Box::new(record),
        };
        match self.write(op).await? {
            WriteOutcome::Stored { log_index } => {
                self.metrics.observe_append("mint", started.elapsed());
                self.cache_head(chain);
                Ok(Accepted {
                    created: true,
                    body: with_run(
                        answer(&item, 0, &hash, RecordKind::Mint, log_index),
                        Some(run.id()),
                    ),
                })
            }
            WriteOutcome::AlreadyStored(found) => {
                self.metrics.observe_idempotent();
                Ok(Accepted {
                    created: false,
                    body: with_run(record_ref_answer(&found, &hash), Some(run.id())),
                })
            }
            WriteOutcome::EditionTaken(other) => Err(LedgerError::coded(
                codes::LEDGER_EDITION_TAKEN,
                format!(
                    "edition {edition} of run {} is already minted as item {other}",
                    run.id()
                ),
            )),
            other => Err(unexpected(other)),
        }
    }

    /// Keeps `head` as the item's state for the next append, unless a newer one is cached.
    pub(super) fn cache_head(&self, head: ChainHead) {
        if let Ok(mut heads) = self.chain_heads.lock() {
            if heads.len() >= MAX_CACHED_CHAINS {
                heads.clear();
            }
            match heads.get(&head.item()) {
                Some(existing) if existing.seq() >= head.seq() => {}
                _ => {
                    heads.insert(head.item(), head);
                }
            }
        }
    }

    /// Drops what is cached about `item` (its state may be behind the store).
    pub(super) fn forget_chain(&self, item: &ItemId) {
        if let Ok(mut heads) = self.chain_heads.lock() {
            heads.remove(item);
        }
        if let Ok(mut stories) = self.stories.lock() {
            stories.remove(item);
        }
    }

    /// Verifies an item's stored records from the mint (a cache miss).
    pub(super) fn load_chain(
        &self,
        item: &ItemId,
        trust: &TrustList,
    ) -> Result<VerifiedChain, LedgerError> {
        let rows = self.store.records(item)?;
        if rows.is_empty() {
            return Err(LedgerError::not_found(format!(
                "no item {item} on this ledger"
            )));
        }
        verify_chain(rows.iter().map(|r| r.bytes.as_slice()), trust, now()).map_err(|e| {
            LedgerError::new(
                verify_status(&e.error).max(422),
                e.code(),
                format!("the stored history of item {item} does not verify under the current trust list: {e}"),
            )
        })
    }

    /// The item's state at its head for the append rules: cached, or taken from a cached
    /// story, or verified from the stored records (then cached). A copy of a few fields and
    /// counters, never of a whole history.
    pub(super) fn chain_head(
        &self,
        item: &ItemId,
        trust: &TrustList,
    ) -> Result<ChainHead, LedgerError> {
        if let Some(head) = self
            .chain_heads
            .lock()
            .ok()
            .and_then(|c| c.get(item).cloned())
        {
            return Ok(head);
        }
        let story = self.stories.lock().ok().and_then(|s| s.get(item).cloned());
        let head = match story {
            Some(story) => story.chain_head().clone(),
            None => self.load_chain(item, trust)?.into_head(),
        };
        self.cache_head(head.clone());
        Ok(head)
    }

    /// `POST /v1/items/{item}/records`: takes any later record.
    pub async fn append(&self, item: &ItemId, bytes: &[u8]) -> Result<Accepted, LedgerError> {
        let started = Instant::now();
        let hash = RecordHash::of(bytes);
        // No read before the rules: a new record (the common case) costs no lookup. A stored
        // record sent again fails the rules (its seq is not head + 1), and only then is it
        // looked up, to answer 200 with the first answer.
        let (chain, expected, record) = match self.extend_cached(item, bytes) {
            Ok(extended) => extended,
            Err(refusal) => {
                return match self.store.find_record(&hash)? {
                    Some(found) if found.item == *item => {
                        self.metrics.observe_idempotent();
                        Ok(Accepted {
                            created: false,
                            body: record_ref_answer(&found, &hash),
                        })
                    }
                    _ => Err(refusal),
                };
            }
        };
        if usize::try_from(record.seq()).map_or(true, |seq| seq >= MAX_HISTORY_RECORDS) {
            return Err(LedgerError::coded(
                codes::DECODE_TOO_LARGE,
                format!("an item's history holds at most {MAX_HISTORY_RECORDS} records"),
            ));
        }
        let kind = record.kind();
        let seq = record.seq();
        let op = WriteOp::Append {
            item: *item,
            expected,
            record: Box::new(record),
        };
        match self.write(op).await? {
            WriteOutcome::Stored { log_index } => {
                self.metrics.observe_append(kind.name(), started.elapsed());
                self.cache_head(chain);
                Ok(Accepted {
                    created: true,
                    body: answer(item, seq, &hash, kind, log_index),
                })
            }
            WriteOutcome::AlreadyStored(found) => {
                self.metrics.observe_idempotent();
                Ok(Accepted {
                    created: false,
                    body: record_ref_answer(&found, &hash),
                })
            }
            WriteOutcome::Stale(head) => {
                self.forget_chain(item);
                Err(LedgerError::stale(
                    head,
                    format!(
                        "stale head: the item moved to sequence number {} while this record was in flight",
                        head.seq
                    ),
                ))
            }
            WriteOutcome::UnknownItem => Err(LedgerError::not_found(format!(
                "no item {item} on this ledger"
            ))),
            other => Err(unexpected(other)),
        }
    }

    /// Runs every rule for `bytes` as the next record of `item` against the cached chain, and
    /// once more against the stored chain when the cache is behind the store. Returns the
    /// extended chain, the head it extends (for the writer's compare-and-swap) and the record.
    ///
    /// `extend` checks every rule before it changes anything, so the copy of the cached head is
    /// extended in place: a refused record leaves it as it was.
    fn extend_cached(
        &self,
        item: &ItemId,
        bytes: &[u8],
    ) -> Result<(ChainHead, Head, VerifiedRecord), LedgerError> {
        let trust = self.trust_list();
        let mut chain = self.chain_head(item, &trust)?;
        let head_of = |chain: &ChainHead| Head {
            seq: chain.seq(),
            hash: chain.head(),
        };
        let mut expected = head_of(&chain);
        match chain.extend(bytes, &trust, now()) {
            Ok(record) => return Ok((chain, expected, record)),
            Err(VerifyError::SeqMismatch { .. } | VerifyError::SignatureInvalid) => {}
            Err(e) => return Err(e.into()),
        }
        // The cache may be behind the store: check the stored head and retry once.
        let stored = self
            .store
            .item(item)?
            .ok_or_else(|| LedgerError::not_found(format!("no item {item} on this ledger")))?;
        if stored.head != expected {
            self.forget_chain(item);
            chain = self.chain_head(item, &trust)?;
            expected = head_of(&chain);
        }
        match chain.extend(bytes, &trust, now()) {
            Ok(record) => Ok((chain, expected, record)),
            Err(e @ VerifyError::SeqMismatch { .. }) => Err(LedgerError::stale(
                expected,
                format!("stale head: {e}; refetch the head and sign again"),
            )),
            Err(e) => Err(e.into()),
        }
    }
}
