//! The ledger's rules, independent of HTTP: decode → verify → authorize → compare-and-swap.
//!
//! Verification (Ed25519 and chain rules) runs on the caller's thread (an actix worker) before
//! anything is queued to the writer. A per-item cache of [`VerifiedChain`] means each append
//! verifies one signature; a miss rebuilds the chain from the stored records. The writer does
//! the compare-and-swap on the item's head, so of concurrent appends to one item exactly one
//! wins and the rest get 409.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::api::{
    Ack, BadgeInfo, CodeDetail, ConsistencyProof, EditionRef, HeadView, InclusionProof, ItemFacts,
    ItemHead, ItemView, LogEntries, LogEntryView, PartyRef, RecordAck, RecordInfo, RepairInfo,
    ReportInfo, RunAck, RunPiece, RunView, TransferInfo, TrustAck, TrustEntryView, TrustView,
};
use provenance_core::codes;
use provenance_core::head::HeadStatement;
use provenance_core::limits::MAX_HISTORY_RECORDS;
use provenance_core::log::TreeHash;
use provenance_core::payload::{HeadStatementBytes, LogAnchor};
use provenance_core::{
    verify_chain, verify_run, ErrorCode, History, ItemId, Payload, PublicKey, RecordHash,
    RecordKind, RunId, SigningKey, Timestamp, TrustError, TrustList, VerifiedChain, VerifiedRun,
    VerifyError,
};

use crate::metrics::Metrics;
use crate::store::{
    Head, LedgerStore, LogEntry, RecordRef, RecordRow, SignedCheckpoint, StoreError, WriteOp,
    WriteOutcome,
};

/// QR alphanumeric capacity at version 40, error correction M (the level labels use).
pub const QR_CAPACITY_M: usize = 3391;
/// Byte budget of a living payload's CBOR: the most bytes whose `PV1:` + base45 string fits
/// [`QR_CAPACITY_M`] (base45 writes 3 characters per 2 bytes).
pub const LIVING_BUDGET: usize = (QR_CAPACITY_M - provenance_core::PAYLOAD_PREFIX.len()) / 3 * 2;
/// Most log entries one `GET /v1/log/entries` answers with.
pub const MAX_ENTRIES_PAGE: u64 = 256;
/// Chains kept in the verified-chain cache before it is cleared.
const MAX_CACHED_CHAINS: usize = 200_000;
/// How long (seconds) a signed head statement is served again for an unchanged head, so a
/// flood of unauthenticated `GET /head`, `/payload` or `/qr.*` costs one signature per item
/// per interval, not one per request. Collectors see the statement's own time, at most this
/// much older than the request.
pub const HEAD_STATEMENT_REUSE_SECS: u64 = 60;
/// Head statements kept in the cache before it is cleared.
const MAX_CACHED_HEADS: usize = 100_000;

/// Why the ledger refuses a request: the spec's code, the HTTP status spec §10 gives it (or
/// the one the ledger chose, e.g. 422 for stored history that no longer verifies), a detail for
/// people, and for a stale head the item's current head. The HTTP layer renders it as RFC 9457
/// problem+json ([`crate::http`] implements actix's `ResponseError` for it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail} [{code}]")]
pub struct LedgerError {
    /// HTTP status code.
    pub status: u16,
    /// The spec's stable error code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub detail: String,
    /// For a stale head: the item's current head.
    pub head: Option<Head>,
}

impl LedgerError {
    /// A problem with no head.
    pub fn new(status: u16, code: &'static str, detail: impl Into<String>) -> Self {
        LedgerError {
            status,
            code,
            detail: detail.into(),
            head: None,
        }
    }

    /// A problem whose status is the spec's for `code` ([`crate::status::for_code`]; 500 for a
    /// code the ledger never answers with).
    pub fn coded(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(crate::status::for_code(code).unwrap_or(500), code, detail)
    }

