//! Property tests for the codecs and the non-malleability of payloads, plus the chain rules
//! that no payload vector can reach.
#![allow(
    clippy::unwrap_used,
    missing_docs,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use proptest::prelude::*;
use provenance_core::head::HeadStatement;
use provenance_core::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed([seed; 32])
}

fn trust(now: Timestamp) -> TrustList {
    let content = TrustListContent {
        version: 1,
        issued_at: now,
        ledger: None,
        entries: vec![
            TrustEntry {
                key: key(2).public_key(),
                roles: Roles::of(Role::Maker),
                name: "Maker".into(),
                valid_from: Timestamp(0),
                valid_until: None,
                revoked_at: None,
            },
            TrustEntry {
                key: key(3).public_key(),
                roles: Roles::of(Role::Repairer).with(Role::Host),
                name: "Desk".into(),
                valid_from: Timestamp(0),
                valid_until: None,
                revoked_at: None,
            },
        ],
    };
    TrustList::verify(&content.sign(&key(1)), None).unwrap()
}

/// Owner `seed`, committing (when `with`) to the recovery key of seed `255 - seed`.
fn committed(seed: u8, with: bool) -> NewOwner {
    NewOwner {
        key: key(seed).public_key(),
        recovery: with.then(|| RecoveryDigest::of(&key(255 - seed).public_key())),
    }
}

fn text() -> impl Strategy<Value = String> {
    "[ -~]{0,40}"
}

