//! `provenance sync`: checks every queued record against what was approved, posts the outbox
//! in queue order, re-signs records that commute (repairs, badges) on a moved head, keeps rule
//! refusals as conflicts and retries transient refusals later (spec §17).

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use provenance_core::codes;
use provenance_core::{
    ChainLink, DecodedRecord, ItemId, KeyId, PublicKey, Record, RecordBody, RecordKind,
    ReportStatus, SigningKey, Timestamp,
};

use crate::api::{ItemView, RecordAck};
use crate::cli::output::SyncOutput;
use crate::client::{CliError, Client, CODE_KEY_FILE};
use crate::keyfile::read_key;
use crate::outbox::{Entry, EntryState, Outbox, CODE_UNDECODABLE, LOCK_FILE};

use super::{
    head_of, open, outbox_error, print, unreachable, CODE_CONFLICT, CODE_PENDING, CODE_QUARANTINED,
};

/// The outcome of one `sync`.
#[derive(Debug, Default)]
struct SyncSummary {
    sent: u64,
    resigned: u64,
    conflicts: u64,
    quarantined: u64,
}

/// What became of one entry.
enum Step {
    /// Acknowledged, or kept as a conflict: the sync goes on.
    Settled,
    /// A transient refusal: the entry stays queued for a later sync; this sync stops.
    Transient(CliError),
}

/// Keys given to `sync --key`.
fn given_keys(paths: &[PathBuf]) -> Result<Vec<SigningKey>, CliError> {
    paths.iter().map(|p| read_key(p)).collect()
}

