//! The offline outbox (issue 14, spec §17): records signed while the ledger is out of reach,
//! kept in a local SQLite file until `provenance sync` delivers them, plus the heads and runs
//! cached by `provenance pull` so that records can be signed offline at all.
//!
//! Durability: the file is WAL with `synchronous=FULL`, so a record the CLI said was queued
//! survives a crash. An entry is deleted only after the ledger acknowledged it; a re-signed
//! entry's new bytes replace the old ones *before* they are posted, so a sync killed at any
//! point re-posts exactly the bytes the ledger may already hold (answered 200, idempotent).
//!
//! Integrity: every row keeps what the person approved: the signer's public key, the head
//! it was signed on, and the hash of the body ([`BodyHash`]). [`Entry::check`] verifies the
//! queued bytes against them before anything is posted or re-signed; a row that fails is
//! quarantined (`outbox.tampered`, or `outbox.undecodable` for a row that cannot be read back)
//! and never sent.
//!
//! Versions: the schema's version is SQLite's `user_version` ([`SCHEMA_VERSION`]). A file of
//! the first schema (version 0) is migrated in one transaction; a file of a newer version is
//! refused (`outbox.newer_version`) and left untouched, as is a zero-byte or non-SQLite file
//! (`outbox.corrupt`).

use std::path::{Path, PathBuf};

use provenance_core::{
    ChainLink, DecodedRecord, ErrorCode as _, ItemId, KeyId, PublicKey, Record, RecordBody,
    RecordHash, RecordKind, RunId, Timestamp,
};
use rusqlite::types::Value;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::store::{kind_from_number, kind_number};

/// The outbox file inside `$PROVENANCE_HOME`.
pub const OUTBOX_FILE: &str = "outbox.db";
/// The lock file one `sync` holds while it runs.
pub const LOCK_FILE: &str = "outbox.lock";
/// The schema version this program reads and writes (SQLite `user_version`).
pub const SCHEMA_VERSION: i64 = 1;
/// The CLI code of an outbox whose contents cannot be read back (zero bytes, not SQLite,
/// truncated, or not an outbox).
pub const CODE_CORRUPT: &str = "outbox.corrupt";
/// The CLI code of an outbox written by a newer `provenance` (a schema version above
/// [`SCHEMA_VERSION`]): left untouched.
pub const CODE_NEWER_VERSION: &str = "outbox.newer_version";
/// The CLI code of a queued row whose bytes do not verify against its signer's key, or whose
/// body is not the one approved: quarantined, never sent.
pub const CODE_TAMPERED: &str = "outbox.tampered";
/// The CLI code of a queued row that cannot be read back as a record: quarantined, never sent.
pub const CODE_UNDECODABLE: &str = "outbox.undecodable";

/// The longest wait before a record refused for a transient reason is tried again.
pub const MAX_BACKOFF_SECS: u64 = 600;

/// How long a record refused `attempts` times for a transient reason waits before the next
/// sync tries it again: 2, 4, 8 … seconds, at most [`MAX_BACKOFF_SECS`].
pub fn backoff_secs(attempts: u32) -> u64 {
    2u64.checked_pow(attempts.min(20))
        .unwrap_or(MAX_BACKOFF_SECS)
        .min(MAX_BACKOFF_SECS)
}

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
    /// The file is empty: an outbox is never zero bytes (it is created whole), so something
    /// truncated it.
    #[error("the outbox {path} is empty (zero bytes): it was truncated, its records are lost or elsewhere; it was left untouched")]
    Empty {
        /// The outbox file.
        path: PathBuf,
    },
    /// The file was written by a newer version of this program.
    #[error("the outbox {path} has schema version {found}, newer than this program's {SCHEMA_VERSION}: use the newer `provenance`; it was left untouched")]
    NewerVersion {
        /// The outbox file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
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
            OutboxError::Corrupt { .. } | OutboxError::Empty { .. } | OutboxError::BadValue(_) => {
                CODE_CORRUPT
            }
            OutboxError::NewerVersion { .. } => CODE_NEWER_VERSION,
            OutboxError::Io(_) => "cli.io",
        }
    }
}

/// SHA-256 of a record body as approved: the deterministic encoding of the record with time
/// and sequence number 0 and this body (spec §17), so that re-signing on a moved head (new
/// time, new sequence number) keeps it, and any edit of the body changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyHash(pub [u8; 32]);

