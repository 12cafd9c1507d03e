//! The drop KPIs (spec/kpis.md) as a fold over the ledger's Merkle log, in log order.
//!
//! [`Stats`] holds counters per run, per item and per maker, updated by [`Stats::apply`] one
//! [`Fact`] at a time, so a run's or a maker's figures are read without scanning any record
//! ([`Stats::run`], [`Stats::maker`]). The facts come from log leaves the ledger verified on
//! append ([`crate::drops::engine`] decodes them); nothing here reads a clock or the store.
//!
//! The fold also keeps who holds what ([`holdings`]): each item's current owner key and that
//! ownership's recovery commitment, indexed both ways, so "every piece this key owns" and
//! "every piece committed to this recovery sheet" are answered without scanning items.

mod figures;
pub mod holdings;

use std::collections::{BTreeMap, HashMap, VecDeque};

use provenance_core::{
    Badge, ItemId, Mint, NewOwner, PublicKey, RecordBody, RecoveryDigest, Repair, ReportStatus,
    RunId, RunManifest, Timestamp,
};

use holdings::Holdings;
use serde::Serialize;

/// Seconds in a day.
pub const DAY: u64 = 86_400;
/// The sell-through horizons, in days after the run's window start.
pub const SELL_THROUGH_DAYS: [u64; 2] = [7, 30];
/// The repeat-collector window: two first-hand purchases of different runs at most this far
/// apart (365 days).
pub const REPEAT_WINDOW_SECS: u64 = 365 * DAY;
/// Recent events kept per run and for the whole ledger.
pub const RECENT_EVENTS: usize = 20;

/// One log leaf, decoded: what the fold needs from it.
#[derive(Debug, Clone)]
pub enum Fact {
    /// A run manifest (leaf kind 2) and the maker key the ledger registered it under.
    Run {
        /// The run id.
        run: RunId,
        /// The maker's key.
        maker: PublicKey,
        /// When the maker signed the manifest.
        time: Timestamp,
        /// The manifest.
        manifest: RunManifest,
    },
    /// An item record (leaf kind 1): mint, repair, transfer, badge or report.
    Record {
        /// The item.
        item: ItemId,
        /// The record's sequence number in the item's chain (0 for the mint).
        seq: u64,
        /// The record's time (the signer's claim, checked by the chain rules).
        time: Timestamp,
        /// The record's content.
        body: RecordBody,
    },
}

/// A recent event, for the dashboard. Its text fields are untrusted record text.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    /// The leaf index in the log.
    pub index: u64,
    /// The record's time.
    pub time: String,
    /// `registered`, `minted`, `sold`, `transfer`, `repair`, `badge`, `stolen`, `recovered`, `void`.
    pub what: &'static str,
    /// The run id.
    pub run: String,
    /// The run's title.
    pub title: String,
    /// The item's short id and edition (`"3/8 ABCDEFGH"`), empty for a run.
    pub item: String,
    /// Repair note and parts, or event name; empty otherwise.
    pub detail: String,
}

/// Per-item state.
#[derive(Debug, Clone)]
struct ItemAcc {
    run: RunId,
    edition: u64,
    owner: PublicKey,
    /// The current ownership's recovery commitment (spec §3.1), if it made one.
    recovery: Option<RecoveryDigest>,
    /// The sequence number of the item's latest folded record.
    seq: u64,
    sold_at: Option<u64>,
    repaired_after_sale: bool,
    events: Vec<String>,
    repairs: u64,
    badges: u64,
    owners: u64,
    stolen: bool,
    void: bool,
}

/// Per-run counters.
#[derive(Debug, Clone)]
struct RunAcc {
    id: RunId,
    maker: PublicKey,
    registered: Timestamp,
    manifest: RunManifest,
    minted: u64,
    sold: u64,
    in_stock: u64,
    sold_within: [u64; 2],
    /// Seconds from window start to each first sale, sorted.
    sale_offsets: Vec<u64>,
    repairs: u64,
    parts: BTreeMap<String, u64>,
    /// Seconds from first sale to first repair after it, per item, sorted.
    sale_to_repair: Vec<u64>,
    stolen: u64,
    recovered: u64,
    void: u64,
    badges: u64,
    events: BTreeMap<String, u64>,
    multi_event_items: u64,
    editions: BTreeMap<u64, ItemId>,
    recent: VecDeque<Event>,
}

/// A first-hand buyer of one maker.
#[derive(Debug, Clone, Default)]
struct Buyer {
    purchases: Vec<(u64, RunId)>,
    repeat: bool,
}

/// Per-maker counters.
#[derive(Debug, Clone, Default)]
struct MakerAcc {
    runs: Vec<RunId>,
    buyers: HashMap<PublicKey, Buyer>,
    repeat: u64,
}

