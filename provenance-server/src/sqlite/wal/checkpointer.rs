//! The WAL checkpointer: copies committed WAL frames into the database file from its own
//! connection, so the writer's commits never pay for it (SQLite's automatic checkpoint would run
//! inside the writer's commit every 1,000 pages, and stall every request in that batch), and
//! starts the WAL again when it has grown or the ledger is idle (the policy is in [`super`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use rusqlite::{Connection, OpenFlags};

use super::frames::{generation, FrameTally, Progress};
use super::{wal_len, wal_path, WalGate, WalLimits, TRUNCATE_WAIT};
use crate::metrics::Metrics;
use crate::store::StoreError;

/// Times a checkpoint is asked again when the WAL restarted while it ran.
const ATTRIBUTION_TRIES: usize = 3;
/// Extra `PASSIVE` passes before a `TRUNCATE`, at most.
const CATCH_UP_PASSES: usize = 3;
/// New frames (1 MiB) below which a `PASSIVE` pass is close enough to the WAL's end.
const CATCH_UP_FRAMES: u64 = 256;

/// The checkpoint modes the checkpointer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Copy what no reader still needs; never waits, never blocks anyone.
    Passive,
    /// Copy everything under the write lock, wait for readers to leave the WAL, then cut the
    /// file to zero bytes: the WAL starts again from its beginning, and the file's size is its
    /// write position from then on.
    Truncate,
}

impl Mode {
    fn pragma(self) -> &'static str {
        match self {
            Mode::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
            Mode::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
        }
    }
}

/// The running checkpointer; stopped (after one last checkpoint) by [`Self::stop`] or drop.
pub(in crate::sqlite) struct Checkpointer {
    gate: Arc<WalGate>,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` as `limits` say, woken early through `gate`.
    pub(in crate::sqlite) fn start(
        path: &Path,
        limits: WalLimits,
        gate: Arc<WalGate>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Only TRUNCATE uses it: waiting for the write lock and for readers.
        conn.busy_timeout(TRUNCATE_WAIT)?;
        let mut turn = Turn {
            conn,
            wal: wal_path(path),
            limits,
            metrics,
            tally: FrameTally::default(),
            last: None,
        };
        let thread_gate = gate.clone();
        let handle = std::thread::Builder::new()
            .name("wal-checkpointer".into())
            .spawn(move || loop {
                let wake = thread_gate.sleep(turn.limits.interval());
                turn.run(&thread_gate, wake.restart && !wake.stop);
                if wake.stop {
                    break;
                }
            })?;
        Ok(Checkpointer {
            gate,
            handle: Some(handle),
        })
    }

    /// Runs a last checkpoint and stops the thread.
    pub(in crate::sqlite) fn stop(&mut self) {
        self.gate.stop();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The checkpointer thread's state between turns.
struct Turn {
    conn: Connection,
    wal: PathBuf,
    limits: WalLimits,
    metrics: Arc<Metrics>,
    tally: FrameTally,
    /// The last `PASSIVE` answer, to tell an idle ledger.
    last: Option<Progress>,
}

impl Turn {
    /// One turn: a `PASSIVE` checkpoint (the bulk of the copying, blocking nobody); then a
    /// `TRUNCATE` when the writer asked, when the WAL is past [`WalLimits::restart_at`], or when
    /// the ledger has been idle since the last turn and the file is not empty.
    fn run(&mut self, gate: &WalGate, asked: bool) {
        let passive = self.checkpoint(Mode::Passive);
        let len = wal_len(&self.wal);
        let idle = matches!(
            (passive, self.last),
            (Some(now), Some(before)) if now == before && now.copied == now.log
        );
        self.last = passive;
        if asked || len >= self.limits.restart_at() || (idle && len > 0) {
            if let Some(first) = passive {
                self.catch_up(first);
            }
            gate.truncating();
            let started = Instant::now();
            let restarted = self.truncate();
            gate.truncated(restarted);
            if restarted {
                self.metrics.wal.observe_restart(started.elapsed());
                self.last = None;
            } else {
                self.metrics.wal.observe_restart_busy();
            }
        }
        self.metrics.wal.observe_size(wal_len(&self.wal));
    }

    /// More `PASSIVE` passes after `first`, while each still finds more than
    /// [`CATCH_UP_FRAMES`] new frames (at most [`CATCH_UP_PASSES`]): what the `TRUNCATE` then
    /// copies under the write lock is little.
    fn catch_up(&mut self, first: Progress) {
        let mut copied = first.copied;
        for _ in 0..CATCH_UP_PASSES {
            match self.checkpoint(Mode::Passive) {
                Some(p) if p.copied > copied + CATCH_UP_FRAMES => copied = p.copied,
                _ => break,
            }
        }
    }

    /// A `TRUNCATE` checkpoint; true when it completed (every frame copied, no reader left on
    /// the WAL, the file empty).
    fn truncate(&mut self) -> bool {
        // Not asked again when the WAL restarted meanwhile: that is the point of it.
        matches!(self.attributed(Mode::Truncate, 1), Some((false, _)))
    }

    /// One checkpoint in `mode`, its newly copied frames counted once; its answer, or `None`
    /// when it failed.
    fn checkpoint(&mut self, mode: Mode) -> Option<Progress> {
        self.attributed(mode, ATTRIBUTION_TRIES).map(|(_, p)| p)
    }

    /// Runs a checkpoint in `mode` until its answer can be attributed to one WAL generation (at
    /// most `tries` times) and counts its newly copied frames: whether it was busy, and its
    /// answer; `None` when it failed.
    fn attributed(&mut self, mode: Mode, tries: usize) -> Option<(bool, Progress)> {
        let mut answer = None;
        for _ in 0..tries {
            let before = generation(&self.wal);
            let (busy, progress) = match run(&self.conn, mode) {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("WAL {mode:?} checkpoint failed (retried later): {e}");
                    return None;
                }
            };
            answer = Some((busy, progress));
            let after = generation(&self.wal);
            if let Some(frames) = self.tally.observe(before, progress, after) {
                self.metrics.wal.observe_frames_copied(frames);
                break;
            }
        }
        answer
    }
}

/// Runs one checkpoint: whether it could not finish (a `TRUNCATE` that gave up waiting), and
/// its answer.
fn run(conn: &Connection, mode: Mode) -> Result<(bool, Progress), StoreError> {
    let (busy, log, copied): (i64, i64, i64) =
        conn.query_row(mode.pragma(), [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    // -1 when the database is not in WAL mode (never here): nothing in it then.
    let progress = Progress {
        log: u64::try_from(log).unwrap_or(0),
        copied: u64::try_from(copied).unwrap_or(0),
    };
    Ok((busy != 0, progress))
}
