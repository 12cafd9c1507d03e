//! What `provenance --json` prints: one type per command's answer, so the JSON a script reads
//! is declared in one place and cannot drift from the sentences printed without `--json`.
//! Ledger answers that are printed as they came (a run's ack) are [`crate::api`] types.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::{HeadRef, TrustAck};

/// `keygen`.
#[derive(Debug, Serialize)]
pub struct KeyOutput {
    /// The public key, unpadded base64url.
    pub public_key: String,
    /// Its key id.
    pub key_id: String,
    /// The private key file written.
    pub file: String,
    /// With `--recovery`: the recovery key, its sheet and the receive code.
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    pub recovery: Option<RecoveryKeyOutput>,
}

/// `keygen --recovery`: what was made beside the owner key.
#[derive(Debug, Serialize)]
pub struct RecoveryKeyOutput {
    /// The recovery key's id (the sheet's short code).
    pub recovery_key_id: String,
    /// The recovery key file written (mode 0600).
    pub recovery_file: String,
    /// The printable recovery sheet written (PNG; mode 0600).
    pub recovery_sheet: String,
    /// The receive code (owner key and recovery commitment) for a seller's `transfer --to`.
    pub receive_code: String,
}

/// `receive-code`.
#[derive(Debug, Serialize)]
pub struct ReceiveCodeOutput {
    /// The code.
    pub receive_code: String,
    /// The owner key's id.
    pub key_id: String,
    /// Whether it commits to a recovery key.
    pub recovery: bool,
}

/// `trust add`.
#[derive(Debug, Serialize)]
pub struct TrustAddOutput {
    /// The new list's version.
    pub version: u64,
    /// The key added or changed.
    pub key: String,
    /// Its key id.
    pub key_id: String,
    /// Its display name.
    pub name: String,
    /// Its roles.
    pub roles: Vec<String>,
    /// `is trusted`, `is revoked`, `has expired` or `will be trusted`.
    pub standing: String,
    /// The ledger's answer.
    pub ledger: TrustAck,
}

/// `trust export`.
#[derive(Debug, Serialize)]
pub struct TrustExportOutput {
    /// The file written.
    pub file: String,
    /// The list's version.
    pub version: u64,
    /// Its entries.
    pub entries: usize,
    /// The operator key that signed it.
    pub operator: String,
}

/// A checkpoint as `log checkpoint` and `log verify` name it.
#[derive(Debug, Serialize)]
pub struct CheckpointOutput {
    /// The log's origin line.
    pub origin: String,
    /// Leaves in the tree.
    pub size: u64,
    /// The root hash, standard base64 (as in the note).
    pub root: String,
    /// The signed note (`log checkpoint` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The ledger key it verified with (`log checkpoint` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_key: Option<String>,
}

/// `log verify`.
#[derive(Debug, Serialize)]
pub struct LogVerifyOutput {
    /// Always true: an inconsistent log is an error.
    pub consistent: bool,
    /// The saved checkpoint.
    pub since: CheckpointOutput,
    /// The current one.
    pub current: CheckpointOutput,
    /// Leaves audited (every leaf recomputed from its record).
    pub audited: u64,
}

/// `export`.
#[derive(Debug, Serialize)]
pub struct ExportOutput {
    /// The file written.
    pub file: String,
    /// Records in it.
    pub records: usize,
    /// Whether it holds the run manifest.
    pub run: bool,
    /// Its size in bytes.
    pub bytes: usize,
    /// The last record's leaf index.
    pub log_index: u64,
    /// The size of the checkpoint the inclusion proof is for.
    pub checkpoint_size: u64,
}

/// One minted piece.
#[derive(Debug, Serialize)]
pub struct MintedItem {
    /// Edition number n.
    pub number: u64,
    /// Edition size N.
    pub size: u64,
    /// The item id.
    pub item: String,
    /// Its short id.
    pub short: String,
    /// Label files written for it.
    pub labels: Vec<String>,
}

/// `mint`.
#[derive(Debug, Serialize)]
pub struct MintOutput {
    /// The run.
    pub run: String,
    /// The pieces minted.
    pub items: Vec<MintedItem>,
    /// A4 label sheets written.
    pub sheets: Vec<String>,
}

/// One queued mint.
#[derive(Debug, Serialize)]
pub struct QueuedMint {
    /// Edition number n.
    pub number: u64,
    /// The item id.
    pub item: String,
}

