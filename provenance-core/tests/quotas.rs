//! Third-party quotas (spec §6 R8): no repair desk or event host, nor a group of them, can
//! fill an item's history and lock its owner out; the longest history the rules allow still
//! fits a history file and verifies offline.
#![allow(
    clippy::unwrap_used,
    missing_docs,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use provenance_core::error::Quota;
use provenance_core::limits::{
    MAX_HISTORY_BYTES, MAX_RECORD_BYTES, MAX_TEXT_BYTES, MAX_THIRD_PARTY_RECORDS_PER_ITEM,
    MAX_THIRD_PARTY_RECORDS_PER_SIGNER,
};
use provenance_core::record::ReportStatus;
use provenance_core::*;

const DAY: u64 = 86_400;
const START: u64 = 1_772_323_200; // 2026-03-01
/// Enough host keys to reach the per-item quota one signer quota at a time.
const HOSTS: usize = MAX_THIRD_PARTY_RECORDS_PER_ITEM / MAX_THIRD_PARTY_RECORDS_PER_SIGNER + 1;

fn key(n: usize) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(n as u64).to_be_bytes());
    seed[31] = 0x5a;
    SigningKey::from_seed(seed)
}

struct World {
    maker: SigningKey,
    owner: SigningKey,
    buyer: SigningKey,
    desk: SigningKey,
    hosts: Vec<SigningKey>,
    trust: TrustList,
    now: Timestamp,
}

fn entry(k: &SigningKey, role: Role, name: &str) -> TrustEntry {
    TrustEntry {
        key: k.public_key(),
        roles: Roles::of(role),
        name: name.into(),
        valid_from: Timestamp(START - DAY),
        valid_until: None,
        revoked_at: None,
    }
}

impl World {
    fn new() -> Self {
        let operator = key(1);
        let (maker, owner, buyer, desk) = (key(2), key(3), key(4), key(5));
        let hosts: Vec<SigningKey> = (0..HOSTS).map(|i| key(100 + i)).collect();
        let mut entries = vec![
            entry(&maker, Role::Maker, "Karim Studio"),
            entry(&desk, Role::Repairer, "Fix-It Desk"),
        ];
        entries.extend(hosts.iter().enumerate().map(|(i, h)| {
            let mut e = entry(h, Role::Host, &format!("Host and desk {i}"));
            e.roles = e.roles.with(Role::Repairer);
            e
        }));
        let content = TrustListContent {
            version: 1,
            issued_at: Timestamp(START - DAY),
            ledger: None,
            entries,
        };
        let trust = TrustList::verify(&content.sign(&operator), None).unwrap();
        World {
            maker,
            owner,
            buyer,
            desk,
            hosts,
            trust,
            now: Timestamp(START + 30 * DAY),
        }
    }

    /// A mint whose first owner is `self.owner`, and its chain.
    fn start(&self) -> (VerifiedChain, Vec<Vec<u8>>) {
        let mint = Record {
            time: Timestamp(START),
            seq: 0,
            body: RecordBody::Mint(Mint {
                run: RunId([7; 16]),
                number: 1,
                size: 30,
                title: "Eclipse Pin".into(),
                microfactory: "Northside Microfactory".into(),
                owner: Some(self.owner.public_key().into()),
            }),
        }
        .sign(&self.maker, None);
        let (chain, _) = VerifiedChain::start(&mint, &self.trust, self.now).unwrap();
        (chain, vec![mint])
    }
}

/// Signs `body` by `signer` onto the chain's head and tries to append it.
fn append(
    w: &World,
    chain: &mut VerifiedChain,
    records: &mut Vec<Vec<u8>>,
    signer: &SigningKey,
    body: RecordBody,
) -> Result<(), VerifyError> {
    let record = Record {
        time: Timestamp(START + DAY),
        seq: chain.seq() + 1,
        body,
    };
    let link = ChainLink {
        item: chain.item(),
        prev: chain.head(),
    };
    let bytes = record.sign(signer, Some(&link));
    chain.extend(&bytes, &w.trust, w.now)?;
    records.push(bytes);
    Ok(())
}

/// The largest badge the limits allow: both texts at the text limit.
fn big_badge(i: usize) -> RecordBody {
    let event = format!("{i:04} {}", "e".repeat(MAX_TEXT_BYTES - 5));
    RecordBody::Badge(Badge {
        event,
        place: Some("p".repeat(MAX_TEXT_BYTES)),
    })
}

/// A repair near the record size limit: a full note and six full parts.
fn big_repair(i: usize) -> RecordBody {
    RecordBody::Repair(Repair {
        note: format!("{i:04} {}", "n".repeat(MAX_TEXT_BYTES - 5)),
        parts: (0..6)
            .map(|p| format!("{p}{}", "x".repeat(MAX_TEXT_BYTES - 1)))
            .collect(),
    })
}