/// Whether a refusal is by the rules for this record, so that it can never land as it is
/// (spec §17): a decode, signature, chain, run or trust code, or a ledger code about the
/// record itself. Anything else (408, 429, 5xx, a proxy's answer without a spec code, an
/// unknown endpoint, a stale head) is transient.
pub(crate) fn is_rule_refusal(e: &CliError) -> bool {
    let Some(code) = e.code else { return false };
    if !e.status.is_some_and(|s| (400..500).contains(&s)) || code == codes::CHAIN_SEQ_MISMATCH {
        return false;
    }
    ["decode.", "record.", "chain.", "run.", "trust."]
        .iter()
        .any(|family| code.starts_with(family))
        || [
            codes::LEDGER_BODY_TOO_LARGE,
            codes::LEDGER_NOT_FOUND,
            codes::LEDGER_RUN_NOT_REGISTERED,
            codes::LEDGER_EDITION_TAKEN,
        ]
        .contains(&code)
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
    let given = given_keys(keys)?;
    let mut outbox = open(home)?;
    let rows = outbox.entries().map_err(outbox_error)?;
    let queued = rows
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|e| e.state == EntryState::Queued))
        .count();
    let bar = (std::io::stderr().is_terminal() && !json && queued > 1).then(|| {
        let bar = indicatif::ProgressBar::new(queued as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} synced {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let now = crate::ledger::now();
    let mut summary = SyncSummary::default();
    // Items with an earlier entry still queued: their later entries wait too (order).
    let mut held: HashSet<ItemId> = HashSet::new();
    let mut transient: Option<CliError> = None;
    for row in rows {
        let entry = match row {
            Err(u) => {
                if !u.quarantined {
                    outbox
                        .quarantine(
                            u.id,
                            CODE_UNDECODABLE,
                            &format!("the row cannot be read back ({}): never sent", u.what),
                        )
                        .map_err(outbox_error)?;
                    summary.quarantined += 1;
                }
                continue;
            }
            Ok(e) if e.state == EntryState::Queued => e,
            Ok(_) => continue,
        };
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        if transient.is_some() || held.contains(&entry.item) || entry.next_attempt > now {
            held.insert(entry.item);
            continue;
        }
        // Nothing is posted or re-signed before it is shown to be what was approved.
        let decoded = match entry.check() {
            Ok(decoded) => decoded,
            Err(why) => {
                outbox
                    .quarantine(entry.id, why.code(), &format!("{why}: never sent"))
                    .map_err(outbox_error)?;
                summary.quarantined += 1;
                continue;
            }
        };
        let step = deliver(client, &mut outbox, &entry, decoded, &given, &mut summary);
        match step {
            Ok(Step::Settled) => {}
            Ok(Step::Transient(e)) => {
                let next = outbox
                    .postponed(&entry, &format!("not taken yet, tried again later: {e}"))
                    .map_err(outbox_error)?;
                held.insert(entry.item);
                transient = Some(CliError {
                    message: format!(
                        "{}; the rest stays queued, tried again by a sync after {}",
                        e.message,
                        next.to_rfc3339()
                    ),
                    ..e
                });
            }
            Err(e) => {
                if let Some(bar) = &bar {
                    bar.abandon();
                }
                return Err(e);
            }
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let rows = outbox.entries().map_err(outbox_error)?;
    let state_count = |state: EntryState| {
        rows.iter()
            .filter(|r| match r {
                Ok(e) => e.state == state,
                Err(_) => state == EntryState::Quarantined,
            })
            .count()
    };
    let (conflicts, quarantined, pending) = (
        state_count(EntryState::Conflict),
        state_count(EntryState::Quarantined),
        state_count(EntryState::Queued),
    );
    print(
        json,
        || {
            format!(
                "synced: {} sent ({} re-signed on a newer head), {} new conflict(s), {} newly \
                 quarantined; {conflicts} in conflict, {quarantined} quarantined, {pending} \
                 still queued\n",
                summary.sent, summary.resigned, summary.conflicts, summary.quarantined
            )
        },
        &SyncOutput {
            sent: summary.sent,
            resigned: summary.resigned,
            new_conflicts: summary.conflicts,
            new_quarantined: summary.quarantined,
            conflicts,
            quarantined,
            pending,
        },
    );
    drop(lock);
    if conflicts > 0 {
        return Err(CliError::coded(
            format!(
                "{conflicts} record(s) in conflict and {quarantined} quarantined stay in the \
                 outbox; see `provenance outbox`, then `outbox retry` or `outbox drop`"
            ),
            CODE_CONFLICT,
        ));
    }
    if quarantined > 0 {
        return Err(CliError::coded(
            format!(
                "{quarantined} quarantined record(s) stay in the outbox, never sent; see \
                 `provenance outbox`, then `outbox drop`"
            ),
            CODE_QUARANTINED,
        ));
    }
    if pending > 0 {
        let why = transient.map_or_else(
            || "waiting for their next attempt".to_string(),
            |e| e.to_string(),
        );
        return Err(CliError::coded(
            format!("{pending} record(s) stay queued ({why}); run `provenance sync` again"),
            CODE_PENDING,
        ));
    }
    Ok(())
}

/// Sends one verified entry; on a moved head re-signs it when it commutes, else keeps it as a
/// conflict. Posting the stored bytes first asks the ledger whether it already holds them
/// (a stored record is answered 200), so nothing is re-signed that is already on the ledger.
fn deliver(
    client: &Client,
    outbox: &mut Outbox,
    entry: &Entry,
    decoded: DecodedRecord,
    keys: &[SigningKey],
    summary: &mut SyncSummary,
) -> Result<Step, CliError> {
    let path = if entry.kind == RecordKind::Mint {
        "/v1/items".to_string()
    } else {
        format!("/v1/items/{}/records", entry.item)
    };
    match client.post::<RecordAck>(&path, "application/cose", &entry.bytes) {
        Ok(_) => {
            outbox
                .acknowledged(entry, decoded.record.time)
                .map_err(outbox_error)?;
            summary.sent += 1;
            Ok(Step::Settled)
        }
        Err(e) if unreachable(&e) => Err(e),
        Err(e) if e.code == Some(codes::CHAIN_SEQ_MISMATCH) => {
            resign_or_conflict(client, outbox, entry, decoded, keys, summary)
        }
        Err(e) => refused(outbox, entry, e, "refused by the ledger", summary),
    }
}

/// A refusal: by the rules a conflict (kept, shown), otherwise transient.
fn refused(
    outbox: &Outbox,
    entry: &Entry,
    e: CliError,
    what: &str,
    summary: &mut SyncSummary,
) -> Result<Step, CliError> {
    if !is_rule_refusal(&e) {
        return Ok(Step::Transient(e));
    }
    outbox
        .conflict(entry.id, e.code, &format!("{what}: {e}"))
        .map_err(outbox_error)?;
    summary.conflicts += 1;
    Ok(Step::Settled)
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
fn queued_signer_key(entry: &Entry, signer: &PublicKey) -> Result<SigningKey, CliError> {
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
    if key.public_key() != *signer {
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
    keys: &[SigningKey],
    summary: &mut SyncSummary,
) -> Result<Step, CliError> {
    // `check` passed: the signer is known and signed these bytes.
    let Some(signer) = entry.signer else {
        return Ok(Step::Transient(CliError::msg("no signer")));
    };
    let v: ItemView = match client.get(&format!("/v1/items/{}", entry.item)) {
        Ok(v) => v,
        Err(e) if unreachable(&e) => return Err(e),
        Err(e) => return Ok(Step::Transient(e)),
    };
    let Some(head) = head_of(&v) else {
        return Ok(Step::Transient(CliError::msg(format!(
            "the ledger's answer for {} has no head",
            entry.item
        ))));
    };
    let owner = v
        .facts
        .as_ref()
        .and_then(|f| PublicKey::from_base64url(&f.owner).ok());
    let body = decoded.record.body;
    if let Some(reason) = conflict_reason(&body, decoded.signer, owner, head.seq, &entry.kind) {
        outbox
            .conflict(entry.id, Some(codes::CHAIN_SEQ_MISMATCH), &reason)
            .map_err(outbox_error)?;
        summary.conflicts += 1;
        return Ok(Step::Settled);
    }
    let loaded;
    let key = match keys.iter().find(|k| k.public_key() == signer) {
        Some(k) => k,
        None => {
            loaded = queued_signer_key(entry, &signer)?;
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
        .resigned(entry.id, record.seq, head.hash, &bytes)
        .map_err(outbox_error)?;
    let moved = Entry {
        seq: record.seq,
        prev: Some(head.hash),
        bytes,
        ..entry.clone()
    };
    summary.resigned += 1;
    match client.post::<RecordAck>(
        &format!("/v1/items/{}/records", moved.item),
        "application/cose",
        &moved.bytes,
    ) {
        Ok(_) => {
            outbox
                .acknowledged(&moved, record.time)
                .map_err(outbox_error)?;
            summary.sent += 1;
            Ok(Step::Settled)
        }
        Err(e) if unreachable(&e) => Err(e),
        // Raced again: the re-signed bytes stay queued; the next sync posts them first.
        Err(e) if e.code == Some(codes::CHAIN_SEQ_MISMATCH) => Ok(Step::Transient(e)),
        Err(e) => refused(
            outbox,
            &moved,
            e,
            "refused by the ledger after re-signing",
            summary,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, code: Option<&'static str>) -> CliError {
        CliError {
            status: Some(status),
            code,
            ..CliError::msg("x")
        }
    }

    #[test]
    fn only_rule_refusals_are_conflicts() {
        for (status, code) in [
            (403, codes::RECORD_SIGNATURE_INVALID),
            (403, codes::CHAIN_SIGNER_NOT_OWNER),
            (422, codes::LEDGER_EDITION_TAKEN),
            (422, codes::CHAIN_ITEM_VOID),
        ] {
            assert!(is_rule_refusal(&answer(status, Some(code))), "{code}");
        }
        for e in [
            answer(503, Some(codes::LEDGER_OVERLOADED)),
            answer(429, Some(codes::LEDGER_TOO_MANY_CONNECTIONS)),
            answer(408, Some(codes::LEDGER_REQUEST_TIMEOUT)),
            answer(500, Some(codes::LEDGER_INTERNAL)),
            answer(409, Some(codes::CHAIN_SEQ_MISMATCH)),
            answer(404, Some(codes::LEDGER_UNKNOWN_ENDPOINT)),
            answer(502, None),
            answer(400, None),
            CliError::msg("the ledger's answer is not what this CLI reads"),
        ] {
            assert!(!is_rule_refusal(&e), "{e:?}");
        }
    }
}
