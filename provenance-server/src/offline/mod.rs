//! Offline-first capture (issue 14): `pull` caches heads and runs, writing commands sign
//! against the last known head and queue into the [`Outbox`] when the ledger is out of reach
//! (or with `--offline`), and `sync` delivers the queue, re-signing records that commute
//! (repairs, badges) when the item moved on, and keeping the rest as conflicts; `outbox
//! retry` and `outbox drop` let the person decide on conflicts and quarantined rows (spec §17).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use provenance_core::codes;
use provenance_core::{
    ChainLink, ItemId, Record, RecordBody, RecordHash, RunId, SigningKey, Timestamp,
};

use crate::api::{HeadRef, ItemView, RunView};
use crate::cli::output::{
    DropOutput, OutboxOutput, OutboxRow, PullOutput, QueuedRecordOutput, RetryOutput,
};
use crate::client::{CliError, Client, CODE_UNREACHABLE};
use crate::outbox::{CachedHead, CachedRun, EntryState, NewEntry, Outbox, Row, CODE_UNDECODABLE};

mod sync;
pub use sync::sync;

/// The CLI code of a sync that left records in conflict (exit status 3).
pub const CODE_CONFLICT: &str = "outbox.conflict";
/// The CLI code of an offline write to an item whose head was never pulled.
pub const CODE_NO_HEAD: &str = "outbox.no_head";
/// The CLI code of an offline mint of a run that was never pulled.
pub const CODE_NO_RUN: &str = "outbox.no_run";
/// The CLI code of a sync that left quarantined rows (exit status 3, as conflicts).
pub const CODE_QUARANTINED: &str = "outbox.quarantined";
/// The CLI code of a sync that left records queued after a transient refusal (exit status 1;
/// the next sync tries them again).
pub const CODE_PENDING: &str = "outbox.pending";
/// The CLI code of `outbox retry` or `outbox drop` naming no entry of the outbox.
pub const CODE_NO_ENTRY: &str = "outbox.no_entry";
/// The CLI code of `outbox drop` without confirmation (no `--yes`, not answered `y` on a
/// terminal).
pub const CODE_NOT_CONFIRMED: &str = "outbox.not_confirmed";

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
    let link = ChainLink {
        item: *item,
        prev: head.hash,
    };
    let bytes = record.sign(signer, Some(&link));
    queue_signed(
        &mut outbox,
        json,
        NewEntry::signed(
            *item,
            &record,
            Some(head.hash),
            bytes,
            signer.public_key(),
            absolute(key_file),
            reason,
        ),
    )
}

/// Queues a record exactly as signed (and perhaps already posted: a lost answer), and says so.
pub fn queue_signed(outbox: &mut Outbox, json: bool, entry: NewEntry) -> Result<(), CliError> {
    outbox
        .queue(std::slice::from_ref(&entry))
        .map_err(outbox_error)?;
    let NewEntry {
        item,
        kind,
        seq,
        reason,
        ..
    } = entry;
    print(
        json,
        || {
            format!(
                "{kind} queued for {} as record #{seq} ({reason}); `provenance sync` sends it\n",
                item.short(),
            )
        },
        &QueuedRecordOutput {
            queued: true,
            state: EntryState::Queued.name(),
            item: item.to_base32(),
            seq,
            kind: kind.name().to_string(),
            reason: reason.clone(),
        },
    );
    Ok(())
}

/// The key file's path as given, made absolute (sync may run from another directory).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Signs mints of a cached run offline and queues them; returns the item ids.
pub fn queue_mints(
    home: &Path,
    run: &RunId,
    count: u64,
    owner: Option<provenance_core::NewOwner>,
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
        let record = Record {
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
        };
        let bytes = record.sign(maker, None);
        let item = ItemId::derive(&bytes);
        entries.push(NewEntry::signed(
            item,
            &record,
            None,
            bytes.clone(),
            maker.public_key(),
            absolute(key_file),
            reason,
        ));
        cached.taken.push(number);
        minted.push((number, item, bytes));
    }
    outbox.queue(&entries).map_err(outbox_error)?;
    outbox.save_run(&cached).map_err(outbox_error)?;
    Ok((cached, minted))
}

/// Mints queued offline: (edition, item, signed bytes).
pub type QueuedMints = Vec<(u64, ItemId, Vec<u8>)>;

/// `provenance outbox [--json]`: every queued, conflicted and quarantined record.
pub fn list(client: &Client, home: &Path, json: bool) -> Result<(), CliError> {
    let outbox = open(home)?;
    let rows = outbox.entries().map_err(outbox_error)?;
    let entries = rows.iter().map(|row| outbox_row(client, row)).collect();
    let answer = OutboxOutput {
        outbox: outbox.path().display().to_string(),
        entries,
    };
    print(json, || outbox_text(&answer), &answer);
    Ok(())
}