/// The whole fold.
#[derive(Debug, Default)]
pub struct Stats {
    size: u64,
    skipped: u64,
    runs: HashMap<RunId, RunAcc>,
    run_order: Vec<RunId>,
    items: HashMap<ItemId, ItemAcc>,
    makers: HashMap<PublicKey, MakerAcc>,
    recent: VecDeque<Event>,
    holdings: Holdings,
}

/// An edition of a run, for the provenance sheet.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EditionStatus {
    /// Edition number n.
    pub number: u64,
    /// The item id (base32).
    pub item: String,
    /// The short id.
    pub short: String,
    /// `in stock`, `sold`, `stolen` or `void`.
    pub status: &'static str,
    /// Owners so far, the maker included.
    pub owners: u64,
    /// Repairs.
    pub repairs: u64,
    /// Badges.
    pub badges: u64,
}

fn insert_sorted(v: &mut Vec<u64>, x: u64) {
    let at = v.partition_point(|&y| y <= x);
    v.insert(at, x);
}

fn push_recent(queue: &mut VecDeque<Event>, event: Event) {
    if queue.len() == RECENT_EVENTS {
        queue.pop_front();
    }
    queue.push_back(event);
}

/// Counts a repair; returns the event's detail (the note, and the parts replaced).
fn count_repair(run: &mut RunAcc, acc: &mut ItemAcc, time: u64, r: Repair) -> String {
    run.repairs += 1;
    acc.repairs += 1;
    for part in &r.parts {
        *run.parts.entry(part.clone()).or_default() += 1;
    }
    if let Some(sold) = acc.sold_at {
        if !acc.repaired_after_sale && time >= sold {
            acc.repaired_after_sale = true;
            insert_sorted(&mut run.sale_to_repair, time - sold);
        }
    }
    if r.parts.is_empty() {
        r.note
    } else {
        format!("{} (parts: {})", r.note, r.parts.join(", "))
    }
}

/// Counts a badge (and its event, once per item); returns the event name.
fn count_badge(run: &mut RunAcc, acc: &mut ItemAcc, b: Badge) -> String {
    run.badges += 1;
    acc.badges += 1;
    if !acc.events.contains(&b.event) {
        acc.events.push(b.event.clone());
        *run.events.entry(b.event.clone()).or_default() += 1;
        if acc.events.len() == 2 {
            run.multi_event_items += 1;
        }
    }
    b.event
}

/// Counts a stolen, recovered or void report; returns what the event is called.
fn count_report(run: &mut RunAcc, acc: &mut ItemAcc, status: ReportStatus) -> &'static str {
    match status {
        ReportStatus::Stolen => {
            run.stolen += 1;
            acc.stolen = true;
            "stolen"
        }
        ReportStatus::Recovered => {
            run.recovered += 1;
            acc.stolen = false;
            "recovered"
        }
        ReportStatus::Void => {
            if !acc.void {
                run.void += 1;
                if acc.owner == run.maker {
                    run.in_stock = run.in_stock.saturating_sub(1);
                }
            }
            acc.void = true;
            "void"
        }
    }
}

impl Stats {
    /// An empty fold (log size 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Log entries folded so far (the next index to fold).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Entries that could not be folded (undecodable, or naming an unknown run or item);
    /// always 0 for a log the ledger wrote.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Counts a log entry that carries no fact (see [`Stats::skipped`]).
    pub fn skip(&mut self) {
        self.size += 1;
        self.skipped += 1;
    }

    /// Folds the next log entry.
    pub fn apply(&mut self, fact: Fact) {
        let index = self.size;
        self.size += 1;
        let folded = match fact {
            Fact::Run {
                run,
                maker,
                time,
                manifest,
            } => self.register(index, run, maker, time, manifest),
            Fact::Record {
                item,
                seq,
                time,
                body,
            } => self.record(index, item, seq, time.0, body),
        };
        if !folded {
            self.skipped += 1;
        }
    }

    fn register(
        &mut self,
        index: u64,
        run: RunId,
        maker: PublicKey,
        time: Timestamp,
        manifest: RunManifest,
    ) -> bool {
        if self.runs.contains_key(&run) {
            return false;
        }
        let event = Event {
            index,
            time: time.to_rfc3339(),
            what: "registered",
            run: run.to_base32(),
            title: manifest.title.clone(),
            item: String::new(),
            detail: String::new(),
        };
        let mut acc = RunAcc {
            id: run,
            maker,
            registered: time,
            manifest,
            minted: 0,
            sold: 0,
            in_stock: 0,
            sold_within: [0; 2],
            sale_offsets: Vec::new(),
            repairs: 0,
            parts: BTreeMap::new(),
            sale_to_repair: Vec::new(),
            stolen: 0,
            recovered: 0,
            void: 0,
            badges: 0,
            events: BTreeMap::new(),
            multi_event_items: 0,
            editions: BTreeMap::new(),
            recent: VecDeque::new(),
        };
        push_recent(&mut acc.recent, event.clone());
        push_recent(&mut self.recent, event);
        self.runs.insert(run, acc);
        self.run_order.push(run);
        self.makers.entry(maker).or_default().runs.push(run);
        true
    }

