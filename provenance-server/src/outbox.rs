//! The offline outbox (issue 14): records signed while the ledger is out of reach, kept in a
//! local SQLite file until `provenance sync` delivers them, plus the heads and runs cached by
//! `provenance pull` so that records can be signed offline at all.
//!
//! Durability: the file is WAL with `synchronous=FULL`, so a record the CLI said was queued
//! survives a crash. An entry is deleted only after the ledger acknowledged it; a re-signed
//! entry's new bytes replace the old ones *before* they are posted, so a sync killed at any
//! point re-posts exactly the bytes the ledger may already hold (answered 200, idempotent).

use std::path::{Path, PathBuf};

use provenance_core::{ItemId, PublicKey, RecordHash, RecordKind, RunId, Timestamp};
use rusqlite::{params, Connection, OptionalExtension};

use crate::store::{kind_from_number, kind_number};

/// The outbox file inside `$PROVENANCE_HOME`.
pub const OUTBOX_FILE: &str = "outbox.db";
/// The lock file one `sync` holds while it runs.
pub const LOCK_FILE: &str = "outbox.lock";
/// The CLI code of an outbox whose contents cannot be read back.
pub const CODE_CORRUPT: &str = "outbox.corrupt";

/// Why the outbox cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The file is not an outbox this program can read (corrupt, truncated, or another file).
    #[error("the outbox {path} cannot be read ({cause}); it was left untouched")]
    Corrupt {
        /// The outbox file.
        path: PathBuf,
        /// What SQLite said.
        cause: String,
    },
    /// A filesystem error (creating the home directory, the lock file).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A stored value is not what this program wrote.
    #[error("the outbox holds a value this program did not write: {0}")]
    BadValue(&'static str),
}

impl OutboxError {
    /// The CLI code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            OutboxError::Corrupt { .. } | OutboxError::BadValue(_) => CODE_CORRUPT,
            OutboxError::Io(_) => "cli.io",
        }
    }
}

/// An item's head as last seen (pulled, or moved by a record this outbox queued or sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachedHead {
    /// Sequence number of the head record.
    pub seq: u64,
    /// Hash of the head record.
    pub hash: RecordHash,
    /// Its time (a next record may not be dated before it).
    pub time: Timestamp,
}

/// A run as last pulled: what an offline mint needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedRun {
    /// The run id.
    pub id: RunId,
    /// Edition size N.
    pub size: u64,
    /// Title, repeated in every mint.
    pub title: String,
    /// Microfactory, repeated in every mint.
    pub microfactory: String,
    /// Edition numbers minted (on the ledger when pulled, or queued here since).
    pub taken: Vec<u64>,
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryState {
    /// Waiting for `sync`.
    Queued,
    /// Refused by the rules after the item moved on: kept, shown, never applied or dropped.
    Conflict,
}

impl EntryState {
    /// The state's name, as `provenance outbox` and `--json` answers spell it.
    pub fn name(self) -> &'static str {
        match self {
            EntryState::Queued => "queued",
            EntryState::Conflict => "conflict",
        }
    }
}

/// One signed record waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Queue order.
    pub id: i64,
    /// The item (for a mint: the item it creates).
    pub item: ItemId,
    /// The record kind.
    pub kind: RecordKind,
    /// Its sequence number (0 for a mint).
    pub seq: u64,
    /// The exact signed bytes.
    pub bytes: Vec<u8>,
    /// The key file that signed it (for re-signing at sync).
    pub key_file: PathBuf,
    /// Queued or in conflict.
    pub state: EntryState,
    /// Why it was queued, or why it is in conflict.
    pub reason: String,
    /// When it was queued.
    pub queued_at: Timestamp,
}

impl Entry {
    /// The state's name: `queued` or `conflict`.
    pub fn state_name(&self) -> &'static str {
        self.state.name()
    }
}

