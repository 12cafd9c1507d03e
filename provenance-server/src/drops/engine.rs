//! Keeps a [`Stats`] fold current with the ledger's log: on start it folds every leaf from
//! index 0, then a tail thread polls the latest checkpoint every [`TAIL_INTERVAL`] and folds
//! only the new leaves (so every server on a shared database sees every server's appends), and
//! each stats request first folds whatever the checkpoint already covers (read-your-writes).
//!
//! **Which records are counted.** The log holds only records the append path verified
//! (`ledger` → `VerifiedRecord`/`VerifiedRun`; a record and its leaf are stored in one
//! transaction). The fold decodes each leaf's record bytes with the core's strict decoder
//! ([`DecodedRecord::decode`]) and recomputes the leaf hash from them
//! ([`log::item_leaf`], [`log::run_leaf`]): an entry whose bytes do not match its stored leaf
//! is skipped, so the figures count exactly what the signed log commits to. Signatures are not
//! re-verified per request or per start: that would cost one Ed25519 check per record at
//! every start (100,000 items: seconds) and would tie the figures to today's trust list (a
//! later revocation does not undo a record the rules accepted at its time).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use provenance_core::log;
use provenance_core::{DecodedRecord, ItemId, RecordBody, RunId};
use provenance_verify::Report;
use tokio::sync::watch;

use super::broadcast::{run_renderer, Board, Broadcaster};
use super::budget::Budgets;
use super::stats::{Fact, Stats};
use crate::ledger::Ledger;
use crate::store::{Head, LeafKind, LedgerStore, LogEntry, StoreError};

/// How often the tail thread looks for new log entries.
pub const TAIL_INTERVAL: Duration = Duration::from_millis(200);
/// Log entries read per store call while folding.
const CHUNK: u64 = 1000;

/// The drops engine of one ledger: the fold, its lock, and the change notifications.
pub struct Engine {
    ledger: Weak<Ledger>,
    stats: RwLock<Stats>,
    fold: Mutex<()>,
    changed: watch::Sender<u64>,
    reports: ReportCache,
    broadcast: Broadcaster,
    budgets: OnceLock<Arc<Budgets>>,
    sheets: super::pages::SheetCache,
}

/// Item-sheet reports kept before the cache is cleared.
const MAX_CACHED_REPORTS: usize = 10_000;

/// What an item sheet's report depends on: the item's head, the trust list's version, and the
/// minute (its freshness line names the day and the head statement's time). A flood of
/// `GET /items/{item}` costs one full-history verification per item per key, not per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportKey {
    /// The item's head when the report was made.
    pub head: Head,
    /// The trust list's version.
    pub trust_version: u64,
    /// `now / HEAD_STATEMENT_REUSE_SECS`: reports are reused as long as head statements are.
    pub period: u64,
}

type Registry = Mutex<Vec<(Weak<Ledger>, Arc<Engine>)>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Vec::new()))
}

/// Turns one log entry into a fact, if its bytes decode and match the stored leaf hash.
pub fn fact_of(entry: &LogEntry, store: &dyn LedgerStore) -> Result<Option<Fact>, StoreError> {
    let Some(bytes) = entry.bytes.as_deref() else {
        return Ok(None);
    };
    let leaf = match entry.kind {
        LeafKind::Record => log::item_leaf(&ItemId(entry.id), entry.seq, bytes),
        LeafKind::Run => log::run_leaf(&RunId(entry.id), bytes),
    };
    if log::leaf_hash(&leaf) != entry.leaf_hash {
        tracing::warn!(
            index = entry.index,
            "log entry does not match its leaf; not counted"
        );
        return Ok(None);
    }
    let Ok(decoded) = DecodedRecord::decode(bytes) else {
        return Ok(None);
    };
    let time = decoded.record.time;
    Ok(match (entry.kind, decoded.record.body) {
        (LeafKind::Run, RecordBody::RunManifest(manifest)) => {
            let run = RunId(entry.id);
            store.run(&run)?.map(|row| Fact::Run {
                run,
                maker: row.maker,
                time,
                manifest,
            })
        }
        (LeafKind::Record, body) if !matches!(body, RecordBody::RunManifest(_)) => {
            Some(Fact::Record {
                item: ItemId(entry.id),
                seq: entry.seq,
                time,
                body,
            })
        }
        _ => None,
    })
}

impl Engine {
    /// The engine of `ledger`, created (with its tail thread) on first use; every actix worker
    /// gets the same one.
    pub fn for_ledger(ledger: &Arc<Ledger>) -> Arc<Engine> {
        let mut engines = match registry().lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        engines.retain(|(l, _)| l.strong_count() > 0);
        if let Some((_, engine)) = engines
            .iter()
            .find(|(l, _)| std::ptr::eq(l.as_ptr(), Arc::as_ptr(ledger)))
        {
            return engine.clone();
        }
        let (changed, _) = watch::channel(0);
        let (broadcast, wakeups) = Broadcaster::new();
        let engine = Arc::new(Engine {
            ledger: Arc::downgrade(ledger),
            stats: RwLock::new(Stats::new()),
            fold: Mutex::new(()),
            changed,
            reports: ReportCache::default(),
            broadcast,
            budgets: OnceLock::new(),
            sheets: super::pages::SheetCache::default(),
        });
        engines.push((Arc::downgrade(ledger), engine.clone()));
        let tail = Arc::downgrade(&engine);
        let spawned = std::thread::Builder::new()
            .name("drops-tail".into())
            .spawn(move || tail_loop(&tail));
        if let Err(e) = spawned {
            tracing::error!("cannot start the drops tail thread: {e}; stats fold on request");
        }
        let renderer = Arc::downgrade(&engine);
        let spawned = std::thread::Builder::new()
            .name("drops-render".into())
            .spawn(move || run_renderer(&renderer, &wakeups));
        if let Err(e) = spawned {
            tracing::error!("cannot start the dashboard renderer thread: {e}");
        }
        engine
    }

