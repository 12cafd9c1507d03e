//! `provenance sync`: posts the outbox in queue order, re-signs records that commute
//! (repairs, badges) on a moved head, and keeps the rest as conflicts.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use provenance_core::codes;
use provenance_core::{
    ChainLink, DecodedRecord, KeyId, PublicKey, Record, RecordBody, RecordKind, ReportStatus,
    SigningKey, Timestamp,
};

use crate::api::{ItemView, RecordAck};
use crate::cli::output::SyncOutput;
use crate::client::{CliError, Client, CODE_KEY_FILE};
use crate::keyfile::read_key;
use crate::outbox::{Entry, EntryState, Outbox, CODE_CORRUPT, LOCK_FILE};

use super::{head_of, open, outbox_error, print, unreachable, CODE_CONFLICT};

/// The outcome of one `sync`.
#[derive(Debug, Default)]
struct SyncSummary {
    sent: u64,
    resigned: u64,
    conflicts: u64,
}

/// Keys given to `sync --key`, by key id.
fn keys_by_id(paths: &[PathBuf]) -> Result<Vec<(PathBuf, SigningKey)>, CliError> {
    paths
        .iter()
        .map(|p| read_key(p).map(|k| (p.clone(), k)))
        .collect()
}

/// `provenance sync`: posts the outbox in order. Safe to run at any time, twice, concurrently
/// (the second waits for the first's lock) or after being killed.
pub fn sync(client: &Client, home: &Path, json: bool, keys: &[PathBuf]) -> Result<(), CliError> {
    std::fs::create_dir_all(home)
        .map_err(|e| CliError::io(format!("cannot create {}: {e}", home.display())))?;
    // One sync at a time: the lock is a write transaction on a tiny SQLite file, held for the
    // whole sync (released by the OS if the process dies); a second sync waits for it.
    let lock = rusqlite::Connection::open(home.join(LOCK_FILE))
        .and_then(|c| {
            c.busy_timeout(std::time::Duration::from_secs(600))?;
            c.execute_batch("BEGIN EXCLUSIVE")?;
            Ok(c)
        })
        .map_err(|e| CliError::io(format!("cannot lock the outbox for sync: {e}")))?;
    let given = keys_by_id(keys)?;
    let mut outbox = open(home)?;
    let entries: Vec<Entry> = outbox
        .entries()
        .map_err(outbox_error)?
        .into_iter()
        .filter(|e| e.state == EntryState::Queued)
        .collect();
    let bar = (std::io::stderr().is_terminal() && !json && entries.len() > 1).then(|| {
        let bar = indicatif::ProgressBar::new(entries.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} synced {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut summary = SyncSummary::default();
    for entry in entries {
        let result = deliver(client, &mut outbox, &entry, &given, &mut summary);
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        if let Err(e) = result {
            if let Some(bar) = &bar {
                bar.abandon();
            }
            return Err(e);
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let left = outbox
        .entries()
        .map_err(outbox_error)?
        .iter()
        .filter(|e| e.state == EntryState::Conflict)
        .count();
    print(
        json,
        || {
            format!(
                "synced: {} sent ({} re-signed on a newer head), {} new conflict(s), {left} in conflict in all\n",
                summary.sent, summary.resigned, summary.conflicts
            )
        },
        &SyncOutput {
            sent: summary.sent,
            resigned: summary.resigned,
            new_conflicts: summary.conflicts,
            conflicts: left,
        },
    );
    drop(lock);
    if left > 0 {
        return Err(CliError::coded(
            format!("{left} record(s) in conflict stay in the outbox; see `provenance outbox`"),
            CODE_CONFLICT,
        ));
    }
    Ok(())
}

/// Sends one entry; on a moved head re-signs it when it commutes, else marks a conflict.
fn deliver(
    client: &Client,
    outbox: &mut Outbox,
    entry: &Entry,
    keys: &[(PathBuf, SigningKey)],
    summary: &mut SyncSummary,
) -> Result<(), CliError> {
    let path = if entry.kind == RecordKind::Mint {
        "/v1/items".to_string()
    } else {
        format!("/v1/items/{}/records", entry.item)
    };
    let decoded = DecodedRecord::decode(&entry.bytes)
        .map_err(|e| CliError::coded(format!("a queued record: {e}"), CODE_CORRUPT))?;
    match client.post::<RecordAck>(&path, "application/cose", &entry.bytes) {
        Ok(_) => {
            outbox
                .acknowledged(entry, decoded.record.time)
                .map_err(outbox_error)?;
            summary.sent += 1;
            Ok(())
        }
        Err(e) if unreachable(&e) => Err(e),
        Err(e) if e.code == Some(codes::CHAIN_SEQ_MISMATCH) => {
            resign_or_conflict(client, outbox, entry, decoded, keys, summary)
        }
        Err(e) => {
            let reason = format!("refused by the ledger: {e}");
            outbox.conflict(entry.id, &reason).map_err(outbox_error)?;
            summary.conflicts += 1;
            Ok(())
        }
    }
}

/// Why a queued record cannot follow the records the ledger took meanwhile, if it cannot:
/// repairs and badges commute; an owner's transfer or report holds only while its signer
/// still owns the piece; nothing else moves.
fn conflict_reason(
    body: &RecordBody,
    signer: KeyId,
    owner: Option<PublicKey>,
    head_seq: u64,
    kind: &RecordKind,
) -> Option<String> {
    let commutes = match body {
        RecordBody::Repair(_) | RecordBody::Badge(_) => true,
        RecordBody::Transfer(_)
        | RecordBody::Report(ReportStatus::Stolen | ReportStatus::Recovered) => {
            owner.is_some_and(|o| o.key_id() == signer)
        }
        _ => false,
    };
    if commutes {
        return None;
    }
    let why = match owner {
        Some(o) if matches!(body, RecordBody::Transfer(_) | RecordBody::Report(_)) => {
            format!("its signer no longer owns it (owner key id {})", o.key_id())
        }
        _ => "it does not commute with the records before it".to_string(),
    };
    Some(format!(
        "the item moved on to #{head_seq} while this {kind} waited, and {why}: not applied"
    ))
}

/// The key file the outbox recorded for a queued record, which must hold its signer's key.
fn queued_signer_key(entry: &Entry, signer: KeyId) -> Result<SigningKey, CliError> {
    let key = read_key(&entry.key_file).map_err(|e| {
        let message = format!(
            "re-signing a queued {} needs its key: {e}; pass it with `sync --key FILE`",
            entry.kind
        );
        CliError {
            message,
            code: e.code.or(Some(CODE_KEY_FILE)),
            ..e
        }
    })?;
    if key.public_key().key_id() != signer {
        return Err(CliError::coded(
            format!(
                "{} is not the key that signed the queued {}; pass the right one with `sync --key`",
                entry.key_file.display(),
                entry.kind
            ),
            CODE_KEY_FILE,
        ));
    }
    Ok(key)
}

fn resign_or_conflict(
    client: &Client,
    outbox: &mut Outbox,
    entry: &Entry,
    decoded: DecodedRecord,
    keys: &[(PathBuf, SigningKey)],
    summary: &mut SyncSummary,
) -> Result<(), CliError> {
    let v: ItemView = client.get(&format!("/v1/items/{}", entry.item))?;
    let head = head_of(&v).ok_or_else(|| {
        CliError::msg(format!(
            "the ledger's answer for {} has no head",
            entry.item
        ))
    })?;
    let owner = v
        .facts
        .as_ref()
        .and_then(|f| PublicKey::from_base64url(&f.owner).ok());
    let body = decoded.record.body;
    if let Some(reason) = conflict_reason(&body, decoded.signer, owner, head.seq, &entry.kind) {
        outbox.conflict(entry.id, &reason).map_err(outbox_error)?;
        summary.conflicts += 1;
        return Ok(());
    }
    let loaded;
    let key = match keys
        .iter()
        .find(|(_, k)| k.public_key().key_id() == decoded.signer)
    {
        Some((_, k)) => k,
        None => {
            loaded = queued_signer_key(entry, decoded.signer)?;
            &loaded
        }
    };
    let record = Record {
        time: Timestamp(decoded.record.time.0.max(head.time.0)),
        seq: head.seq + 1,
        body,
    };
    let bytes = record.sign(
        key,
        Some(&ChainLink {
            item: entry.item,
            prev: head.hash,
        }),
    );
    // Stored before it is posted: a sync killed after the post re-posts these same bytes.
    outbox
        .resigned(entry.id, record.seq, &bytes)
        .map_err(outbox_error)?;
    let moved = Entry {
        seq: record.seq,
        bytes,
        ..entry.clone()
    };
    summary.resigned += 1;
    deliver_resigned(client, outbox, &moved, record.time, summary)
}

/// Posts a re-signed record: acknowledged, it leaves the outbox; refused, it stays as a
/// conflict; raced again or unreachable, it stays queued for the next sync (the error).
fn deliver_resigned(
    client: &Client,
    outbox: &mut Outbox,
    moved: &Entry,
    time: Timestamp,
    summary: &mut SyncSummary,
) -> Result<(), CliError> {
    match client.post::<RecordAck>(
        &format!("/v1/items/{}/records", moved.item),
        "application/cose",
        &moved.bytes,
    ) {
        Ok(_) => {
            outbox.acknowledged(moved, time).map_err(outbox_error)?;
            summary.sent += 1;
            Ok(())
        }
        Err(e) if unreachable(&e) || e.code == Some(codes::CHAIN_SEQ_MISMATCH) => Err(e),
        Err(e) => {
            outbox
                .conflict(
                    moved.id,
                    &format!("refused by the ledger after re-signing: {e}"),
                )
                .map_err(outbox_error)?;
            summary.conflicts += 1;
            Ok(())
        }
    }
}