/// One row as `provenance outbox` shows it.
fn outbox_row(client: &Client, row: &Row) -> OutboxRow {
    let e = match row {
        Ok(e) => e,
        Err(u) => {
            return OutboxRow {
                id: u.id,
                item: String::new(),
                kind: String::new(),
                seq: 0,
                state: EntryState::Quarantined.name().to_string(),
                code: Some(CODE_UNDECODABLE),
                reason: format!("the row cannot be read back ({}): never sent", u.what),
                attempts: 0,
                next_attempt: None,
                queued_at: String::new(),
                key_file: String::new(),
                current_head: None,
            }
        }
    };
    OutboxRow {
        id: e.id,
        item: e.item.to_base32(),
        kind: e.kind.name().to_string(),
        seq: e.seq,
        state: e.state_name().to_string(),
        code: e.code,
        reason: e.reason.clone(),
        attempts: e.attempts,
        next_attempt: (e.next_attempt.0 > 0).then(|| e.next_attempt.to_rfc3339()),
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
    }
}

/// `provenance outbox retry ID|--all`: conflicts queued again, backoffs reset, and
/// quarantined rows queued again only if they now verify.
pub fn retry(home: &Path, json: bool, id: Option<i64>) -> Result<(), CliError> {
    let outbox = open(home)?;
    let rows: Vec<Row> = match id {
        Some(id) => vec![outbox
            .entry(id)
            .map_err(outbox_error)?
            .ok_or_else(|| no_entry(id))?],
        None => outbox.entries().map_err(outbox_error)?,
    };
    let mut answer = RetryOutput {
        requeued: Vec::new(),
        still_quarantined: Vec::new(),
    };
    let mut refusal = None;
    for row in rows {
        match row {
            Err(u) => {
                answer.still_quarantined.push(u.id);
                refusal = Some(CliError::coded(
                    format!(
                        "outbox entry {} cannot be read back ({}): it can only be dropped \
                         (`provenance outbox drop {}`)",
                        u.id, u.what, u.id
                    ),
                    CODE_UNDECODABLE,
                ));
            }
            Ok(e) => {
                if e.state == EntryState::Quarantined {
                    if let Err(why) = e.check() {
                        answer.still_quarantined.push(e.id);
                        refusal = Some(CliError::coded(
                            format!(
                                "outbox entry {} still does not verify ({why}): it is never \
                                 sent; `provenance outbox drop {}` removes it",
                                e.id, e.id
                            ),
                            why.code(),
                        ));
                        continue;
                    }
                }
                outbox.requeue(e.id).map_err(outbox_error)?;
                answer.requeued.push(e.id);
            }
        }
    }
    print(
        json,
        || {
            format!(
                "{} entr{} queued again; `provenance sync` sends them\n",
                answer.requeued.len(),
                if answer.requeued.len() == 1 {
                    "y"
                } else {
                    "ies"
                }
            )
        },
        &answer,
    );
    match (id, refusal) {
        // A single entry that cannot be retried is an error; with --all the rest went on.
        (Some(_), Some(e)) => Err(e),
        _ => Ok(()),
    }
}

fn no_entry(id: i64) -> CliError {
    CliError::coded(
        format!("the outbox has no entry {id}; `provenance outbox` lists them"),
        CODE_NO_ENTRY,
    )
}

/// `provenance outbox drop ID [--yes]`: removes one row, never sent, after confirmation.
pub fn drop_entry(home: &Path, json: bool, id: i64, yes: bool) -> Result<(), CliError> {
    let outbox = open(home)?;
    let row = outbox
        .entry(id)
        .map_err(outbox_error)?
        .ok_or_else(|| no_entry(id))?;
    let what = match &row {
        Ok(e) => format!(
            "the {} {} for {} (#{}, {}: {})",
            e.state_name(),
            e.kind,
            e.item.short(),
            e.seq,
            e.code.unwrap_or("no code"),
            provenance_core::text::escape_for_terminal(&e.reason)
        ),
        Err(u) => format!("the unreadable row {id} ({})", u.what),
    };
    if !yes {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(CliError::coded(
                format!("dropping {what} needs confirmation: run it on a terminal, or add --yes"),
                CODE_NOT_CONFIRMED,
            ));
        }
        eprint!("drop {what}? It will never be sent. [y/N] ");
        let mut answer = String::new();
        stdin
            .lock()
            .read_line(&mut answer)
            .map_err(|e| CliError::io(format!("cannot read the answer: {e}")))?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            return Err(CliError::coded(
                format!("{what} was not dropped"),
                CODE_NOT_CONFIRMED,
            ));
        }
    }
    if !outbox.remove(id).map_err(outbox_error)? {
        return Err(no_entry(id));
    }
    print(
        json,
        || format!("dropped {what}\n"),
        &DropOutput { dropped: id },
    );
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
        let code = r.code.map(|c| format!(" [{c}]")).unwrap_or_default();
        s.push_str(&format!(
            "{:<4} {:<11} {:<8} {:<8} #{:<4} {}{code}{head}\n",
            r.id,
            r.state,
            r.item.get(..8).unwrap_or_default(),
            r.kind,
            r.seq,
            provenance_core::text::escape_for_terminal(&r.reason)
        ));
    }
    s
}
