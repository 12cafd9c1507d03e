//! The records that follow a mint: repairs, transfers, badges and reports (`append`, one
//! piece or many), `pull` for offline work, and `prove`, the owner's answer to a buyer's
//! challenge.

use std::path::Path;

use provenance_core::codes;
use provenance_core::{
    challenge, Badge, ChainLink, ErrorCode, ItemId, Payload, Record, RecordBody, RecoveryReport,
    Repair, ReportStatus, RunId, SigningKey, Timestamp,
};

use super::args::{BadgeArgs, ProveArgs, RepairArgs, ReportArgs, TransferArgs};
use super::output::ProveOutput;
use super::{refuse_bad_text, Ctx, Outcome};
use crate::api::RecordAck;
use crate::client::CliError;
use crate::keyfile::read_key;
use crate::ledger::now;
use crate::parse::parse_item;

/// Why a record was queued when the ledger did not answer.
const UNREACHABLE: &str = "the ledger was unreachable";

/// `repair`: a repair record by a trusted desk.
pub(super) fn repair(ctx: &Ctx, a: RepairArgs) -> Result<Outcome, CliError> {
    let body = RecordBody::Repair(Repair {
        note: a.note,
        parts: a.parts,
    });
    append(ctx, &a.item, &a.key, a.offline, body)
}

/// `transfer`: the current owner hands the piece on.
pub(super) fn transfer(ctx: &Ctx, a: TransferArgs) -> Result<Outcome, CliError> {
    let to = super::recovery::parse_new_owner(&a.to, None)?;
    append(ctx, &a.item, &a.key, a.offline, RecordBody::Transfer(to))
}

/// `report`: stolen or recovered (the owner), or void (the maker).
pub(super) fn report(ctx: &Ctx, a: ReportArgs) -> Result<Outcome, CliError> {
    let status = if a.stolen {
        ReportStatus::Stolen
    } else if a.recovered {
        ReportStatus::Recovered
    } else {
        ReportStatus::Void
    };
    let body = if a.by_recovery_key {
        RecordBody::RecoveryReport(RecoveryReport {
            recovery_key: read_key(&a.key)?.public_key(),
            status,
        })
    } else {
        RecordBody::Report(status)
    };
    append(ctx, &a.item, &a.key, a.offline, body)
}

/// `pull`: caches heads (and a run) for offline work.
pub(super) fn pull(ctx: &Ctx, items: &[String], run: Option<&str>) -> Result<(), CliError> {
    let items = items
        .iter()
        .map(|i| parse_item(i))
        .collect::<Result<Vec<_>, _>>()?;
    let run = run
        .map(|r| {
            RunId::from_base32(r.trim()).ok_or_else(|| {
                CliError::coded(format!("{r:?} is not a run id"), codes::LEDGER_BAD_REQUEST)
            })
        })
        .transpose()?;
    crate::offline::pull(&ctx.client, &ctx.home, ctx.json, &items, run)
}

/// Signs and posts the next record of an item; on a stale head (409) refetches and retries once.
/// With `--offline`, or when the ledger cannot be reached, signs against the outbox's head and
/// queues the record for `provenance sync` instead.
pub(super) fn append(
    ctx: &Ctx,
    item: &str,
    key: &Path,
    offline: bool,
    body: RecordBody,
) -> Result<Outcome, CliError> {
    let item = parse_item(item)?;
    let signer = read_key(key)?;
    append_item(ctx, &item, key, &signer, offline, body)
}

fn append_item(
    ctx: &Ctx,
    item: &ItemId,
    key: &Path,
    signer: &SigningKey,
    offline: bool,
    body: RecordBody,
) -> Result<Outcome, CliError> {
    let item = *item;
    let queue = |reason: &str, body: RecordBody| {
        crate::offline::queue_append(&ctx.home, ctx.json, &item, key, signer, body, reason)
    };
    if offline {
        return queue("--offline", body).map(|()| Outcome::Done);
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (seq, prev, last_time) = match ctx.client.head(&item) {
            Ok(head) => head,
            Err(e) if crate::offline::unreachable(&e) => {
                return queue(UNREACHABLE, body).map(|()| Outcome::Queued)
            }
            Err(e) => return Err(e),
        };
        let record = Record {
            time: Timestamp(now().0.max(last_time.0)),
            seq: seq + 1,
            body: body.clone(),
        };
        refuse_bad_text(&record)?;
        let bytes = record.sign(signer, Some(&ChainLink { item, prev }));
        match ctx.client.post::<RecordAck>(
            &format!("/v1/items/{item}/records"),
            "application/cose",
            &bytes,
        ) {
            Ok((status, answer)) => {
                let kind = record.body.kind();
                let shown_seq = answer.seq;
                ctx.print(
                    || {
                        let again = if status == 200 {
                            " (already recorded)"
                        } else {
                            ""
                        };
                        format!(
                            "{kind} recorded on {} as record #{}{again}\n",
                            item.short(),
                            shown_seq
                        )
                    },
                    &answer,
                );
                return Ok(Outcome::Done);
            }
            Err(e) if e.status == Some(409) && attempt == 1 => continue,
            Err(e) if crate::offline::unreachable(&e) => {
                // The ledger may have stored these bytes and lost only its answer: queue
                // exactly them (never a newly signed record), so that `sync` re-posts them and
                // the ledger answers 200 if it holds them (spec §17). The head was just read:
                // keep it, so later offline records extend these bytes.
                let mut outbox = crate::offline::open(&ctx.home)?;
                outbox
                    .save_head(
                        &item,
                        crate::outbox::CachedHead {
                            seq,
                            hash: prev,
                            time: last_time,
                        },
                    )
                    .map_err(|e| CliError::coded(e.to_string(), e.code()))?;
                let entry = crate::outbox::NewEntry::signed(
                    item,
                    &record,
                    Some(prev),
                    bytes,
                    signer.public_key(),
                    crate::offline::absolute(key),
                    UNREACHABLE,
                );
                crate::offline::queue_signed(&mut outbox, ctx.json, entry)?;
                return Ok(Outcome::Queued);
            }
            Err(e) => return Err(e),
        }
    }
}