fn body() -> impl Strategy<Value = RecordBody> {
    prop_oneof![
        (
            text(),
            text(),
            text(),
            1u64..10_000,
            0u64..u32::MAX as u64,
            0u64..1000
        )
            .prop_map(|(t, m, p, n, s, d)| {
                RecordBody::RunManifest(RunManifest {
                    title: t,
                    microfactory: m,
                    place: p,
                    size: n,
                    window_start: Timestamp(s),
                    window_end: Timestamp(s + d),
                })
            }),
        (
            any::<[u8; 16]>(),
            0u64..u64::MAX,
            0u64..u64::MAX,
            text(),
            text(),
            proptest::option::of(1u8..255)
        )
            .prop_map(|(r, n, s, t, m, o)| {
                RecordBody::Mint(Mint {
                    run: RunId(r),
                    number: n,
                    size: s,
                    title: t,
                    microfactory: m,
                    owner: o.map(|seed| committed(seed, seed % 3 == 0)),
                })
            }),
        (text(), proptest::collection::vec(text(), 0..16))
            .prop_map(|(note, parts)| RecordBody::Repair(Repair { note, parts })),
        (1u8..255, any::<bool>())
            .prop_map(|(seed, with)| RecordBody::Transfer(committed(seed, with))),
        (1u8..255, 1u8..255, any::<bool>()).prop_map(|(r, seed, with)| {
            RecordBody::Recover(Recover {
                recovery_key: key(r).public_key(),
                new_owner: committed(seed, with),
            })
        }),
        (1u8..255, any::<bool>()).prop_map(|(r, stolen)| {
            RecordBody::RecoveryReport(RecoveryReport {
                recovery_key: key(r).public_key(),
                status: if stolen {
                    ReportStatus::Stolen
                } else {
                    ReportStatus::Recovered
                },
            })
        }),
        (text(), proptest::option::of(text()))
            .prop_map(|(event, place)| RecordBody::Badge(Badge { event, place })),
        prop_oneof![
            Just(ReportStatus::Stolen),
            Just(ReportStatus::Recovered),
            Just(ReportStatus::Void)
        ]
        .prop_map(RecordBody::Report),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (any::<u64>(), 1u64..u64::MAX, body()).prop_map(|(time, seq, body)| {
        let seq = if body.is_genesis() { 0 } else { seq };
        Record {
            time: Timestamp(time),
            seq,
            body,
        }
    })
}

/// A valid three-record history payload and what it needs to verify.
fn sample_history() -> (String, TrustList, Timestamp) {
    let now = Timestamp(1_800_000_000);
    let mint = Record {
        time: Timestamp(now.0 - 1000),
        seq: 0,
        body: RecordBody::Mint(Mint {
            run: RunId([1; 16]),
            number: 2,
            size: 5,
            title: "Pin".into(),
            microfactory: "Works".into(),
            owner: None,
        }),
    }
    .sign(&key(2), None);
    let item = ItemId::derive(&mint);
    let repair = Record {
        time: Timestamp(now.0 - 500),
        seq: 1,
        body: RecordBody::Repair(Repair {
            note: "fixed".into(),
            parts: vec![],
        }),
    }
    .sign(
        &key(3),
        Some(&ChainLink {
            item,
            prev: RecordHash::of(&mint),
        }),
    );
    let transfer = Record {
        time: Timestamp(now.0 - 100),
        seq: 2,
        body: RecordBody::Transfer(key(5).public_key().into()),
    }
    .sign(
        &key(2),
        Some(&ChainLink {
            item,
            prev: RecordHash::of(&repair),
        }),
    );
    let payload = Payload::History(History {
        records: vec![mint, repair, transfer],
        run: None,
        head: None,
        anchor: None,
    });
    (payload.encode(), trust(now), now)
}

fn verifies(text: &str, trust: &TrustList, now: Timestamp) -> bool {
    Payload::decode(text).is_ok_and(|p| p.verify(trust, now).is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn record_payload_round_trips(r in record()) {
        let bytes = r.to_payload();
        prop_assert_eq!(Record::from_payload(&bytes), Ok(r));
    }

    #[test]
    fn signed_record_decodes_to_the_same_value(r in record()) {
        let link = ChainLink { item: ItemId([9; 16]), prev: RecordHash([8; 32]) };
        let link = (!r.body.is_genesis()).then_some(link);
        let bytes = r.sign(&key(4), link.as_ref());
        let decoded = DecodedRecord::decode(&bytes).unwrap();
        prop_assert_eq!(decoded.record, r);
        prop_assert_eq!(decoded.hash, RecordHash::of(&bytes));
    }

    #[test]
    fn history_container_round_trips(records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..8),
                                     run in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300))) {
        let h = History {
            records,
            run,
            head: None,
            anchor: None,
        };
        let bytes = h.to_cbor();
        prop_assert_eq!(History::from_cbor(&bytes, usize::MAX), Ok(h.clone()));
        let text = Payload::History(h.clone()).encode();
        prop_assert_eq!(Payload::decode(&text), Ok(Payload::History(h)));
    }

    #[test]
    fn record_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = DecodedRecord::decode(&bytes);
        let _ = Payload::from_cbor(&bytes, 4096);
        let _ = TrustList::verify(&bytes, None);
    }

    #[test]
    fn no_single_character_change_of_a_payload_verifies(pos in any::<prop::sample::Index>(), c in prop::sample::select(base45::ALPHABET.to_vec())) {
        let (text, trust, now) = sample_history();
        prop_assume!(verifies(&text, &trust, now));
        let i = 4 + pos.index(text.len() - 4);
        let mut bytes = text.clone().into_bytes();
        prop_assume!(bytes[i] != c);
        bytes[i] = c;
        let mutated = String::from_utf8(bytes).unwrap();
        prop_assert!(!verifies(&mutated, &trust, now), "mutated payload verified");
    }

    #[test]
    fn no_single_byte_change_of_the_cbor_verifies(pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let (text, trust, now) = sample_history();
        let Payload::History(h) = Payload::decode(&text).unwrap() else { unreachable!() };
        let mut cbor = h.to_cbor();
        let i = pos.index(cbor.len());
        cbor[i] ^= flip;
        let ok = Payload::from_cbor(&cbor, 1 << 20).is_ok_and(|p| p.verify(&trust, now).is_ok());
        prop_assert!(!ok, "byte {} ^ {:#x} still verified", i, flip);
    }

    #[test]
    fn truncated_or_extended_payloads_never_verify(cut in 1usize..200, extra in "[0-9A-Z]{1,6}") {
        let (text, trust, now) = sample_history();
        let cut = cut.min(text.len() - 1);
        prop_assert!(!verifies(&text[..text.len() - cut], &trust, now));
        let extended = format!("{}{}", text, extra);
        prop_assert!(!verifies(&extended, &trust, now));
    }
}