    /// 404 `ledger.not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::coded(codes::LEDGER_NOT_FOUND, detail)
    }

    /// 400 `ledger.bad_request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::coded(codes::LEDGER_BAD_REQUEST, detail)
    }

    /// 500 `ledger.internal`; the cause is logged, not shown.
    pub fn internal(error: &StoreError) -> Self {
        tracing::error!("internal error: {error}");
        match error {
            StoreError::WriterGone => Self::coded(
                codes::LEDGER_OVERLOADED,
                "the ledger is shutting down; nothing was stored",
            ),
            e if e.is_contention() => Self::coded(
                codes::LEDGER_OVERLOADED,
                "the ledger's database is busy; nothing was stored, retry",
            ),
            _ => Self::new(
                500,
                codes::LEDGER_INTERNAL,
                "the ledger failed internally; nothing was stored",
            ),
        }
    }

    /// 409 stale head with the current head.
    pub fn stale(head: Head, detail: impl Into<String>) -> Self {
        LedgerError {
            status: 409,
            code: codes::CHAIN_SEQ_MISMATCH,
            detail: detail.into(),
            head: Some(head),
        }
    }

    /// The one-line meaning of the code, from the spec's table.
    pub fn title(&self) -> &'static str {
        provenance_core::codes::ALL_CODES
            .iter()
            .find(|(c, _)| *c == self.code)
            .map_or("error", |(_, t)| t)
    }
}

impl ErrorCode for LedgerError {
    fn code(&self) -> &'static str {
        self.code
    }
}

impl From<StoreError> for LedgerError {
    fn from(e: StoreError) -> Self {
        LedgerError::internal(&e)
    }
}

/// The HTTP status for a verification failure (spec §10's HTTP column).
pub fn verify_status(e: &VerifyError) -> u16 {
    crate::status::for_code(e.code()).unwrap_or(422)
}

impl From<VerifyError> for LedgerError {
    fn from(e: VerifyError) -> Self {
        LedgerError::new(verify_status(&e), e.code(), e.to_string())
    }
}

impl From<TrustError> for LedgerError {
    fn from(e: TrustError) -> Self {
        LedgerError::coded(e.code(), e.to_string())
    }
}

/// A successful write: 201 (created) or 200 (already stored), with its JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// True when this request stored it, false when it was already stored.
    pub created: bool,
    /// The answer body.
    pub body: Ack,
}

/// The living QR payload of an item and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemPayload {
    /// The `PV1:` string.
    pub text: String,
    /// `living` (every record and the head statement), `living-mint` (the mint and the head
    /// statement), or `label` (the mint alone, when the stored history no longer verifies).
    pub form: &'static str,
}

struct TrustState {
    list: Arc<TrustList>,
    bytes: Option<Arc<Vec<u8>>>,
}

/// The ledger service: store, trust list, caches and metrics.
pub struct Ledger {
    store: Arc<dyn LedgerStore>,
    signing_key: Arc<SigningKey>,
    ledger_key: PublicKey,
    operator: PublicKey,
    trust: RwLock<TrustState>,
    trust_update: tokio::sync::Mutex<()>,
    chains: Mutex<HashMap<ItemId, VerifiedChain>>,
    runs: Mutex<HashMap<RunId, VerifiedRun>>,
    heads: Mutex<HashMap<ItemId, SignedHead>>,
    metrics: Arc<Metrics>,
    public_url: Option<String>,
}

/// The current time at the edge (seconds since the epoch).
pub fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

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

impl Ledger {
    /// Builds the service over a store, loading the newest stored trust list. The ledger key
    /// signs head statements (the store signs checkpoints with the same key).
    pub fn new(
        store: Arc<dyn LedgerStore>,
        signing_key: Arc<SigningKey>,
        operator: PublicKey,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let stored = store.latest_trust().map_err(|e| e.to_string())?;
        let trust = match stored {
            Some(bytes) => {
                let list = TrustList::verify(&bytes, Some(&operator)).map_err(|e| {
                    format!("the stored trust list does not verify for operator {operator}: {e}")
                })?;
                TrustState {
                    list: Arc::new(list),
                    bytes: Some(Arc::new(bytes)),
                }
            }
            None => TrustState {
                list: Arc::new(TrustList::empty(operator)),
                bytes: None,
            },
        };
        let ledger_key = signing_key.public_key();
        Ok(Ledger {
            store,
            signing_key,
            ledger_key,
            operator,
            trust: RwLock::new(trust),
            trust_update: tokio::sync::Mutex::new(()),
            chains: Mutex::new(HashMap::new()),
            runs: Mutex::new(HashMap::new()),
            heads: Mutex::new(HashMap::new()),
            metrics,
            public_url: None,
        })
    }

    /// Where collectors reach this ledger (`serve --public-url`): labels then encode
    /// `<public url>/v#PV1:...` (spec §7.5).
    pub fn with_public_url(mut self, public_url: Option<String>) -> Self {
        self.public_url = public_url.map(|u| u.trim_end_matches('/').to_string());
        self
    }

    /// The public URL, if the ledger has one.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The store.
    pub fn store(&self) -> &dyn LedgerStore {
        self.store.as_ref()
    }

