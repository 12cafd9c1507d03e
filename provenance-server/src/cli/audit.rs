//! `log checkpoint` and `log verify`: the auditor's view of the Merkle log (fetch and verify
//! checkpoints, prove append-only, recompute every leaf from its record).

use super::args::LedgerKeyArgs;
use super::trust::ledger_key;
use super::Ctx;
use crate::client::CliError;
use provenance_core::checkpoint::Checkpoint;
use provenance_core::log as tlog;
use provenance_core::ErrorCode;
use provenance_core::PublicKey;
use provenance_core::{ItemId, RunId};
use serde_json::json;
use serde_json::Value;
use std::path::Path;
use std::path::PathBuf;

/// Fetches the ledger's checkpoint and verifies it with `key` under its own origin.
fn fetch_checkpoint(ctx: &Ctx, key: &PublicKey) -> Result<(String, Checkpoint), CliError> {
    let (bytes, _) = ctx.client.get_bytes("/v1/log/checkpoint", "text/plain")?;
    let note = String::from_utf8(bytes).map_err(|_| {
        CliError::coded(
            "the ledger's checkpoint is not UTF-8 text",
            "checkpoint.malformed",
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

fn checkpoint_json(cp: &Checkpoint) -> Value {
    use base64::Engine;
    json!({"origin": cp.origin, "size": cp.size, "root": base64::engine::general_purpose::STANDARD.encode(cp.root.0)})
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
    let mut machine = checkpoint_json(&cp);
    if let Some(map) = machine.as_object_mut() {
        map.insert("note".into(), Value::String(note.clone()));
        map.insert("ledger_key".into(), Value::String(key.to_base64url()));
    }
    ctx.print(
        || {
            let mut s = format!(
                "checkpoint of {}: {} leaves, root {}\nsigned by ledger key {} (verified)\n",
                cp.origin,
                cp.size,
                base64::engine::general_purpose::STANDARD.encode(cp.root.0),
                key.key_id()
            );
            if let Some(p) = &save {
                s.push_str(&format!("saved to {}\n", p.display()));
            }
            s
        },
        machine,
    );
    Ok(())
}

fn hex_hashes(v: &Value, field: &str) -> Result<Vec<Vec<u8>>, CliError> {
    v[field]
        .as_array()
        .ok_or_else(|| CliError::msg(format!("the ledger's answer has no {field}")))?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|h| hex::decode(h).ok())
                .ok_or_else(|| CliError::coded("a proof hash is not hex", "log.bad_hash_length"))
        })
        .collect()
}

fn log_error(context: &str, e: tlog::LogError) -> CliError {
    CliError::coded(format!("{context}: {e}"), ErrorCode::code(&e))
}

pub(super) fn log_verify(
    ctx: &Ctx,
    since: &Path,
    save: Option<PathBuf>,
    key: &LedgerKeyArgs,
) -> Result<(), CliError> {
    let key = ledger_key(ctx, key)?;
    let saved_bytes = std::fs::read(since)
        .map_err(|e| CliError::io(format!("cannot read {}: {e}", since.display())))?;
    let saved_note = String::from_utf8(saved_bytes).map_err(|_| {
        CliError::coded(
            format!(
                "{} is not a checkpoint note: it holds binary data (a checkpoint is the text \
                 `provenance log checkpoint --save FILE` writes)",
                since.display()
            ),
            "checkpoint.malformed",
        )
    })?;
    let saved = Checkpoint::verify_own_origin(&saved_note, &key).map_err(|e| {
        CliError::coded(
            format!("the saved checkpoint {}: {e}", since.display()),
            ErrorCode::code(&e),
        )
    })?;
    let (note, current) = fetch_checkpoint(ctx, &key)?;

    // 1. Consistency: the current tree extends the saved one.
    if saved.size > current.size {
        return Err(CliError::coded(
            format!(
                "the log shrank: the saved checkpoint has {} leaves, the current one {}",
                saved.size, current.size
            ),
            "log.size_order",
        ));
    }
    if saved.size > 0 {
        let proof = if saved.size == current.size {
            Vec::new()
        } else {
            let v = ctx.client.get_json(&format!(
                "/v1/log/consistency?first={}&second={}",
                saved.size, current.size
            ))?;
            hex_hashes(&v, "proof")?
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
        })?;
    }

    // 2. Audit: recompute every leaf from the record bytes, and both roots from the leaves.
    let mut tree = tlog::MemoryTree::new();
    let mut start = 0u64;
    while start < current.size {
        let v = ctx.client.get_json(&format!(
            "/v1/log/entries?start={start}&end={}",
            current.size
        ))?;
        let entries = v["entries"].as_array().cloned().unwrap_or_default();
        if entries.is_empty() {
            return Err(CliError::msg(format!(
                "the ledger served no log entries from {start}"
            )));
        }
        for e in entries {
            let index = tree.size();
            let leaf = audit_leaf(&e, index)?;
            tree.push(leaf);
            if tree.size() == saved.size && !saved_root_matches(&tree, &saved) {
                return Err(CliError::coded(
                    format!(
                        "the log was rewritten: the first {} leaves, recomputed from the stored records, do not have the saved checkpoint's root",
                        saved.size
                    ),
                    "log.root_mismatch",
                ));
            }
            if tree.size() == current.size {
                break;
            }
        }
        start = tree.size();
    }
    let root = tlog::root(&tree, current.size).map_err(|e| match e {})?;
    if root != current.root {
        return Err(CliError::coded(
            format!(
                "the stored records do not hash to the current checkpoint's root ({} leaves): a record was changed",
                current.size
            ),
            "log.root_mismatch",
        ));
    }
    if let Some(path) = &save {
        save_note(path, &note)?;
    }
    ctx.print(
        || {
            format!(
                "log consistent: {} -> {} leaves ({} -> {}); every leaf recomputed from its record and the root matches\n",
                saved.size, current.size, saved.origin, current.origin
            )
        },
        json!({"consistent": true, "since": checkpoint_json(&saved), "current": checkpoint_json(&current), "audited": current.size}),
    );
    Ok(())
}