    /// The ledger, while it lives.
    pub fn ledger(&self) -> Option<Arc<Ledger>> {
        self.ledger.upgrade()
    }

    /// Folds every log entry the latest checkpoint covers and the fold has not seen. Returns
    /// the folded size.
    pub fn refresh(&self) -> Result<u64, StoreError> {
        let Some(ledger) = self.ledger.upgrade() else {
            return Ok(self.read(Stats::size));
        };
        let store = ledger.store();
        let target = store.checkpoint().map_or(0, |c| c.size);
        if self.read(Stats::size) >= target {
            return Ok(self.read(Stats::size));
        }
        let _one_folder = match self.fold.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut start = self.read(Stats::size);
        while start < target {
            let end = target.min(start.saturating_add(CHUNK));
            let entries = store.log_entries(start, end)?;
            let mut facts = Vec::with_capacity(entries.len());
            for entry in &entries {
                facts.push(fact_of(entry, store)?);
            }
            if facts.len() as u64 != end - start {
                return Err(StoreError::Corrupt(
                    "the log returned fewer entries than asked",
                ));
            }
            self.write(|stats| {
                for fact in facts {
                    match fact {
                        Some(f) => stats.apply(f),
                        None => stats.skip(),
                    }
                }
            });
            start = end;
        }
        self.changed.send_replace(target);
        self.broadcast.changed();
        Ok(target)
    }

    /// Reads the fold.
    pub fn read<T>(&self, f: impl FnOnce(&Stats) -> T) -> T {
        match self.stats.read() {
            Ok(g) => f(&g),
            Err(p) => f(&p.into_inner()),
        }
    }

    fn write(&self, f: impl FnOnce(&mut Stats)) {
        match self.stats.write() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// The dashboards' broadcaster: one render per change for every watcher.
    pub fn broadcast(&self) -> &Broadcaster {
        &self.broadcast
    }

    /// Renders `board`'s `update` event once (counted in `/metrics` as
    /// `provenance_dashboard_renders_total`).
    pub fn render_update(&self, board: Board) -> actix_web::web::Bytes {
        if let Some(ledger) = self.ledger.upgrade() {
            ledger.metrics().observe_dashboard_render();
        }
        super::dashboard::update(self, board.run())
    }

    /// The budgets of the drop pages, made from `make` by the first worker that asks (every
    /// worker of a server gives the same bounds).
    pub fn budgets(&self, make: impl FnOnce() -> Budgets) -> Arc<Budgets> {
        self.budgets.get_or_init(|| Arc::new(make())).clone()
    }

    /// The rendered run sheets.
    pub fn sheets(&self) -> &super::pages::SheetCache {
        &self.sheets
    }

    /// A receiver that wakes when the fold grows.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// The item sheet's report cached for `key`, if the item, the trust list and the minute
    /// are the same as when it was made.
    pub fn cached_report(&self, item: &ItemId, key: &ReportKey) -> Option<Arc<Report>> {
        self.reports.get(item, key)
    }

    /// Keeps an item sheet's report for later requests with the same `key`.
    pub fn keep_report(&self, item: ItemId, key: ReportKey, report: Arc<Report>) {
        self.reports.keep(item, key, report);
    }
}

/// Item-sheet reports by item, each with the key it was made for.
#[derive(Default)]
struct ReportCache(Mutex<HashMap<ItemId, (ReportKey, Arc<Report>)>>);

impl ReportCache {
    fn get(&self, item: &ItemId, key: &ReportKey) -> Option<Arc<Report>> {
        let reports = self.0.lock().ok()?;
        reports
            .get(item)
            .filter(|(made_for, _)| made_for == key)
            .map(|(_, report)| report.clone())
    }

    fn keep(&self, item: ItemId, key: ReportKey, report: Arc<Report>) {
        if let Ok(mut reports) = self.0.lock() {
            if reports.len() >= MAX_CACHED_REPORTS {
                reports.clear();
            }
            reports.insert(item, (key, report));
        }
    }
}

fn tail_loop(engine: &Weak<Engine>) {
    loop {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        if engine.ledger.strong_count() == 0 {
            return;
        }
        if let Err(e) = engine.refresh() {
            tracing::warn!("drops stats: cannot fold the log: {e}");
        }
        drop(engine);
        std::thread::sleep(TAIL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use provenance_core::{RecordHash, Timestamp, TrustList};

    #[test]
    fn a_report_is_reused_only_for_the_same_head_trust_version_and_period() {
        let cache = ReportCache::default();
        let trust = TrustList::empty(provenance_core::SigningKey::from_seed([1; 32]).public_key());
        let report = Arc::new(provenance_verify::verify_with(
            provenance_verify::Input::Text("not a payload"),
            &trust,
            Timestamp(0),
            provenance_verify::Options::default(),
        ));
        let item = ItemId([3; 16]);
        let key = ReportKey {
            head: Head {
                seq: 2,
                hash: RecordHash([7; 32]),
            },
            trust_version: 4,
            period: 100,
        };
        assert!(cache.get(&item, &key).is_none());
        cache.keep(item, key, report.clone());
        assert!(Arc::ptr_eq(&cache.get(&item, &key).unwrap(), &report));
        let moved = ReportKey {
            head: Head { seq: 3, ..key.head },
            ..key
        };
        for other in [
            moved,
            ReportKey {
                trust_version: 5,
                ..key
            },
            ReportKey { period: 101, ..key },
        ] {
            assert!(cache.get(&item, &other).is_none(), "{other:?}");
        }
        assert!(cache.get(&ItemId([4; 16]), &key).is_none());
    }
}