#[test]
fn one_signer_is_refused_past_its_quota_and_others_are_not() {
    let w = World::new();
    let (mut chain, mut records) = w.start();
    for i in 0..MAX_THIRD_PARTY_RECORDS_PER_SIGNER {
        append(&w, &mut chain, &mut records, &w.hosts[0], big_badge(i)).unwrap();
    }
    let head = chain.head();
    let err = append(&w, &mut chain, &mut records, &w.hosts[0], big_badge(999)).unwrap_err();
    assert_eq!(err, VerifyError::QuotaExceeded(Quota::PerSigner));
    assert_eq!(err.code(), "chain.quota_exceeded");
    assert_eq!(
        chain.head(),
        head,
        "a refused record leaves the chain unchanged"
    );
    // Another host and a repair desk still can.
    append(&w, &mut chain, &mut records, &w.hosts[1], big_badge(0)).unwrap();
    append(&w, &mut chain, &mut records, &w.desk, big_repair(0)).unwrap();
    // And the same verdict offline, from the records alone.
    let mut flooded = records.clone();
    let mut offline = VerifiedChain::start(&records[0], &w.trust, w.now)
        .unwrap()
        .0;
    for r in &records[1..] {
        offline.extend(r, &w.trust, w.now).unwrap();
    }
    let record = Record {
        time: Timestamp(START + DAY),
        seq: offline.seq() + 1,
        body: big_badge(1000),
    };
    flooded.push(record.sign(
        &w.hosts[0],
        Some(&ChainLink {
            item: offline.item(),
            prev: offline.head(),
        }),
    ));
    let err = verify_chain(flooded.iter().map(Vec::as_slice), &w.trust, w.now).unwrap_err();
    assert_eq!(err.index, flooded.len() - 1);
    assert_eq!(err.code(), "chain.quota_exceeded");
}

#[test]
fn a_flood_of_third_parties_cannot_lock_the_owner_out() {
    let w = World::new();
    let (mut chain, mut records) = w.start();
    // Every host-and-desk key repairs up to its quota, then the desk, with records as large
    // as the limits allow, until the item's third-party quota is full.
    let mut third_party = 0;
    'flood: for host in &w.hosts {
        for i in 0..MAX_THIRD_PARTY_RECORDS_PER_SIGNER {
            if third_party == MAX_THIRD_PARTY_RECORDS_PER_ITEM - MAX_THIRD_PARTY_RECORDS_PER_SIGNER
            {
                break 'flood;
            }
            append(&w, &mut chain, &mut records, host, big_repair(i)).unwrap();
            third_party += 1;
        }
    }
    for i in 0..MAX_THIRD_PARTY_RECORDS_PER_SIGNER {
        let body = big_repair(i);
        append(&w, &mut chain, &mut records, &w.desk, body).unwrap();
        third_party += 1;
    }
    assert_eq!(third_party, MAX_THIRD_PARTY_RECORDS_PER_ITEM);
    // The item's quota is full: even a host that has posted nothing yet is refused.
    let fresh_host = w.hosts.last().unwrap();
    let err = append(&w, &mut chain, &mut records, fresh_host, big_badge(0)).unwrap_err();
    assert_eq!(err, VerifyError::QuotaExceeded(Quota::PerItem));

    // The owner is not locked out: they transfer, the buyer reports it stolen and recovered.
    append(
        &w,
        &mut chain,
        &mut records,
        &w.owner,
        RecordBody::Transfer(w.buyer.public_key().into()),
    )
    .unwrap();
    append(
        &w,
        &mut chain,
        &mut records,
        &w.buyer,
        RecordBody::Report(ReportStatus::Stolen),
    )
    .unwrap();
    append(
        &w,
        &mut chain,
        &mut records,
        &w.buyer,
        RecordBody::Report(ReportStatus::Recovered),
    )
    .unwrap();
    assert_eq!(chain.owner(), &w.buyer.public_key());

    // The whole flooded history is over the old 1 MiB file limit, fits today's, and verifies
    // offline from the file bytes.
    assert!(records.iter().all(|r| r.len() <= MAX_RECORD_BYTES));
    let file = Payload::History(History {
        records: records.clone(),
        run: None,
        head: None,
        anchor: None,
    })
    .to_cbor();
    assert!(file.len() > 1 << 20, "the flood is {} bytes", file.len());
    assert!(file.len() <= MAX_HISTORY_BYTES);
    let verified = Payload::from_cbor(&file, MAX_HISTORY_BYTES)
        .unwrap()
        .verify(&w.trust, w.now)
        .unwrap();
    assert_eq!(verified.chain.owner(), &w.buyer.public_key());
    assert_eq!(
        verified.chain.repairs().len() + verified.chain.badges().len(),
        MAX_THIRD_PARTY_RECORDS_PER_ITEM
    );
}

