//! The embedded SQLite backend: WAL, `synchronous=FULL`, versioned migrations
//! (`PRAGMA user_version`), one writer thread with group commit, and a small pool of reader
//! connections.
//!
//! Group commit: the writer blocks for the first queued write, then takes every write already
//! queued (up to [`MAX_BATCH`]), applies them in one transaction, each inside its own savepoint
//! (a write that is refused or fails rolls back alone), commits once, and only then answers
//! every request. While it commits, new writes queue up and form the next batch, so the batch
//! size follows the load without adding latency when the ledger is idle.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use provenance_core::{ItemId, PublicKey, RecordHash, RunId, Timestamp};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::store::{
    kind_from_number, kind_number, Head, ItemRow, LedgerStore, RecordRef, RecordRow, RunRow,
    StoreError, StoreStats, WriteOp, WriteOutcome, WriteResult,
};

/// Most writes committed in one transaction.
pub const MAX_BATCH: usize = 256;
/// Reader connections kept open for reuse.
const MAX_IDLE_READERS: usize = 8;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: runs, items, records, trust lists.
    "CREATE TABLE runs (
        id          BLOB PRIMARY KEY,
        maker       BLOB NOT NULL,
        size        INTEGER NOT NULL,
        hash        BLOB NOT NULL UNIQUE,
        time        INTEGER NOT NULL,
        bytes       BLOB NOT NULL,
        received_at INTEGER NOT NULL
    );
    CREATE TABLE items (
        id         BLOB PRIMARY KEY,
        run        BLOB NOT NULL REFERENCES runs(id),
        edition    INTEGER NOT NULL,
        maker      BLOB NOT NULL,
        head_seq   INTEGER NOT NULL,
        head_hash  BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (run, edition)
    );
    CREATE TABLE records (
        id          INTEGER PRIMARY KEY,
        item        BLOB NOT NULL REFERENCES items(id),
        seq         INTEGER NOT NULL,
        hash        BLOB NOT NULL UNIQUE,
        kind        INTEGER NOT NULL,
        time        INTEGER NOT NULL,
        signer      BLOB NOT NULL,
        bytes       BLOB NOT NULL,
        received_at INTEGER NOT NULL,
        UNIQUE (item, seq)
    );
    CREATE TABLE trust_lists (
        version     INTEGER PRIMARY KEY,
        issued_at   INTEGER NOT NULL,
        bytes       BLOB NOT NULL,
        received_at INTEGER NOT NULL
    );",
];

enum Msg {
    Write(WriteOp, oneshot::Sender<WriteResult>),
    Shutdown,
}

/// The SQLite-backed [`LedgerStore`].
pub struct SqliteStore {
    path: std::path::PathBuf,
    tx: mpsc::UnboundedSender<Msg>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn open_write(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let version =
        usize::try_from(version).map_err(|_| StoreError::Corrupt("negative schema version"))?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(
            "database schema is newer than this program",
        ));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

fn blob<const N: usize>(v: Vec<u8>, what: &'static str) -> Result<[u8; N], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt(what))
}

fn key(v: Vec<u8>) -> Result<PublicKey, StoreError> {
    PublicKey::from_bytes(&blob::<32>(v, "public key")?)
        .map_err(|_| StoreError::Corrupt("public key"))
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, runs pending migrations and starts
    /// the writer thread.
    pub fn open(path: &Path, metrics: Arc<Metrics>) -> Result<Self, StoreError> {
        let mut conn = open_write(path)?;
        migrate(&mut conn)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || writer_loop(conn, rx, metrics))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            tx,
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
        })
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().ok().and_then(|mut pool| pool.pop());
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                c.pragma_update(None, "query_only", "ON")?;
                c
            }
        };
        let result = f(&conn);
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
        result
    }
}

fn writer_loop(mut conn: Connection, mut rx: mpsc::UnboundedReceiver<Msg>, metrics: Arc<Metrics>) {
    let mut stopping = false;
    while !stopping {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut batch = Vec::with_capacity(16);
        let mut push = |msg: Msg, batch: &mut Vec<_>| match msg {
            Msg::Write(op, reply) => batch.push((op, reply)),
            Msg::Shutdown => stopping = true,
        };
        push(first, &mut batch);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => push(msg, &mut batch),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        metrics.observe_batch(batch.len());
        let (ops, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        match apply_batch(&mut conn, ops) {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::error!("group commit failed, nothing stored: {e}");
                for reply in replies {
                    let _ =
                        reply.send(Err(StoreError::Corrupt("the transaction failed to commit")));
                }
            }
        }
    }
    // Refuse whatever arrives after shutdown.
    rx.close();
    while let Ok(msg) = rx.try_recv() {
        if let Msg::Write(_, reply) = msg {
            let _ = reply.send(Err(StoreError::WriterGone));
        }
    }
}

