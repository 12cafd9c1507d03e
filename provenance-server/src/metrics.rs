//! Prometheus text metrics, hand-written: appends, rejections by spec code, group-commit batch
//! sizes and append latency.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::store::StoreStats;

/// A cumulative histogram with fixed upper bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: Vec<f64>,
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
    scale: f64,
}

impl Histogram {
    /// A histogram with these bucket upper bounds; observed values are stored in units of
    /// `1/scale` so the sum can be an integer.
    fn new(bounds: &[f64], scale: f64) -> Self {
        Histogram {
            bounds: bounds.to_vec(),
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
            scale,
        }
    }

    fn observe(&self, value: f64) {
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            if value <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum_micros
            .fetch_add(scaled_count(value * self.scale), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let total = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / self.scale;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {total}");
    }
}

/// The ledger's counters and histograms.
#[derive(Debug)]
pub struct Metrics {
    appends: Mutex<BTreeMap<&'static str, u64>>,
    idempotent: AtomicU64,
    head_statements_signed: AtomicU64,
    dashboard_renders: AtomicU64,
    page_renders: AtomicU64,
    /// The SQLite backend's WAL (issue 26).
    pub wal: WalMetrics,
    rejections: Mutex<BTreeMap<&'static str, u64>>,
    batch: Histogram,
    latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            appends: Mutex::new(BTreeMap::new()),
            idempotent: AtomicU64::new(0),
            head_statements_signed: AtomicU64::new(0),
            dashboard_renders: AtomicU64::new(0),
            page_renders: AtomicU64::new(0),
            wal: WalMetrics::default(),
            rejections: Mutex::new(BTreeMap::new()),
            batch: Histogram::new(&[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0], 1.0),
            latency: Histogram::new(
                &[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
                1e6,
            ),
        }
    }
}

impl Metrics {
    /// Counts one committed append of `kind` and its latency.
    pub fn observe_append(&self, kind: &'static str, latency: Duration) {
        if let Ok(mut m) = self.appends.lock() {
            *m.entry(kind).or_default() += 1;
        }
        self.latency.observe(latency.as_secs_f64());
    }

