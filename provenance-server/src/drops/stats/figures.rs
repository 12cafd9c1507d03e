//! The read side of the fold: a run's and a maker's figures ([`RunStats`], [`MakerStats`]),
//! the editions of a run, recent events. Each is built from the counters, without scanning
//! records.

use provenance_core::{ItemId, PublicKey, RunId, Timestamp};

use super::{EditionStatus, Event, Stats, DAY};
use crate::api::{Days, EventCount, MakerRef, MakerStats, RunLine, RunStats};

/// The maker as the stats name it.
fn maker_ref(key: &PublicKey) -> MakerRef {
    MakerRef {
        key: key.to_base64url(),
        key_id: key.key_id().to_string(),
    }
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn days(sorted_secs: &[u64]) -> Days {
    let n = sorted_secs.len();
    let day = |s: u64| s as f64 / DAY as f64;
    let mean = (n > 0).then(|| sorted_secs.iter().map(|&s| day(s)).sum::<f64>() / n as f64);
    let median = match n {
        0 => None,
        _ if n % 2 == 1 => sorted_secs.get(n / 2).map(|&s| day(s)),
        _ => match (sorted_secs.get(n / 2 - 1), sorted_secs.get(n / 2)) {
            (Some(&a), Some(&b)) => Some((day(a) + day(b)) / 2.0),
            _ => None,
        },
    };
    Days {
        items: n as u64,
        mean,
        median,
    }
}

impl Stats {
    /// Every run, in registration order.
    pub fn runs(&self) -> impl Iterator<Item = RunId> + '_ {
        self.run_order.iter().copied()
    }

    /// Whether `maker` registered a run.
    pub fn has_maker(&self, maker: &PublicKey) -> bool {
        self.makers.contains_key(maker)
    }

    /// A run's KPIs, or `None` for a run not in the folded log.
    pub fn run(&self, id: &RunId) -> Option<RunStats> {
        let r = self.runs.get(id)?;
        let size = r.manifest.size;
        let [s7, s30] = r.sold_within;
        let mut sales_by_day: Vec<[u64; 2]> = Vec::new();
        for (n, offset) in r.sale_offsets.iter().enumerate() {
            let day = offset / DAY;
            let total = n as u64 + 1;
            match sales_by_day.last_mut() {
                Some(last) if last[0] == day => last[1] = total,
                _ => sales_by_day.push([day, total]),
            }
        }
        Some(RunStats {
            run: id.to_base32(),
            title: r.manifest.title.clone(),
            microfactory: r.manifest.microfactory.clone(),
            place: r.manifest.place.clone(),
            maker: maker_ref(&r.maker),
            window_start: r.manifest.window_start.to_rfc3339(),
            window_end: r.manifest.window_end.to_rfc3339(),
            size,
            minted: r.minted,
            sold: r.sold,
            in_stock: r.in_stock,
            sell_through_7d: ratio(s7, size).unwrap_or(0.0),
            sell_through_30d: ratio(s30, size).unwrap_or(0.0),
            sell_through_7d_of_minted: ratio(s7, r.minted),
            sell_through_30d_of_minted: ratio(s30, r.minted),
            repairs: r.repairs,
            repairs_per_item: ratio(r.repairs, r.minted).unwrap_or(0.0),
            repairs_by_part: r.parts.clone(),
            days_sale_to_first_repair: days(&r.sale_to_repair),
            stolen: r.stolen,
            recovered: r.recovered,
            void: r.void,
            badges: r.badges,
            events: r
                .events
                .iter()
                .map(|(event, items)| EventCount {
                    event: event.clone(),
                    items: *items,
                })
                .collect(),
            items_at_several_events: r.multi_event_items,
            sales_by_day,
            log_size: self.size,
        })
    }

    /// A maker's KPIs across runs, or `None` for a key that registered no run.
    pub fn maker(&self, key: &PublicKey) -> Option<MakerStats> {
        let m = self.makers.get(key)?;
        let mut lines: Vec<(Timestamp, RunLine)> = m
            .runs
            .iter()
            .filter_map(|id| self.runs.get(id))
            .map(|r| {
                let size = r.manifest.size;
                let [s7, s30] = r.sold_within;
                (
                    r.manifest.window_start,
                    RunLine {
                        run: r.id.to_base32(),
                        title: r.manifest.title.clone(),
                        window_start: r.manifest.window_start.to_rfc3339(),
                        size,
                        minted: r.minted,
                        sold: r.sold,
                        sell_through_7d: ratio(s7, size).unwrap_or(0.0),
                        sell_through_30d: ratio(s30, size).unwrap_or(0.0),
                        repairs_per_item: ratio(r.repairs, r.minted).unwrap_or(0.0),
                    },
                )
            })
            .collect();
        lines.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.run.cmp(&b.1.run)));
        let buyers = m.buyers.len() as u64;
        Some(MakerStats {
            maker: maker_ref(key),
            runs: m.runs.len() as u64,
            minted: lines.iter().map(|l| l.1.minted).sum(),
            sold: lines.iter().map(|l| l.1.sold).sum(),
            first_hand_buyers: buyers,
            repeat_collectors: m.repeat,
            repeat_collector_rate_12m: ratio(m.repeat, buyers),
            by_run: lines.into_iter().map(|l| l.1).collect(),
            log_size: self.size,
        })
    }

    /// The editions of a run with each piece's status, by edition number.
    pub fn editions(&self, id: &RunId) -> Vec<EditionStatus> {
        let Some(r) = self.runs.get(id) else {
            return Vec::new();
        };
        r.editions
            .iter()
            .filter_map(|(&number, item)| {
                let acc = self.items.get(item)?;
                let status = if acc.void {
                    "void"
                } else if acc.stolen {
                    "stolen"
                } else if acc.owner == r.maker {
                    "in stock"
                } else {
                    "sold"
                };
                Some(EditionStatus {
                    number,
                    item: item.to_base32(),
                    short: item.short(),
                    status,
                    owners: acc.owners,
                    repairs: acc.repairs,
                    badges: acc.badges,
                })
            })
            .collect()
    }

    /// The run an item belongs to, if the item is in the folded log.
    pub fn item_run(&self, item: &ItemId) -> Option<RunId> {
        self.items.get(item).map(|a| a.run)
    }

    /// The most recent events (oldest first) of one run, or of the whole ledger.
    pub fn recent(&self, run: Option<&RunId>) -> Vec<Event> {
        match run {
            Some(id) => self
                .runs
                .get(id)
                .map(|r| r.recent.iter().cloned().collect())
                .unwrap_or_default(),
            None => self.recent.iter().cloned().collect(),
        }
    }

    /// When the run was registered (the manifest's time).
    pub fn registered(&self, id: &RunId) -> Option<Timestamp> {
        self.runs.get(id).map(|r| r.registered)
    }
}