    fn record(&mut self, index: u64, item: ItemId, seq: u64, time: u64, body: RecordBody) -> bool {
        if let RecordBody::Mint(m) = &body {
            return self.mint(index, item, time, m);
        }
        let Some(acc) = self.items.get_mut(&item) else {
            return false;
        };
        let Some(run) = self.runs.get_mut(&acc.run) else {
            return false;
        };
        acc.seq = acc.seq.max(seq);
        let (what, detail) = match body {
            RecordBody::Transfer(to) => {
                let before = (acc.owner, acc.recovery);
                self.change_owner(index, item, time, to.key);
                self.hold(item, before, to);
                return true;
            }
            RecordBody::Recover(r) => {
                // The same person under a new key (spec §3.1): neither a sale nor a new owner.
                let before = (acc.owner, acc.recovery);
                acc.owner = r.new_owner.key;
                acc.recovery = r.new_owner.recovery;
                self.holdings.moved(item, before, r.new_owner);
                ("owner_key_recovered", String::new())
            }
            RecordBody::Repair(r) => ("repair", count_repair(run, acc, time, r)),
            RecordBody::Badge(b) => ("badge", count_badge(run, acc, b)),
            RecordBody::Report(status) => (count_report(run, acc, status), String::new()),
            RecordBody::RecoveryReport(r) => (count_report(run, acc, r.status), String::new()),
            RecordBody::RunManifest(_) | RecordBody::Mint(_) => return false,
        };
        self.event(index, item, time, what, detail);
        true
    }

    /// A mint of a registered run: the item enters the maker's stock (or, minted to a buyer,
    /// is sold at once).
    fn mint(&mut self, index: u64, item: ItemId, time: u64, m: &Mint) -> bool {
        if self.items.contains_key(&item) {
            return false;
        }
        let Some(run) = self.runs.get_mut(&m.run) else {
            return false;
        };
        let maker = run.maker;
        run.minted += 1;
        run.in_stock += 1;
        run.editions.insert(m.number, item);
        self.items.insert(
            item,
            ItemAcc {
                run: m.run,
                edition: m.number,
                owner: maker,
                recovery: None,
                seq: 0,
                sold_at: None,
                repaired_after_sale: false,
                events: Vec::new(),
                repairs: 0,
                badges: 0,
                owners: 1,
                stolen: false,
                void: false,
            },
        );
        self.event(index, item, time, "minted", String::new());
        let owner = m.owner.unwrap_or(NewOwner {
            key: maker,
            recovery: None,
        });
        if owner.key != maker {
            self.change_owner(index, item, time, owner.key);
        }
        if let Some(acc) = self.items.get_mut(&item) {
            acc.recovery = owner.recovery;
        }
        self.holdings.insert(item, &owner);
        true
    }

    /// Moves `item` in the holdings index from `before` (owner, recovery commitment) to the
    /// ownership `now`; the item's state follows.
    fn hold(&mut self, item: ItemId, before: (PublicKey, Option<RecoveryDigest>), now: NewOwner) {
        if let Some(acc) = self.items.get_mut(&item) {
            acc.owner = now.key;
            acc.recovery = now.recovery;
            self.holdings.moved(item, before, now);
        }
    }

    /// The item changes hands; a first transfer away from the maker is a sale.
    fn change_owner(&mut self, index: u64, item: ItemId, time: u64, to: PublicKey) {
        let Some(acc) = self.items.get_mut(&item) else {
            return;
        };
        let Some(run) = self.runs.get_mut(&acc.run) else {
            return;
        };
        let from = acc.owner;
        if from == to {
            return;
        }
        if !acc.void {
            if from == run.maker {
                run.in_stock = run.in_stock.saturating_sub(1);
            }
            if to == run.maker {
                run.in_stock += 1;
            }
        }
        acc.owner = to;
        acc.owners += 1;
        let sale = acc.sold_at.is_none() && from == run.maker;
        if sale {
            acc.sold_at = Some(time);
            run.sold += 1;
            let offset = time.saturating_sub(run.manifest.window_start.0);
            for (n, horizon) in SELL_THROUGH_DAYS.iter().enumerate() {
                if offset <= horizon * DAY {
                    if let Some(c) = run.sold_within.get_mut(n) {
                        *c += 1;
                    }
                }
            }
            insert_sorted(&mut run.sale_offsets, offset);
            let run_id = run.id;
            let maker = self.makers.entry(run.maker).or_default();
            let buyer = maker.buyers.entry(to).or_default();
            if !buyer.repeat
                && buyer
                    .purchases
                    .iter()
                    .any(|&(t, r)| r != run_id && t.abs_diff(time) <= REPEAT_WINDOW_SECS)
            {
                buyer.repeat = true;
                maker.repeat += 1;
            }
            buyer.purchases.push((time, run_id));
        }
        self.event(
            index,
            item,
            time,
            if sale { "sold" } else { "transfer" },
            String::new(),
        );
    }