#[test]
fn sample_history_is_genuine() {
    let (text, trust, now) = sample_history();
    let chain = Payload::decode(&text)
        .unwrap()
        .verify(&trust, now)
        .unwrap()
        .chain;
    assert_eq!(chain.seq(), 2);
    assert_eq!(chain.owner(), &key(5).public_key());
    assert_eq!(chain.owner_count(), 2);
    assert_eq!(chain.repairs().len(), 1);
    assert_eq!(chain.maker().name, "Maker");
}

#[test]
fn empty_chain_is_rejected() {
    let err = verify_chain(Vec::<&[u8]>::new(), &trust(Timestamp(0)), Timestamp(0)).unwrap_err();
    assert_eq!(err.code(), "chain.empty");
}

#[test]
fn extend_leaves_the_chain_unchanged_on_error() {
    let (text, trust, now) = sample_history();
    let payload = Payload::decode(&text).unwrap();
    let records = payload.records();
    let (mut chain, _) = VerifiedChain::start(records[0], &trust, now).unwrap();
    let before = chain.clone();
    // The transfer is at seq 2: out of order here.
    let err = chain.extend(records[2], &trust, now).unwrap_err();
    assert_eq!(err.code(), "chain.seq_mismatch");
    assert_eq!(chain, before);
    let rec = chain.extend(records[1], &trust, now).unwrap();
    assert_eq!(rec.seq(), 1);
    assert_eq!(rec.bytes(), records[1]);
    assert_eq!(chain.head(), RecordHash::of(records[1]));
}

/// The ledger's per-item state: a `ChainHead` extended record by record accepts and refuses
/// exactly what the full chain does and ends in the full chain's head state, counts included.
#[test]
fn a_chain_head_follows_the_rules_of_the_full_chain() {
    let (text, trust, now) = sample_history();
    let payload = Payload::decode(&text).unwrap();
    let records = payload.records();
    let (mut head, mint) = ChainHead::start(records[0], &trust, now).unwrap();
    assert_eq!(mint.bytes(), records[0]);
    let before = head.clone();
    let err = head.extend(records[2], &trust, now).unwrap_err();
    assert_eq!(err.code(), "chain.seq_mismatch");
    assert_eq!(head, before, "a refused record leaves the head as it was");
    for bytes in &records[1..] {
        let record = head.extend(bytes, &trust, now).unwrap();
        assert_eq!(record.bytes(), *bytes);
    }
    let full = verify_chain(records.iter().copied(), &trust, now).unwrap();
    assert_eq!(&head, full.chain_head());
    assert_eq!(
        (
            head.repair_count(),
            head.transfer_count(),
            head.badge_count()
        ),
        (1, 1, 0)
    );
    assert_eq!(
        HeadStatement::for_head(&head, now, 3),
        HeadStatement::for_chain(&full, now, 3)
    );
    // A replay of the last record no longer fits the head.
    let err = head.extend(records[2], &trust, now).unwrap_err();
    assert_eq!(err.code(), "chain.seq_mismatch");
}

/// Signed text with a control or bidirectional-formatting character anywhere is refused as
/// `decode.bad_text` (spec §3), by the decoder and by `Record::check_text`; any other text up
/// to the limit decodes to itself.
fn badge_bytes(event: &str) -> Vec<u8> {
    Record {
        time: Timestamp(1_000),
        seq: 1,
        body: RecordBody::Badge(Badge {
            event: event.into(),
            place: None,
        }),
    }
    .sign(
        &key(3),
        Some(&ChainLink {
            item: ItemId([1; 16]),
            prev: RecordHash([2; 32]),
        }),
    )
}