impl BodyHash {
    /// The hash of `body`.
    pub fn of(body: &RecordBody) -> Self {
        let payload = Record {
            time: Timestamp(0),
            seq: 0,
            body: body.clone(),
        }
        .to_payload();
        BodyHash(Sha256::digest(payload).into())
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
#[non_exhaustive]
pub enum EntryState {
    /// Waiting for `sync` (possibly until its next attempt time, after a transient refusal).
    Queued,
    /// Refused by the rules: kept and shown, never applied, until `outbox retry` or
    /// `outbox drop`.
    Conflict,
    /// Its bytes are not what was approved or cannot be read: never sent; `outbox drop`
    /// removes it.
    Quarantined,
}

impl EntryState {
    /// The state's name, as `provenance outbox` and `--json` answers spell it.
    pub fn name(self) -> &'static str {
        match self {
            EntryState::Queued => "queued",
            EntryState::Conflict => "conflict",
            EntryState::Quarantined => "quarantined",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "queued" => Some(EntryState::Queued),
            "conflict" => Some(EntryState::Conflict),
            "quarantined" => Some(EntryState::Quarantined),
            _ => None,
        }
    }
}

/// Why a queued row is not the record its person approved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Tampered {
    /// The bytes are not a record at all.
    #[error("its bytes are not a record ({0})")]
    NotARecord(&'static str),
    /// The row does not say who signed it (a row of an older outbox that could not be
    /// checked when it was migrated).
    #[error("the row does not name the key that signed it")]
    NoSigner,
    /// The record names another signer than the key that queued it.
    #[error("it names signer key id {found}, not the key that queued it ({expected})")]
    WrongSigner {
        /// The queuing key's id.
        expected: KeyId,
        /// The id in the record's header.
        found: KeyId,
    },
    /// The signature does not verify with the signer's key at the row's position.
    #[error("its signature does not verify with its signer's key")]
    BadSignature,
    /// The record's kind is not the one approved.
    #[error("it is a {found}, not the {expected} that was approved")]
    WrongKind {
        /// The approved kind.
        expected: RecordKind,
        /// The kind in the bytes.
        found: RecordKind,
    },
    /// The record is for another item or position than its row.
    #[error("it is not for the item and position its row names")]
    WrongPlace,
    /// The body is not the one approved (its hash differs, or no hash was recorded).
    #[error("its body is not the one that was approved")]
    BodyChanged,
}

impl Tampered {
    /// The CLI code: [`CODE_UNDECODABLE`] for bytes that are no record, else
    /// [`CODE_TAMPERED`].
    pub fn code(&self) -> &'static str {
        match self {
            Tampered::NotARecord(_) => CODE_UNDECODABLE,
            _ => CODE_TAMPERED,
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
    /// The record kind (as approved).
    pub kind: RecordKind,
    /// Its sequence number (0 for a mint).
    pub seq: u64,
    /// The exact signed bytes.
    pub bytes: Vec<u8>,
    /// The key file that signed it (for re-signing at sync).
    pub key_file: PathBuf,
    /// The public key that signed it (`None` only for a quarantined row of an older outbox).
    pub signer: Option<PublicKey>,
    /// The head it was signed on (`None` for a mint).
    pub prev: Option<RecordHash>,
    /// The hash of the approved body (`None` only for a quarantined row of an older outbox).
    pub body_hash: Option<BodyHash>,
    /// Queued, in conflict or quarantined.
    pub state: EntryState,
    /// For a conflict or a quarantined row: the code (the ledger's, or `outbox.*`).
    pub code: Option<&'static str>,
    /// Why it was queued, or why it is in conflict or quarantined.
    pub reason: String,
    /// When it was queued.
    pub queued_at: Timestamp,
    /// Transient refusals so far.
    pub attempts: u32,
    /// Not tried again before this time (0: at once).
    pub next_attempt: Timestamp,
}

impl Entry {
    /// The state's name: `queued`, `conflict` or `quarantined`.
    pub fn state_name(&self) -> &'static str {
        self.state.name()
    }