/// Issue 21.6: the owner's stolen/recovered toggles are bounded, so an owner cannot fill the
/// history with them; after the quota the owner can still transfer and the maker still void.
#[test]
fn status_toggles_stop_at_their_quota_and_leave_transfer_and_void_possible() {
    use provenance_core::limits::MAX_STATUS_REPORTS_PER_ITEM;
    let w = World::new();
    let (mut chain, mut records) = w.start();
    for i in 0..MAX_STATUS_REPORTS_PER_ITEM {
        let status = if i % 2 == 0 {
            ReportStatus::Stolen
        } else {
            ReportStatus::Recovered
        };
        append(
            &w,
            &mut chain,
            &mut records,
            &w.owner,
            RecordBody::Report(status),
        )
        .unwrap();
    }
    let next = if chain.is_stolen() {
        ReportStatus::Recovered
    } else {
        ReportStatus::Stolen
    };
    let err = append(
        &w,
        &mut chain,
        &mut records,
        &w.owner,
        RecordBody::Report(next),
    )
    .unwrap_err();
    assert_eq!(err, VerifyError::QuotaExceeded(Quota::StatusReports));
    assert_eq!(err.code(), "chain.quota_exceeded");
    // The owner still sells it, and the maker can still void it.
    append(
        &w,
        &mut chain,
        &mut records,
        &w.owner,
        RecordBody::Transfer(w.buyer.public_key().into()),
    )
    .unwrap();
    append(
        &w,
        &mut chain,
        &mut records,
        &w.maker,
        RecordBody::Report(ReportStatus::Void),
    )
    .unwrap();
    // verify_chain agrees with the head, record by record.
    verify_chain(records.iter().map(Vec::as_slice), &w.trust, w.now).unwrap();
}

/// Issue 21.6: the last two positions of a history are kept: the one before last for a
/// transfer (or the void), the last for the maker's void. A history the owner filled with
/// transfers between their own keys can no longer be sold on, says so (`can_transfer`), and
/// can still be voided; `verify_chain` refuses the same records at the same positions.
#[test]
fn the_last_positions_are_kept_for_a_transfer_and_the_void() {
    use provenance_core::limits::{HISTORY_RESERVE, MAX_HISTORY_RECORDS};
    let w = World::new();
    let (mut chain, mut records) = w.start();
    let keys = [&w.owner, &w.buyer];
    let last_open = (MAX_HISTORY_RECORDS - HISTORY_RESERVE - 1) as u64;
    while chain.seq() < last_open {
        let (from, to) = if chain.owner() == &w.owner.public_key() {
            (keys[0], keys[1])
        } else {
            (keys[1], keys[0])
        };
        append(
            &w,
            &mut chain,
            &mut records,
            from,
            RecordBody::Transfer(to.public_key().into()),
        )
        .unwrap();
    }
    assert!(chain.can_transfer());
    let owner = if chain.owner() == &w.owner.public_key() {
        &w.owner
    } else {
        &w.buyer
    };
    let other = if chain.owner() == &w.owner.public_key() {
        &w.buyer
    } else {
        &w.owner
    };
    // The one before last: no repair, badge or report, but a transfer.
    let err = append(&w, &mut chain, &mut records, &w.desk, big_repair(1)).unwrap_err();
    assert_eq!(err.code(), "chain.history_full");
    let err = append(
        &w,
        &mut chain,
        &mut records,
        owner,
        RecordBody::Report(ReportStatus::Stolen),
    )
    .unwrap_err();
    assert_eq!(err.code(), "chain.history_full");
    let mut refused = records.clone();
    refused.push(
        Record {
            time: Timestamp(START + DAY),
            seq: chain.seq() + 1,
            body: RecordBody::Report(ReportStatus::Stolen),
        }
        .sign(
            owner,
            Some(&ChainLink {
                item: chain.item(),
                prev: chain.head(),
            }),
        ),
    );
    let err = verify_chain(refused.iter().map(Vec::as_slice), &w.trust, w.now).unwrap_err();
    assert_eq!(
        (err.index, err.code()),
        (refused.len() - 1, "chain.history_full")
    );
    append(
        &w,
        &mut chain,
        &mut records,
        owner,
        RecordBody::Transfer(other.public_key().into()),
    )
    .unwrap();
    // The last: only the maker's void. The piece can no longer change hands.
    assert!(!chain.can_transfer());
    let err = append(
        &w,
        &mut chain,
        &mut records,
        other,
        RecordBody::Transfer(owner.public_key().into()),
    )
    .unwrap_err();
    assert_eq!(err.code(), "chain.history_full");
    append(
        &w,
        &mut chain,
        &mut records,
        &w.maker,
        RecordBody::Report(ReportStatus::Void),
    )
    .unwrap();
    assert_eq!(records.len(), MAX_HISTORY_RECORDS);
    let full = verify_chain(records.iter().map(Vec::as_slice), &w.trust, w.now).unwrap();
    assert!(full.is_void());
}