fn saved_root_matches(tree: &tlog::MemoryTree, saved: &Checkpoint) -> bool {
    matches!(tlog::root(tree, saved.size), Ok(r) if r == saved.root)
}

/// Recomputes one leaf hash from an entry's kind, id, seq and record bytes, and checks that
/// it is the leaf the ledger says it stored.
fn audit_leaf(e: &Value, expected_index: u64) -> Result<tlog::TreeHash, CliError> {
    use base64::Engine;
    let bad = |what: &str| {
        CliError::coded(
            format!("log entry {expected_index}: {what}"),
            "log.root_mismatch",
        )
    };
    if e["index"].as_u64() != Some(expected_index) {
        return Err(bad("out of order"));
    }
    let id = e["id"]
        .as_str()
        .and_then(ItemId::from_base32)
        .ok_or_else(|| bad("no id"))?;
    let seq = e["seq"].as_u64().ok_or_else(|| bad("no seq"))?;
    let bytes = e["bytes"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or_else(|| bad("the ledger has no record for this leaf"))?;
    let data = match e["kind"].as_str() {
        Some("record") => tlog::item_leaf(&id, seq, &bytes),
        Some("run") => tlog::run_leaf(&RunId(id.0), &bytes),
        _ => return Err(bad("unknown kind")),
    };
    let leaf = tlog::leaf_hash(&data);
    let stored = e["leaf_hash"].as_str().and_then(|h| hex::decode(h).ok());
    if stored.as_deref() != Some(&leaf.0[..]) {
        return Err(bad(&format!(
            "the stored record ({} {id} #{seq}) does not hash to the stored leaf: the record was changed",
            e["kind"].as_str().unwrap_or_default()
        )));
    }
    Ok(leaf)
}