    /// Counts a re-post answered from the store.
    pub fn observe_idempotent(&self) {
        self.idempotent.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a rejection by its spec code.
    pub fn observe_rejection(&self, code: &'static str) {
        if let Ok(mut m) = self.rejections.lock() {
            *m.entry(code).or_default() += 1;
        }
    }

    /// Counts one head statement signed (a cache miss: see `Ledger::head`).
    pub fn observe_head_signed(&self) {
        self.head_statements_signed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one render of a dashboard update (once per log change and watched board, not
    /// per watcher: `drops::broadcast`).
    pub fn observe_dashboard_render(&self) {
        self.dashboard_renders.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one uncached heavy page render (a run sheet or a label QR code).
    pub fn observe_page_render(&self) {
        self.page_renders.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the size of one group-commit batch.
    pub fn observe_batch(&self, size: usize) {
        self.batch.observe(size as f64);
    }

    /// Renders everything in the Prometheus text exposition format.
    pub fn render(&self, stats: Option<StoreStats>) -> String {
        let mut out = String::new();
        out.push_str("# HELP provenance_appends_total Records committed, by kind.\n");
        out.push_str("# TYPE provenance_appends_total counter\n");
        if let Ok(m) = self.appends.lock() {
            for (kind, n) in m.iter() {
                let _ = writeln!(out, "provenance_appends_total{{kind=\"{kind}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP provenance_head_statements_signed_total Head statements signed (cache misses).\n\
             # TYPE provenance_head_statements_signed_total counter\n\
             provenance_head_statements_signed_total {}",
            self.head_statements_signed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP provenance_dashboard_renders_total Dashboard updates rendered (once per log change and watched board).\n\
             # TYPE provenance_dashboard_renders_total counter\n\
             provenance_dashboard_renders_total {}\n\
             # HELP provenance_page_renders_total Uncached heavy page renders (run sheets, label QR codes).\n\
             # TYPE provenance_page_renders_total counter\n\
             provenance_page_renders_total {}",
            self.dashboard_renders.load(Ordering::Relaxed),
            self.page_renders.load(Ordering::Relaxed)
        );
        self.wal.render(&mut out);
        let _ = writeln!(
            out,
            "# HELP provenance_idempotent_reposts_total Re-posted records answered from the store.\n\
             # TYPE provenance_idempotent_reposts_total counter\n\
             provenance_idempotent_reposts_total {}",
            self.idempotent.load(Ordering::Relaxed)
        );
        out.push_str("# HELP provenance_rejections_total Refused requests, by spec error code.\n");
        out.push_str("# TYPE provenance_rejections_total counter\n");
        if let Ok(m) = self.rejections.lock() {
            for (code, n) in m.iter() {
                let _ = writeln!(out, "provenance_rejections_total{{code=\"{code}\"}} {n}");
            }
        }
        self.batch.render(
            &mut out,
            "provenance_commit_batch_size",
            "Writes committed per group-commit transaction.",
        );
        self.latency.render(
            &mut out,
            "provenance_append_latency_seconds",
            "Time from request to committed answer for accepted appends.",
        );
        if let Some(s) = stats {
            for (name, value) in [
                ("runs", s.runs),
                ("items", s.items),
                ("records", s.records),
                ("trust_lists", s.trust_lists),
            ] {
                let _ = writeln!(
                    out,
                    "# HELP provenance_stored_{name} Rows stored.\n# TYPE provenance_stored_{name} gauge\nprovenance_stored_{name} {value}"
                );
            }
        }
        out
    }
}

/// The SQLite backend's WAL: its size, the checkpoints that copy and restart it, and the
/// writer's waits at the size bound (`sqlite::wal`). All zero on PostgreSQL.
#[derive(Debug)]
pub struct WalMetrics {
    bytes: AtomicU64,
    peak_bytes: AtomicU64,
    frames_checkpointed: AtomicU64,
    restarts: AtomicU64,
    restarts_busy: AtomicU64,
    restart_seconds: Histogram,
    writer_waits: Histogram,
    wait_timeouts: AtomicU64,
}

impl Default for WalMetrics {
    fn default() -> Self {
        let seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0];
        WalMetrics {
            bytes: AtomicU64::new(0),
            peak_bytes: AtomicU64::new(0),
            frames_checkpointed: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            restarts_busy: AtomicU64::new(0),
            restart_seconds: Histogram::new(&seconds, 1e6),
            writer_waits: Histogram::new(&seconds, 1e6),
            wait_timeouts: AtomicU64::new(0),
        }
    }
}

impl WalMetrics {
    /// Records the WAL file's size now (and the largest seen).
    pub fn observe_size(&self, bytes: u64) {
        self.bytes.store(bytes, Ordering::Relaxed);
        self.peak_bytes.fetch_max(bytes, Ordering::Relaxed);
    }

    /// Counts frames a checkpoint newly copied into the database file.
    pub fn observe_frames_copied(&self, frames: u64) {
        self.frames_checkpointed
            .fetch_add(frames, Ordering::Relaxed);
    }

    /// Counts a completed `TRUNCATE` checkpoint and how long it held the writer.
    pub fn observe_restart(&self, took: Duration) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
        self.restart_seconds.observe(took.as_secs_f64());
    }

    /// Counts a `TRUNCATE` checkpoint that gave up waiting for a reader or the writer.
    pub fn observe_restart_busy(&self) {
        self.restarts_busy.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a wait of the writer at the bound.
    pub fn observe_writer_wait(&self, took: Duration) {
        self.writer_waits.observe(took.as_secs_f64());
    }

    /// Counts a writer wait that ran out before the WAL restarted.
    pub fn observe_wait_timeout(&self) {
        self.wait_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// The WAL file's size when last seen, in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The largest WAL file size seen since the start, in bytes.
    pub fn peak_bytes(&self) -> u64 {
        self.peak_bytes.load(Ordering::Relaxed)
    }

    /// WAL frames copied into the database file so far, each counted once.
    pub fn frames_checkpointed(&self) -> u64 {
        self.frames_checkpointed.load(Ordering::Relaxed)
    }

    /// Completed WAL restarts so far.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Writer waits that ran out before the WAL restarted.
    pub fn wait_timeouts(&self) -> u64 {
        self.wait_timeouts.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String) {
        for (name, kind, help, value) in [
            ("provenance_sqlite_wal_bytes", "gauge", "The WAL file's size when last seen (after each commit and checkpoint).", self.bytes()),
            ("provenance_sqlite_wal_peak_bytes", "gauge", "The largest WAL file size seen since the server started.", self.peak_bytes()),
            ("provenance_wal_frames_checkpointed_total", "counter", "WAL frames copied into the database file by the checkpointer, each counted once.", self.frames_checkpointed()),
            ("provenance_sqlite_wal_restarts_total", "counter", "TRUNCATE checkpoints that completed: the WAL starts again from its beginning, its file empty.", self.restarts()),
            ("provenance_sqlite_wal_restarts_busy_total", "counter", "TRUNCATE checkpoints that gave up waiting for a reader (tried again at the next turn).", self.restarts_busy.load(Ordering::Relaxed)),
            ("provenance_sqlite_wal_wait_timeouts_total", "counter", "Writer waits at the WAL bound that ran out before a restart (the batch went ahead).", self.wait_timeouts()),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        self.restart_seconds.render(
            out,
            "provenance_sqlite_wal_restart_seconds",
            "How long each completed TRUNCATE checkpoint took (the writer waits meanwhile).",
        );
        self.writer_waits.render(
            out,
            "provenance_sqlite_wal_writer_wait_seconds",
            "How long the writer waited for a WAL restart at half the WAL bound.",
        );
    }
}

/// A non-negative measurement as a whole count: rounded; negative and NaN are 0, and values
/// beyond `u64::MAX` saturate (Rust's float-to-int `as` saturates).
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "rounded and clamped to u64's range first"
)]
fn scaled_count(value: f64) -> u64 {
    if value.is_nan() {
        return 0;
    }
    value.round().clamp(0.0, u64::MAX as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe_append("mint", Duration::from_micros(700));
        m.observe_rejection(provenance_core::codes::CHAIN_SEQ_MISMATCH);
        m.observe_batch(3);
        let text = m.render(Some(StoreStats::default()));
        assert!(text.contains("provenance_appends_total{kind=\"mint\"} 1"));
        assert!(text.contains("provenance_rejections_total{code=\"chain.seq_mismatch\"} 1"));
        assert!(text.contains("provenance_commit_batch_size_bucket{le=\"2\"} 0"));
        assert!(text.contains("provenance_commit_batch_size_bucket{le=\"4\"} 1"));
        assert!(text.contains("provenance_append_latency_seconds_bucket{le=\"0.001\"} 1"));
        assert!(text.contains("provenance_append_latency_seconds_sum 0.0007"));
        assert!(text.contains("provenance_stored_records 0"));
    }
}