proptest! {
    #[test]
    fn text_with_a_forbidden_character_is_refused(
        prefix in "[a-zA-Zé漢 ]{0,40}",
        suffix in "[a-zA-Z0-9 ]{0,40}",
        bad in prop_oneof![
            (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap()),
            (0x7fu32..0xa0).prop_map(|c| char::from_u32(c).unwrap()),
            prop::sample::select(vec!['\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}']),
        ],
    ) {
        let event = format!("{prefix}{bad}{suffix}");
        let bytes = badge_bytes(&event);
        let code = DecodedRecord::decode(&bytes).err().map(|e| e.code());
        prop_assert_eq!(code, Some("decode.bad_text"));
        let record = Record { time: Timestamp(1), seq: 1, body: RecordBody::Badge(Badge { event, place: None }) };
        prop_assert!(record.check_text().is_err());
    }

    #[test]
    fn text_without_one_decodes_to_itself(event in "\\PC{0,60}") {
        prop_assume!(text::first_forbidden(&event).is_none() && event.len() <= 256);
        let decoded = DecodedRecord::decode(&badge_bytes(&event));
        prop_assert!(decoded.is_ok());
        match decoded.ok().unwrap().record.body {
            RecordBody::Badge(b) => prop_assert_eq!(b.event, event),
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

/// One owner-side step of a story with recoveries: which record, signed by which key (often
/// the right one, sometimes not), among a few owner keys (10..14) and recovery keys (20..24).
#[derive(Debug, Clone)]
enum Step {
    Transfer {
        signer: u8,
        to: u8,
        commit: Option<u8>,
    },
    Recover {
        signer: u8,
        named: u8,
        to: u8,
        commit: Option<u8>,
    },
    RecoveryReport {
        signer: u8,
        stolen: bool,
    },
    OwnerReport {
        signer: u8,
        stolen: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let owner = 10u8..14;
    let recovery = 20u8..24;
    prop_oneof![
        (
            owner.clone(),
            owner.clone(),
            proptest::option::of(recovery.clone())
        )
            .prop_map(|(signer, to, commit)| Step::Transfer { signer, to, commit }),
        (
            proptest::option::weighted(0.25, recovery.clone()),
            recovery.clone(),
            owner.clone(),
            proptest::option::of(recovery.clone()),
        )
            .prop_map(|(other, named, to, commit)| Step::Recover {
                signer: other.unwrap_or(named),
                named,
                to,
                commit,
            }),
        (recovery, any::<bool>())
            .prop_map(|(signer, stolen)| Step::RecoveryReport { signer, stolen }),
        (owner, any::<bool>()).prop_map(|(signer, stolen)| Step::OwnerReport { signer, stolen }),
    ]
}

fn new_owner(to: u8, commit: Option<u8>) -> NewOwner {
    NewOwner {
        key: key(to).public_key(),
        recovery: commit.map(|r| RecoveryDigest::of(&key(r).public_key())),
    }
}

fn status(stolen: bool) -> ReportStatus {
    if stolen {
        ReportStatus::Stolen
    } else {
        ReportStatus::Recovered
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// With transfers, recovers and recovery-signed reports in any order and by any of a few
    /// keys, a `ChainHead` extended record by record accepts exactly what `verify_chain` accepts
    /// over the same records, with the same code when it refuses, and ends in the same state.
    #[test]
    fn a_chain_head_with_recovers_follows_the_full_chain(
        first in 10u8..14,
        first_commit in proptest::option::of(20u8..24),
        steps in proptest::collection::vec(step(), 1..24),
    ) {
        let now = Timestamp(1_800_000_000);
        let trust = trust(now);
        let mint = Record {
            time: Timestamp(now.0 - 10_000),
            seq: 0,
            body: RecordBody::Mint(Mint {
                run: RunId([1; 16]),
                number: 1,
                size: 5,
                title: "Pin".into(),
                microfactory: "Works".into(),
                owner: Some(new_owner(first, first_commit)),
            }),
        }
        .sign(&key(2), None);
        let item = ItemId::derive(&mint);
        let (mut head, _) = ChainHead::start(&mint, &trust, now).unwrap();
        let mut accepted = vec![mint];
        let mut accepted_recovers = 0;
        for (i, step) in steps.iter().enumerate() {
            let (signer, body) = match *step {
                Step::Transfer { signer, to, commit } => {
                    (signer, RecordBody::Transfer(new_owner(to, commit)))
                }
                Step::Recover { signer, named, to, commit } => (
                    signer,
                    RecordBody::Recover(Recover {
                        recovery_key: key(named).public_key(),
                        new_owner: new_owner(to, commit),
                    }),
                ),
                Step::RecoveryReport { signer, stolen } => (
                    signer,
                    RecordBody::RecoveryReport(RecoveryReport {
                        recovery_key: key(signer).public_key(),
                        status: status(stolen),
                    }),
                ),
                Step::OwnerReport { signer, stolen } => (signer, RecordBody::Report(status(stolen))),
            };
            let is_recover = matches!(body, RecordBody::Recover(_));
            let bytes = Record {
                time: Timestamp(now.0 - 5_000 + i as u64),
                seq: accepted.len() as u64,
                body,
            }
            .sign(
                &key(signer),
                Some(&ChainLink {
                    item,
                    prev: RecordHash::of(accepted.last().unwrap()),
                }),
            );
            let by_head = head.clone().extend(&bytes, &trust, now);
            let mut all: Vec<&[u8]> = accepted.iter().map(Vec::as_slice).collect();
            all.push(&bytes);
            let by_chain = verify_chain(all, &trust, now);
            match (&by_head, &by_chain) {
                (Ok(_), Ok(chain)) => {
                    head.extend(&bytes, &trust, now).unwrap();
                    prop_assert_eq!(&head, chain.chain_head());
                    accepted.push(bytes);
                    accepted_recovers += usize::from(is_recover);
                }
                (Err(a), Err(b)) => prop_assert_eq!(a.code(), b.code()),
                _ => prop_assert!(false, "head {:?} but chain {:?}", by_head.map(|_| ()), by_chain.map(|_| ())),
            }
        }
        let chain = verify_chain(accepted.iter().map(Vec::as_slice), &trust, now).unwrap();
        prop_assert_eq!(chain.recovers().len(), accepted_recovers);
        prop_assert_eq!(head.recover_count() as usize, accepted_recovers);
    }
}

proptest! {
    /// A record signed outside the library (as the studio's WebCrypto key signs it) over
    /// `Record::to_be_signed`, then `Record::assemble`d, is byte for byte the record
    /// `Record::sign` makes with the same key; a signature by another key, or over other
    /// bytes, is refused.
    #[test]
    fn a_record_signed_elsewhere_is_the_record_signed_here(
        r in record(),
        seed in any::<[u8; 32]>(),
        linked in any::<bool>(),
    ) {
        use ed25519_dalek::Signer as _;
        let key = SigningKey::from_seed(seed);
        let external = ed25519_dalek::SigningKey::from_bytes(&seed);
        let link = linked.then_some(ChainLink { item: ItemId([7; 16]), prev: RecordHash([9; 32]) });
        let public = key.public_key();
        let tbs = r.to_be_signed(&public, link.as_ref());
        let signature = external.sign(&tbs).to_bytes();
        prop_assert_eq!(
            r.assemble(&public, link.as_ref(), &signature).unwrap(),
            r.sign(&key, link.as_ref())
        );
        let other = ed25519_dalek::SigningKey::from_bytes(&[seed[0] ^ 1; 32]).sign(&tbs).to_bytes();
        prop_assert!(r.assemble(&public, link.as_ref(), &other).is_err(), "another key's signature");
        let unlinked = external.sign(&r.to_be_signed(&public, None)).to_bytes();
        if link.is_some() {
            prop_assert!(r.assemble(&public, link.as_ref(), &unlinked).is_err());
        }
    }
}
