//! `log checkpoint` and `log verify`: the auditor's view of the Merkle log (fetch and verify
//! checkpoints, prove append-only, recompute every leaf from its record).

use super::args::LedgerKeyArgs;
use super::output::{CheckpointOutput, LogVerifyOutput};
use super::trust::ledger_key;
use super::Ctx;
use crate::api::{ConsistencyProof, LogEntries, LogEntryView};
use crate::client::CliError;
use provenance_core::checkpoint::Checkpoint;
use provenance_core::codes;
use provenance_core::log as tlog;
use provenance_core::log::audit::{Audit, AuditError, Leaf, TreeHead};
use provenance_core::ErrorCode;
use provenance_core::PublicKey;
use provenance_core::{ItemId, RunId};
use std::path::Path;
use std::path::PathBuf;

/// Fetches the ledger's checkpoint and verifies it with `key` under its own origin.
fn fetch_checkpoint(ctx: &Ctx, key: &PublicKey) -> Result<(String, Checkpoint), CliError> {
    let (bytes, _) = ctx.client.get_bytes("/v1/log/checkpoint", "text/plain")?;
    let note = String::from_utf8(bytes).map_err(|_| {
        CliError::coded(
            "the ledger's checkpoint is not UTF-8 text",
            codes::CHECKPOINT_MALFORMED,
        )
    })?;
    let cp = Checkpoint::verify_own_origin(&note, key).map_err(|e| {
        CliError::coded(
            format!("the ledger's current checkpoint: {e}"),
            ErrorCode::code(&e),
        )
    })?;
    Ok((note, cp))
}

fn save_note(path: &Path, note: &str) -> Result<(), CliError> {
    std::fs::write(path, note)
        .map_err(|e| CliError::io(format!("cannot write {}: {e}", path.display())))
}

fn checkpoint_output(cp: &Checkpoint) -> CheckpointOutput {
    use base64::Engine;
    CheckpointOutput {
        origin: cp.origin.clone(),
        size: cp.size,
        root: base64::engine::general_purpose::STANDARD.encode(cp.root.0),
        note: None,
        ledger_key: None,
    }
}

pub(super) fn log_checkpoint(
    ctx: &Ctx,
    save: Option<PathBuf>,
    key: &LedgerKeyArgs,
) -> Result<(), CliError> {
    use base64::Engine;
    let key = ledger_key(ctx, key)?;
    let (note, cp) = fetch_checkpoint(ctx, &key)?;
    if let Some(path) = &save {
        save_note(path, &note)?;
    }
    let machine = CheckpointOutput {
        note: Some(note.clone()),
        ledger_key: Some(key.to_base64url()),
        ..checkpoint_output(&cp)
    };
    ctx.print(
        || {
            let mut s = format!(
                "checkpoint of {}: {} leaves, root {}\nsigned by ledger key {} (verified)\n",
                crate::client::from_ledger(&cp.origin),
                cp.size,
                base64::engine::general_purpose::STANDARD.encode(cp.root.0),
                key.key_id()
            );
            if let Some(p) = &save {
                s.push_str(&format!("saved to {}\n", p.display()));
            }
            s
        },
        &machine,
    );
    Ok(())
}

fn hex_hashes(hashes: &[String]) -> Result<Vec<Vec<u8>>, CliError> {
    hashes
        .iter()
        .map(|h| {
            hex::decode(h)
                .map_err(|_| CliError::coded("a proof hash is not hex", codes::LOG_BAD_HASH_LENGTH))
        })
        .collect()
}

fn log_error(context: &str, e: tlog::LogError) -> CliError {
    CliError::coded(format!("{context}: {e}"), ErrorCode::code(&e))
}

/// A checkpoint note the auditor saved earlier, verified under the ledger key.
fn read_saved_checkpoint(since: &Path, key: &PublicKey) -> Result<Checkpoint, CliError> {
    let saved_bytes = std::fs::read(since)
        .map_err(|e| CliError::io(format!("cannot read {}: {e}", since.display())))?;
    let saved_note = String::from_utf8(saved_bytes).map_err(|_| {
        CliError::coded(
            format!(
                "{} is not a checkpoint note: it holds binary data (a checkpoint is the text \
                 `provenance log checkpoint --save FILE` writes)",
                since.display()
            ),
            codes::CHECKPOINT_MALFORMED,
        )
    })?;
    Checkpoint::verify_own_origin(&saved_note, key).map_err(|e| {
        CliError::coded(
            format!("the saved checkpoint {}: {e}", since.display()),
            ErrorCode::code(&e),
        )
    })
}