    /// Verifies the queued bytes against what was approved: a record, of the approved kind,
    /// signed by the queuing key at the row's item and position, with the approved body.
    pub fn check(&self) -> Result<DecodedRecord, Tampered> {
        let decoded =
            DecodedRecord::decode(&self.bytes).map_err(|e| Tampered::NotARecord(e.code()))?;
        let signer = self.signer.ok_or(Tampered::NoSigner)?;
        if decoded.signer != signer.key_id() {
            return Err(Tampered::WrongSigner {
                expected: signer.key_id(),
                found: decoded.signer,
            });
        }
        let found = decoded.record.body.kind();
        if found != self.kind {
            return Err(Tampered::WrongKind {
                expected: self.kind,
                found,
            });
        }
        let link = match (self.kind, self.prev) {
            (RecordKind::Mint, None) if ItemId::derive(&self.bytes) == self.item => None,
            (RecordKind::Mint, _) => return Err(Tampered::WrongPlace),
            (_, Some(prev)) if decoded.record.seq == self.seq => Some(ChainLink {
                item: self.item,
                prev,
            }),
            _ => return Err(Tampered::WrongPlace),
        };
        if !decoded.signature_valid(&signer, link.as_ref()) {
            return Err(Tampered::BadSignature);
        }
        if self.body_hash != Some(BodyHash::of(&decoded.record.body)) {
            return Err(Tampered::BodyChanged);
        }
        Ok(decoded)
    }
}

/// A row that cannot be read back as an entry: quarantined by `sync`, listed, removable with
/// `outbox drop`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecodable {
    /// Its queue position.
    pub id: i64,
    /// Which column could not be read.
    pub what: &'static str,
    /// Whether the row is already marked quarantined.
    pub quarantined: bool,
}

/// A row of the outbox: an entry, or one that cannot be read back.
pub type Row = Result<Entry, Undecodable>;

/// A record to queue: the signed bytes and what the person approved.
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
    /// The public key that signed it.
    pub signer: PublicKey,
    /// The head it was signed on (`None` for a mint).
    pub prev: Option<RecordHash>,
    /// The hash of the approved body.
    pub body_hash: BodyHash,
    /// Why it is queued (`--offline`, or the ledger was unreachable).
    pub reason: String,
}

impl NewEntry {
    /// The entry for `record`, signed into `bytes` by `signer` on `prev` (`None`: a mint).
    pub fn signed(
        item: ItemId,
        record: &Record,
        prev: Option<RecordHash>,
        bytes: Vec<u8>,
        signer: PublicKey,
        key_file: PathBuf,
        reason: &str,
    ) -> Self {
        NewEntry {
            item,
            kind: record.body.kind(),
            seq: record.seq,
            bytes,
            key_file,
            signer,
            prev,
            body_hash: BodyHash::of(&record.body),
            reason: reason.to_string(),
        }
    }
}

/// The outbox database.
pub struct Outbox {
    conn: Connection,
    path: PathBuf,
}

const TABLES: &str = "
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
);";

/// The entries table of schema version 1. Columns are checked when read, row by row, so that
/// one bad row is quarantined instead of stopping every command.
const ENTRIES_V1: &str = "
CREATE TABLE IF NOT EXISTS entries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    item         BLOB NOT NULL,
    kind         INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    key_file     TEXT NOT NULL,
    signer       BLOB,
    prev         BLOB,
    body_sha256  BLOB,
    state        TEXT NOT NULL,
    code         TEXT,
    reason       TEXT NOT NULL,
    queued_at    INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL DEFAULT 0
);";

const ENTRY_COLUMNS: &str = "id, item, kind, seq, bytes, key_file, signer, prev, body_sha256, \
                             state, code, reason, queued_at, attempts, next_attempt";

fn int(v: u64, what: &'static str) -> Result<i64, OutboxError> {
    i64::try_from(v).map_err(|_| OutboxError::BadValue(what))
}

fn uint(v: i64, what: &'static str) -> Result<u64, OutboxError> {
    u64::try_from(v).map_err(|_| OutboxError::BadValue(what))
}

fn hash32(v: Vec<u8>) -> Result<RecordHash, OutboxError> {
    let bytes: [u8; 32] = v.try_into().map_err(|_| OutboxError::BadValue("a hash"))?;
    Ok(RecordHash(bytes))
}

/// A code stored in a row, as its constant (`None` for text this program does not know).
fn stored_code(text: &str) -> Option<&'static str> {
    [CODE_TAMPERED, CODE_UNDECODABLE]
        .into_iter()
        .find(|c| *c == text)
        .or_else(|| crate::client::known_code(text))
}