    fn event(&mut self, index: u64, item: ItemId, time: u64, what: &'static str, detail: String) {
        let Some(acc) = self.items.get(&item) else {
            return;
        };
        let Some(run) = self.runs.get_mut(&acc.run) else {
            return;
        };
        let event = Event {
            index,
            time: Timestamp(time).to_rfc3339(),
            what,
            run: run.id.to_base32(),
            title: run.manifest.title.clone(),
            item: format!("{}/{} {}", acc.edition, run.manifest.size, item.short()),
            detail,
        };
        push_recent(&mut run.recent, event.clone());
        push_recent(&mut self.recent, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use provenance_core::{Mint, Repair, SigningKey};

    fn manifest(size: u64) -> RunManifest {
        RunManifest {
            title: "Pin".into(),
            microfactory: "M".into(),
            place: "Leeds".into(),
            size,
            window_start: Timestamp(1_700_000_000),
            window_end: Timestamp(1_800_000_000),
        }
    }

    /// A run of `n` items, every item sold on day `i % 60` and every tenth repaired.
    fn big(n: u64) -> (Stats, RunId, PublicKey) {
        let maker = SigningKey::from_seed([1; 32]).public_key();
        let buyers: Vec<PublicKey> = (0..50u8)
            .map(|i| SigningKey::from_seed([i.wrapping_add(2); 32]).public_key())
            .collect();
        let run = RunId([9; 16]);
        let mut s = Stats::new();
        s.apply(Fact::Run {
            run,
            maker,
            time: Timestamp(1_700_000_000),
            manifest: manifest(n),
        });
        for i in 0..n {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&i.to_be_bytes());
            let item = ItemId(id);
            s.apply(Fact::Record {
                item,
                seq: 0,
                time: Timestamp(1_700_000_100),
                body: RecordBody::Mint(Mint {
                    run,
                    number: i + 1,
                    size: n,
                    title: "Pin".into(),
                    microfactory: "M".into(),
                    owner: None,
                }),
            });
            let sold = 1_700_000_000 + (i % 60) * DAY + 1;
            s.apply(Fact::Record {
                item,
                seq: 1,
                time: Timestamp(sold),
                body: RecordBody::Transfer(buyers[(i % 50) as usize].into()),
            });
            if i % 10 == 0 {
                s.apply(Fact::Record {
                    item,
                    seq: 2,
                    time: Timestamp(sold + 3 * DAY),
                    body: RecordBody::Repair(Repair {
                        note: "fix".into(),
                        parts: vec!["clasp".into()],
                    }),
                });
            }
        }
        (s, run, maker)
    }

    #[test]
    fn the_fold_counts_sales_stock_and_repairs() {
        let (s, run, maker) = big(600);
        let r = s.run(&run).unwrap();
        assert_eq!((r.minted, r.sold, r.in_stock, r.repairs), (600, 600, 0, 60));
        // Sales at day d + 1 s: within 7 days (≤ 7 × 86,400 s) are days 0..=6, 7 of every
        // 60 items; within 30, days 0..=29.
        assert_eq!(r.sell_through_7d, 70.0 / 600.0);
        assert_eq!(r.sell_through_30d, 300.0 / 600.0);
        assert_eq!(r.days_sale_to_first_repair.median, Some(3.0));
        assert_eq!(r.sales_by_day.len(), 60);
        assert_eq!(r.sales_by_day.last(), Some(&[59, 600]));
        let m = s.maker(&maker).unwrap();
        assert_eq!((m.first_hand_buyers, m.repeat_collectors), (50, 0));
        assert_eq!(s.skipped(), 0);
        assert!(s.run(&RunId([1; 16])).is_none());
    }

    #[test]
    fn records_of_unknown_items_and_runs_are_skipped_not_counted() {
        let mut s = Stats::new();
        s.apply(Fact::Record {
            item: ItemId([1; 16]),
            seq: 1,
            time: Timestamp(5),
            body: RecordBody::Transfer(SigningKey::from_seed([3; 32]).public_key().into()),
        });
        s.skip();
        assert_eq!((s.size(), s.skipped()), (2, 2));
        assert_eq!(s.runs().count(), 0);
    }
}
