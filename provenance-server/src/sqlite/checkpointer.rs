//! The WAL checkpointer: copies committed WAL frames into the database file from its own
//! connection, on a timer, so the writer's commits never pay for it (SQLite's automatic
//! checkpoint would run inside the writer's commit every 1,000 pages, and stall every request
//! in that batch). The writer connection has `wal_autocheckpoint = 0` ([`writer_settings`]).
//!
//! Checkpoints are `PASSIVE`: they copy what no reader still needs and never wait for, or
//! block, the writer or the readers. Durability does not depend on them: a commit is durable
//! once its WAL frames are synced (`synchronous=FULL`); a checkpoint only moves them.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::metrics::Metrics;
use crate::store::StoreError;

/// How often the checkpointer copies the WAL into the database file.
pub const WAL_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// The writer connection's settings that leave checkpoints to this thread.
pub(super) fn writer_settings(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(())
}

/// The running checkpointer; stopped (after one last checkpoint) by [`Self::stop`] or drop.
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` every `interval`.
    pub(super) fn start(
        path: &Path,
        interval: Duration,
        metrics: Arc<Metrics>,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let (stop, stopped) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("wal-checkpointer".into())
            .spawn(move || loop {
                let last = !matches!(
                    stopped.recv_timeout(interval),
                    Err(RecvTimeoutError::Timeout)
                );
                match checkpoint(&conn) {
                    Ok(frames) => metrics.observe_wal_checkpoint(frames),
                    Err(e) => tracing::warn!("WAL checkpoint failed (retried later): {e}"),
                }
                if last {
                    break;
                }
            })?;
        Ok(Checkpointer {
            stop: Some(stop),
            handle: Some(handle),
        })
    }

    /// Runs a last checkpoint and stops the thread.
    pub(super) fn stop(&mut self) {
        drop(self.stop.take());
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

/// One `PASSIVE` checkpoint; returns the frames it copied into the database file.
fn checkpoint(conn: &Connection) -> Result<u64, StoreError> {
    let (_busy, _log, copied): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    // -1 when the database is not in WAL mode (never here); nothing copied then.
    Ok(u64::try_from(copied).unwrap_or(0))
}