/// The outbox database.
pub struct Outbox {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS heads (
    item  BLOB PRIMARY KEY,
    seq   INTEGER NOT NULL,
    hash  BLOB NOT NULL,
    time  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run          BLOB PRIMARY KEY,
    size         INTEGER NOT NULL,
    title        TEXT NOT NULL,
    microfactory TEXT NOT NULL,
    taken        TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    item      BLOB NOT NULL,
    kind      INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    bytes     BLOB NOT NULL,
    key_file  TEXT NOT NULL,
    state     TEXT NOT NULL CHECK (state IN ('queued', 'conflict')),
    reason    TEXT NOT NULL,
    queued_at INTEGER NOT NULL
);";

fn int(v: u64, what: &'static str) -> Result<i64, OutboxError> {
    i64::try_from(v).map_err(|_| OutboxError::BadValue(what))
}

fn uint(v: i64, what: &'static str) -> Result<u64, OutboxError> {
    u64::try_from(v).map_err(|_| OutboxError::BadValue(what))
}

fn id16(v: Vec<u8>) -> Result<[u8; 16], OutboxError> {
    v.try_into().map_err(|_| OutboxError::BadValue("an id"))
}

fn hash32(v: Vec<u8>) -> Result<RecordHash, OutboxError> {
    let bytes: [u8; 32] = v.try_into().map_err(|_| OutboxError::BadValue("a hash"))?;
    Ok(RecordHash(bytes))
}

impl Outbox {
    /// The outbox directory: `$PROVENANCE_HOME`, else `$XDG_DATA_HOME/provenance`, else
    /// `~/.local/share/provenance`.
    pub fn default_home() -> PathBuf {
        if let Some(home) = std::env::var_os("PROVENANCE_HOME").filter(|h| !h.is_empty()) {
            return PathBuf::from(home);
        }
        if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|h| !h.is_empty()) {
            return PathBuf::from(data).join("provenance");
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        home.join(".local/share/provenance")
    }

