//! The PostgreSQL backend (issue 15): several `provenance serve` processes on one database, with
//! the guarantees of the single SQLite server.
//!
//! The same shape as [`crate::sqlite`], one responsibility per file: `conn` (URL, session,
//! error classification, reader threads that reconnect), `schema` (migrations), `log` (the
//! Merkle log's rows, right edge and checkpoint), `writer` (group commit), `reads` (queries).
//! As in SQLite: versioned migrations (each in one transaction, under an
//! advisory lock so that two servers starting together do not both migrate), one writer thread
//! per process with group commit, and a small pool of reader connections. The client is the
//! synchronous `postgres` crate: the store is called from a dedicated writer thread and from short
//! synchronous reads, exactly as the SQLite backend is, so an async client would only add a
//! runtime hop per call.
//!
//! Several servers, one truth:
//! - every write transaction first locks the single row of `log_state` (`SELECT … FOR UPDATE`),
//!   which holds the log's size. Write transactions of all processes are therefore serialized,
//!   each reads the tree size *under the lock*, assigns gap-free leaf indexes in commit order,
//!   stores records, leaves, interior nodes and the newly signed checkpoint in the same
//!   transaction, and releases the lock at commit. One signer at a time; every checkpoint
//!   extends the previous one.
//! - the item head's compare-and-swap is a conditional `UPDATE … WHERE head_seq = $ AND
//!   head_hash = $` inside that transaction, so a stale head cached by any process cannot win;
//! - re-posts find the stored record by its hash in the database, whichever server stored it;
//! - the only per-process log state, the right edge of the Merkle tree (one hash per level), is
//!   reused only when the size read under the lock is the size it was built for, and reloaded
//!   from the database otherwise; the served checkpoint is read from the database.
//!
//! `synchronous_commit` is on: a write is answered only after its commit is flushed. A lost
//! connection is replaced: the writer reconnects (retrying the batch when the loss came before
//! `COMMIT` was sent), readers retry on a fresh connection; a write whose `COMMIT` got no answer is
//! answered 503 and, if it was in fact stored, its retry is an idempotent re-post.

use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use postgres::Client;
use provenance_core::log::TreeHash;
use provenance_core::{ItemId, RecordHash, RunId};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::sqlite::LogSigner;
use crate::store::{
    ExportSnapshot, ItemRow, LedgerStore, LogEntry, RecordRef, RecordRow, RunRow, SignedCheckpoint,
    StoreError, StoreStats, WriteOp, WriteResult,
};

mod conn;
mod log;
mod reads;
mod schema;
mod writer;

#[cfg(test)]
mod tests;

pub use conn::{connect, is_postgres_url, parse_url, redacted, Conn, PgError};
pub use log::stored_root;
pub use schema::{migrate_schema, MIGRATIONS};

use crate::group_commit::{self, Msg};
use conn::{spawn_readers, Db, Job, Reader};
use writer::Writer;

/// Reader threads, each with its own connection once used (a PostgreSQL backend process each).
const READER_THREADS: usize = 8;

/// The PostgreSQL-backed [`LedgerStore`].
pub struct PgStore {
    tx: mpsc::UnboundedSender<Msg>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Jobs for the reader threads (the synchronous client cannot block inside the async
    /// runtime of an HTTP worker, so reads run on threads of their own).
    jobs: std::sync::mpsc::Sender<Job>,
    /// The last checkpoint read or committed, served when the database cannot be reached.
    checkpoint: writer::Published,
}

impl PgStore {
    /// Connects to the database at `url`, runs pending migrations, checks the log against its
    /// latest checkpoint (signing a new one if needed) and starts the writer thread.
    pub fn open(url: &str, metrics: Arc<Metrics>, signer: LogSigner) -> Result<Self, StoreError> {
        let config = parse_url(url).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        let mut conn = connect(&config).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        migrate_schema(&mut conn.client)?;
        let tainted = log::open_log(&mut conn, &signer)?;
        let latest = log::read_checkpoint(&mut conn.db())?;
        let checkpoint = Arc::new(RwLock::new(latest.map(Arc::new)));
        let writer = Writer {
            config: config.clone(),
            conn: Some(conn),
            frontier: None,
            signer,
            tainted,
            published: checkpoint.clone(),
        };
        let jobs = spawn_readers(&config, READER_THREADS)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let handle = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer.run(rx, &metrics))?;
        Ok(PgStore {
            tx,
            writer: Mutex::new(Some(handle)),
            jobs,
            checkpoint,
        })
    }