    fn trust_list(&self) -> Arc<TrustList> {
        self.refresh_trust();
        match self.trust.read() {
            Ok(t) => t.list.clone(),
            Err(poisoned) => poisoned.into_inner().list.clone(),
        }
    }

    /// With several servers on one database, another server may have stored a newer trust
    /// list: reload it (and drop what was verified under the old one) before it is used. A
    /// store with one writer answers `None` and this costs nothing.
    fn refresh_trust(&self) {
        let stored = match self.store.shared_trust_version() {
            Ok(Some(v)) => v,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("cannot check the stored trust list's version: {e}");
                return;
            }
        };
        let current = match self.trust.read() {
            Ok(t) => t.list.content().version,
            Err(p) => p.into_inner().list.content().version,
        };
        if stored <= current {
            return;
        }
        let bytes = match self.store.latest_trust() {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("cannot reload the stored trust list: {e}");
                return;
            }
        };
        let list = match TrustList::verify(&bytes, Some(&self.operator)) {
            Ok(list) => list,
            Err(e) => {
                tracing::error!("the stored trust list does not verify for the operator: {e}");
                return;
            }
        };
        {
            let mut state = match self.trust.write() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            if state.list.content().version >= list.content().version {
                return;
            }
            *state = TrustState {
                list: Arc::new(list),
                bytes: Some(Arc::new(bytes)),
            };
        }
        if let Ok(mut runs) = self.runs.lock() {
            runs.clear();
        }
        if let Ok(mut chains) = self.chains.lock() {
            chains.clear();
        }
    }

    async fn write(&self, op: WriteOp) -> Result<WriteOutcome, LedgerError> {
        match self.store.submit(op).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(LedgerError::internal(&StoreError::WriterGone)),
        }
    }

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

    fn cache_run(&self, run: VerifiedRun) {
        if let Ok(mut runs) = self.runs.lock() {
            if runs.len() >= MAX_CACHED_CHAINS {
                runs.clear();
            }
            runs.insert(run.id(), run);
        }
    }

    /// The verified run for a mint: registered, verified under the current trust list, and
    /// signed by the same maker.
    fn run_for_mint(
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
        let (chain, record) = VerifiedChain::start(bytes, &trust, now())?;
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
                self.cache_chain(chain);
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

    fn cache_chain(&self, chain: VerifiedChain) {
        if let Ok(mut chains) = self.chains.lock() {
            if chains.len() >= MAX_CACHED_CHAINS {
                chains.clear();
            }
            match chains.get(&chain.item()) {
                Some(existing) if existing.seq() >= chain.seq() => {}
                _ => {
                    chains.insert(chain.item(), chain);
                }
            }
        }
    }

    fn forget_chain(&self, item: &ItemId) {
        if let Ok(mut chains) = self.chains.lock() {
            chains.remove(item);
        }
    }

    /// Verifies an item's stored records from the mint (a cache miss).
    fn load_chain(
        &self,
        item: &ItemId,
        trust: &TrustList,
    ) -> Result<(VerifiedChain, Vec<RecordRow>), LedgerError> {
        let rows = self.store.records(item)?;
        if rows.is_empty() {
            return Err(LedgerError::not_found(format!(
                "no item {item} on this ledger"
            )));
        }
        let chain = verify_chain(rows.iter().map(|r| r.bytes.as_slice()), trust, now()).map_err(|e| {
            LedgerError::new(
                verify_status(&e.error).max(422),
                e.code(),
                format!("the stored history of item {item} does not verify under the current trust list: {e}"),
            )
        })?;
        Ok((chain, rows))
    }

    fn chain(&self, item: &ItemId, trust: &TrustList) -> Result<VerifiedChain, LedgerError> {
        if let Some(chain) = self.chains.lock().ok().and_then(|c| c.get(item).cloned()) {
            return Ok(chain);
        }
        let (chain, _) = self.load_chain(item, trust)?;
        self.cache_chain(chain.clone());
        Ok(chain)
    }

    /// `POST /v1/items/{item}/records`: takes any later record.
    pub async fn append(&self, item: &ItemId, bytes: &[u8]) -> Result<Accepted, LedgerError> {
        let started = Instant::now();
        let hash = RecordHash::of(bytes);
        if let Some(found) = self.store.find_record(&hash)? {
            if found.item == *item {
                self.metrics.observe_idempotent();
                return Ok(Accepted {
                    created: false,
                    body: record_ref_answer(&found, &hash),
                });
            }
        }
        let trust = self.trust_list();
        // `extend` checks every rule before it changes anything, so the copy taken from the
        // cache is extended in place: a refused record leaves it as it was (one copy per
        // append, where there were two).
        let mut chain = self.chain(item, &trust)?;
        let mut expected = Head {
            seq: chain.seq(),
            hash: chain.head(),
        };
        let record = match chain.extend(bytes, &trust, now()) {
            Ok(r) => r,
            Err(VerifyError::SeqMismatch { .. } | VerifyError::SignatureInvalid) => {
                // The cache may be behind the store: check the stored head and retry once.
                let stored = self.store.item(item)?.ok_or_else(|| {
                    LedgerError::not_found(format!("no item {item} on this ledger"))
                })?;
                if stored.head.seq != chain.seq() || stored.head.hash != chain.head() {
                    self.forget_chain(item);
                    chain = self.chain(item, &trust)?;
                    expected = Head {
                        seq: chain.seq(),
                        hash: chain.head(),
                    };
                }
                match chain.extend(bytes, &trust, now()) {
                    Ok(r) => r,
                    Err(e @ VerifyError::SeqMismatch { .. }) => {
                        return Err(LedgerError::stale(
                            expected,
                            format!("stale head: {e}; refetch the head and sign again"),
                        ))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
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
                self.cache_chain(chain);
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

    /// The stored records of an item, its run manifest and (if it verifies) its chain.
    pub fn item_state(&self, item: &ItemId) -> Result<ItemState, LedgerError> {
        let row = self
            .store
            .item(item)?
            .ok_or_else(|| LedgerError::not_found(format!("no item {item} on this ledger")))?;
        let records = self.store.records(item)?;
        let run = self.store.run(&row.run)?;
        let trust = self.trust_list();
        let cached = self.chains.lock().ok().and_then(|c| c.get(item).cloned());
        let last = records.last().map(|r| (r.seq, r.hash));
        let chain = match cached {
            Some(c) if last == Some((c.seq(), c.head())) => Ok(c),
            _ => match verify_chain(records.iter().map(|r| r.bytes.as_slice()), &trust, now()) {
                Ok(c) => {
                    self.cache_chain(c.clone());
                    Ok(c)
                }
                Err(e) => Err(LedgerError::new(422, e.code(), e.to_string())),
            },
        };
        Ok(ItemState {
            item: *item,
            run_id: row.run,
            run_bytes: run.map(|r| r.bytes),
            records,
            chain,
        })
    }

    /// `GET /v1/runs/{run}`: the run and its minted items.
    pub fn run_view(&self, id: &RunId) -> Result<RunView, LedgerError> {
        let row = self
            .store
            .run(id)?
            .ok_or_else(|| LedgerError::not_found(format!("no run {id} on this ledger")))?;
        let decoded = provenance_core::DecodedRecord::decode(&row.bytes)
            .map_err(|_| LedgerError::internal(&StoreError::Corrupt("stored run manifest")))?;
        let provenance_core::RecordBody::RunManifest(m) = decoded.record.body else {
            return Err(LedgerError::internal(&StoreError::Corrupt(
                "stored run manifest kind",
            )));
        };
        let trust = self.trust_list();
        let maker_name = trust
            .entry(&row.maker.key_id())
            .map(|e| e.name.clone())
            .unwrap_or_default();
        let items: Vec<RunPiece> = self
            .store
            .run_items(id)?
            .into_iter()
            .map(|(number, item)| RunPiece {
                number,
                item: item.to_base32(),
                short: item.short(),
            })
            .collect();
        Ok(RunView {
            run: id.to_base32(),
            title: m.title,
            microfactory: m.microfactory,
            place: m.place,
            size: m.size,
            window_start: m.window_start.to_rfc3339(),
            window_end: m.window_end.to_rfc3339(),
            time: decoded.record.time.to_rfc3339(),
            maker: PartyRef {
                key: row.maker.to_base64url(),
                key_id: row.maker.key_id().to_string(),
                name: maker_name,
            },
            head: row.hash.to_hex(),
            minted: items.len(),
            items,
        })
    }

    /// The raw signed trust list, if one was posted.
    pub fn trust_bytes(&self) -> Option<Arc<Vec<u8>>> {
        self.refresh_trust();
        match self.trust.read() {
            Ok(t) => t.bytes.clone(),
            Err(p) => p.into_inner().bytes.clone(),
        }
    }

    /// `GET /v1/trust` as JSON: the ledger and operator keys and the current list.
    pub fn trust_view(&self) -> TrustView {
        let list = self.trust_list();
        let content = list.content();
        let entries = content
            .entries
            .iter()
            .map(|e| TrustEntryView {
                key: e.key.to_base64url(),
                key_id: e.key.key_id().to_string(),
                name: e.name.clone(),
                roles: e.roles.iter().map(|r| r.name().to_string()).collect(),
                valid_from: e.valid_from.to_rfc3339(),
                valid_until: e.valid_until.map(|t| t.to_rfc3339()),
                revoked_at: e.revoked_at.map(|t| t.to_rfc3339()),
            })
            .collect();
        TrustView {
            public_url: self.public_url.clone(),
            version: content.version,
            issued_at: content.issued_at.to_rfc3339(),
            operator: self.operator.to_base64url(),
            ledger: self.ledger_key.to_base64url(),
            listed_ledger: content.ledger.map(|k| k.to_base64url()),
            entries,
        }
    }

    /// `POST /v1/trust`: stores a new operator-signed trust list with a higher version.
    pub async fn put_trust(&self, bytes: &[u8]) -> Result<Accepted, LedgerError> {
        let list = TrustList::verify(bytes, Some(&self.operator))?;
        if list.content().ledger.is_some_and(|k| k != self.ledger_key) {
            return Err(LedgerError::bad_request(format!(
                "the trust list names ledger key {}, but this ledger's key is {}",
                list.content()
                    .ledger
                    .map(|k| k.to_base64url())
                    .unwrap_or_default(),
                self.ledger_key
            )));
        }
        let _guard = self.trust_update.lock().await;
        let version = list.content().version;
        let current = self.trust_list().content().version;
        if version <= current {
            return Err(stale_trust(version, current));
        }
        let op = WriteOp::Trust {
            version,
            issued_at: list.content().issued_at,
            bytes: bytes.to_vec(),
        };
        match self.write(op).await? {
            WriteOutcome::Stored { .. } => {
                let entries = list.content().entries.len();
                {
                    let mut state = match self.trust.write() {
                        Ok(s) => s,
                        Err(p) => p.into_inner(),
                    };
                    *state = TrustState {
                        list: Arc::new(list),
                        bytes: Some(Arc::new(bytes.to_vec())),
                    };
                }
                if let Ok(mut runs) = self.runs.lock() {
                    runs.clear();
                }
                if let Ok(mut chains) = self.chains.lock() {
                    chains.clear();
                }
                Ok(Accepted {
                    created: true,
                    body: Ack::Trust(TrustAck { version, entries }),
                })
            }
            WriteOutcome::TrustStale { current } => Err(stale_trust(version, current)),
            other => Err(unexpected(other)),
        }
    }
}

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

fn hashes_hex(hashes: &[TreeHash]) -> Vec<String> {
    hashes.iter().map(|h| hex::encode(h.0)).collect()
}

/// Parses a decimal query parameter.
pub fn query_u64(value: Option<&str>, name: &str) -> Result<u64, LedgerError> {
    let text =
        value.ok_or_else(|| LedgerError::bad_request(format!("missing query parameter {name}")))?;
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LedgerError::bad_request(format!(
            "query parameter {name} must be a decimal number, not {text:?}"
        )));
    }
    text.parse()
        .map_err(|_| LedgerError::bad_request(format!("query parameter {name} is out of range")))
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

    fn sign_head(&self, chain: &VerifiedChain, log_size: u64) -> SignedHead {
        let statement = HeadStatement::for_chain(chain, now(), log_size);
        let bytes = statement.sign(&self.signing_key);
        self.metrics.observe_head_signed();
        SignedHead { statement, bytes }
    }

    /// A head statement for `chain`: the one signed for this same head less than
    /// [`HEAD_STATEMENT_REUSE_SECS`] ago (and naming a log no larger than `max_log_size`), or a
    /// freshly signed one, which is then cached.
    fn cached_head(&self, chain: &VerifiedChain, log_size: u64, max_log_size: u64) -> SignedHead {
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
        Ok(self.cached_head(&chain, log_size, u64::MAX))
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
        let head = self.cached_head(chain, self.log_size_for(&state.records), u64::MAX);
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
        let head = self.cached_head(&chain, cp.size, cp.size);
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

fn stale_trust(version: u64, current: u64) -> LedgerError {
    LedgerError::coded(
        codes::LEDGER_TRUST_VERSION_STALE,
        format!("trust list version {version} is not above the current version {current}"),
    )
}

fn with_run(mut body: Ack, run: Option<RunId>) -> Ack {
    if let Ack::Record(ack) = &mut body {
        ack.run = run.map(|r| r.to_base32());
    }
    body
}

fn unexpected(outcome: WriteOutcome) -> LedgerError {
    LedgerError::internal(&StoreError::Corrupt(match outcome {
        WriteOutcome::Stored { .. } => "unexpected store outcome: stored",
        _ => "unexpected store outcome",
    }))
}

/// Everything known about one item: stored records, run manifest and verified chain.
pub struct ItemState {
    /// The item id.
    pub item: ItemId,
    /// The run id.
    pub run_id: RunId,
    /// The run manifest's bytes.
    pub run_bytes: Option<Vec<u8>>,
    /// The stored records, mint first.
    pub records: Vec<RecordRow>,
    /// The chain, or why it does not verify under the current trust list.
    pub chain: Result<VerifiedChain, LedgerError>,
}

impl ItemState {
    /// The full-history container (records and run manifest).
    pub fn history(&self) -> History {
        History {
            records: self.records.iter().map(|r| r.bytes.clone()).collect(),
            run: self.run_bytes.clone(),
            head: None,
            anchor: None,
        }
    }

    /// The JSON history: every record, and what the verified records say (when they verify).
    pub fn to_view(&self) -> ItemView {
        let records = self
            .records
            .iter()
            .map(|r| RecordInfo {
                seq: r.seq,
                kind: r.kind.name().to_string(),
                hash: r.hash.to_hex(),
                time: r.time.to_rfc3339(),
                signer: r.signer.to_base64url(),
                received_at: r.received_at.to_rfc3339(),
                size: r.bytes.len(),
                log_index: r.log_index,
            })
            .collect();
        let head = self.records.last().map(|r| ItemHead {
            seq: r.seq,
            hash: r.hash.to_hex(),
            time: r.time.to_rfc3339(),
        });
        let (problem, facts) = match &self.chain {
            Err(p) => (
                Some(CodeDetail {
                    code: p.code.to_string(),
                    detail: p.detail.clone(),
                }),
                None,
            ),
            Ok(c) => (None, Some(self.facts(c))),
        };
        ItemView {
            item: self.item.to_base32(),
            short: self.item.short(),
            run: self.run_id.to_base32(),
            head,
            records,
            verified: facts.is_some(),
            problem,
            facts,
        }
    }

    fn facts(&self, c: &VerifiedChain) -> ItemFacts {
        let place = self
            .run_bytes
            .as_deref()
            .and_then(|b| provenance_core::DecodedRecord::decode(b).ok())
            .and_then(|d| match d.record.body {
                provenance_core::RecordBody::RunManifest(m) => Some(m.place),
                _ => None,
            });
        let m = c.mint();
        let key = |k: &PublicKey| k.to_base64url();
        ItemFacts {
            maker: PartyRef {
                key: key(&c.maker().key),
                key_id: c.maker().key.key_id().to_string(),
                name: c.maker().name.clone(),
            },
            title: m.title.clone(),
            microfactory: m.microfactory.clone(),
            place,
            edition: EditionRef {
                number: m.number,
                size: m.size,
            },
            minted_at: c.minted_at().to_rfc3339(),
            owner: key(c.owner()),
            owner_count: c.owner_count() as u64,
            stolen: c.is_stolen(),
            void: c.is_void(),
            repairs: c
                .repairs()
                .iter()
                .map(|r| RepairInfo {
                    time: r.time.to_rfc3339(),
                    desk: r.desk.name.clone(),
                    desk_key: key(&r.desk.key),
                    note: r.note.clone(),
                    parts: r.parts.clone(),
                })
                .collect(),
            transfers: c
                .transfers()
                .iter()
                .map(|t| TransferInfo {
                    time: t.time.to_rfc3339(),
                    from: key(&t.from),
                    to: key(&t.to),
                })
                .collect(),
            badges: c
                .badges()
                .iter()
                .map(|b| BadgeInfo {
                    time: b.time.to_rfc3339(),
                    host: b.host.name.clone(),
                    host_key: key(&b.host.key),
                    event: b.event.clone(),
                    place: b.place.clone(),
                })
                .collect(),
            reports: c
                .reports()
                .iter()
                .map(|r| ReportInfo {
                    time: r.time.to_rfc3339(),
                    status: r.status.name().to_string(),
                })
                .collect(),
        }
    }
}
