//! The write-ahead log's size, bounded under any load (issue 26).
//!
//! SQLite appends every committed page to `ledger.db-wal`; a checkpoint copies those frames
//! into the database file, but the WAL file only starts again from its beginning when a writer
//! begins a transaction after a *complete* checkpoint with no reader still on the WAL. Under
//! continuous appends that moment never comes by itself, and the file grows without end.
//!
//! What bounds it, with `max` = [`WalLimits::max_bytes`] (64 MiB unless `serve --wal-limit-mib`
//! says otherwise; 16 MiB at least):
//!
//! 1. The checkpointer thread ([`checkpointer`]) copies frames with `PASSIVE` checkpoints every
//!    [`WalLimits::interval`], from its own connection: they never wait for, or block, the
//!    writer or the readers.
//! 2. Once the WAL file reaches `max / 4` ([`WalLimits::restart_at`]), the writer nudges the
//!    checkpointer, which copies with `PASSIVE` passes (the bulk of the copying, unlocked)
//!    until one finds little new, then runs a `TRUNCATE` checkpoint; the writer takes no batch
//!    while it runs (the lock would otherwise go back to the writer after every commit). The
//!    `TRUNCATE` takes the write lock, copies the few frames committed since,
//!    waits (at most [`TRUNCATE_WAIT`]) for readers still on the WAL, and cuts the file to
//!    zero bytes; the writer's next transaction writes from the WAL's beginning. (A `RESTART`
//!    would keep the file for reuse, but then its size would no longer tell how much of it is
//!    in use, and the writer's check below needs exactly that.)
//! 3. Backstop: once the WAL file reaches `max / 2` ([`WalLimits::writer_waits_at`]), the writer
//!    writes no further batch until the checkpointer has restarted the WAL (waiting at most
//!    [`WRITER_WAIT`]). The writer checks before every batch, so the file exceeds `max / 2` by
//!    at most one batch: at most [`crate::group_commit::MAX_BATCH`] appends of at most
//!    [`provenance_core::limits::MAX_RECORD_BYTES`] each plus the B-tree pages they touch (about
//!    18 KB of WAL an append, 6 MiB a batch at the very most), less than the other half.
//! 4. When the ledger is idle (a complete checkpoint and no new frame for one interval), a
//!    `TRUNCATE` checkpoint empties the file.
//!
//! The bound holds as long as no reader keeps one read transaction open for longer than
//! [`WRITER_WAIT`]: the ledger's reads are single requests (the drops engine reads the log
//! 1,000 leaves at a time), and a wait that runs out is counted
//! (`provenance_sqlite_wal_wait_timeouts_total`) and the batch goes ahead rather than stop
//! appends. Durability never depends on checkpoints: a commit is durable once its WAL frames
//! are synced (`synchronous=FULL`); a checkpoint only moves them, and SQLite replays the WAL
//! after a crash at any point of one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::metrics::Metrics;
use crate::store::StoreError;

pub(super) mod checkpointer;
mod frames;
#[cfg(test)]
mod tests;

/// How often the checkpointer copies the WAL into the database file.
pub const WAL_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);
/// The default bound on the WAL file's size.
pub const DEFAULT_WAL_MAX_BYTES: u64 = 64 << 20;
/// The smallest bound accepted: the writer waits at half of it, and one batch of appends
/// (at most [`crate::group_commit::MAX_BATCH`] writes of about 18 KB of WAL each, 24 KB at the
/// most measured) must fit in the other half.
pub const MIN_WAL_MAX_BYTES: u64 = 16 << 20;
/// How long a `TRUNCATE` checkpoint waits for the writer's lock and for readers to leave the
/// WAL before it gives up (to try again at the next turn).
pub const TRUNCATE_WAIT: Duration = Duration::from_secs(1);
/// How long the writer waits, at the backstop, for the WAL to restart before it goes ahead.
pub const WRITER_WAIT: Duration = Duration::from_secs(3);

/// The WAL checkpointer's settings: its timer and the WAL's size bound (at least
/// [`MIN_WAL_MAX_BYTES`]; the default is [`DEFAULT_WAL_MAX_BYTES`] every
/// [`WAL_CHECKPOINT_INTERVAL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalLimits {
    interval: Duration,
    max_bytes: u64,
}

impl Default for WalLimits {
    fn default() -> Self {
        WalLimits {
            interval: WAL_CHECKPOINT_INTERVAL,
            max_bytes: DEFAULT_WAL_MAX_BYTES,
        }
    }
}

impl WalLimits {
    /// Checkpoints every `interval` (not zero) under a bound of `max_bytes` (at least
    /// [`MIN_WAL_MAX_BYTES`]); `None` otherwise.
    pub fn new(interval: Duration, max_bytes: u64) -> Option<Self> {
        (!interval.is_zero() && max_bytes >= MIN_WAL_MAX_BYTES).then_some(WalLimits {
            interval,
            max_bytes,
        })
    }

    /// The defaults with the bound set to `mib` MiB; `None` below [`MIN_WAL_MAX_BYTES`].
    pub fn with_max_mib(mib: u64) -> Option<Self> {
        Self::new(WAL_CHECKPOINT_INTERVAL, mib.checked_mul(1 << 20)?)
    }