    /// Runs a read on a reader thread and waits for its answer (as a SQLite read blocks the
    /// calling HTTP worker, so does this).
    fn read<T: Send + 'static>(
        &self,
        f: impl Fn(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let job: Job = Box::new(move |reader: &mut Reader| {
            let _ = reply.send(reader.run(&f));
        });
        self.jobs.send(job).map_err(|_| StoreError::WriterGone)?;
        answer.recv().map_err(|_| StoreError::WriterGone)?
    }

    /// [`PgStore::read`] with the connection's statement cache.
    fn with_reader<T: Send + 'static>(
        &self,
        f: impl Fn(&mut Db<'_, Client>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.read(move |conn| f(&mut conn.db()))
    }
}

impl LedgerStore for PgStore {
    fn submit(&self, op: WriteOp) -> oneshot::Receiver<WriteResult> {
        group_commit::submit(&self.tx, op)
    }

    fn find_record(&self, hash: &RecordHash) -> Result<Option<RecordRef>, StoreError> {
        let hash = *hash;
        self.with_reader(move |db| reads::find_record_in(db, &hash))
    }

    fn item(&self, item: &ItemId) -> Result<Option<ItemRow>, StoreError> {
        let item = *item;
        self.with_reader(move |db| reads::item_in(db, item))
    }

    fn records(&self, item: &ItemId) -> Result<Vec<RecordRow>, StoreError> {
        let item = *item;
        self.with_reader(move |db| reads::records_in(db, &item))
    }

    fn run(&self, run: &RunId) -> Result<Option<RunRow>, StoreError> {
        let run = *run;
        self.with_reader(move |db| reads::run_in(db, run))
    }

    fn run_items(&self, run: &RunId) -> Result<Vec<(u64, ItemId)>, StoreError> {
        let run = *run;
        self.with_reader(move |db| reads::run_items_in(db, run))
    }

    fn latest_trust(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_reader(reads::latest_trust_in)
    }

    fn shared_trust_version(&self) -> Result<Option<u64>, StoreError> {
        // Another server may have stored a newer list: the ledger reloads it when this is
        // above its own copy's version.
        self.with_reader(|db| Ok(Some(reads::latest_trust_version(db)?.unwrap_or(0))))
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.with_reader(reads::stats_in)
    }

    fn shutdown(&self) {
        let _ = self.tx.send(Msg::Shutdown);
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    fn checkpoint(&self) -> Option<Arc<SignedCheckpoint>> {
        // The database's latest: another server may have committed since this one did.
        match self.with_reader(log::read_checkpoint) {
            Ok(Some(cp)) => {
                let cp = Arc::new(cp);
                if let Ok(mut p) = self.checkpoint.write() {
                    if p.as_ref().is_none_or(|old| old.size <= cp.size) {
                        *p = Some(cp.clone());
                    }
                }
                Some(cp)
            }
            Ok(None) | Err(_) => match self.checkpoint.read() {
                Ok(c) => c.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            },
        }
    }

    fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<TreeHash>, StoreError> {
        self.with_reader(move |db| reads::inclusion_in(db, index, size))
    }

    fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<TreeHash>, StoreError> {
        self.with_reader(move |db| reads::consistency_in(db, first, second))
    }

    fn log_entries(&self, start: u64, end: u64) -> Result<Vec<LogEntry>, StoreError> {
        self.with_reader(move |db| reads::log_entries_in(db, start, end))
    }

    fn export(&self, item: &ItemId) -> Result<Option<ExportSnapshot>, StoreError> {
        let item = *item;
        self.read(move |conn| reads::export_in(conn, &item))
    }
}