pub(super) fn log_verify(
    ctx: &Ctx,
    since: &Path,
    save: Option<PathBuf>,
    key: &LedgerKeyArgs,
) -> Result<(), CliError> {
    let key = ledger_key(ctx, key)?;
    let saved = read_saved_checkpoint(since, &key)?;
    let (note, current) = fetch_checkpoint(ctx, &key)?;

    // 1. Consistency: the current tree extends the saved one.
    let mut audit = Audit::new(
        Some(TreeHead {
            size: saved.size,
            root: saved.root,
        }),
        TreeHead {
            size: current.size,
            root: current.root,
        },
    )
    .map_err(audit_error)?;
    check_consistency(ctx, &saved, &current)?;

    // 2. Audit: recompute every leaf from the record bytes, and both roots from the leaves.
    feed_entries(ctx, &mut audit, current.size)?;
    let audited = audit.finish().map_err(audit_error)?;
    if let Some(path) = &save {
        save_note(path, &note)?;
    }
    ctx.print(
        || {
            format!(
                "log consistent: {} -> {} leaves ({} -> {}); every leaf recomputed from its record and the root matches\n",
                saved.size,
                current.size,
                crate::client::from_ledger(&saved.origin),
                crate::client::from_ledger(&current.origin)
            )
        },
        &LogVerifyOutput {
            consistent: true,
            since: checkpoint_output(&saved),
            current: checkpoint_output(&current),
            audited: audited.size,
        },
    );
    Ok(())
}

/// The consistency proof from the saved checkpoint to the current one (nothing to prove from
/// an empty tree or to the same size).
fn check_consistency(ctx: &Ctx, saved: &Checkpoint, current: &Checkpoint) -> Result<(), CliError> {
    if saved.size == 0 {
        return Ok(());
    }
    let proof = if saved.size == current.size {
        Vec::new()
    } else {
        let answer: ConsistencyProof = ctx.client.get(&format!(
            "/v1/log/consistency?first={}&second={}",
            saved.size, current.size
        ))?;
        hex_hashes(&answer.proof)?
    };
    let proof: Vec<&[u8]> = proof.iter().map(Vec::as_slice).collect();
    tlog::verify_consistency(
        saved.size,
        current.size,
        &saved.root.0,
        &current.root.0,
        &proof,
    )
    .map_err(|e| {
        log_error(
            &format!(
                "the log was rewritten: the current checkpoint ({} leaves) is not an extension of the saved one ({} leaves)",
                current.size, saved.size
            ),
            e,
        )
    })
}

/// Fetches the log entries page by page and pushes each into the audit, until it has every
/// leaf of the checkpoint or the ledger serves no more.
fn feed_entries(ctx: &Ctx, audit: &mut Audit, size: u64) -> Result<(), CliError> {
    while !audit.is_complete() {
        let page: LogEntries = ctx.client.get(&format!(
            "/v1/log/entries?start={}&end={size}",
            audit.next_index()
        ))?;
        let entries = page.entries;
        if entries.is_empty() {
            break; // `finish` says how many of the checkpoint's entries came
        }
        for e in &entries {
            let bytes = entry_bytes(e, audit.next_index())?;
            let (index, leaf) = audit_leaf(e, &bytes, audit.next_index())?;
            audit.push(index, leaf).map_err(audit_error)?;
            if audit.is_complete() {
                break;
            }
        }
    }
    Ok(())
}

fn audit_error(e: AuditError) -> CliError {
    CliError::coded(e.to_string(), e.code())
}

/// The record bytes of a log entry (`bytes`, standard base64).
fn entry_bytes(e: &LogEntryView, due: u64) -> Result<Vec<u8>, CliError> {
    use base64::Engine;
    e.bytes
        .as_deref()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| {
            CliError::coded(
                format!("log entry {due}: the ledger has no record for this leaf"),
                codes::LOG_ROOT_MISMATCH,
            )
        })
}

/// A log entry as the ledger serves it, read into the leaf the audit recomputes.
fn audit_leaf<'a>(
    e: &LogEntryView,
    bytes: &'a [u8],
    due: u64,
) -> Result<(u64, Leaf<'a>), CliError> {
    let bad = |what: &str| {
        CliError::coded(
            format!("log entry {due}: {what}"),
            codes::LOG_ENTRIES_INCOMPLETE,
        )
    };
    let id = ItemId::from_base32(&e.id).ok_or_else(|| bad("no id"))?;
    let leaf = match e.kind.as_str() {
        "record" => Leaf::Record {
            item: id,
            seq: e.seq,
            bytes,
        },
        "run" => Leaf::Run {
            run: RunId(id.0),
            bytes,
        },
        other => return Err(bad(&format!("unknown kind {other:?}"))),
    };
    Ok((e.index, leaf))
}
