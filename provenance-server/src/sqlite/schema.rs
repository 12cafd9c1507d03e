//! The schema: versioned migrations (`PRAGMA user_version`), opening the writer connection
//! (WAL, `synchronous=FULL`, mode 0600), and the one-time backfill of the Merkle log.

use std::path::Path;

use rusqlite::{params, Connection};

use super::log::{append_leaf, log_size_in};
use crate::columns::{blob, to_int, u};
use crate::store::{LeafKind, StoreError};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 2: the Merkle log. Leaf hashes (level 0) in log_leaves, interior nodes of closed perfect
    // subtrees in log_nodes, the latest signed checkpoint in log_checkpoint; each run and
    // record knows its leaf. Rows stored before this migration get leaves at open time.
    "CREATE TABLE log_leaves (
        idx  INTEGER PRIMARY KEY,
        kind INTEGER NOT NULL,
        id   BLOB NOT NULL,
        seq  INTEGER NOT NULL,
        hash BLOB NOT NULL
    );
    CREATE TABLE log_nodes (
        level INTEGER NOT NULL,
        idx   INTEGER NOT NULL,
        hash  BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE log_checkpoint (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        size      INTEGER NOT NULL,
        root      BLOB NOT NULL,
        note      TEXT NOT NULL,
        signed_at INTEGER NOT NULL
    );
    ALTER TABLE runs ADD COLUMN log_index INTEGER;
    ALTER TABLE records ADD COLUMN log_index INTEGER;
    CREATE UNIQUE INDEX runs_log_index ON runs(log_index);
    CREATE UNIQUE INDEX records_log_index ON records(log_index);",
    // 3: trust-list versions span all of u64 (spec §5). Migration 1 made the version the
    // INTEGER rowid, which stops at 2^63 - 1: a larger version was stored negative and lost
    // to an older list at the next start. Versions (and issue times, also any u64) are now
    // 20-digit zero-padded decimal text, which sorts exactly as the numbers it spells.
    "CREATE TABLE trust_lists_v3 (
        version     TEXT PRIMARY KEY CHECK (length(version) = 20),
        issued_at   TEXT NOT NULL CHECK (length(issued_at) = 20),
        bytes       BLOB NOT NULL,
        received_at INTEGER NOT NULL
    );
    INSERT INTO trust_lists_v3 (version, issued_at, bytes, received_at)
        SELECT printf('%020d', version), printf('%020d', issued_at), bytes, received_at
        FROM trust_lists WHERE version >= 0 AND issued_at >= 0;
    DROP TABLE trust_lists;
    ALTER TABLE trust_lists_v3 RENAME TO trust_lists;",
];

pub(super) fn open_write(path: &Path) -> Result<Connection, StoreError> {
    // Create the database file owner-only before SQLite does (it would use the umask, often
    // 0644); SQLite gives the -wal and -shm files the database file's permissions.
    if !path.exists() {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
    }
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
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
        let next = i64::try_from(index + 1).map_err(|_| StoreError::Corrupt("schema version"))?;
        tx.pragma_update(None, "user_version", next)?;
        tx.commit()?;
    }
    Ok(())
}

/// Gives every run and record stored before the log existed (migration 2) its leaf, in the
/// order they were received (runs before records at the same second, as a mint needs its run).
pub(super) fn backfill_log(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let mut pending: Vec<(i64, u8, i64)> = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT received_at, rowid FROM runs WHERE log_index IS NULL")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (at, rowid) = row?;
            pending.push((at, 0, rowid));
        }
        let mut stmt = tx.prepare("SELECT received_at, id FROM records WHERE log_index IS NULL")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
            let (at, rowid) = row?;
            pending.push((at, 1, rowid));
        }
    }
    if pending.is_empty() {
        return Ok(());
    }
    pending.sort_unstable();
    let first = log_size_in(&tx)?;
    for (size, (_, table, rowid)) in (first..).zip(pending) {
        if table == 0 {
            let (id, bytes): (Vec<u8>, Vec<u8>) = tx.query_row(
                "SELECT id, bytes FROM runs WHERE rowid = ?1",
                params![rowid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            append_leaf(&tx, size, LeafKind::Run, &blob(id, "run id")?, 0, &bytes)?;
            tx.execute(
                "UPDATE runs SET log_index = ?1 WHERE rowid = ?2",
                params![to_int(size, "size")?, rowid],
            )?;
        } else {
            let (item, seq, bytes): (Vec<u8>, i64, Vec<u8>) = tx.query_row(
                "SELECT item, seq, bytes FROM records WHERE id = ?1",
                params![rowid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            append_leaf(
                &tx,
                size,
                LeafKind::Record,
                &blob(item, "item id")?,
                u(seq)?,
                &bytes,
            )?;
            tx.execute(
                "UPDATE records SET log_index = ?1 WHERE id = ?2",
                params![to_int(size, "size")?, rowid],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}