/// Applies every write in one transaction; each write runs in its own savepoint.
fn apply_batch(conn: &mut Connection, ops: Vec<WriteOp>) -> Result<Vec<WriteResult>, StoreError> {
    let now = unix_now();
    let mut tx = conn.transaction()?;
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let mut sp = tx.savepoint()?;
        let result = apply_one(&sp, op, now);
        match &result {
            Ok(WriteOutcome::Stored) => sp.commit()?,
            _ => sp.rollback()?,
        }
        results.push(result);
    }
    tx.commit()?;
    Ok(results)
}

fn find_record_in(conn: &Connection, hash: &RecordHash) -> Result<Option<RecordRef>, StoreError> {
    let row = conn
        .query_row(
            "SELECT item, seq, kind FROM records WHERE hash = ?1",
            params![&hash.0[..]],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )
        .optional()?;
    row.map(|(item, seq, kind)| {
        Ok(RecordRef {
            item: ItemId(blob(item, "item id")?),
            seq: u(seq),
            kind: kind_from_number(kind).ok_or(StoreError::Corrupt("record kind"))?,
        })
    })
    .transpose()
}

fn head_in(conn: &Connection, item: &ItemId) -> Result<Option<Head>, StoreError> {
    let row = conn
        .query_row(
            "SELECT head_seq, head_hash FROM items WHERE id = ?1",
            params![&item.0[..]],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()?;
    row.map(|(seq, hash)| {
        Ok(Head {
            seq: u(seq),
            hash: RecordHash(blob(hash, "head hash")?),
        })
    })
    .transpose()
}

fn insert_record(
    tx: &Connection,
    item: &ItemId,
    record: &provenance_core::VerifiedRecord,
    now: i64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO records (item, seq, hash, kind, time, signer, bytes, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        &item.0[..],
        record.seq() as i64,
        &record.hash().0[..],
        kind_number(record.kind()),
        record.time().0 as i64,
        &record.signer().to_bytes()[..],
        record.bytes(),
        now
    ])?;
    Ok(())
}

fn apply_one(tx: &Connection, op: WriteOp, now: i64) -> WriteResult {
    match op {
        WriteOp::Run(run) => {
            let exists: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM runs WHERE id = ?1",
                    params![&run.id.0[..]],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_some() {
                return Ok(WriteOutcome::RunAlreadyStored);
            }
            let record = run.record();
            tx.execute(
                "INSERT INTO runs (id, maker, size, hash, time, bytes, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    &run.id.0[..],
                    &run.maker.key.to_bytes()[..],
                    run.manifest.size as i64,
                    &record.hash().0[..],
                    record.time().0 as i64,
                    record.bytes(),
                    now
                ],
            )?;
            Ok(WriteOutcome::Stored)
        }
        WriteOp::Mint {
            item,
            run,
            edition,
            record,
        } => {
            if let Some(found) = find_record_in(tx, &record.hash())? {
                return Ok(WriteOutcome::AlreadyStored(found));
            }
            let taken: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT id FROM items WHERE run = ?1 AND edition = ?2",
                    params![&run.0[..], edition as i64],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(other) = taken {
                return Ok(WriteOutcome::EditionTaken(ItemId(blob(other, "item id")?)));
            }
            tx.execute(
                "INSERT INTO items (id, run, edition, maker, head_seq, head_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5, ?6)",
                params![
                    &item.0[..],
                    &run.0[..],
                    edition as i64,
                    &record.signer().to_bytes()[..],
                    &record.hash().0[..],
                    now
                ],
            )?;
            insert_record(tx, &item, &record, now)?;
            Ok(WriteOutcome::Stored)
        }
        WriteOp::Append {
            item,
            expected,
            record,
        } => {
            let changed = tx
                .prepare_cached(
                    "UPDATE items SET head_seq = ?1, head_hash = ?2
                     WHERE id = ?3 AND head_seq = ?4 AND head_hash = ?5",
                )?
                .execute(params![
                    record.seq() as i64,
                    &record.hash().0[..],
                    &item.0[..],
                    expected.seq as i64,
                    &expected.hash.0[..]
                ])?;
            if changed == 1 && record.seq() == expected.seq + 1 {
                insert_record(tx, &item, &record, now)?;
                return Ok(WriteOutcome::Stored);
            }
            if changed == 1 {
                // A caller bug (seq not head + 1): refuse; the savepoint rolls the update back.
                return Err(StoreError::Corrupt("append is not head + 1"));
            }
            if let Some(found) = find_record_in(tx, &record.hash())? {
                if found.item == item {
                    return Ok(WriteOutcome::AlreadyStored(found));
                }
            }
            match head_in(tx, &item)? {
                Some(head) => Ok(WriteOutcome::Stale(head)),
                None => Ok(WriteOutcome::UnknownItem),
            }
        }
        WriteOp::Trust {
            version,
            issued_at,
            bytes,
        } => {
            let current: Option<i64> =
                tx.query_row("SELECT MAX(version) FROM trust_lists", [], |r| r.get(0))?;
            let current = current.map(u).unwrap_or(0);
            if version <= current {
                return Ok(WriteOutcome::TrustStale { current });
            }
            tx.execute(
                "INSERT INTO trust_lists (version, issued_at, bytes, received_at) VALUES (?1, ?2, ?3, ?4)",
                params![version as i64, issued_at.0 as i64, bytes, now],
            )?;
            Ok(WriteOutcome::Stored)
        }
    }
}

