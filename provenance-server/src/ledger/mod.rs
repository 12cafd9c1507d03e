//! The ledger's rules, independent of HTTP: decode → verify → authorize → compare-and-swap.
//!
//! Verification (Ed25519 and chain rules) runs on the caller's thread (an actix worker) before
//! anything is queued to the writer. A per-item cache of [`ChainHead`] (the state the rules
//! read, not the story) means each append verifies one signature and copies a few fields; a
//! miss rebuilds it from the stored records. The writer does
//! the compare-and-swap on the item's head, so of concurrent appends to one item exactly one
//! wins and the rest get 409.
//!
//! Rooms: this module holds [`Ledger`] (store, keys, trust list, caches) and how it opens;
//! [`error`] the refusal type; `append` the three writes of records (runs, mints, later
//! records) and the verified-chain cache; `trust` the trust list (`GET`/`POST /v1/trust`);
//! `heads` head statements, living payloads and exports; `log` the Merkle log's proofs and
//! entries; `views` the JSON views of items and runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::Ack;
use provenance_core::{
    ChainHead, ItemId, PublicKey, RunId, SigningKey, Timestamp, TrustList, VerifiedChain,
    VerifiedRun,
};

use crate::drops::access::StatsAccess;
use crate::metrics::Metrics;
use crate::store::{LedgerStore, StoreError, WriteOp, WriteOutcome};

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

mod append;
pub mod error;
mod heads;
mod log;
mod trust;
mod views;

pub use error::{verify_status, LedgerError, LedgerOpenError};
pub use heads::SignedHead;
pub use views::ItemState;

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
    /// Each item's state at its head, for the append rules.
    chain_heads: Mutex<HashMap<ItemId, ChainHead>>,
    /// Each item's verified story, for the views; brought up to date when read.
    stories: Mutex<HashMap<ItemId, Arc<VerifiedChain>>>,
    runs: Mutex<HashMap<RunId, VerifiedRun>>,
    heads: Mutex<HashMap<ItemId, SignedHead>>,
    metrics: Arc<Metrics>,
    public_url: Option<String>,
    stats_access: StatsAccess,
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

impl Ledger {
    /// Builds the service over a store, loading the newest stored trust list. The ledger key
    /// signs head statements (the store signs checkpoints with the same key).
    pub fn new(
        store: Arc<dyn LedgerStore>,
        signing_key: Arc<SigningKey>,
        operator: PublicKey,
        metrics: Arc<Metrics>,
    ) -> Result<Self, LedgerOpenError> {
        let trust = match store.latest_trust()? {
            Some(bytes) => {
                let list = TrustList::verify(&bytes, Some(&operator)).map_err(|error| {
                    LedgerOpenError::TrustList {
                        operator: operator.key_id(),
                        error: Box::new(error),
                    }
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
            chain_heads: Mutex::new(HashMap::new()),
            stories: Mutex::new(HashMap::new()),
            runs: Mutex::new(HashMap::new()),
            heads: Mutex::new(HashMap::new()),
            metrics,
            public_url: None,
            stats_access: StatsAccess::Public,
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

    /// Who may read the drop figures and dashboards (`serve --stats`, spec §15).
    pub fn with_stats_access(mut self, access: StatsAccess) -> Self {
        self.stats_access = access;
        self
    }

    /// Who may read the drop figures and dashboards.
    pub fn stats_access(&self) -> &StatsAccess {
        &self.stats_access
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The store.
    pub fn store(&self) -> &dyn LedgerStore {
        self.store.as_ref()
    }

    /// The current trust list, as verified when it was posted (reloaded first if another
    /// server on a shared database stored a newer one).
    pub fn current_trust(&self) -> Arc<TrustList> {
        self.trust_list()
    }

    fn trust_list(&self) -> Arc<TrustList> {
        self.refresh_trust();
        match self.trust.read() {
            Ok(t) => t.list.clone(),
            Err(poisoned) => poisoned.into_inner().list.clone(),
        }
    }

    async fn write(&self, op: WriteOp) -> Result<WriteOutcome, LedgerError> {
        match self.store.submit(op).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(LedgerError::internal(&StoreError::WriterGone)),
        }
    }
}

fn unexpected(outcome: WriteOutcome) -> LedgerError {
    LedgerError::internal(&StoreError::Corrupt(match outcome {
        WriteOutcome::Stored { .. } => "unexpected store outcome: stored",
        _ => "unexpected store outcome",
    }))
}