/// `mint --offline` (or with the ledger unreachable).
#[derive(Debug, Serialize)]
pub struct QueuedMintsOutput {
    /// The run.
    pub run: String,
    /// Always true: the mints are in the outbox.
    pub queued: bool,
    /// Always `queued`: signed here, not on the ledger yet (`provenance sync` sends them).
    pub state: &'static str,
    /// Why they were queued.
    pub reason: String,
    /// The pieces queued.
    pub items: Vec<QueuedMint>,
}

/// `payload`, and `qr` when it writes a file or the terminal.
#[derive(Debug, Serialize)]
pub struct PayloadOutput {
    /// The item (`payload`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The file written (`qr --out`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// `living`, `living-mint` or `label`.
    pub form: String,
    /// The `PV1:` string.
    pub payload: String,
}

/// `prove`.
#[derive(Debug, Serialize)]
pub struct ProveOutput {
    /// The item.
    pub item: String,
    /// The buyer's challenge.
    pub challenge: String,
    /// The owner's answer.
    pub answer: String,
    /// The owner's public key.
    pub owner: String,
}

/// `pull`.
#[derive(Debug, Serialize)]
pub struct PullOutput {
    /// Items whose heads were cached.
    pub items: usize,
    /// The run cached, with `--run`.
    pub run: Option<String>,
    /// The outbox file.
    pub outbox: String,
}

/// A record signed and queued instead of posted.
#[derive(Debug, Serialize)]
pub struct QueuedRecordOutput {
    /// Always true.
    pub queued: bool,
    /// Always `queued`: signed here, not on the ledger yet (`provenance sync` sends it).
    pub state: &'static str,
    /// The item.
    pub item: String,
    /// The record's sequence number.
    pub seq: u64,
    /// Its kind.
    pub kind: String,
    /// Why it was queued.
    pub reason: String,
}

/// `sync`.
#[derive(Debug, Serialize)]
pub struct SyncOutput {
    /// Records the ledger acknowledged.
    pub sent: u64,
    /// Records re-signed on a moved head.
    pub resigned: u64,
    /// Records that became conflicts in this sync.
    pub new_conflicts: u64,
    /// Rows quarantined in this sync (they do not verify, or cannot be read back).
    pub new_quarantined: u64,
    /// Conflicts left in the outbox.
    pub conflicts: usize,
    /// Quarantined rows left in the outbox.
    pub quarantined: usize,
    /// Records still queued (a transient refusal, or waiting for their next attempt).
    pub pending: usize,
}

/// One outbox entry.
#[derive(Debug, Serialize)]
pub struct OutboxRow {
    /// Its queue position.
    pub id: i64,
    /// The item.
    pub item: String,
    /// The record's kind.
    pub kind: String,
    /// Its sequence number.
    pub seq: u64,
    /// `queued`, `conflict` or `quarantined`.
    pub state: String,
    /// For a conflict or a quarantined row: its code (the ledger's, or `outbox.*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Why it is queued, in conflict or quarantined.
    pub reason: String,
    /// Transient refusals so far.
    pub attempts: u32,
    /// After a transient refusal: not tried again before this time, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<String>,
    /// When it was queued, RFC 3339.
    pub queued_at: String,
    /// The key file that signed it.
    pub key_file: String,
    /// For a conflict: the item's current head, when the ledger answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_head: Option<HeadRef>,
}

/// `outbox`.
#[derive(Debug, Serialize)]
pub struct OutboxOutput {
    /// The outbox file.
    pub outbox: String,
    /// Its entries, in queue order.
    pub entries: Vec<OutboxRow>,
}

/// `outbox retry`.
#[derive(Debug, Serialize)]
pub struct RetryOutput {
    /// Entries queued again (due at once).
    pub requeued: Vec<i64>,
    /// Quarantined entries that still do not verify, left as they were.
    pub still_quarantined: Vec<i64>,
}

/// `outbox drop`.
#[derive(Debug, Serialize)]
pub struct DropOutput {
    /// The entry removed.
    pub dropped: i64,
}

/// Any command's error, with `--json`.
#[derive(Debug, Serialize)]
pub struct ErrorOutput<'a> {
    /// The message.
    pub error: &'a str,
    /// The code, if any.
    pub code: Option<&'a str>,
    /// The ledger's HTTP status, if it answered.
    pub status: Option<u16>,
}

/// `migrate`.
#[derive(Debug, Serialize)]
pub struct MigrateOutput {
    /// Rows copied, by table.
    pub rows: BTreeMap<String, u64>,
    /// Log leaves copied.
    pub leaves: u64,
    /// The size of the checkpoint whose root was recomputed unchanged, if one was stored.
    pub checkpoint_size: Option<u64>,
    /// The target, without its password.
    pub to: String,
}