impl LedgerStore for SqliteStore {
    fn submit(&self, op: WriteOp) -> oneshot::Receiver<WriteResult> {
        let (reply, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(Msg::Write(_, reply))) =
            self.tx.send(Msg::Write(op, reply))
        {
            let _ = reply.send(Err(StoreError::WriterGone));
        }
        answer
    }

    fn find_record(&self, hash: &RecordHash) -> Result<Option<RecordRef>, StoreError> {
        self.with_reader(|c| find_record_in(c, hash))
    }

    fn item(&self, item: &ItemId) -> Result<Option<ItemRow>, StoreError> {
        self.with_reader(|c| {
            let row = c
                .prepare_cached(
                    "SELECT run, edition, maker, head_seq, head_hash FROM items WHERE id = ?1",
                )?
                .query_row(params![&item.0[..]], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Vec<u8>>(4)?,
                    ))
                })
                .optional()?;
            row.map(|(run, edition, maker, seq, hash)| {
                Ok(ItemRow {
                    item: *item,
                    run: RunId(blob(run, "run id")?),
                    edition: u(edition),
                    maker: key(maker)?,
                    head: Head {
                        seq: u(seq),
                        hash: RecordHash(blob(hash, "head hash")?),
                    },
                })
            })
            .transpose()
        })
    }

    fn records(&self, item: &ItemId) -> Result<Vec<RecordRow>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, hash, kind, time, signer, bytes, received_at FROM records WHERE item = ?1 ORDER BY seq",
            )?;
            let rows = stmt.query_map(params![&item.0[..]], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, Vec<u8>>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, hash, kind, time, signer, bytes, received_at) = row?;
                out.push(RecordRow {
                    seq: u(seq),
                    hash: RecordHash(blob(hash, "record hash")?),
                    kind: kind_from_number(kind).ok_or(StoreError::Corrupt("record kind"))?,
                    time: Timestamp(u(time)),
                    signer: key(signer)?,
                    bytes,
                    received_at: Timestamp(u(received_at)),
                });
            }
            Ok(out)
        })
    }

    fn run(&self, run: &RunId) -> Result<Option<RunRow>, StoreError> {
        self.with_reader(|c| {
            let row = c
                .prepare_cached(
                    "SELECT maker, size, hash, bytes, received_at FROM runs WHERE id = ?1",
                )?
                .query_row(params![&run.0[..]], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })
                .optional()?;
            row.map(|(maker, size, hash, bytes, received_at)| {
                Ok(RunRow {
                    id: *run,
                    maker: key(maker)?,
                    size: u(size),
                    hash: RecordHash(blob(hash, "run hash")?),
                    bytes,
                    received_at: Timestamp(u(received_at)),
                })
            })
            .transpose()
        })
    }

    fn run_items(&self, run: &RunId) -> Result<Vec<(u64, ItemId)>, StoreError> {
        self.with_reader(|c| {
            let mut stmt =
                c.prepare_cached("SELECT edition, id FROM items WHERE run = ?1 ORDER BY edition")?;
            let rows = stmt.query_map(params![&run.0[..]], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (edition, id) = row?;
                out.push((u(edition), ItemId(blob(id, "item id")?)));
            }
            Ok(out)
        })
    }

    fn latest_trust(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_reader(|c| {
            Ok(c.query_row(
                "SELECT bytes FROM trust_lists ORDER BY version DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.with_reader(|c| {
            let count = |table: &str| -> Result<u64, StoreError> {
                Ok(u(c.query_row(
                    &format!("SELECT COUNT(*) FROM {table}"),
                    [],
                    |r| r.get(0),
                )?))
            };
            Ok(StoreStats {
                runs: count("runs")?,
                items: count("items")?,
                records: count("records")?,
                trust_lists: count("trust_lists")?,
            })
        })
    }

    fn shutdown(&self) {
        let _ = self.tx.send(Msg::Shutdown);
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use provenance_core::{
        verify_run, Mint, Record, RecordBody, Role, Roles, RunManifest, SigningKey, TrustEntry,
        TrustList, TrustListContent, VerifiedChain,
    };

    fn trust(maker: &SigningKey) -> TrustList {
        let operator = SigningKey::from_seed([9; 32]);
        let content = TrustListContent {
            version: 1,
            issued_at: Timestamp(0),
            ledger: None,
            entries: vec![TrustEntry {
                key: maker.public_key(),
                roles: Roles::of(Role::Maker),
                name: "maker".into(),
                valid_from: Timestamp(0),
                valid_until: None,
                revoked_at: None,
            }],
        };
        TrustList::verify(&content.sign(&operator), None).unwrap()
    }

    #[test]
    fn migrations_group_commit_cas_and_edition_uniqueness() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let metrics = Arc::new(Metrics::default());
        let store = SqliteStore::open(&path, metrics.clone()).unwrap();
        let maker = SigningKey::from_seed([1; 32]);
        let trust = trust(&maker);
        let now = Timestamp(1_000);
        let manifest = RunManifest {
            title: "T".into(),
            microfactory: "M".into(),
            place: "P".into(),
            size: 2,
            window_start: Timestamp(0),
            window_end: Timestamp(2_000),
        };
        let run_bytes = Record {
            time: now,
            seq: 0,
            body: RecordBody::RunManifest(manifest),
        }
        .sign(&maker, None);
        let run = verify_run(&run_bytes, &trust, now).unwrap();
        let run_id = run.id;
        let r = store
            .submit(WriteOp::Run(Box::new(run.clone())))
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert_eq!(r, WriteOutcome::Stored);
        let r = store
            .submit(WriteOp::Run(Box::new(run)))
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert_eq!(r, WriteOutcome::RunAlreadyStored);

        let mint = |time: u64| {
            Record {
                time: Timestamp(time),
                seq: 0,
                body: RecordBody::Mint(Mint {
                    run: run_id,
                    number: 1,
                    size: 2,
                    title: "T".into(),
                    microfactory: "M".into(),
                    owner: None,
                }),
            }
            .sign(&maker, None)
        };
        let (a, a_rec) = VerifiedChain::start(&mint(1_000), &trust, now).unwrap();
        let (b, b_rec) = VerifiedChain::start(&mint(1_001), &trust, now).unwrap();
        let rx1 = store.submit(WriteOp::Mint {
            item: a.item(),
            run: run_id,
            edition: 1,
            record: Box::new(a_rec.clone()),
        });
        let rx2 = store.submit(WriteOp::Mint {
            item: b.item(),
            run: run_id,
            edition: 1,
            record: Box::new(b_rec),
        });
        assert_eq!(rx1.blocking_recv().unwrap().unwrap(), WriteOutcome::Stored);
        assert_eq!(
            rx2.blocking_recv().unwrap().unwrap(),
            WriteOutcome::EditionTaken(a.item())
        );
        let stats = store.stats().unwrap();
        assert_eq!((stats.runs, stats.items, stats.records), (1, 1, 1));

        // A stale compare-and-swap changes nothing and reports the head.
        let wrong = Head {
            seq: 0,
            hash: RecordHash([0; 32]),
        };
        let owner_key = SigningKey::from_seed([3; 32]);
        let transfer = Record {
            time: now,
            seq: 1,
            body: RecordBody::Transfer(owner_key.public_key()),
        }
        .sign(
            &maker,
            Some(&provenance_core::ChainLink {
                item: a.item(),
                prev: a.head(),
            }),
        );
        let mut chain = a.clone();
        let rec = chain.extend(&transfer, &trust, now).unwrap();
        let stale = store
            .submit(WriteOp::Append {
                item: a.item(),
                expected: wrong,
                record: Box::new(rec.clone()),
            })
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert_eq!(
            stale,
            WriteOutcome::Stale(Head {
                seq: 0,
                hash: a.head()
            })
        );
        let ok = store
            .submit(WriteOp::Append {
                item: a.item(),
                expected: Head {
                    seq: 0,
                    hash: a.head(),
                },
                record: Box::new(rec.clone()),
            })
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert_eq!(ok, WriteOutcome::Stored);
        let again = store
            .submit(WriteOp::Append {
                item: a.item(),
                expected: Head {
                    seq: 0,
                    hash: a.head(),
                },
                record: Box::new(rec),
            })
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert!(matches!(again, WriteOutcome::AlreadyStored(r) if r.seq == 1));
        store.shutdown();
        assert!(matches!(
            store
                .submit(WriteOp::Run(Box::new(
                    verify_run(&run_bytes, &trust, now).unwrap()
                )))
                .blocking_recv()
                .unwrap(),
            Err(StoreError::WriterGone)
        ));

        // Reopen: migrations are idempotent, data is there.
        let store = SqliteStore::open(&path, metrics).unwrap();
        assert_eq!(store.records(&a.item()).unwrap().len(), 2);
        assert_eq!(store.item(&a.item()).unwrap().unwrap().head.seq, 1);
        store.shutdown();
    }
}