/// Reads one entries row, column by column; the first column that is not what this program
/// writes makes it [`Undecodable`].
fn read_row(values: Vec<Value>) -> Row {
    let mut v = values.into_iter();
    let id = match v.next() {
        Some(Value::Integer(id)) => id,
        _ => {
            return Err(Undecodable {
                id: -1,
                what: "its id",
                quarantined: false,
            })
        }
    };
    let cols: Vec<Value> = v.collect();
    let state_text = match cols.get(8) {
        Some(Value::Text(t)) => Some(t.clone()),
        _ => None,
    };
    let state = state_text.as_deref().and_then(EntryState::from_name);
    let bad = |what| Undecodable {
        id,
        what,
        quarantined: state == Some(EntryState::Quarantined),
    };
    let blob = |i: usize| match cols.get(i) {
        Some(Value::Blob(b)) => Some(b.clone()),
        _ => None,
    };
    let integer = |i: usize| match cols.get(i) {
        Some(Value::Integer(n)) => Some(*n),
        _ => None,
    };
    let text = |i: usize| match cols.get(i) {
        Some(Value::Text(t)) => Some(t.clone()),
        _ => None,
    };
    let item = blob(0)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(ItemId)
        .ok_or_else(|| bad("its item"))?;
    let kind = integer(1)
        .and_then(kind_from_number)
        .ok_or_else(|| bad("its kind"))?;
    let seq = integer(2)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| bad("its sequence number"))?;
    let bytes = blob(3).ok_or_else(|| bad("its record bytes"))?;
    let key_file = text(4)
        .map(PathBuf::from)
        .ok_or_else(|| bad("its key file"))?;
    let signer = match cols.get(5) {
        Some(Value::Null) => None,
        Some(Value::Blob(b)) => Some(
            <[u8; 32]>::try_from(b.as_slice())
                .ok()
                .and_then(|k| PublicKey::from_bytes(&k).ok())
                .ok_or_else(|| bad("its signer key"))?,
        ),
        _ => return Err(bad("its signer key")),
    };
    let prev = match cols.get(6) {
        Some(Value::Null) => None,
        Some(Value::Blob(b)) => Some(RecordHash(
            <[u8; 32]>::try_from(b.as_slice()).map_err(|_| bad("its previous hash"))?,
        )),
        _ => return Err(bad("its previous hash")),
    };
    let body_hash = match cols.get(7) {
        Some(Value::Null) => None,
        Some(Value::Blob(b)) => Some(BodyHash(
            <[u8; 32]>::try_from(b.as_slice()).map_err(|_| bad("its body hash"))?,
        )),
        _ => return Err(bad("its body hash")),
    };
    let state = state.ok_or_else(|| bad("its state"))?;
    let code = text(9).as_deref().and_then(stored_code);
    let reason = text(10).ok_or_else(|| bad("its reason"))?;
    let queued_at = integer(11)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| bad("its time"))?;
    let attempts = integer(12)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| bad("its attempts"))?;
    let next_attempt = integer(13)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| bad("its next attempt"))?;
    Ok(Entry {
        id,
        item,
        kind,
        seq,
        bytes,
        key_file,
        signer,
        prev,
        body_hash,
        state,
        code,
        reason,
        queued_at: Timestamp(queued_at),
        attempts,
        next_attempt: Timestamp(next_attempt),
    })
}

/// Creates a new outbox file whole: schema written in a temporary file, then linked into
/// place, so an outbox file is never seen empty or half made (a zero-byte outbox is corrupt).
fn create_whole(home: &Path, path: &Path) -> Result<(), OutboxError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = home.join(format!("{OUTBOX_FILE}.new-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let made = Connection::open(&tmp).and_then(|conn| {
        conn.execute_batch(&format!(
            "{TABLES}{ENTRIES_V1}PRAGMA user_version = {SCHEMA_VERSION};"
        ))?;
        conn.close().map_err(|(_, e)| e)
    });
    if let Err(e) = made {
        let _ = std::fs::remove_file(&tmp);
        return Err(OutboxError::Corrupt {
            path: tmp,
            cause: e.to_string(),
        });
    }
    // A link never replaces a file: an outbox another process made meanwhile is kept.
    let linked = match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(OutboxError::Io)
}