/// `provenance badge`: one badge on each piece given (ids, label payloads or URLs, a file of
/// them, label photos), online or queued offline.
pub(super) fn badge_many(ctx: &Ctx, a: BadgeArgs) -> Result<Outcome, CliError> {
    let signer = read_key(&a.key)?;
    let mut texts = a.items.clone();
    if let Some(path) = &a.from {
        let content = if path.as_os_str() == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| CliError::io(format!("cannot read stdin: {e}")))?;
            s
        } else {
            std::fs::read_to_string(path)
                .map_err(|e| CliError::io(format!("cannot read {}: {e}", path.display())))?
        };
        texts.extend(
            content
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    for path in &a.image {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::io(format!("cannot read {}: {e}", path.display())))?;
        let text = provenance_verify::payload_from_image(&bytes)
            .map_err(|e| CliError::coded(format!("{}: {e}", path.display()), e.code()))?;
        texts.push(text);
    }
    let items = texts
        .iter()
        .map(|t| item_from_text(t))
        .collect::<Result<Vec<_>, _>>()?;
    let body = RecordBody::Badge(Badge {
        event: a.event,
        place: a.place,
    });
    let mut outcome = Outcome::Done;
    for item in &items {
        outcome = outcome.and(append_item(
            ctx,
            item,
            &a.key,
            &signer,
            a.offline,
            body.clone(),
        )?);
    }
    Ok(outcome)
}

/// A piece named by its item id, its label payload (`PV1:...`) or its label URL
/// (`https://host/v#PV1:...`, percent-encoded; spec §7.5).
fn item_from_text(text: &str) -> Result<ItemId, CliError> {
    let payload = provenance_verify::payload_from_text(text);
    if !payload.starts_with("PV1:") {
        return parse_item(text);
    }
    let decoded = Payload::decode(&payload)
        .map_err(|e| CliError::coded(format!("{text:?} is not a label payload: {e}"), e.code()))?;
    let mint = decoded
        .records()
        .first()
        .map(|m| m.to_vec())
        .unwrap_or_default();
    Ok(ItemId::derive(&mint))
}

pub(super) fn prove(ctx: &Ctx, a: ProveArgs) -> Result<(), CliError> {
    let item = parse_item(&a.item)?;
    let key = read_key(&a.key)?;
    let answer = challenge::prove(&key, &item, a.challenge.as_bytes())
        .map_err(|e| CliError::coded(e.to_string(), provenance_core::ErrorCode::code(&e)))?;
    ctx.print(
        || format!("{answer}\n"),
        &ProveOutput {
            item: item.to_base32(),
            challenge: a.challenge.clone(),
            answer: answer.to_string(),
            owner: key.public_key().to_base64url(),
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_named_by_id_payload_or_label_url() {
        use provenance_core::{Mint, Payload, Record, RecordBody, RunId, SigningKey, Timestamp};
        let mint = Record {
            time: Timestamp(1),
            seq: 0,
            body: RecordBody::Mint(Mint {
                run: RunId([1; 16]),
                number: 1,
                size: 1,
                title: "T".into(),
                microfactory: "M".into(),
                owner: None,
            }),
        }
        .sign(&SigningKey::from_seed([2; 32]), None);
        let item = provenance_core::ItemId::derive(&mint);
        let payload = Payload::Label(mint).encode();
        let url = format!(
            "https://ledger.example/v#{}",
            payload.replace('%', "%25").replace(' ', "%20")
        );
        for text in [item.to_base32(), payload.clone(), url] {
            assert_eq!(item_from_text(&text).unwrap(), item, "{text}");
        }
        assert!(item_from_text("PV1:not base45!").is_err());
    }
}
