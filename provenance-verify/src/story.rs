//! The piece's story as the verified records tell it (maker, edition, repairs, badges,
//! reports, owners), and how fresh that knowledge is (label, file, or the ledger's signed
//! head statement and log).

use provenance_core::record::ReportStatus;
use provenance_core::{Timestamp, VerifiedChain, VerifiedPayload};

use crate::assess::Current;
use crate::report::{
    BadgeEntry, Edition, Freshness, Party, RecoveryEntry, RepairEntry, ReportEntry, Story,
};
use crate::DAY_SECS;

pub(crate) fn last_report(chain: &VerifiedChain, status: ReportStatus) -> Option<String> {
    chain
        .reports()
        .iter()
        .rev()
        .find(|r| r.status == status)
        .map(|r| format!(" on {}", r.time.to_date()))
}

/// "today", "1 day ago", "12 days ago".
pub(crate) fn days_ago(days: u64) -> String {
    match days {
        0 => "today".to_string(),
        1 => "1 day ago".to_string(),
        n => format!("{n} days ago"),
    }
}

pub(crate) fn freshness(
    current: &Current<'_>,
    verified: &VerifiedPayload,
    label_only: bool,
    now: Timestamp,
) -> Freshness {
    let chain = current.chain;
    let in_log = verified.checkpoint.is_some();
    let logged = match &verified.checkpoint {
        Some(c) => format!(
            "; the last record is in the ledger's signed log of {} entries",
            c.size
        ),
        None => String::new(),
    };
    let (basis, as_of, note, log_size) = if let Some(head) = current.head {
        let days = now.0.saturating_sub(head.time.0) / DAY_SECS;
        (
            "head_statement",
            head.time,
            format!(
                "owner confirmed by the ledger as of {}, {}{logged}",
                head.time.to_date(),
                days_ago(days)
            ),
            Some(
                verified
                    .checkpoint
                    .as_ref()
                    .map_or(head.log_size, |c| c.size),
            ),
        )
    } else if label_only {
        (
            "label",
            chain.minted_at(),
            format!(
                "as of minting on {}: a label carries no later history",
                chain.minted_at().to_date()
            ),
            None,
        )
    } else {
        (
            "last_record",
            chain.last_time(),
            format!(
                "as of the last record's date, {} ({} records); NOT CONFIRMED: no \
                 ledger-signed head statement, so later records may exist{logged}",
                chain.last_time().to_date(),
                chain.seq() + 1
            ),
            verified.checkpoint.as_ref().map(|c| c.size),
        )
    };
    Freshness {
        basis,
        as_of: as_of.to_rfc3339(),
        note,
        age_days: now.0.saturating_sub(as_of.0) / DAY_SECS,
        log_size,
        in_log,
    }
}

pub(crate) fn story(
    current: &Current<'_>,
    verified: &VerifiedPayload,
    label_only: bool,
    now: Timestamp,
) -> Story {
    let chain = current.chain;
    let mint = chain.mint();
    let freshness = freshness(current, verified, label_only, now);
    let ahead = current.ahead();
    Story {
        item: chain.item().to_base32(),
        title: mint.title.clone(),
        maker: Party::of(&chain.maker().name, &chain.maker().key),
        microfactory: mint.microfactory.clone(),
        run: mint.run.to_base32(),
        edition: Edition {
            number: mint.number,
            size: mint.size,
        },
        minted_at: chain.minted_at().to_rfc3339(),
        repairs: chain
            .repairs()
            .iter()
            .map(|r| RepairEntry {
                time: r.time.to_rfc3339(),
                desk: Party::of(&r.desk.name, &r.desk.key),
                note: r.note.clone(),
                parts: r.parts.clone(),
            })
            .collect(),
        badges: chain
            .badges()
            .iter()
            .map(|b| BadgeEntry {
                time: b.time.to_rfc3339(),
                host: Party::of(&b.host.name, &b.host.key),
                event: b.event.clone(),
                place: b.place.clone(),
            })
            .collect(),
        reports: chain
            .reports()
            .iter()
            .map(|r| ReportEntry {
                time: r.time.to_rfc3339(),
                status: r.status.name(),
                by_recovery_key: r.by_recovery_key,
            })
            .collect(),
        recoveries: chain
            .recovers()
            .iter()
            .map(|r| RecoveryEntry {
                time: r.time.to_rfc3339(),
                from: Party::of("", &r.from),
                to: Party::of("", &r.to),
            })
            .collect(),
        repair_count: ahead.map_or(chain.repairs().len() as u64, |h| h.repairs),
        badge_count: ahead.map_or(chain.badges().len() as u64, |h| h.badges),
        owner_count: ahead.map_or(chain.owner_count() as u64, |h| h.transfers + 1),
        current_owner: Party::of("", current.owner()),
        stolen: current.stolen(),
        void: current.void(),
        records: ahead.map_or(chain.seq(), |h| h.seq) + 1,
        records_verified: chain.seq() + 1,
        head: ahead.map_or(chain.head(), |h| h.head).to_hex(),
        freshness,
    }
}