    /// Opens (creating, mode 0700 directory and 0600 file) the outbox in `home`.
    pub fn open(home: &Path) -> Result<Self, OutboxError> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(home)?;
        let path = home.join(OUTBOX_FILE);
        if !path.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
        }
        let corrupt = |e: rusqlite::Error| OutboxError::Corrupt {
            path: path.clone(),
            cause: e.to_string(),
        };
        let conn = Connection::open(&path).map_err(corrupt)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(corrupt)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(corrupt)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(corrupt)?;
        conn.execute_batch(SCHEMA).map_err(corrupt)?;
        // Reading every table once proves the file is whole before anything is written.
        conn.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get::<_, i64>(0))
            .map_err(corrupt)?;
        Ok(Outbox { conn, path })
    }

    fn db(&self, e: rusqlite::Error) -> OutboxError {
        OutboxError::Corrupt {
            path: self.path.clone(),
            cause: e.to_string(),
        }
    }

    /// The outbox file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Caches an item's head (from `pull`, or after an acknowledged record).
    pub fn save_head(&self, item: &ItemId, head: CachedHead) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO heads (item, seq, hash, time) VALUES (?1, ?2, ?3, ?4)",
                params![
                    &item.0[..],
                    int(head.seq, "seq")?,
                    &head.hash.0[..],
                    int(head.time.0, "time")?
                ],
            )
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// The cached head of an item, as pulled or last acknowledged.
    pub fn cached_head(&self, item: &ItemId) -> Result<Option<CachedHead>, OutboxError> {
        let row = self
            .conn
            .query_row(
                "SELECT seq, hash, time FROM heads WHERE item = ?1",
                params![&item.0[..]],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.db(e))?;
        row.map(|(seq, hash, time)| {
            Ok(CachedHead {
                seq: uint(seq, "seq")?,
                hash: hash32(hash)?,
                time: Timestamp(uint(time, "time")?),
            })
        })
        .transpose()
    }

    /// The head an offline record must extend: the last entry queued for the item (not in
    /// conflict), else the cached head.
    pub fn effective_head(&self, item: &ItemId) -> Result<Option<CachedHead>, OutboxError> {
        let last = self
            .conn
            .query_row(
                "SELECT seq, bytes FROM entries WHERE item = ?1 AND state = 'queued' ORDER BY id DESC LIMIT 1",
                params![&item.0[..]],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .map_err(|e| self.db(e))?;
        match last {
            Some((seq, bytes)) => {
                let time = provenance_core::DecodedRecord::decode(&bytes)
                    .map(|d| d.record.time)
                    .map_err(|_| OutboxError::BadValue("a queued record"))?;
                Ok(Some(CachedHead {
                    seq: uint(seq, "seq")?,
                    hash: RecordHash::of(&bytes),
                    time,
                }))
            }
            None => self.cached_head(item),
        }
    }

    /// Caches a run for offline mints.
    pub fn save_run(&self, run: &CachedRun) -> Result<(), OutboxError> {
        let taken: Vec<String> = run.taken.iter().map(u64::to_string).collect();
        self.conn
            .execute(
                "INSERT OR REPLACE INTO runs (run, size, title, microfactory, taken) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    &run.id.0[..],
                    int(run.size, "size")?,
                    run.title,
                    run.microfactory,
                    taken.join(",")
                ],
            )
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// A cached run.
    pub fn cached_run(&self, id: &RunId) -> Result<Option<CachedRun>, OutboxError> {
        let row = self
            .conn
            .query_row(
                "SELECT size, title, microfactory, taken FROM runs WHERE run = ?1",
                params![&id.0[..]],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| self.db(e))?;
        row.map(|(size, title, microfactory, taken)| {
            let taken = taken
                .split(',')
                .filter(|t| !t.is_empty())
                .map(|t| t.parse().map_err(|_| OutboxError::BadValue("an edition")))
                .collect::<Result<Vec<u64>, _>>()?;
            Ok(CachedRun {
                id: *id,
                size: uint(size, "size")?,
                title,
                microfactory,
                taken,
            })
        })
        .transpose()
    }

    /// Queues signed records (in one transaction: all or none).
    pub fn queue(&mut self, entries: &[NewEntry]) -> Result<Vec<i64>, OutboxError> {
        let now = crate::ledger::now();
        let tx = self.conn.transaction().map_err(|e| OutboxError::Corrupt {
            path: self.path.clone(),
            cause: e.to_string(),
        })?;
        let mut ids = Vec::with_capacity(entries.len());
        for e in entries {
            tx.execute(
                "INSERT INTO entries (item, kind, seq, bytes, key_file, state, reason, queued_at) VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7)",
                params![
                    &e.item.0[..],
                    kind_number(e.kind),
                    int(e.seq, "seq")?,
                    e.bytes,
                    e.key_file.to_string_lossy(),
                    e.reason,
                    int(now.0, "time")?
                ],
            )
            .map_err(|err| OutboxError::Corrupt {
                path: self.path.clone(),
                cause: err.to_string(),
            })?;
            ids.push(tx.last_insert_rowid());
        }
        tx.commit().map_err(|e| OutboxError::Corrupt {
            path: self.path.clone(),
            cause: e.to_string(),
        })?;
        Ok(ids)
    }

    /// Every entry, in queue order (queued and in conflict).
    pub fn entries(&self) -> Result<Vec<Entry>, OutboxError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, item, kind, seq, bytes, key_file, state, reason, queued_at FROM entries ORDER BY id")
            .map_err(|e| self.db(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, i64>(8)?,
                ))
            })
            .map_err(|e| self.db(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, item, kind, seq, bytes, key_file, state, reason, queued_at) =
                row.map_err(|e| self.db(e))?;
            out.push(Entry {
                id,
                item: ItemId(id16(item)?),
                kind: kind_from_number(kind).ok_or(OutboxError::BadValue("a kind"))?,
                seq: uint(seq, "seq")?,
                bytes,
                key_file: PathBuf::from(key_file),
                state: match state.as_str() {
                    "queued" => EntryState::Queued,
                    "conflict" => EntryState::Conflict,
                    _ => return Err(OutboxError::BadValue("a state")),
                },
                reason,
                queued_at: Timestamp(uint(queued_at, "time")?),
            });
        }
        Ok(out)
    }

    /// The ledger acknowledged the entry: it leaves the outbox, and the item's cached head
    /// moves to it.
    pub fn acknowledged(&mut self, entry: &Entry, time: Timestamp) -> Result<(), OutboxError> {
        let head = CachedHead {
            seq: entry.seq,
            hash: RecordHash::of(&entry.bytes),
            time,
        };
        let tx = self.conn.transaction().map_err(|e| OutboxError::Corrupt {
            path: self.path.clone(),
            cause: e.to_string(),
        })?;
        tx.execute("DELETE FROM entries WHERE id = ?1", params![entry.id])
            .and_then(|_| {
                tx.execute(
                    "INSERT OR REPLACE INTO heads (item, seq, hash, time) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        &entry.item.0[..],
                        i64::try_from(head.seq).unwrap_or(i64::MAX),
                        &head.hash.0[..],
                        i64::try_from(head.time.0).unwrap_or(i64::MAX)
                    ],
                )
            })
            .and_then(|_| tx.commit())
            .map_err(|e| OutboxError::Corrupt {
                path: self.path.clone(),
                cause: e.to_string(),
            })?;
        Ok(())
    }

    /// Replaces an entry's bytes with a re-signed record (before it is posted).
    pub fn resigned(&self, id: i64, seq: u64, bytes: &[u8]) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "UPDATE entries SET seq = ?2, bytes = ?3 WHERE id = ?1",
                params![id, int(seq, "seq")?, bytes],
            )
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Marks an entry as a conflict, with the reason shown by `provenance outbox`.
    pub fn conflict(&self, id: i64, reason: &str) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "UPDATE entries SET state = 'conflict', reason = ?2 WHERE id = ?1",
                params![id, reason],
            )
            .map_err(|e| self.db(e))?;
        Ok(())
    }
}

