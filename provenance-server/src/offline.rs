//! Offline-first capture (issue 14): `pull` caches heads and runs, writing commands sign
//! against the last known head and queue into the [`Outbox`] when the ledger is out of reach
//! (or with `--offline`), and `sync` delivers the queue, re-signing records that commute
//! (repairs, badges) when the item moved on, and keeping the rest as conflicts.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use provenance_core::codes;
use provenance_core::{
    ChainLink, DecodedRecord, ItemId, KeyId, PublicKey, Record, RecordBody, RecordHash, RecordKind,
    ReportStatus, RunId, SigningKey, Timestamp,
};

use crate::api::{HeadRef, ItemView, RecordAck, RunView};
use crate::cli::output::{OutboxOutput, OutboxRow, PullOutput, QueuedRecordOutput, SyncOutput};
use crate::client::{read_key, CliError, Client, CODE_KEY_FILE, CODE_UNREACHABLE};
use crate::outbox::{
    CachedHead, CachedRun, Entry, EntryState, NewEntry, Outbox, CODE_CORRUPT, LOCK_FILE,
};

/// The CLI code of a sync that left records in conflict (exit status 3).
pub const CODE_CONFLICT: &str = "outbox.conflict";
/// The CLI code of an offline write to an item whose head was never pulled.
pub const CODE_NO_HEAD: &str = "outbox.no_head";
/// The CLI code of an offline mint of a run that was never pulled.
pub const CODE_NO_RUN: &str = "outbox.no_run";

fn outbox_error(e: crate::outbox::OutboxError) -> CliError {
    CliError::coded(e.to_string(), e.code())
}

/// Opens the outbox in `home`.
pub fn open(home: &Path) -> Result<Outbox, CliError> {
    Outbox::open(home).map_err(outbox_error)
}

/// Prints the sentences, or with `--json` the answer as one line of JSON.
pub(crate) fn print<T: serde::Serialize>(json: bool, human: impl FnOnce() -> String, machine: &T) {
    let mut out = std::io::stdout().lock();
    let _ = if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(machine).unwrap_or_else(|_| "{}".into())
        )
    } else {
        write!(out, "{}", human())
    };
}

/// Whether an error means the ledger could not be reached (so the record is queued).
pub fn unreachable(e: &CliError) -> bool {
    e.code == Some(CODE_UNREACHABLE)
}

/// The head from a `GET /v1/items/{item}` answer.
fn head_of(v: &ItemView) -> Option<CachedHead> {
    let head = v.head.as_ref()?;
    Some(CachedHead {
        seq: head.seq,
        hash: RecordHash::from_hex(&head.hash)?,
        time: Timestamp::parse(&head.time)?,
    })
}

/// `provenance pull ITEM... [--run RUN]`: caches heads (and a run with its items) for offline
/// work.
pub fn pull(
    client: &Client,
    home: &Path,
    json: bool,
    items: &[ItemId],
    run: Option<RunId>,
) -> Result<(), CliError> {
    let outbox = open(home)?;
    let mut items = items.to_vec();
    let mut run_line = None;
    if let Some(id) = run {
        let v: RunView = client.get(&format!("/v1/runs/{id}"))?;
        let cached = CachedRun {
            id,
            size: v.size,
            title: v.title,
            microfactory: v.microfactory,
            taken: v.items.iter().map(|i| i.number).collect(),
        };
        outbox.save_run(&cached).map_err(outbox_error)?;
        items.extend(v.items.iter().filter_map(|i| ItemId::from_base32(&i.item)));
        run_line = Some(format!(
            "run {id}: {} of {} editions minted\n",
            cached.taken.len(),
            cached.size
        ));
    }
    for item in &items {
        let v: ItemView = client.get(&format!("/v1/items/{item}"))?;
        let head = head_of(&v)
            .ok_or_else(|| CliError::msg(format!("the ledger's answer for {item} has no head")))?;
        outbox.save_head(item, head).map_err(outbox_error)?;
    }
    print(
        json,
        || {
            format!(
                "{}pulled {} item head(s) into {}\n",
                run_line.clone().unwrap_or_default(),
                items.len(),
                outbox.path().display()
            )
        },
        &PullOutput {
            items: items.len(),
            run: run.map(|r| r.to_base32()),
            outbox: outbox.path().display().to_string(),
        },
    );
    Ok(())
}