    /// How often `PASSIVE` checkpoints run.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The WAL file never grows past this while appends go on (see the module doc).
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// WAL size from which the checkpointer restarts the WAL (a `TRUNCATE` checkpoint, which
    /// empties the file).
    pub fn restart_at(&self) -> u64 {
        self.max_bytes / 4
    }

    /// WAL size at which the writer waits for a restart before its next batch.
    pub fn writer_waits_at(&self) -> u64 {
        self.max_bytes / 2
    }
}

/// The writer connection's settings: no automatic checkpoints inside its commits (the
/// checkpointer's job).
pub(super) fn writer_settings(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(())
}

/// The `-wal` file next to the database at `db`.
pub(super) fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// The WAL file's size in bytes (0 when it does not exist).
pub(super) fn wal_len(wal: &Path) -> u64 {
    std::fs::metadata(wal).map_or(0, |m| m.len())
}

/// What the writer and the checkpointer tell each other.
#[derive(Debug, Default)]
struct GateState {
    /// Set by `stop`: the checkpointer runs one last pass and ends.
    stop: bool,
    /// The writer saw the WAL at or past `restart_at` since the last restart.
    nudged: bool,
    /// The writer is waiting for a restart before its next batch.
    writer_waiting: bool,
    /// The checkpointer's `TRUNCATE` is asking for, or holding, the write lock.
    truncating: bool,
    /// Completed WAL restarts (`TRUNCATE` checkpoints) so far.
    restarts: u64,
}

/// The meeting point of the writer thread and the checkpointer thread.
#[derive(Debug)]
pub(super) struct WalGate {
    wal: PathBuf,
    limits: WalLimits,
    metrics: Arc<Metrics>,
    state: Mutex<GateState>,
    /// Wakes the checkpointer before its timer (a nudge, the writer waiting, or stop).
    wake: Condvar,
    /// Wakes the writer when a `TRUNCATE` ended.
    restarted: Condvar,
}

impl WalGate {
    /// The gate for the database at `db`.
    pub(super) fn new(db: &Path, limits: WalLimits, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(WalGate {
            wal: wal_path(db),
            limits,
            metrics,
            state: Mutex::new(GateState::default()),
            wake: Condvar::new(),
            restarted: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer, before each batch (the last one's answers are out): records the WAL's size;
    /// past [`WalLimits::restart_at`] nudges the checkpointer and lets its `TRUNCATE` have the
    /// write lock (waiting while one is under way); past [`WalLimits::writer_waits_at`] waits
    /// until the WAL has restarted. Never longer than [`WRITER_WAIT`].
    pub(super) fn before_batch(&self) {
        let len = wal_len(&self.wal);
        self.metrics.wal.observe_size(len);
        if len < self.limits.restart_at() {
            return;
        }
        let over_cap = len >= self.limits.writer_waits_at();
        let mut state = self.lock();
        if !state.nudged {
            state.nudged = true;
            self.wake.notify_all();
        }
        if !over_cap && !state.truncating {
            return;
        }
        let seen = state.restarts;
        if over_cap {
            state.writer_waiting = true;
            self.wake.notify_all();
        }
        let started = Instant::now();
        let deadline = started + WRITER_WAIT;
        while state.restarts == seen && !state.stop && (over_cap || state.truncating) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.metrics.wal.observe_wait_timeout();
                tracing::warn!(
                    "the WAL ({len} bytes) did not restart within {WRITER_WAIT:?}: a reader holds it; appends go on"
                );
                break;
            }
            state = match self.restarted.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(p) => p.into_inner().0,
            };
        }
        state.writer_waiting = false;
        drop(state);
        self.metrics.wal.observe_writer_wait(started.elapsed());
    }

    /// The checkpointer: sleeps for `interval` or until woken; returns what it was woken for.
    fn sleep(&self, interval: Duration) -> Wake {
        let mut state = self.lock();
        if !(state.stop || state.writer_waiting || state.nudged) {
            state = match self.wake.wait_timeout(state, interval) {
                Ok((s, _)) => s,
                Err(p) => p.into_inner().0,
            };
        }
        Wake {
            stop: state.stop,
            restart: state.writer_waiting || state.nudged,
        }
    }

    /// The checkpointer: a `TRUNCATE` is about to ask for the write lock; the writer leaves
    /// it between batches.
    fn truncating(&self) {
        self.lock().truncating = true;
    }

    /// The checkpointer: the `TRUNCATE` ended, the WAL restarted or not (a reader held it);
    /// wakes a waiting writer.
    fn truncated(&self, restarted: bool) {
        let mut state = self.lock();
        state.truncating = false;
        if restarted {
            state.restarts += 1;
            state.nudged = false;
            state.writer_waiting = false;
        }
        self.restarted.notify_all();
    }

    /// Asks the checkpointer to finish; a waiting writer stops waiting.
    pub(super) fn stop(&self) {
        let mut state = self.lock();
        state.stop = true;
        self.wake.notify_all();
        self.restarted.notify_all();
    }
}

/// Why the checkpointer woke up.
struct Wake {
    stop: bool,
    /// The writer asked for a restart (nudge or backstop).
    restart: bool,
}