/// A record to queue.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// The item.
    pub item: ItemId,
    /// The kind.
    pub kind: RecordKind,
    /// Its sequence number.
    pub seq: u64,
    /// The signed bytes.
    pub bytes: Vec<u8>,
    /// The key file that signed it.
    pub key_file: PathBuf,
    /// Why it is queued (`--offline`, or the ledger was unreachable).
    pub reason: String,
}

/// The public key a key file's record is signed by, from its kid (for matching `--key`).
pub fn signer_kid(bytes: &[u8]) -> Option<provenance_core::KeyId> {
    provenance_core::DecodedRecord::decode(bytes)
        .ok()
        .map(|d| d.signer)
}

/// Whether `key` signed `bytes` (by key id).
pub fn signed_by(bytes: &[u8], key: &PublicKey) -> bool {
    signer_kid(bytes) == Some(key.key_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_outbox_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(OUTBOX_FILE);
        let garbage = b"this is not an outbox, it is a shopping list".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let Err(err) = Outbox::open(dir.path()) else {
            panic!("a corrupt outbox opened")
        };
        assert_eq!(err.code(), CODE_CORRUPT);
        assert!(err.to_string().contains("left untouched"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn runs_and_heads_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path()).unwrap();
        let run = CachedRun {
            id: RunId([3; 16]),
            size: 30,
            title: "T".into(),
            microfactory: "M".into(),
            taken: vec![1, 2, 5],
        };
        outbox.save_run(&run).unwrap();
        assert_eq!(outbox.cached_run(&run.id).unwrap(), Some(run));
        let head = CachedHead {
            seq: 4,
            hash: RecordHash([9; 32]),
            time: Timestamp(77),
        };
        outbox.save_head(&ItemId([1; 16]), head).unwrap();
        assert_eq!(outbox.effective_head(&ItemId([1; 16])).unwrap(), Some(head));
        assert_eq!(outbox.effective_head(&ItemId([2; 16])).unwrap(), None);
    }
}