/// Signs `body` against the outbox's head of `item` and queues it.
pub fn queue_append(
    home: &Path,
    json: bool,
    item: &ItemId,
    key_file: &Path,
    signer: &SigningKey,
    body: RecordBody,
    reason: &str,
) -> Result<(), CliError> {
    let mut outbox = open(home)?;
    let head = outbox
        .effective_head(item)
        .map_err(outbox_error)?
        .ok_or_else(|| {
            CliError::coded(
                format!(
                    "cannot sign for {item} offline: its head is not cached. Run `provenance \
                     pull {item}` (or `pull --run RUN`) while the ledger is reachable"
                ),
                CODE_NO_HEAD,
            )
        })?;
    let record = Record {
        time: Timestamp(crate::ledger::now().0.max(head.time.0)),
        seq: head.seq + 1,
        body,
    };
    record.check_text().map_err(|e| {
        CliError::coded(
            format!("{e}: signed text may not hold control or bidirectional characters"),
            codes::DECODE_BAD_TEXT,
        )
    })?;
    let kind = record.body.kind();
    let bytes = record.sign(
        signer,
        Some(&ChainLink {
            item: *item,
            prev: head.hash,
        }),
    );
    outbox
        .queue(&[NewEntry {
            item: *item,
            kind,
            seq: record.seq,
            bytes,
            key_file: absolute(key_file),
            reason: reason.to_string(),
        }])
        .map_err(outbox_error)?;
    print(
        json,
        || {
            format!(
                "{kind} queued for {} as record #{} ({reason}); `provenance sync` sends it\n",
                item.short(),
                record.seq
            )
        },
        &QueuedRecordOutput {
            queued: true,
            item: item.to_base32(),
            seq: record.seq,
            kind: kind.name().to_string(),
            reason: reason.to_string(),
        },
    );
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Signs mints of a cached run offline and queues them; returns the item ids.
pub fn queue_mints(
    home: &Path,
    run: &RunId,
    count: u64,
    owner: Option<PublicKey>,
    key_file: &Path,
    maker: &SigningKey,
    reason: &str,
) -> Result<(CachedRun, QueuedMints), CliError> {
    let mut outbox = open(home)?;
    let mut cached = outbox
        .cached_run(run)
        .map_err(outbox_error)?
        .ok_or_else(|| {
            CliError::coded(
                format!(
                    "cannot mint run {run} offline: it is not cached. Run `provenance pull \
                     --run {run}` while the ledger is reachable"
                ),
                CODE_NO_RUN,
            )
        })?;
    let free: Vec<u64> = (1..=cached.size)
        .filter(|n| !cached.taken.contains(n))
        .take(usize::try_from(count).unwrap_or(usize::MAX))
        .collect();
    if (free.len() as u64) < count {
        return Err(CliError::coded(
            format!(
                "run {run} has {} free edition numbers of {} here, cannot mint {count}",
                free.len(),
                cached.size
            ),
            codes::RUN_EDITION_OVER_CAP,
        ));
    }
    let time = crate::ledger::now();
    let mut minted = Vec::new();
    let mut entries = Vec::new();
    for number in free {
        let bytes = Record {
            time,
            seq: 0,
            body: RecordBody::Mint(provenance_core::Mint {
                run: *run,
                number,
                size: cached.size,
                title: cached.title.clone(),
                microfactory: cached.microfactory.clone(),
                owner,
            }),
        }
        .sign(maker, None);
        let item = ItemId::derive(&bytes);
        entries.push(NewEntry {
            item,
            kind: RecordKind::Mint,
            seq: 0,
            bytes: bytes.clone(),
            key_file: absolute(key_file),
            reason: reason.to_string(),
        });
        cached.taken.push(number);
        minted.push((number, item, bytes));
    }
    outbox.queue(&entries).map_err(outbox_error)?;
    outbox.save_run(&cached).map_err(outbox_error)?;
    Ok((cached, minted))
}

/// Mints queued offline: (edition, item, signed bytes).
pub type QueuedMints = Vec<(u64, ItemId, Vec<u8>)>;

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

/// `provenance outbox [--json]`: every queued and conflicted record.
pub fn list(client: &Client, home: &Path, json: bool) -> Result<(), CliError> {
    let outbox = open(home)?;
    let entries = outbox.entries().map_err(outbox_error)?;
    let entries = entries
        .iter()
        .map(|e| OutboxRow {
            id: e.id,
            item: e.item.to_base32(),
            kind: e.kind.name().to_string(),
            seq: e.seq,
            state: e.state_name().to_string(),
            reason: e.reason.clone(),
            queued_at: e.queued_at.to_rfc3339(),
            key_file: e.key_file.display().to_string(),
            // The item's current head, when the ledger can be asked.
            current_head: (e.state == EntryState::Conflict)
                .then(|| {
                    client
                        .get::<ItemView>(&format!("/v1/items/{}", e.item))
                        .ok()
                })
                .flatten()
                .and_then(|v| head_of(&v))
                .map(|h| HeadRef {
                    seq: h.seq,
                    hash: h.hash.to_hex(),
                }),
        })
        .collect();
    let answer = OutboxOutput {
        outbox: outbox.path().display().to_string(),
        entries,
    };
    print(json, || outbox_text(&answer), &answer);
    Ok(())
}

/// `provenance outbox` without `--json`: a line per entry.
fn outbox_text(answer: &OutboxOutput) -> String {
    if answer.entries.is_empty() {
        return format!("the outbox {} is empty\n", answer.outbox);
    }
    let mut s = String::new();
    for r in &answer.entries {
        let head = r
            .current_head
            .as_ref()
            .map(|h| format!(" (item now at #{})", h.seq))
            .unwrap_or_default();
        s.push_str(&format!(
            "{:<8} {} {:<8} #{:<4} {}{head}\n",
            r.state,
            r.item.get(..8).unwrap_or_default(),
            r.kind,
            r.seq,
            provenance_core::text::escape_for_terminal(&r.reason)
        ));
    }
    s
}