/// What an entry of the first schema (which kept only bytes and a key file) was approved as,
/// when its bytes verify: the key file's public key, the head it was signed on (one of
/// `prevs`), and its body's hash.
fn legacy_fields(
    item: ItemId,
    kind: RecordKind,
    seq: u64,
    bytes: &[u8],
    key_file: &Path,
    prevs: &[RecordHash],
) -> Result<(PublicKey, Option<RecordHash>, BodyHash), String> {
    let signer = crate::keyfile::read_key(key_file)
        .map_err(|e| format!("its key file could not be read to check it ({e})"))?
        .public_key();
    let candidates: Vec<Option<RecordHash>> = if kind == RecordKind::Mint {
        vec![None]
    } else {
        prevs.iter().copied().map(Some).collect()
    };
    let body = DecodedRecord::decode(bytes)
        .map_err(|e| Tampered::NotARecord(e.code()).to_string())?
        .record
        .body;
    for prev in candidates {
        let entry = Entry {
            id: 0,
            item,
            kind,
            seq,
            bytes: bytes.to_vec(),
            key_file: key_file.to_path_buf(),
            signer: Some(signer),
            prev,
            // The signature is the approval: the body hash is derived from what it signed.
            body_hash: Some(BodyHash::of(&body)),
            state: EntryState::Queued,
            code: None,
            reason: String::new(),
            queued_at: Timestamp(0),
            attempts: 0,
            next_attempt: Timestamp(0),
        };
        match entry.check() {
            Ok(_) => return Ok((signer, prev, BodyHash::of(&body))),
            Err(Tampered::BadSignature) => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(Tampered::BadSignature.to_string())
}

/// Migrates a first-schema outbox (version 0) in one transaction: the entries table gains the
/// approval columns; each row is checked with its key file and quarantined if it fails.
fn migrate_v0(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != 0 {
        return tx.commit(); // another process migrated it meanwhile
    }
    let old_seq: Option<i64> = tx
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'entries'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    tx.execute_batch(&format!(
        "ALTER TABLE entries RENAME TO entries_v0;
         {ENTRIES_V1}
         INSERT INTO entries (id, item, kind, seq, bytes, key_file, state, reason, queued_at)
             SELECT id, item, kind, seq, bytes, key_file, state, reason, queued_at FROM entries_v0;
         DROP TABLE entries_v0;"
    ))?;
    if let Some(old) = old_seq {
        tx.execute(
            "UPDATE sqlite_sequence SET seq = MAX(seq, ?1) WHERE name = 'entries'",
            params![old],
        )?;
    }
    let rows: Vec<(i64, Vec<Value>)> = {
        let mut stmt =
            tx.prepare("SELECT id, item, kind, seq, bytes, key_file FROM entries ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                (1..6)
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<Result<Vec<_>, _>>()?,
            ))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut last_of_item: std::collections::HashMap<[u8; 16], RecordHash> = Default::default();
    for (id, cols) in rows {
        let parsed = match cols.as_slice() {
            [Value::Blob(item), Value::Integer(kind), Value::Integer(seq), Value::Blob(bytes), Value::Text(key_file)] => {
                <[u8; 16]>::try_from(item.as_slice()).ok().and_then(|item| {
                    Some((
                        item,
                        kind_from_number(*kind)?,
                        u64::try_from(*seq).ok()?,
                        bytes.clone(),
                        PathBuf::from(key_file),
                    ))
                })
            }
            _ => None,
        };
        let Some((item, kind, seq, bytes, key_file)) = parsed else {
            continue; // left for sync to quarantine as undecodable
        };
        let mut prevs: Vec<RecordHash> = last_of_item.get(&item).copied().into_iter().collect();
        let cached: Option<Vec<u8>> = tx
            .query_row(
                "SELECT hash FROM heads WHERE item = ?1",
                params![&item[..]],
                |r| r.get(0),
            )
            .optional()?;
        prevs.extend(cached.and_then(|h| hash32(h).ok()));
        last_of_item.insert(item, RecordHash::of(&bytes));
        match legacy_fields(ItemId(item), kind, seq, &bytes, &key_file, &prevs) {
            Ok((signer, prev, body)) => tx.execute(
                "UPDATE entries SET signer = ?2, prev = ?3, body_sha256 = ?4 WHERE id = ?1",
                params![
                    id,
                    &signer.to_bytes()[..],
                    prev.map(|p| p.0.to_vec()),
                    &body.0[..]
                ],
            )?,
            Err(why) => tx.execute(
                "UPDATE entries SET state = 'quarantined', code = ?2, reason = ?3 WHERE id = ?1",
                params![
                    id,
                    CODE_TAMPERED,
                    format!("from an older outbox and does not verify: {why}")
                ],
            )?,
        };
    }
    tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION};"))?;
    tx.commit()
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

    /// Opens (creating whole, mode 0700 directory and 0600 file; migrating an older schema)
    /// the outbox in `home`. A zero-byte, non-SQLite or newer-version file is refused and left
    /// untouched.
    pub fn open(home: &Path) -> Result<Self, OutboxError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(home)?;
        let path = home.join(OUTBOX_FILE);
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_whole(home, &path)?,
            Err(e) => return Err(OutboxError::Io(e)),
            Ok(meta) if meta.len() == 0 => return Err(OutboxError::Empty { path }),
            Ok(_) => {}
        }
        let corrupt = |e: rusqlite::Error| OutboxError::Corrupt {
            path: path.clone(),
            cause: e.to_string(),
        };
        // Never created here: a file that vanished meanwhile is an error, not a new outbox.
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(corrupt)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(corrupt)?;
        // Reading the header first: a file that is not SQLite fails here, before any write.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(corrupt)?;
        if version > SCHEMA_VERSION {
            return Err(OutboxError::NewerVersion {
                path,
                found: version,
            });
        }
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .and_then(|mut s| {
                s.query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<_, _>>()
            })
            .map_err(corrupt)?;
        let ours = ["heads", "runs", "entries", "sqlite_sequence"];
        if tables.iter().any(|t| !ours.contains(&t.as_str()))
            || (version == SCHEMA_VERSION && !tables.iter().any(|t| t == "entries"))
        {
            return Err(OutboxError::Corrupt {
                path,
                cause: "it is an SQLite file but not an outbox".into(),
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(corrupt)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(corrupt)?;
        if version == 0 {
            if tables.iter().any(|t| t == "entries") {
                migrate_v0(&mut conn).map_err(corrupt)?;
            } else {
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE; {TABLES}{ENTRIES_V1} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                ))
                .map_err(corrupt)?;
            }
        }
        conn.execute_batch(&format!("{TABLES}{ENTRIES_V1}"))
            .map_err(corrupt)?;
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

    /// The head an offline record must extend: the last queued entry for the item that
    /// verifies, else the cached head.
    pub fn effective_head(&self, item: &ItemId) -> Result<Option<CachedHead>, OutboxError> {
        let last = self
            .entries()?
            .into_iter()
            .flatten()
            .rev()
            .filter(|e| e.item == *item && e.state == EntryState::Queued)
            .find_map(|e| e.check().ok().map(|d| (e, d)));
        match last {
            Some((entry, decoded)) => Ok(Some(CachedHead {
                seq: entry.seq,
                hash: RecordHash::of(&entry.bytes),
                time: decoded.record.time,
            })),
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
        let path = self.path.clone();
        let db = |e: rusqlite::Error| OutboxError::Corrupt {
            path: path.clone(),
            cause: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(db)?;
        let mut ids = Vec::with_capacity(entries.len());
        for e in entries {
            tx.execute(
                "INSERT INTO entries (item, kind, seq, bytes, key_file, signer, prev, body_sha256, state, reason, queued_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', ?9, ?10)",
                params![
                    &e.item.0[..],
                    kind_number(e.kind),
                    int(e.seq, "seq")?,
                    e.bytes,
                    e.key_file.to_string_lossy(),
                    &e.signer.to_bytes()[..],
                    e.prev.map(|p| p.0.to_vec()),
                    &e.body_hash.0[..],
                    e.reason,
                    int(now.0, "time")?
                ],
            )
            .map_err(db)?;
            ids.push(tx.last_insert_rowid());
        }
        tx.commit().map_err(db)?;
        Ok(ids)
    }

    /// Every row, in queue order (queued, in conflict, quarantined, and rows that cannot be
    /// read back).
    pub fn entries(&self) -> Result<Vec<Row>, OutboxError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {ENTRY_COLUMNS} FROM entries ORDER BY id"))
            .map_err(|e| self.db(e))?;
        let rows = stmt
            .query_map([], |r| {
                (0..15)
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| self.db(e))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(read_row(row.map_err(|e| self.db(e))?));
        }
        Ok(out)
    }

    /// The row `id`, if there is one.
    pub fn entry(&self, id: i64) -> Result<Option<Row>, OutboxError> {
        Ok(self.entries()?.into_iter().find(|r| match r {
            Ok(e) => e.id == id,
            Err(u) => u.id == id,
        }))
    }

    /// The ledger acknowledged the entry: it leaves the outbox, and the item's cached head
    /// moves to it.
    pub fn acknowledged(&mut self, entry: &Entry, time: Timestamp) -> Result<(), OutboxError> {
        let path = self.path.clone();
        let db = |e: rusqlite::Error| OutboxError::Corrupt {
            path: path.clone(),
            cause: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(db)?;
        tx.execute("DELETE FROM entries WHERE id = ?1", params![entry.id])
            .and_then(|_| {
                tx.execute(
                    "INSERT OR REPLACE INTO heads (item, seq, hash, time) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        &entry.item.0[..],
                        i64::try_from(entry.seq).unwrap_or(i64::MAX),
                        &RecordHash::of(&entry.bytes).0[..],
                        i64::try_from(time.0).unwrap_or(i64::MAX)
                    ],
                )
            })
            .and_then(|_| tx.commit())
            .map_err(db)?;
        Ok(())
    }

    /// Replaces an entry's bytes with a re-signed record on `prev` (before it is posted).
    pub fn resigned(
        &self,
        id: i64,
        seq: u64,
        prev: RecordHash,
        bytes: &[u8],
    ) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "UPDATE entries SET seq = ?2, prev = ?3, bytes = ?4 WHERE id = ?1",
                params![id, int(seq, "seq")?, &prev.0[..], bytes],
            )
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// Marks an entry as a conflict (a rule refusal), with the ledger's code and the reason
    /// shown by `provenance outbox`.
    pub fn conflict(
        &self,
        id: i64,
        code: Option<&'static str>,
        reason: &str,
    ) -> Result<(), OutboxError> {
        self.set_state(id, EntryState::Conflict, code, reason)
    }

    /// Quarantines a row: it is never sent; `outbox drop` removes it.
    pub fn quarantine(&self, id: i64, code: &'static str, reason: &str) -> Result<(), OutboxError> {
        self.set_state(id, EntryState::Quarantined, Some(code), reason)
    }

    fn set_state(
        &self,
        id: i64,
        state: EntryState,
        code: Option<&'static str>,
        reason: &str,
    ) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "UPDATE entries SET state = ?2, code = ?3, reason = ?4 WHERE id = ?1",
                params![id, state.name(), code, reason],
            )
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// A transient refusal: the entry stays queued, and is not tried before
    /// [`backoff_secs`] of its attempts have passed.
    pub fn postponed(&self, entry: &Entry, reason: &str) -> Result<Timestamp, OutboxError> {
        let attempts = entry.attempts.saturating_add(1);
        let next = Timestamp(
            crate::ledger::now()
                .0
                .saturating_add(backoff_secs(attempts)),
        );
        self.conn
            .execute(
                "UPDATE entries SET attempts = ?2, next_attempt = ?3, reason = ?4 WHERE id = ?1",
                params![entry.id, attempts, int(next.0, "time")?, reason],
            )
            .map_err(|e| self.db(e))?;
        Ok(next)
    }

    /// `outbox retry`: the entry is queued again, due at once.
    pub fn requeue(&self, id: i64) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "UPDATE entries SET state = 'queued', code = NULL, attempts = 0, next_attempt = 0 WHERE id = ?1",
                params![id],
            )
            .map_err(|e| self.db(e))?;
        Ok(())
    }

    /// `outbox drop`: the row leaves the outbox without being sent.
    pub fn remove(&self, id: i64) -> Result<bool, OutboxError> {
        let n = self
            .conn
            .execute("DELETE FROM entries WHERE id = ?1", params![id])
            .map_err(|e| self.db(e))?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use provenance_core::{Badge, SigningKey};

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
    fn a_zero_byte_outbox_is_corrupt_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(OUTBOX_FILE);
        std::fs::write(&path, b"").unwrap();
        let Err(err) = Outbox::open(dir.path()) else {
            panic!("a zero-byte outbox opened")
        };
        assert_eq!(err.code(), CODE_CORRUPT);
        assert!(err.to_string().contains("zero bytes"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        // A new outbox is created whole, with its schema version.
        let fresh = tempfile::tempdir().unwrap();
        drop(Outbox::open(fresh.path()).unwrap());
        let conn = Connection::open(fresh.path().join(OUTBOX_FILE)).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn an_outbox_of_a_newer_version_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        drop(Outbox::open(dir.path()).unwrap());
        let path = dir.path().join(OUTBOX_FILE);
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 7;")
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let Err(err) = Outbox::open(dir.path()) else {
            panic!("a newer outbox opened")
        };
        assert_eq!(err.code(), CODE_NEWER_VERSION);
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    fn refusal(entry: &Entry) -> Tampered {
        entry.check().err().unwrap()
    }

    fn badge_entry(key: &SigningKey, event: &str) -> (NewEntry, ItemId, RecordHash) {
        let item = ItemId([1; 16]);
        let prev = RecordHash([9; 32]);
        let record = Record {
            time: Timestamp(100),
            seq: 3,
            body: RecordBody::Badge(Badge {
                event: event.into(),
                place: None,
            }),
        };
        let bytes = record.sign(key, Some(&ChainLink { item, prev }));
        let entry = NewEntry::signed(
            item,
            &record,
            Some(prev),
            bytes,
            key.public_key(),
            PathBuf::from("host.pem"),
            "--offline",
        );
        (entry, item, prev)
    }

    #[test]
    fn a_row_is_checked_against_its_signer_and_approved_body() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path()).unwrap();
        let key = SigningKey::from_seed([4; 32]);
        let (new, _, _) = badge_entry(&key, "Night Market");
        outbox.queue(std::slice::from_ref(&new)).unwrap();
        let entry = outbox.entries().unwrap().remove(0).unwrap();
        assert!(entry.check().is_ok());
        // An edited event (same length), a zeroed signature, another signer: all refused.
        let mut edited = entry.clone();
        let at = edited.bytes.windows(5).position(|w| w == b"Night").unwrap();
        edited.bytes[at] = b'F';
        assert_eq!(refusal(&edited), Tampered::BadSignature);
        let mut zeroed = entry.clone();
        let n = zeroed.bytes.len();
        zeroed.bytes[n - 64..].fill(0);
        assert_eq!(refusal(&zeroed), Tampered::BadSignature);
        let other = SigningKey::from_seed([5; 32]);
        let (resigned, _, _) = badge_entry(&other, "Fight Market");
        let swapped = Entry {
            bytes: resigned.bytes,
            ..entry.clone()
        };
        assert!(matches!(refusal(&swapped), Tampered::WrongSigner { .. }));
        // Signed by the right key, but not the body that was approved.
        let (by_key, _, _) = badge_entry(&key, "Fight Market");
        let changed = Entry {
            bytes: by_key.bytes,
            ..entry.clone()
        };
        assert_eq!(refusal(&changed), Tampered::BodyChanged);
        let garbage = Entry {
            bytes: vec![1, 2, 3],
            ..entry
        };
        assert_eq!(refusal(&garbage).code(), CODE_UNDECODABLE);
    }

    #[test]
    fn an_undecodable_row_is_read_as_such_and_the_others_still_are() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path()).unwrap();
        let key = SigningKey::from_seed([4; 32]);
        let (a, _, _) = badge_entry(&key, "A");
        let (b, _, _) = badge_entry(&key, "B");
        let ids = outbox.queue(&[a, b]).unwrap();
        outbox
            .conn
            .execute(
                "UPDATE entries SET item = x'00' WHERE id = ?1",
                params![ids[0]],
            )
            .unwrap();
        let rows = outbox.entries().unwrap();
        assert_eq!(rows[0].as_ref().unwrap_err().what, "its item");
        assert!(rows[1].as_ref().unwrap().check().is_ok());
        assert!(outbox.remove(ids[0]).unwrap());
        assert_eq!(outbox.entries().unwrap().len(), 1);
    }

    #[test]
    fn a_first_schema_outbox_is_migrated_and_rows_that_do_not_verify_are_quarantined() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_seed([4; 32]);
        let key_file = dir.path().join("host.pem");
        crate::keyfile::write_key(&key_file, &key).unwrap();
        let (good, item, prev) = badge_entry(&key, "Good");
        let mut bad = badge_entry(&key, "Evil").0.bytes;
        let n = bad.len();
        bad[n - 64..].fill(0);
        let conn = Connection::open(dir.path().join(OUTBOX_FILE)).unwrap();
        conn.execute_batch(&format!(
            "{TABLES}
            CREATE TABLE entries (
                id        INTEGER PRIMARY KEY AUTOINCREMENT,
                item      BLOB NOT NULL,
                kind      INTEGER NOT NULL,
                seq       INTEGER NOT NULL,
                bytes     BLOB NOT NULL,
                key_file  TEXT NOT NULL,
                state     TEXT NOT NULL CHECK (state IN ('queued', 'conflict')),
                reason    TEXT NOT NULL,
                queued_at INTEGER NOT NULL
            );"
        ))
        .unwrap();
        conn.execute(
            "INSERT INTO heads (item, seq, hash, time) VALUES (?1, 2, ?2, 50)",
            params![&item.0[..], &prev.0[..]],
        )
        .unwrap();
        for bytes in [&good.bytes, &bad] {
            conn.execute(
                "INSERT INTO entries (item, kind, seq, bytes, key_file, state, reason, queued_at) \
                 VALUES (?1, ?2, 3, ?3, ?4, 'queued', 'offline', 1)",
                params![
                    &item.0[..],
                    kind_number(RecordKind::Badge),
                    bytes,
                    key_file.to_string_lossy()
                ],
            )
            .unwrap();
        }
        drop(conn);
        let outbox = Outbox::open(dir.path()).unwrap();
        let rows = outbox.entries().unwrap();
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.state, EntryState::Queued);
        assert_eq!(first.signer, Some(key.public_key()));
        assert_eq!(first.prev, Some(prev));
        assert!(first.check().is_ok());
        let second = rows[1].as_ref().unwrap();
        assert_eq!(second.state, EntryState::Quarantined);
        assert_eq!(second.code, Some(CODE_TAMPERED));
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

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        assert_eq!(backoff_secs(1), 2);
        assert_eq!(backoff_secs(3), 8);
        assert_eq!(backoff_secs(40), MAX_BACKOFF_SECS);
    }
}
