//! The conformance vectors in `spec/vectors/`: generated here from fixed seeds, checked
//! against the files (drift fails), and every vector run through the library with exactly
//! its expected outcome.
//!
//! Regenerate after an intended format change with:
//! `UPDATE_VECTORS=1 cargo test -p provenance-core --test vectors`
#![allow(
    clippy::unwrap_used,
    missing_docs,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use ciborium::Value;
use ed25519_dalek::Signer as _;
use provenance_core::codes::ALL_CODES;
use provenance_core::head::HeadStatement;
use provenance_core::record::sign_raw_payload_for_vectors;
use provenance_core::*;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

#[path = "support/payload_vectors.rs"]
#[allow(dead_code)]
mod payload_vectors;

const DAY: u64 = 86_400;

fn t(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed([seed; 32])
}

struct World {
    operator: SigningKey,
    maker: SigningKey,
    desk: SigningKey,
    host: SigningKey,
    buyer: SigningKey,
    stranger: SigningKey,
    revoked_maker: SigningKey,
    future_host: SigningKey,
    expired_desk: SigningKey,
    other_maker: SigningKey,
    trust_bytes: Vec<u8>,

    start: Timestamp,
    now: Timestamp,
}

fn entry(k: &SigningKey, role: Role, name: &str, from: &str) -> TrustEntry {
    TrustEntry {
        key: k.public_key(),
        roles: Roles::of(role),
        name: name.into(),
        valid_from: t(from),
        valid_until: None,
        revoked_at: None,
    }
}

impl World {
    fn new() -> Self {
        let operator = key(1);
        let (maker, desk, host, buyer, stranger) = (key(2), key(3), key(4), key(5), key(7));
        let (revoked_maker, future_host, expired_desk, other_maker) =
            (key(8), key(10), key(11), key(12));
        let mut revoked = entry(&revoked_maker, Role::Maker, "Gone Goods", "2026-01-01");
        revoked.revoked_at = Some(t("2026-02-01"));
        let mut expired = entry(&expired_desk, Role::Repairer, "Old Fix Desk", "2025-01-01");
        expired.valid_until = Some(t("2026-02-01"));
        let content = TrustListContent {
            version: 1,
            issued_at: t("2026-01-15"),
            ledger: Some(key(9).public_key()),
            entries: vec![
                entry(&maker, Role::Maker, "Karim Studio", "2026-01-01"),
                entry(&desk, Role::Repairer, "Fix-It Desk", "2026-01-01"),
                entry(&host, Role::Host, "Makers Fair", "2026-01-01"),
                revoked,
                entry(&future_host, Role::Host, "Future Fair", "2027-01-01"),
                expired,
                entry(&other_maker, Role::Maker, "Other Atelier", "2026-01-01"),
            ],
        };
        let trust_bytes = content.sign(&operator);
        TrustList::verify(&trust_bytes, Some(&operator.public_key())).unwrap();
        World {
            operator,
            maker,
            desk,
            host,
            buyer,
            stranger,
            revoked_maker,
            future_host,
            expired_desk,
            other_maker,
            trust_bytes,

            start: t("2026-03-01"),
            now: t("2026-06-01"),
        }
    }

    fn at(&self, days: u64) -> Timestamp {
        Timestamp(self.start.0 + days * DAY)
    }

    fn run_manifest(&self) -> Record {
        Record {
            time: self.start,
            seq: 0,
            body: RecordBody::RunManifest(RunManifest {
                title: "Eclipse Pin".into(),
                microfactory: "Northside Microfactory".into(),
                place: "Leeds".into(),
                size: 3,
                window_start: self.start,
                window_end: self.at(30),
            }),
        }
    }

    fn run_bytes(&self) -> Vec<u8> {
        self.run_manifest().sign(&self.maker, None)
    }

    fn mint(&self, number: u64, owner: Option<&SigningKey>) -> Record {
        Record {
            time: self.at(1),
            seq: 0,
            body: RecordBody::Mint(Mint {
                run: RunId::derive(&self.run_bytes()),
                number,
                size: 3,
                title: "Eclipse Pin".into(),
                microfactory: "Northside Microfactory".into(),
                owner: owner.map(|k| k.public_key().into()),
            }),
        }
    }
}

/// Builds a chain record by record, tracking item id and head.
struct ChainBuilder {
    records: Vec<Vec<u8>>,
    item: ItemId,
}

impl ChainBuilder {
    fn new(mint: Vec<u8>) -> Self {
        ChainBuilder {
            item: ItemId::derive(&mint),
            records: vec![mint],
        }
    }

    fn link(&self) -> ChainLink {
        ChainLink {
            item: self.item,
            prev: RecordHash::of(self.records.last().unwrap()),
        }
    }

    fn next_seq(&self) -> u64 {
        self.records.len() as u64
    }

    fn push(mut self, signer: &SigningKey, time: Timestamp, body: RecordBody) -> Self {
        let record = Record {
            time,
            seq: self.next_seq(),
            body,
        };
        let bytes = record.sign(signer, Some(&self.link()));
        self.records.push(bytes);
        self
    }

    fn push_bytes(mut self, bytes: Vec<u8>) -> Self {
        self.records.push(bytes);
        self
    }

    fn history(&self, run: Option<Vec<u8>>) -> Payload {
        Payload::History(History {
            records: self.records.clone(),
            run,
            head: None,
            anchor: None,
        })
    }
}

fn repair(note: &str) -> RecordBody {
    RecordBody::Repair(Repair {
        note: note.into(),
        parts: vec!["clasp".into()],
    })
}

fn badge() -> RecordBody {
    RecordBody::Badge(Badge {
        event: "Leeds Makers Fair 2026".into(),
        place: Some("Leeds".into()),
    })
}

/// A COSE_Sign1 with a caller-chosen protected header and unprotected map, validly signed.
fn hand_cose(
    k: &SigningKey,
    protected: Vec<u8>,
    unprotected: Value,
    payload: Option<Vec<u8>>,
    aad: &[u8],
) -> Vec<u8> {
    let mut tbs = Vec::new();
    ciborium::ser::into_writer(
        &Value::Array(vec![
            Value::Text("Signature1".into()),
            Value::Bytes(protected.clone()),
            Value::Bytes(aad.to_vec()),
            Value::Bytes(payload.clone().unwrap_or_default()),
        ]),
        &mut tbs,
    )
    .unwrap();
    let dalek = ed25519_dalek::SigningKey::from_bytes(&[2; 32]);
    assert_eq!(
        dalek.verifying_key().to_bytes(),
        k.public_key().to_bytes(),
        "hand_cose signs as the maker"
    );
    let sig = dalek.sign(&tbs).to_bytes();
    let mut out = Vec::new();
    ciborium::ser::into_writer(
        &Value::Tag(
            18,
            Box::new(Value::Array(vec![
                Value::Bytes(protected),
                unprotected,
                payload.map_or(Value::Null, Value::Bytes),
                Value::Bytes(sig.to_vec()),
            ])),
        ),
        &mut out,
    )
    .unwrap();
    out
}

fn protected_with_kid(alg_byte: u8, k: &SigningKey) -> Vec<u8> {
    let mut p = vec![0xa2, 0x01, alg_byte, 0x04, 0x48];
    p.extend_from_slice(&k.public_key().key_id().0);
    p
}

fn cbor(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

fn label(bytes: Vec<u8>) -> String {
    format!("PV1:{}", base45::encode(&bytes))
}

struct PayloadVector {
    name: &'static str,
    description: &'static str,
    payload: String,
    trust_list: Vec<u8>,
    expect: &'static str,
    warnings: Vec<&'static str>,
}

fn pv(
    name: &'static str,
    description: &'static str,
    payload: String,
    expect: &'static str,
) -> PayloadVector {
    PayloadVector {
        name,
        description,
        payload,
        trust_list: Vec::new(),
        expect,
        warnings: Vec::new(),
    }
}

/// A transfer to `to`, committing to `recovery`'s key when given (spec §3.1).
fn transfer_to(to: &SigningKey, recovery: Option<&SigningKey>) -> RecordBody {
    RecordBody::Transfer(NewOwner {
        key: to.public_key(),
        recovery: recovery.map(|r| RecoveryDigest::of(&r.public_key())),
    })
}

/// A recover by `recovery` to `to`, committing to `next` when given.
fn recover_to(recovery: &SigningKey, to: &SigningKey, next: Option<&SigningKey>) -> RecordBody {
    RecordBody::Recover(Recover {
        recovery_key: recovery.public_key(),
        new_owner: NewOwner {
            key: to.public_key(),
            recovery: next.map(|r| RecoveryDigest::of(&r.public_key())),
        },
    })
}

/// Owner-key recovery by pre-rotation (spec §3.1): the accepted stories and every refusal.
fn recovery_vectors(w: &World, v: &mut Vec<PayloadVector>) {
    let unconfirmed = "payload.owner_unconfirmed";
    let (recovery, new_owner, next_recovery, carol) = (key(20), key(21), key(22), key(23));
    let mint2 = w.mint(2, None).sign(&w.maker, None);
    // The buyer bought with a commitment to `recovery`, lost the owner key, and recovered.
    let bought = || {
        ChainBuilder::new(mint2.clone()).push(
            &w.maker,
            w.at(3),
            transfer_to(&w.buyer, Some(&recovery)),
        )
    };
    let recovered = || {
        bought().push(
            &recovery,
            w.at(5),
            recover_to(&recovery, &new_owner, Some(&next_recovery)),
        )
    };
    let mut ok = pv(
        "recover-owner-key",
        "bought with a recovery commitment; the recovery key moves the piece to a new owner key",
        recovered().history(None).encode(),
        "genuine",
    );
    ok.warnings = vec![unconfirmed];
    v.push(ok);
    let mut ok = pv(
        "recover-then-sell",
        "after the recover, the new owner key sells the piece on",
        recovered()
            .push(&new_owner, w.at(6), transfer_to(&carol, None))
            .history(None)
            .encode(),
        "genuine",
    );
    ok.warnings = vec![unconfirmed];
    v.push(ok);
    let minted = ChainBuilder::new(
        Record {
            time: w.at(1),
            seq: 0,
            body: RecordBody::Mint(Mint {
                owner: Some(NewOwner {
                    key: w.buyer.public_key(),
                    recovery: Some(RecoveryDigest::of(&recovery.public_key())),
                }),
                ..match w.mint(3, None).body {
                    RecordBody::Mint(m) => m,
                    _ => unreachable!(),
                }
            }),
        }
        .sign(&w.maker, None),
    );
    let mut ok = pv(
        "recover-first-owner",
        "the mint names its first owner and commits to the owner's recovery key; the recovery key recovers",
        minted
            .push(&recovery, w.at(5), recover_to(&recovery, &new_owner, None))
            .history(None)
            .encode(),
        "genuine",
    );
    ok.warnings = vec![unconfirmed];
    v.push(ok);
    let mut stolen = pv(
        "recovery-key-reports-stolen",
        "the owner's recovery key reports the piece stolen (an unlocked phone was taken)",
        bought()
            .push(
                &recovery,
                w.at(4),
                RecordBody::RecoveryReport(RecoveryReport {
                    recovery_key: recovery.public_key(),
                    status: ReportStatus::Stolen,
                }),
            )
            .history(None)
            .encode(),
        "genuine",
    );
    stolen.warnings = vec!["item.stolen", unconfirmed];
    v.push(stolen);
    v.push(pv(
        "recover-without-commitment",
        "the ownership committed to no recovery key; a recovery key tries to move it",
        ChainBuilder::new(mint2.clone())
            .push(&w.maker, w.at(3), transfer_to(&w.buyer, None))
            .push(&recovery, w.at(5), recover_to(&recovery, &new_owner, None))
            .history(None)
            .encode(),
        "chain.recovery_not_committed",
    ));
    v.push(pv(
        "recover-by-former-owner-recovery-key",
        "the buyer sold the piece on; the buyer's recovery key tries to take it back",
        bought()
            .push(&w.buyer, w.at(4), transfer_to(&carol, Some(&next_recovery)))
            .push(&recovery, w.at(5), recover_to(&recovery, &new_owner, None))
            .history(None)
            .encode(),
        "chain.recovery_key_former_owner",
    ));
    v.push(pv(
        "recover-with-spent-recovery-key",
        "a recovery key used a second time, after its recover",
        recovered()
            .push(&recovery, w.at(6), recover_to(&recovery, &carol, None))
            .history(None)
            .encode(),
        "chain.recovery_key_spent",
    ));
    v.push(pv(
        "recover-by-maker",
        "the maker signs a recover naming its own key as the recovery key",
        bought()
            .push(&w.maker, w.at(5), recover_to(&w.maker, &carol, None))
            .history(None)
            .encode(),
        "chain.recovery_key_mismatch",
    ));
    v.push(pv(
        "recover-by-operator",
        "the ledger operator signs a recover naming its own key as the recovery key",
        bought()
            .push(&w.operator, w.at(5), recover_to(&w.operator, &carol, None))
            .history(None)
            .encode(),
        "chain.recovery_key_mismatch",
    ));
    v.push(pv(
        "recover-signer-not-named-key",
        "a recover naming the committed recovery key, signed by another key",
        bought()
            .push(&carol, w.at(5), recover_to(&recovery, &carol, None))
            .history(None)
            .encode(),
        "chain.signer_not_recovery_key",
    ));
    v.push(pv(
        "recover-while-stolen",
        "a recover while the piece is reported stolen",
        bought()
            .push(&w.buyer, w.at(4), RecordBody::Report(ReportStatus::Stolen))
            .push(&recovery, w.at(5), recover_to(&recovery, &new_owner, None))
            .history(None)
            .encode(),
        "chain.recover_while_stolen",
    ));
    v.push(pv(
        "recover-void-item",
        "a recover after the maker voided the piece",
        bought()
            .push(&w.maker, w.at(4), RecordBody::Report(ReportStatus::Void))
            .push(&recovery, w.at(5), recover_to(&recovery, &new_owner, None))
            .history(None)
            .encode(),
        "chain.item_void",
    ));
    v.push(pv(
        "recover-to-current-owner",
        "a recover naming the current owner key as the new one",
        bought()
            .push(&recovery, w.at(5), recover_to(&recovery, &w.buyer, None))
            .history(None)
            .encode(),
        "chain.transfer_to_self",
    ));
    v.push(pv(
        "transfer-by-recovered-owner-key",
        "after the recover, the old (lost, maybe stolen) owner key signs a transfer",
        recovered()
            .push(&w.buyer, w.at(6), transfer_to(&carol, None))
            .history(None)
            .encode(),
        "chain.owner_key_recovered",
    ));
    v.push(pv(
        "recovery-report-unchanged",
        "the recovery key reports recovered a piece that is not reported stolen",
        bought()
            .push(
                &recovery,
                w.at(4),
                RecordBody::RecoveryReport(RecoveryReport {
                    recovery_key: recovery.public_key(),
                    status: ReportStatus::Recovered,
                }),
            )
            .history(None)
            .encode(),
        "chain.status_unchanged",
    ));
    v.push(pv(
        "void-by-recovery-key",
        "a void carrying a recovery key (key 5): a void is the maker's alone",
        bought()
            .push(
                &recovery,
                w.at(4),
                RecordBody::RecoveryReport(RecoveryReport {
                    recovery_key: recovery.public_key(),
                    status: ReportStatus::Void,
                }),
            )
            .history(None)
            .encode(),
        "decode.invalid_field",
    ));
    // A mint committing to a recovery key (key 10) without naming a first owner (key 9).
    let mut orphan = w.mint(2, None).to_payload();
    assert_eq!(orphan[0], 0xa7, "a maker-owned mint is a map of 7");
    orphan[0] = 0xa8;
    orphan.extend_from_slice(&[0x0a, 0x58, 0x20]);
    orphan.extend_from_slice(&RecoveryDigest::of(&recovery.public_key()).0);
    v.push(pv(
        "mint-recovery-without-owner",
        "a mint with a recovery commitment (key 10) but no first owner (key 9), validly signed",
        label(sign_raw_payload_for_vectors(&w.maker, orphan, None)),
        "decode.invalid_field",
    ));
    v.push(pv(
        "recovery-report-without-commitment",
        "a recovery key reports a piece stolen whose ownership committed to none",
        ChainBuilder::new(mint2.clone())
            .push(
                &recovery,
                w.at(4),
                RecordBody::RecoveryReport(RecoveryReport {
                    recovery_key: recovery.public_key(),
                    status: ReportStatus::Stolen,
                }),
            )
            .history(None)
            .encode(),
        "chain.recovery_not_committed",
    ));
}

fn payload_vectors(w: &World) -> Vec<PayloadVector> {
    let run = w.run_bytes();
    let mint2 = w.mint(2, None).sign(&w.maker, None);
    let full = ChainBuilder::new(mint2.clone())
        .push(&w.desk, w.at(2), repair("replaced the clasp"))
        .push(
            &w.maker,
            w.at(3),
            RecordBody::Transfer(w.buyer.public_key().into()),
        )
        .push(&w.host, w.at(4), badge());
    let stolen = ChainBuilder::new(mint2.clone())
        .push(
            &w.maker,
            w.at(3),
            RecordBody::Transfer(w.buyer.public_key().into()),
        )
        .push(&w.buyer, w.at(5), RecordBody::Report(ReportStatus::Stolen));
    let recovered = ChainBuilder::new(mint2.clone())
        .push(&w.maker, w.at(3), RecordBody::Report(ReportStatus::Stolen))
        .push(
            &w.maker,
            w.at(4),
            RecordBody::Report(ReportStatus::Recovered),
        );
    let void = ChainBuilder::new(mint2.clone()).push(
        &w.maker,
        w.at(2),
        RecordBody::Report(ReportStatus::Void),
    );
    let base = || ChainBuilder::new(mint2.clone());

    let mut v = Vec::new();
    let mut genuine = pv(
        "label",
        "a printed label: the mint record alone",
        label(mint2.clone()),
        "genuine",
    );
    genuine.warnings = vec!["payload.label_only"];
    v.push(genuine);
    let mut owned = pv(
        "label-with-owner",
        "a label whose mint names a first owner other than the maker",
        label(w.mint(1, Some(&w.buyer)).sign(&w.maker, None)),
        "genuine",
    );
    owned.warnings = vec!["payload.label_only"];
    v.push(owned);
    // Histories without the ledger's head statement: genuine, owner not confirmed (§14.3).
    let unconfirmed = "payload.owner_unconfirmed";
    let mut h = pv(
        "history-full",
        "run manifest, mint, repair, transfer to the buyer, badge",
        full.history(Some(run.clone())).encode(),
        "genuine",
    );
    h.warnings = vec![unconfirmed];
    v.push(h);
    let mut h = pv(
        "history-without-run",
        "mint and later records, no run manifest",
        full.history(None).encode(),
        "genuine",
    );
    h.warnings = vec![unconfirmed];
    v.push(h);
    let mut s = pv(
        "history-stolen",
        "transferred, then reported stolen by the new owner",
        stolen.history(None).encode(),
        "genuine",
    );
    s.warnings = vec!["item.stolen", unconfirmed];
    v.push(s);
    let mut h = pv(
        "history-recovered",
        "reported stolen and recovered by the maker as first owner",
        recovered.history(None).encode(),
        "genuine",
    );
    h.warnings = vec![unconfirmed];
    v.push(h);
    let mut vd = pv(
        "history-void",
        "voided by its maker",
        void.history(None).encode(),
        "genuine",
    );
    vd.warnings = vec!["item.void", unconfirmed];
    v.push(vd);

    // Payload layer.
    v.push(pv(
        "bad-prefix",
        "wrong version prefix",
        format!("PV2:{}", base45::encode(&mint2)),
        "payload.bad_prefix",
    ));
    v.push(pv(
        "bad-base45-lowercase",
        "a lower-case character is outside the base45 alphabet",
        format!("PV1:{}", base45::encode(&mint2).to_lowercase()),
        "payload.bad_base45",
    ));
    v.push(pv(
        "payload-too-large",
        "over 4296 characters",
        format!("PV1:{}", "0".repeat(4300)),
        "payload.too_large",
    ));
    v.push(pv(
        "container-not-map",
        "the CBOR item is an integer",
        label(vec![0x01]),
        "payload.bad_container",
    ));
    v.push(pv(
        "container-empty-records",
        "a container with no records",
        label(cbor(&Value::Map(vec![(
            Value::Integer(1.into()),
            Value::Array(vec![]),
        )]))),
        "payload.bad_container",
    ));
    v.push(pv(
        "container-head-not-cose",
        "a container whose head statement (key 3) is one byte, not a COSE_Sign1",
        label(cbor(&Value::Map(vec![
            (
                Value::Integer(1.into()),
                Value::Array(vec![Value::Bytes(mint2.clone())]),
            ),
            (Value::Integer(3.into()), Value::Bytes(vec![0])),
        ]))),
        "decode.not_cose_sign1",
    ));
    v.push(pv(
        "container-unknown-key",
        "a container with an unknown key 9",
        label(cbor(&Value::Map(vec![
            (
                Value::Integer(1.into()),
                Value::Array(vec![Value::Bytes(mint2.clone())]),
            ),
            (Value::Integer(9.into()), Value::Bytes(vec![0])),
        ]))),
        "decode.invalid_field",
    ));
    v.push(pv(
        "container-non-canonical",
        "the records array uses an indefinite length",
        label(
            [
                vec![0xa1, 0x01, 0x9f, 0x58, mint2.len() as u8],
                mint2.clone(),
                vec![0xff],
            ]
            .concat(),
        ),
        "decode.non_canonical",
    ));

    // Decode layer, on a label.
    v.push(pv(
        "record-too-large",
        "a record over 2048 bytes",
        label([vec![0xd2], vec![0u8; 2100]].concat()),
        "decode.too_large",
    ));
    v.push(pv(
        "record-truncated",
        "a mint cut short",
        label(mint2[..mint2.len() - 1].to_vec()),
        "decode.malformed",
    ));
    v.push(pv(
        "record-trailing-byte",
        "a zero byte after the mint",
        label([mint2.clone(), vec![0]].concat()),
        "decode.trailing_bytes",
    ));
    v.push(pv(
        "container-too-deep",
        "arrays nested 20 deep",
        label([vec![0xa1, 0x01], vec![0x81; 20], vec![0x40]].concat()),
        "decode.too_deep",
    ));
    v.push(pv(
        "record-not-cose-sign1",
        "tag 18 over an array of three",
        label(cbor(&Value::Tag(
            18,
            Box::new(Value::Array(vec![
                Value::Bytes(vec![]),
                Value::Map(vec![]),
                Value::Null,
            ])),
        ))),
        "decode.not_cose_sign1",
    ));
    let mint_payload = w.mint(2, None).to_payload();
    v.push(pv(
        "record-alg-eddsa",
        "protected header says alg -8 (EdDSA) instead of -19 (Ed25519), validly signed",
        label(hand_cose(
            &w.maker,
            protected_with_kid(0x27, &w.maker),
            Value::Map(vec![]),
            Some(mint_payload.clone()),
            b"",
        )),
        "decode.bad_protected_header",
    ));
    v.push(pv(
        "record-kid-unprotected",
        "the key id also sits in the unprotected header, which nothing signs",
        label(hand_cose(
            &w.maker,
            protected_with_kid(0x32, &w.maker),
            Value::Map(vec![(Value::Integer(4.into()), Value::Bytes(vec![1]))]),
            Some(mint_payload.clone()),
            b"",
        )),
        "decode.unprotected_header",
    ));
    v.push(pv(
        "record-detached",
        "the payload is nil (detached)",
        label(hand_cose(
            &w.maker,
            protected_with_kid(0x32, &w.maker),
            Value::Map(vec![]),
            None,
            b"",
        )),
        "decode.detached_payload",
    ));
    let signed_raw =
        |payload: Vec<u8>| label(sign_raw_payload_for_vectors(&w.maker, payload, None));
    let mut dup = mint_payload.clone();
    dup[0] += 1; // one more pair in the map header
    dup.extend_from_slice(&[0x05, 0x02]); // key 5 (edition) again
    v.push(pv(
        "payload-duplicate-key",
        "edition number appears twice, validly signed",
        signed_raw(dup),
        "decode.duplicate_key",
    ));
    let mut long_int = mint_payload.clone();
    let at = long_int.windows(2).position(|p| p == [0x01, 0x02]).unwrap();
    long_int.splice(at + 1..at + 2, [0x18, 0x02]); // kind 2 written in two bytes
    v.push(pv(
        "payload-non-canonical-int",
        "kind 2 written as 0x18 0x02, validly signed",
        signed_raw(long_int),
        "decode.non_canonical",
    ));
    let mut kind9 = mint_payload.clone();
    kind9[at + 1] = 0x09;
    v.push(pv(
        "payload-unknown-kind",
        "kind 9, validly signed",
        signed_raw(kind9),
        "decode.unknown_kind",
    ));
    v.push(pv(
        "payload-missing-field",
        "a mint without its edition number, validly signed",
        signed_raw(cbor(&Value::Map(vec![
            (Value::Integer(1.into()), Value::Integer(2.into())),
            (Value::Integer(2.into()), Value::Integer(w.at(1).0.into())),
        ]))),
        "decode.invalid_field",
    ));
    let mut weak_owner = w.mint(2, Some(&w.buyer)).to_payload();
    let kpos = weak_owner.len() - 32;
    weak_owner[kpos..].copy_from_slice(&{
        let mut id = [0u8; 32];
        id[0] = 1;
        id
    });
    v.push(pv(
        "payload-weak-owner-key",
        "first owner is the small-order identity point",
        signed_raw(weak_owner),
        "decode.bad_public_key",
    ));
    // y ≥ p (RFC 8032 §5.1.3): p + y' for a small y' whose point is not of small order.
    let non_canonical = (2u8..19)
        .map(|small| {
            let mut bytes = [0xffu8; 32];
            bytes[0] = 0xed + small;
            bytes[31] = 0x7f;
            bytes
        })
        .find(|b| ed25519_dalek::VerifyingKey::from_bytes(b).is_ok_and(|k| !k.is_weak()))
        .unwrap();
    let mut odd_owner = w.mint(2, Some(&w.buyer)).to_payload();
    odd_owner[kpos..].copy_from_slice(&non_canonical);
    v.push(pv(
        "payload-non-canonical-owner-key",
        "first owner key encodes y + p (y >= p): decompresses, but is not the canonical encoding",
        signed_raw(odd_owner),
        "decode.bad_public_key",
    ));

    // Signatures and chain binding.
    let mut tampered = mint2.clone();
    let pos = tampered
        .windows(11)
        .position(|p| p == b"Eclipse Pin")
        .unwrap();
    tampered[pos] = b'e';
    v.push(pv(
        "mint-tampered",
        "one letter of the title changed after signing",
        label(tampered),
        "record.signature_invalid",
    ));
    let other_mint = w.mint(3, None).sign(&w.maker, None);
    let foreign =
        ChainBuilder::new(other_mint).push(&w.desk, w.at(2), repair("replaced the clasp"));
    v.push(pv(
        "record-replayed-other-item",
        "a repair signed for item 3/3 placed after the mint of 2/3",
        base()
            .push_bytes(foreign.records[1].clone())
            .history(None)
            .encode(),
        "record.signature_invalid",
    ));
    let reordered = {
        let b =
            base()
                .push(&w.desk, w.at(2), repair("first"))
                .push(&w.desk, w.at(2), repair("second"));
        let mut records = b.records.clone();
        records.swap(1, 2);
        Payload::History(History {
            records,
            run: None,
            head: None,
            anchor: None,
        })
        .encode()
    };
    v.push(pv(
        "records-swapped",
        "two repairs swapped in order",
        reordered,
        "chain.seq_mismatch",
    ));
    v.push(pv(
        "first-not-mint",
        "a history that starts with a repair",
        Payload::History(History {
            records: vec![full.records[1].clone()],
            run: None,
            head: None,
            anchor: None,
        })
        .encode(),
        "chain.first_not_mint",
    ));
    v.push(pv(
        "second-mint",
        "a mint in second position",
        Payload::History(History {
            records: vec![mint2.clone(), mint2.clone()],
            run: None,
            head: None,
            anchor: None,
        })
        .encode(),
        "chain.unexpected_kind",
    ));
    let skip = {
        let b = base();
        let record = Record {
            time: w.at(2),
            seq: 2,
            body: repair("skipped a number"),
        };
        let bytes = record.sign(&w.desk, Some(&b.link()));
        b.push_bytes(bytes)
    };
    v.push(pv(
        "seq-skipped",
        "a repair numbered 2 right after the mint",
        skip.history(None).encode(),
        "chain.seq_mismatch",
    ));
    v.push(pv(
        "time-regressed",
        "a repair dated before the mint",
        base()
            .push(&w.desk, w.start, repair("too early"))
            .history(None)
            .encode(),
        "chain.time_regressed",
    ));
    v.push(pv(
        "time-in-future",
        "a repair dated a day after the verifier's now",
        base()
            .push(&w.desk, Timestamp(w.now.0 + DAY), repair("from the future"))
            .history(None)
            .encode(),
        "chain.time_in_future",
    ));
    v.push(pv(
        "unknown-signer",
        "a repair signed by a key the trust list does not name",
        base()
            .push(&w.stranger, w.at(2), repair("by a stranger"))
            .history(None)
            .encode(),
        "chain.unknown_signer",
    ));
    v.push(pv(
        "mint-by-desk",
        "a mint signed by a trusted repair desk, not a maker",
        label(w.mint(2, None).sign(&w.desk, None)),
        "chain.signer_not_authorized",
    ));
    v.push(pv(
        "repair-by-host",
        "a repair signed by an event host",
        base()
            .push(&w.host, w.at(2), repair("by a host"))
            .history(None)
            .encode(),
        "chain.signer_not_authorized",
    ));
    v.push(pv(
        "transfer-by-non-owner",
        "after the sale, the maker (no longer owner) transfers again",
        full.clone_chain()
            .push(
                &w.maker,
                w.at(5),
                RecordBody::Transfer(w.stranger.public_key().into()),
            )
            .history(None)
            .encode(),
        "chain.signer_not_owner",
    ));
    v.push(pv(
        "stolen-by-non-owner",
        "a stranger reports the piece stolen",
        base()
            .push(
                &w.stranger,
                w.at(2),
                RecordBody::Report(ReportStatus::Stolen),
            )
            .history(None)
            .encode(),
        "chain.signer_not_owner",
    ));
    v.push(pv(
        "void-by-desk",
        "a repair desk tries to void the piece",
        base()
            .push(&w.desk, w.at(2), RecordBody::Report(ReportStatus::Void))
            .history(None)
            .encode(),
        "chain.signer_not_maker",
    ));
    v.push(pv(
        "badge-key-not-yet-valid",
        "a badge by a host whose trust starts in 2027",
        base()
            .push(&w.future_host, w.at(2), badge())
            .history(None)
            .encode(),
        "chain.key_not_yet_valid",
    ));
    v.push(pv(
        "repair-key-expired",
        "a repair by a desk whose trust ended 2026-02-01",
        base()
            .push(&w.expired_desk, w.at(2), repair("late"))
            .history(None)
            .encode(),
        "chain.key_expired",
    ));
    let revoked_mint = Record {
        time: w.at(1),
        seq: 0,
        body: RecordBody::Mint(Mint {
            run: RunId([0xaa; 16]),
            number: 1,
            size: 10,
            title: "Gone Goods Cup".into(),
            microfactory: "Gone Works".into(),
            owner: None,
        }),
    };
    v.push(pv(
        "mint-key-revoked",
        "a mint dated after its maker's key was revoked",
        label(revoked_mint.sign(&w.revoked_maker, None)),
        "chain.key_revoked",
    ));
    v.push(pv(
        "record-after-void",
        "a repair after the maker voided the piece",
        void.clone_chain()
            .push(&w.desk, w.at(3), repair("too late"))
            .history(None)
            .encode(),
        "chain.item_void",
    ));
    v.push(pv(
        "recovered-not-stolen",
        "recovered reported while not stolen",
        base()
            .push(
                &w.maker,
                w.at(2),
                RecordBody::Report(ReportStatus::Recovered),
            )
            .history(None)
            .encode(),
        "chain.status_unchanged",
    ));
    v.push(pv(
        "stolen-twice",
        "stolen reported twice",
        stolen
            .clone_chain()
            .push(&w.buyer, w.at(6), RecordBody::Report(ReportStatus::Stolen))
            .history(None)
            .encode(),
        "chain.status_unchanged",
    ));
    v.push(pv(
        "transfer-to-self",
        "the owner transfers to its own key",
        base()
            .push(
                &w.maker,
                w.at(2),
                RecordBody::Transfer(w.maker.public_key().into()),
            )
            .history(None)
            .encode(),
        "chain.transfer_to_self",
    ));

    // Edition and run rules.
    v.push(pv(
        "edition-zero",
        "edition 0 of 3",
        label(w.mint(0, None).sign(&w.maker, None)),
        "run.edition_zero",
    ));
    v.push(pv(
        "edition-over-cap",
        "edition 4 of 3",
        label(w.mint(4, None).sign(&w.maker, None)),
        "run.edition_over_cap",
    ));
    let mut huge_run = w.mint(1, None);
    if let RecordBody::Mint(m) = &mut huge_run.body {
        m.size = provenance_core::limits::MAX_RUN_SIZE + 1;
    }
    v.push(pv(
        "run-size-over-limit",
        "edition 1 of 1,000,001: a run larger than the format allows (spec §9)",
        label(huge_run.sign(&w.maker, None)),
        "run.size_over_limit",
    ));
    let other_run = Record {
        time: w.start,
        seq: 0,
        body: RecordBody::RunManifest(RunManifest {
            title: "Eclipse Pin".into(),
            microfactory: "Northside Microfactory".into(),
            place: "Leeds".into(),
            size: 3,
            window_start: w.start,
            window_end: w.at(31),
        }),
    }
    .sign(&w.maker, None);
    v.push(pv(
        "run-id-mismatch",
        "the carried run manifest is another run of the same maker",
        base().history(Some(other_run)).encode(),
        "run.mismatch",
    ));
    let mut foreign_run = w.run_manifest();
    foreign_run.time = w.start;
    v.push(pv(
        "run-other-maker",
        "the carried run manifest is signed by another maker",
        base()
            .history(Some(foreign_run.sign(&w.other_maker, None)))
            .encode(),
        "run.mismatch",
    ));
    let late_mint = Record {
        time: w.at(40),
        ..w.mint(2, None)
    }
    .sign(&w.maker, None);
    v.push(pv(
        "mint-outside-window",
        "minted ten days after the production window closed",
        ChainBuilder::new(late_mint)
            .history(Some(run.clone()))
            .encode(),
        "run.outside_window",
    ));
    let mut bad_window = w.run_manifest();
    if let RecordBody::RunManifest(m) = &mut bad_window.body {
        m.window_end = Timestamp(w.start.0 - DAY);
    }
    v.push(pv(
        "run-window-inverted",
        "the run's window ends before it starts",
        base()
            .history(Some(bad_window.sign(&w.maker, None)))
            .encode(),
        "run.invalid_window",
    ));

    // Trust list layer.
    let mut tampered_trust = w.trust_bytes.clone();
    let pos = tampered_trust
        .windows(12)
        .position(|p| p == b"Karim Studio")
        .unwrap();
    tampered_trust[pos] = b'k';
    let mut tv = pv(
        "trust-tampered",
        "one letter of a trust entry's name changed",
        label(mint2.clone()),
        "trust.signature_invalid",
    );
    tv.trust_list = tampered_trust;
    v.push(tv);
    let mut tv = pv(
        "trust-other-operator",
        "a trust list signed by another operator than the pinned one",
        label(mint2.clone()),
        "trust.operator_mismatch",
    );
    tv.trust_list = TrustListContent {
        version: 1,
        issued_at: t("2026-01-15"),
        ledger: None,
        entries: vec![entry(&w.maker, Role::Maker, "Karim Studio", "2026-01-01")],
    }
    .sign(&w.stranger);
    v.push(tv);
    let mut tv = pv(
        "trust-duplicate-entry",
        "two entries for the maker's key",
        label(mint2.clone()),
        "trust.duplicate_entry",
    );
    tv.trust_list = TrustListContent {
        version: 1,
        issued_at: t("2026-01-15"),
        ledger: None,
        entries: vec![
            entry(&w.maker, Role::Maker, "Karim Studio", "2026-01-01"),
            entry(&w.maker, Role::Host, "Karim Studio", "2026-01-01"),
        ],
    }
    .sign(&w.operator);
    v.push(tv);

    // Text that could drive a terminal (spec §3): refused wherever it is decoded.
    v.push(pv(
        "text-escape-in-badge",
        "a badge whose event name clears the screen (ESC [2J) and forges an Owners line",
        base()
            .push(
                &w.host,
                w.at(4),
                RecordBody::Badge(Badge {
                    event: "Fair\u{1b}[2J\r\n  Owners      1 so far".into(),
                    place: None,
                }),
            )
            .history(None)
            .encode(),
        "decode.bad_text",
    ));
    v.push(pv(
        "text-bidi-in-repair-part",
        "a repair part holding U+202E RIGHT-TO-LEFT OVERRIDE",
        base()
            .push(
                &w.desk,
                w.at(4),
                RecordBody::Repair(Repair {
                    note: "new clasp".into(),
                    parts: vec!["clasp \u{202e}2021".into()],
                }),
            )
            .history(None)
            .encode(),
        "decode.bad_text",
    ));
    let mut tv = pv(
        "text-newline-in-trust-name",
        "a trust list whose maker display name holds a newline",
        label(mint2.clone()),
        "decode.bad_text",
    );
    tv.trust_list = TrustListContent {
        version: 1,
        issued_at: t("2026-01-15"),
        ledger: None,
        entries: vec![entry(&w.maker, Role::Maker, "Karim\nStudio", "2026-01-01")],
    }
    .sign(&w.operator);
    v.push(tv);

    // Issue 9 items 5 and 6: non-canonical keys where a transfer or a trust entry names a key,
    // and a C1 control character (CSI, a one-character escape sequence on some terminals).
    let base_chain = base();
    let mut to_alias = Record {
        time: w.at(3),
        seq: base_chain.next_seq(),
        body: RecordBody::Transfer(w.buyer.public_key().into()),
    }
    .to_payload();
    let kpos = to_alias.len() - 32;
    to_alias[kpos..].copy_from_slice(&non_canonical);
    let link = base_chain.link();
    v.push(pv(
        "transfer-to-non-canonical-key",
        "the maker-owner transfers to a key encoding y + p (y >= p), validly signed at its position",
        base_chain
            .push_bytes(sign_raw_payload_for_vectors(&w.maker, to_alias, Some(&link)))
            .history(None)
            .encode(),
        "decode.bad_public_key",
    ));
    let mut tv = pv(
        "trust-entry-non-canonical-key",
        "a trust list, validly signed by the operator, whose host entry's key encodes y + p",
        label(mint2.clone()),
        "decode.bad_public_key",
    );
    let listed = TrustListContent {
        version: 1,
        issued_at: t("2026-01-15"),
        ledger: None,
        entries: vec![
            entry(&w.maker, Role::Maker, "Karim Studio", "2026-01-01"),
            entry(&w.stranger, Role::Host, "Alias Fair", "2026-01-01"),
        ],
    }
    .sign(&w.operator);
    // Re-signing an unedited payload gives back the operator's list, byte for byte.
    assert_eq!(resign_trust_payload(&listed, |_| {}), listed);
    tv.trust_list = resign_trust_payload(&listed, |payload| {
        let stranger = w.stranger.public_key().to_bytes();
        let at = payload.windows(32).position(|k| k == stranger).unwrap();
        payload[at..at + 32].copy_from_slice(&non_canonical);
    });
    v.push(tv);
    v.push(pv(
        "text-c1-csi-in-repair-note",
        "a repair note holding U+009B (C1 CSI) followed by 2J",
        base()
            .push(&w.desk, w.at(4), repair("polished\u{9b}2J"))
            .history(None)
            .encode(),
        "decode.bad_text",
    ));
    recovery_vectors(w, &mut v);
    living_vectors(w, &mut v);
    for vector in &mut v {
        if vector.trust_list.is_empty() {
            vector.trust_list = w.trust_bytes.clone();
        }
    }
    v
}

impl ChainBuilder {
    fn clone_chain(&self) -> ChainBuilder {
        ChainBuilder {
            records: self.records.clone(),
            item: self.item,
        }
    }
}

/// The ledger key named in the world's trust list.
fn ledger_key() -> SigningKey {
    key(9)
}

/// A signed trust list with its payload edited by `edit`, signed again by the operator (seed 1)
/// over the trust-list Sig_structure, so only the edit can make it fail.
fn resign_trust_payload(signed: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let Value::Tag(18, inner) = ciborium::de::from_reader::<Value, _>(signed).unwrap() else {
        panic!("not a COSE_Sign1")
    };
    let Value::Array(mut fields) = *inner else {
        panic!("not an array")
    };
    let mut payload = fields[2].as_bytes().unwrap().clone();
    edit(&mut payload);
    let tbs = cbor(&Value::Array(vec![
        Value::Text("Signature1".into()),
        fields[0].clone(),
        Value::Bytes(b"provenance/v1 trust-list".to_vec()),
        Value::Bytes(payload.clone()),
    ]));
    let operator = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    assert_eq!(
        operator.verifying_key().to_bytes(),
        key(1).public_key().to_bytes()
    );
    fields[2] = Value::Bytes(payload);
    fields[3] = Value::Bytes(operator.sign(&tbs).to_bytes().to_vec());
    cbor(&Value::Tag(18, Box::new(Value::Array(fields))))
}

/// Living payloads (mint + head statement) and anchored histories (spec §14).
fn living_vectors(w: &World, v: &mut Vec<PayloadVector>) {
    let trust = TrustList::verify(&w.trust_bytes, Some(&w.operator.public_key())).unwrap();
    let mint = w.mint(3, None).sign(&w.maker, None);
    let b = ChainBuilder::new(mint.clone())
        .push(&w.desk, w.at(2), repair("polished"))
        .push(
            &w.maker,
            w.at(3),
            RecordBody::Transfer(w.buyer.public_key().into()),
        );
    let chain_of = |records: &[Vec<u8>]| {
        verify_chain(records.iter().map(Vec::as_slice), &trust, w.now).unwrap()
    };
    let chain = chain_of(&b.records);
    let statement = HeadStatement::for_chain(&chain, Timestamp(w.now.0 - 2 * DAY), 40);
    let living = |head: Vec<u8>, records: Vec<Vec<u8>>| {
        Payload::History(History {
            records,
            run: None,
            head: Some(payload::HeadStatementBytes(head)),
            anchor: None,
        })
        .encode()
    };
    let mint_only = vec![mint.clone()];
    let signed = statement.sign(&ledger_key());
    v.push(pv(
        "living-mint-and-head",
        "the mint and a head statement naming the buyer as owner after a repair and a transfer",
        living(signed.clone(), mint_only.clone()),
        "genuine",
    ));
    v.push(pv(
        "living-full-chain",
        "every record and a head statement that matches the last one",
        living(signed.clone(), b.records.clone()),
        "genuine",
    ));
    let mut old = statement.clone();
    old.time = Timestamp(w.now.0 - 31 * DAY);
    let mut old_vector = pv(
        "living-head-old",
        "a head statement made 31 days before now (default maximum age 30 days)",
        living(old.sign(&ledger_key()), mint_only.clone()),
        "genuine",
    );
    old_vector.warnings = vec!["head.old"];
    v.push(old_vector);
    let other = ChainBuilder::new(w.mint(2, None).sign(&w.maker, None));
    let other_statement =
        HeadStatement::for_chain(&chain_of(&other.records), Timestamp(w.now.0 - 2 * DAY), 40);
    v.push(pv(
        "head-other-item",
        "a valid head statement for edition 2 stapled to edition 3",
        living(other_statement.sign(&ledger_key()), mint_only.clone()),
        "head.item_mismatch",
    ));
    let earlier = HeadStatement::for_chain(&chain_of(&b.records[..2]), w.at(2), 20);
    v.push(pv(
        "head-older-than-records",
        "a head statement at the repair stapled to records that reach the later transfer",
        living(earlier.sign(&ledger_key()), b.records.clone()),
        "head.stale",
    ));
    v.push(pv(
        "head-signed-by-operator",
        "a head statement signed by the operator key instead of the ledger key",
        living(statement.sign(&w.operator), mint_only.clone()),
        "head.signer_not_ledger",
    ));
    let mut forged = signed.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    v.push(pv(
        "head-signature-flipped",
        "the last byte of the head statement's signature flipped",
        living(forged, mint_only.clone()),
        "head.signature_invalid",
    ));
    let mut lying = statement.clone();
    lying.owner = w.stranger.public_key();
    v.push(pv(
        "head-contradicts-records",
        "a ledger-signed head naming another owner at the same position as the records",
        living(lying.sign(&ledger_key()), b.records.clone()),
        "head.mismatch",
    ));
    let mut future = statement.clone();
    future.time = Timestamp(w.now.0 + DAY);
    v.push(pv(
        "head-from-the-future",
        "a head statement dated one day after now",
        living(future.sign(&ledger_key()), mint_only.clone()),
        "head.time_in_future",
    ));
    let mut no_ledger = pv(
        "head-without-ledger-key",
        "a head statement checked against a trust list that names no ledger key",
        living(signed.clone(), mint_only.clone()),
        "head.no_ledger_key",
    );
    no_ledger.trust_list = TrustListContent {
        version: 1,
        issued_at: t("2026-01-15"),
        ledger: None,
        entries: vec![entry(&w.maker, Role::Maker, "Karim Studio", "2026-01-01")],
    }
    .sign(&w.operator);
    v.push(no_ledger);

    // Anchored histories: a log of 5 leaves, the chain's three records at 1, 2 and 4.
    let mut tree = log::MemoryTree::new();
    let leaves = [
        log::run_leaf(&RunId::derive(&w.run_bytes()), &w.run_bytes()),
        log::item_leaf(&b.item, 0, &b.records[0]),
        log::item_leaf(&b.item, 1, &b.records[1]),
        log::item_leaf(&ItemId::derive(&other.records[0]), 0, &other.records[0]),
        log::item_leaf(&b.item, 2, &b.records[2]),
    ];
    for leaf in &leaves {
        tree.push(log::leaf_hash(leaf));
    }
    let size = tree.size();
    let checkpoint = checkpoint::Checkpoint {
        origin: "ledger.example/v1".into(),
        size,
        root: log::root(&tree, size).unwrap(),
    };
    let note = checkpoint.sign(&ledger_key(), "ledger.example/v1").unwrap();
    let proof: Vec<[u8; 32]> = log::inclusion_proof(&tree, 4, size)
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|h| h.0)
        .collect();
    let anchored = |checkpoint: String, index: u64, proof: Vec<[u8; 32]>| {
        Payload::History(History {
            records: b.records.clone(),
            run: None,
            head: Some(payload::HeadStatementBytes(signed.clone())),
            anchor: Some(payload::LogAnchor {
                checkpoint,
                index,
                proof,
            }),
        })
        .encode()
    };
    v.push(pv(
        "anchored-history",
        "every record, the head statement, a ledger-signed checkpoint of 5 leaves and the last record's inclusion proof",
        anchored(note.clone(), 4, proof.clone()),
        "genuine",
    ));
    // A fresh item (only its mint): its head statement names seq 0 (spec §14.1), as served
    // by /head, /payload and /export for such an item.
    let fresh_head = other_statement.sign(&ledger_key());
    assert_eq!(other_statement.seq, 0);
    let fresh = |anchor: Option<payload::LogAnchor>| {
        Payload::History(History {
            records: other.records.clone(),
            run: None,
            head: Some(payload::HeadStatementBytes(fresh_head.clone())),
            anchor,
        })
        .encode()
    };
    v.push(pv(
        "living-fresh-item",
        "the living payload of an item that has only its mint: the mint and a head statement with seq 0",
        fresh(None),
        "genuine",
    ));
    let fresh_proof: Vec<[u8; 32]> = log::inclusion_proof(&tree, 3, size)
        .unwrap()
        .unwrap()
        .into_iter()
        .map(|h| h.0)
        .collect();
    v.push(pv(
        "anchored-fresh-item",
        "the export of an item that has only its mint: mint, seq-0 head statement, checkpoint and the mint's inclusion proof",
        fresh(Some(payload::LogAnchor {
            checkpoint: note.clone(),
            index: 3,
            proof: fresh_proof,
        })),
        "genuine",
    ));
    let mut bent = proof.clone();
    bent[0][0] ^= 0x01;
    v.push(pv(
        "anchor-proof-hash-flipped",
        "one bit flipped in the first hash of the inclusion proof",
        anchored(note.clone(), 4, bent),
        "log.root_mismatch",
    ));
    v.push(pv(
        "anchor-index-beyond-size",
        "leaf index 5 in a log of 5 leaves",
        anchored(note.clone(), 5, proof.clone()),
        "log.index_out_of_range",
    ));
    v.push(pv(
        "anchor-proof-too-long",
        "one extra hash at the end of the inclusion proof",
        anchored(note.clone(), 4, [proof.clone(), vec![[0; 32]]].concat()),
        "log.wrong_proof_length",
    ));
    v.push(pv(
        "anchor-checkpoint-not-ledger",
        "a checkpoint signed by the operator key instead of the ledger key",
        anchored(
            checkpoint.sign(&w.operator, "ledger.example/v1").unwrap(),
            4,
            proof.clone(),
        ),
        "checkpoint.unknown_key",
    ));
    v.push(pv(
        "anchor-checkpoint-resized",
        "the checkpoint's size line changed from 5 to 6 after signing",
        anchored(note.replacen("\n5\n", "\n6\n", 1), 4, proof.clone()),
        "checkpoint.signature_invalid",
    ));
    v.push(pv(
        "anchor-short-hash",
        "a log anchor whose proof hash is 31 bytes (hashes are exactly 32)",
        label(cbor(&Value::Map(vec![
            (
                Value::Integer(1.into()),
                Value::Array(b.records.iter().cloned().map(Value::Bytes).collect()),
            ),
            (
                Value::Integer(4.into()),
                Value::Array(vec![
                    Value::Text(note.clone()),
                    Value::Integer(4.into()),
                    Value::Array(vec![Value::Bytes(vec![0; 31])]),
                ]),
            ),
        ]))),
        "payload.bad_container",
    ));
    v.push(pv(
        "anchor-checkpoint-unsigned",
        "a checkpoint body with no signature block",
        anchored(checkpoint.body(), 4, proof),
        "checkpoint.malformed",
    ));
}

/// The outcome the library gives a vector: "genuine" plus warnings, or the first error code.
fn outcome(
    payload: &str,
    trust_list: &[u8],
    operator: &PublicKey,
    now: Timestamp,
) -> (String, Vec<&'static str>) {
    let trust = match TrustList::verify(trust_list, Some(operator)) {
        Ok(t) => t,
        Err(e) => return (e.code().into(), vec![]),
    };
    let payload = match Payload::decode(payload) {
        Ok(p) => p,
        Err(e) => return (e.code().into(), vec![]),
    };
    match payload.verify(&trust, now) {
        Err(e) => (e.code().into(), vec![]),
        Ok(verified) => {
            let chain = &verified.chain;
            let mut warnings = Vec::new();
            if chain.is_void() {
                warnings.push("item.void");
            }
            if chain.is_stolen() {
                warnings.push("item.stolen");
            }
            if matches!(payload, Payload::Label(_)) {
                warnings.push("payload.label_only");
            }
            // The default maximum age of a head statement is 30 days (spec §14.3).
            if verified
                .head
                .as_ref()
                .is_some_and(|h| h.time.0.saturating_add(30 * DAY) < now.0)
            {
                warnings.push("head.old");
            }
            // A history without the ledger's head statement: owner not confirmed (spec §14.3).
            if !matches!(payload, Payload::Label(_)) && verified.head.is_none() {
                warnings.push("payload.owner_unconfirmed");
            }
            ("genuine".into(), warnings)
        }
    }
}

fn record_vectors(w: &World) -> Json {
    let run = w.run_bytes();
    let mint = w.mint(1, None).sign(&w.maker, None);
    let b = ChainBuilder::new(mint.clone())
        .push(&w.desk, w.at(2), repair("replaced the clasp"))
        .push(
            &w.maker,
            w.at(3),
            RecordBody::Transfer(w.buyer.public_key().into()),
        )
        .push(&w.host, w.at(4), badge())
        .push(&w.buyer, w.at(5), RecordBody::Report(ReportStatus::Stolen))
        .push(
            &w.buyer,
            w.at(6),
            RecordBody::Report(ReportStatus::Recovered),
        )
        .push(&w.maker, w.at(7), RecordBody::Report(ReportStatus::Void));
    let signers = [
        &w.maker, &w.desk, &w.maker, &w.host, &w.buyer, &w.buyer, &w.maker,
    ];
    let names = [
        "mint",
        "repair",
        "transfer",
        "badge",
        "report-stolen",
        "report-recovered",
        "report-void",
    ];
    let mut out = vec![json!({
        "name": "run-manifest",
        "kind": "run",
        "cose_hex": hex::encode(&run),
        "signer_public_key_hex": hex::encode(w.maker.public_key().to_bytes()),
        "external_aad_hex": "",
        "record_hash_hex": RecordHash::of(&run).to_hex(),
        "derived_id_base32": RunId::derive(&run).to_base32(),
    })];
    for (i, bytes) in b.records.iter().enumerate() {
        let aad = if i == 0 {
            String::new()
        } else {
            let link = ChainLink {
                item: b.item,
                prev: RecordHash::of(&b.records[i - 1]),
            };
            hex::encode(link.external_aad())
        };
        let mut v = json!({
            "name": names[i],
            "kind": DecodedRecord::decode(bytes).unwrap().record.body.kind().name(),
            "seq": i,
            "cose_hex": hex::encode(bytes),
            "signer_public_key_hex": hex::encode(signers[i].public_key().to_bytes()),
            "external_aad_hex": aad,
            "record_hash_hex": RecordHash::of(bytes).to_hex(),
        });
        if i == 0 {
            v["derived_id_base32"] = json!(b.item.to_base32());
        }
        out.push(v);
    }
    json!({
        "description": "One valid record of every kind, forming one chain (item 1/3 of the run). Each verifies as a plain RFC 9052 COSE_Sign1 with Ed25519 (alg -19) under signer_public_key_hex, with external_aad_hex as external_aad. derived_id = base32(SHA-256(cose)[0..16]).",
        "records": out,
    })
}

fn challenge_vectors(w: &World) -> Json {
    let item = ItemId::derive(&w.mint(1, None).sign(&w.maker, None));
    let answer = challenge::prove(&w.buyer, &item, b"buyer-nonce-42").unwrap();
    let v = |name: &str,
             owner: &SigningKey,
             item: ItemId,
             challenge: &str,
             answer: &str,
             expect: &str| {
        json!({
            "name": name,
            "item_base32": item.to_base32(),
            "owner_public_key_hex": hex::encode(owner.public_key().to_bytes()),
            "challenge": challenge,
            "answer": answer,
            "expect": expect,
        })
    };
    json!({
        "description": "Owner challenge answers: Ed25519 over 'provenance/v1 owner-proof\\0' || item id || len(challenge) || challenge, as unpadded base64url.",
        "vectors": [
            v("right-owner", &w.buyer, item, "buyer-nonce-42", &answer, "valid"),
            v("earlier-owner-key", &w.maker, item, "buyer-nonce-42", &answer, "proof.invalid"),
            v("other-item", &w.buyer, ItemId([0x11; 16]), "buyer-nonce-42", &answer, "proof.invalid"),
            v("other-challenge", &w.buyer, item, "buyer-nonce-43", &answer, "proof.invalid"),
            v("truncated-answer", &w.buyer, item, "buyer-nonce-42", &answer[..80], "proof.malformed"),
        ],
    })
}

/// Owner checks on whole payloads (issue 20.2): which answers pass, fail or are not judged.
/// Only a payload carrying the ledger's head statement names today's owner; a label (the owner
/// at minting) or a history without the statement (its last owner) never passes anyone.
fn owner_check_vectors(w: &World) -> Json {
    let item_of = |mint: Record| ItemId::derive(&mint.sign(&w.maker, None));
    let label_item = item_of(w.mint(2, None));
    let first_owner_item = item_of(w.mint(1, Some(&w.buyer)));
    let living_item = item_of(w.mint(3, None));
    let nonce = "K7QH-2M9X-TDPA";
    let answer = |key: &SigningKey, item: &ItemId, nonce: &str| {
        challenge::prove(key, item, nonce.as_bytes()).unwrap()
    };
    #[allow(clippy::too_many_arguments)]
    let v = |name: &str,
             description: &str,
             payload: &str,
             answer: String,
             challenge: &str,
             expect: &str,
             code: Option<&str>| {
        json!({
            "name": name,
            "description": description,
            "payload_vector": payload,
            "challenge": challenge,
            "answer": answer,
            "expect": expect,
            "code": code,
        })
    };
    json!({
        "description": "Owner checks on whole payloads (spec §9). Verify the payloads.json vector named payload_vector as that file says, then check answer against challenge. expect is 'passed' (made with the key of the owner the ledger's head statement names), 'failed' (code: proof.invalid or proof.malformed) or 'not_judged' (code: why no answer can be judged: the payload does not show today's owner).",
        "vectors": [
            v("label-maker-answers", "a label; the maker, owner at minting, answers: they may have sold the piece since", "label", answer(&w.maker, &label_item, nonce), nonce, "not_judged", Some("payload.label_only")),
            v("label-buyer-answers", "a label; the buyer answers: they may own it today, but a label cannot show it", "label", answer(&w.buyer, &label_item, nonce), nonce, "not_judged", Some("payload.label_only")),
            v("label-first-owner-answers", "a label naming the buyer as first owner; the buyer answers", "label-with-owner", answer(&w.buyer, &first_owner_item, nonce), nonce, "not_judged", Some("payload.label_only")),
            v("history-last-owner-answers", "a history without the ledger's head statement; its last owner answers: it may be cut before a later sale", "history-full", answer(&w.buyer, &label_item, nonce), nonce, "not_judged", Some("payload.owner_unconfirmed")),
            v("living-owner-answers", "a living payload; the owner its head statement names answers", "living-full-chain", answer(&w.buyer, &living_item, nonce), nonce, "passed", None),
            v("living-former-owner-answers", "a living payload; the maker, who sold it, answers", "living-full-chain", answer(&w.maker, &living_item, nonce), nonce, "failed", Some("proof.invalid")),
            v("living-other-challenge", "a living payload; the owner's answer to another challenge", "living-full-chain", answer(&w.buyer, &living_item, "ANOTHER-NONCE"), nonce, "failed", Some("proof.invalid")),
            v("living-malformed-answer", "a living payload; an answer that is not one", "living-full-chain", "not-an-answer".to_string(), nonce, "failed", Some("proof.malformed")),
        ],
    })
}

fn generate() -> Vec<(&'static str, String)> {
    let w = World::new();
    let payloads: Vec<Json> = payload_vectors(&w)
        .into_iter()
        .map(|v| {
            json!({
                "name": v.name,
                "description": v.description,
                "payload": v.payload,
                "trust_list_hex": hex::encode(&v.trust_list),
                "operator_public_key_hex": hex::encode(w.operator.public_key().to_bytes()),
                "now": w.now.to_rfc3339(),
                "expect": v.expect,
                "warnings": v.warnings,
            })
        })
        .collect();
    let payloads = json!({
        "description": "QR payload vectors. Verify trust_list_hex with operator_public_key_hex pinned, decode payload, verify it at now. expect is 'genuine' or the first error code (spec §6, codes in §10); warnings lists the findings of a genuine payload.",
        "vectors": payloads,
    });
    let pretty = |j: &Json| serde_json::to_string_pretty(j).unwrap() + "\n";
    vec![
        ("payloads.json", pretty(&payloads)),
        ("records.json", pretty(&record_vectors(&w))),
        ("challenges.json", pretty(&challenge_vectors(&w))),
        ("owner_checks.json", pretty(&owner_check_vectors(&w))),
        ("codes.json", pretty(&code_vectors())),
    ]
}

/// Receive codes and recovery-sheet codes (spec §3.1, §7.6): the text, and what it decodes to
/// or the code it is refused with.
fn code_vectors() -> Json {
    use provenance_core::recovery::{ReceiveCode, RecoverySheetCode};
    let owner = key(5).public_key();
    let recovery = key(20);
    let committed = ReceiveCode(NewOwner {
        key: owner,
        recovery: Some(RecoveryDigest::of(&recovery.public_key())),
    })
    .encode();
    let bare = ReceiveCode(owner.into()).encode();
    let sheet = RecoverySheetCode(key(20)).encode();
    // One character changed inside the base45 text: the check catches it.
    let mut misread = committed.clone().into_bytes();
    let at = misread.len() - 10;
    misread[at] = if misread[at] == b'0' { b'1' } else { b'0' };
    let misread = String::from_utf8(misread).unwrap();
    let receive = |name: &str, description: &str, code: &str, expect: &str, recovery: bool| {
        let mut v = json!({
            "name": name,
            "description": description,
            "type": "receive",
            "code": code,
            "expect": expect,
        });
        if expect == "valid" {
            v["owner_public_key_hex"] = json!(hex::encode(owner.to_bytes()));
            v["recovery_digest_hex"] = if recovery {
                json!(hex::encode(RecoveryDigest::of(&recovery_key_public()).0))
            } else {
                Json::Null
            };
        }
        v
    };
    let vectors = vec![
        receive(
            "receive-with-recovery",
            "an owner key and its recovery commitment",
            &committed,
            "valid",
            true,
        ),
        receive(
            "receive-without-recovery",
            "an owner key alone (no recovery possible)",
            &bare,
            "valid",
            false,
        ),
        receive(
            "receive-lower-case",
            "a QR reader lower-cased the code",
            &committed.to_ascii_lowercase(),
            "valid",
            true,
        ),
        receive(
            "receive-misread",
            "one character misread",
            &misread,
            "code.bad_check",
            true,
        ),
        receive(
            "receive-sheet-code",
            "a recovery-sheet code where a receive code belongs",
            &sheet,
            "code.malformed",
            true,
        ),
        receive(
            "receive-not-base45",
            "characters outside base45",
            "PVK1:ABC#",
            "code.malformed",
            true,
        ),
        receive(
            "receive-too-long",
            "300 characters",
            &format!("PVK1:{}", "0".repeat(295)),
            "code.malformed",
            true,
        ),
        json!({
            "name": "sheet",
            "description": "a recovery-sheet code: the recovery key's 32-byte seed",
            "type": "recovery_sheet",
            "code": sheet,
            "expect": "valid",
            "recovery_public_key_hex": hex::encode(recovery.public_key().to_bytes()),
            "short_code": recovery.public_key().key_id().to_string(),
        }),
        json!({
            "name": "sheet-receive-code",
            "description": "a receive code where a recovery-sheet code belongs",
            "type": "recovery_sheet",
            "code": committed,
            "expect": "code.malformed",
        }),
    ];
    json!({
        "description": "Receive codes and recovery-sheet codes (spec §3.1, §7.6). Parse code as its type; expect is 'valid' (with what it decodes to) or the error code (§10).",
        "vectors": vectors,
    })
}

fn recovery_key_public() -> PublicKey {
    key(20).public_key()
}

#[test]
fn every_code_vector_gives_exactly_its_outcome() {
    use provenance_core::recovery::{ReceiveCode, RecoverySheetCode};
    let file = load("codes.json");
    for v in file["vectors"].as_array().unwrap() {
        let code = v["code"].as_str().unwrap();
        let name = v["name"].as_str().unwrap();
        let outcome = match v["type"].as_str().unwrap() {
            "receive" => ReceiveCode::parse(code).map(|c| {
                assert_eq!(
                    hex::encode(c.0.key.to_bytes()),
                    v["owner_public_key_hex"].as_str().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    c.0.recovery.map(|d| hex::encode(d.0)),
                    v["recovery_digest_hex"].as_str().map(String::from),
                    "{name}"
                );
            }),
            _ => RecoverySheetCode::parse(code).map(|s| {
                assert_eq!(
                    hex::encode(s.0.public_key().to_bytes()),
                    v["recovery_public_key_hex"].as_str().unwrap(),
                    "{name}"
                );
                assert_eq!(s.short_code(), v["short_code"].as_str().unwrap(), "{name}");
            }),
        };
        let got = outcome.map_or_else(|e| e.code().to_string(), |()| "valid".to_string());
        assert_eq!(got, v["expect"].as_str().unwrap(), "{name}");
    }
}

fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

#[test]
fn vector_files_match_the_generator() {
    for (name, text) in generate() {
        let path = vectors_dir().join(name);
        if std::env::var_os("UPDATE_VECTORS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == text,
            "{} drifted from the generator; rerun with UPDATE_VECTORS=1 if the change is intended",
            path.display()
        );
    }
}

fn load(name: &str) -> Json {
    // While regenerating, the drift test rewrites the files concurrently: read the generator.
    let text = if std::env::var_os("UPDATE_VECTORS").is_some() {
        generate().into_iter().find(|(n, _)| *n == name).unwrap().1
    } else {
        std::fs::read_to_string(vectors_dir().join(name)).unwrap()
    };
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_payload_vector_gives_exactly_its_outcome() {
    // While regenerating, the drift test rewrites the files concurrently: read the generator.
    let vectors = payload_vectors::parse(&match std::env::var_os("UPDATE_VECTORS") {
        Some(_) => {
            generate()
                .into_iter()
                .find(|(n, _)| *n == "payloads.json")
                .unwrap()
                .1
        }
        None => std::fs::read_to_string(vectors_dir().join("payloads.json")).unwrap(),
    });
    let mut seen = std::collections::BTreeSet::new();
    for v in &vectors {
        let (got, warnings) = outcome(&v.payload, &v.trust_list(), &v.operator(), v.now());
        let name = &v.name;
        assert_eq!(got, v.expect, "vector {name}");
        assert_eq!(warnings, v.warnings, "vector {name} warnings");
        seen.insert(got);
        seen.extend(warnings.iter().map(|w| w.to_string()));
    }
    // At least one vector per rule and limit reachable through a payload.
    // chain.empty: a container refuses an empty record list first; proof.*: challenges have
    // their own vectors; log.bad_hash_length: the container refuses short hashes first;
    // log.empty_first_tree / log.size_order: consistency proofs are not carried in payloads;
    // log.entries_incomplete: only an audit of the whole log (log::audit) meets it;
    // checkpoint.too_large: a 4 KiB note cannot fit a payload string; checkpoint.origin_mismatch:
    // a payload's checkpoint is checked under its own origin.
    // chain.quota_exceeded: 65 records by one signer cannot fit a 4296-character payload
    // (provenance-core/tests/quotas.rs and the e2e flood test cover it); chain.history_full and
    // item.not_transferable need 4094 records (quotas.rs and provenance-verify's library tests).
    let unreachable_by_payload = [
        "chain.quota_exceeded",
        "chain.history_full",
        "item.not_transferable",
        "chain.empty",
        "proof.invalid",
        "proof.malformed",
        "log.bad_hash_length",
        "log.empty_first_tree",
        "log.size_order",
        "log.entries_incomplete",
        "checkpoint.too_large",
        "checkpoint.origin_mismatch",
        // Receive and recovery-sheet codes are not payloads: codes.json has their vectors.
        "code.malformed",
        "code.bad_check",
    ];
    for (code, _) in ALL_CODES {
        if code.starts_with("ledger.") || unreachable_by_payload.contains(code) {
            continue;
        }
        assert!(seen.contains(*code), "no payload vector produces {code}");
    }
}

#[test]
fn every_record_vector_verifies_as_plain_cose_sign1() {
    let file = load("records.json");
    let records = file["records"].as_array().unwrap();
    assert_eq!(records.len(), 8, "one per kind and report status");
    for r in records {
        let bytes = hex::decode(r["cose_hex"].as_str().unwrap()).unwrap();
        let key: [u8; 32] = hex::decode(r["signer_public_key_hex"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let aad = hex::decode(r["external_aad_hex"].as_str().unwrap()).unwrap();
        // Plain RFC 9052 verification with coset + dalek, independent of our decoder.
        use coset::{CborSerializable, TaggedCborSerializable};
        let cose = coset::CoseSign1::from_tagged_slice(&bytes).unwrap();
        assert_eq!(
            cose.protected.header.alg,
            Some(coset::RegisteredLabelWithPrivate::Assigned(
                coset::iana::Algorithm::Ed25519
            ))
        );
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&cose.signature).unwrap();
        vk.verify_strict(&cose.tbs_data(&aad), &sig).unwrap();
        assert_eq!(
            cose.clone().to_tagged_vec().unwrap(),
            bytes,
            "re-encodes identically"
        );
        let _ = cose.to_vec();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            r["record_hash_hex"].as_str().unwrap()
        );
        // And through our own strict decoder.
        DecodedRecord::decode(&bytes).unwrap();
    }
}

#[test]
fn every_challenge_vector_gives_its_outcome() {
    let file = load("challenges.json");
    for v in file["vectors"].as_array().unwrap() {
        let owner: [u8; 32] = hex::decode(v["owner_public_key_hex"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        let owner = PublicKey::from_bytes(&owner).unwrap();
        let item = ItemId::from_base32(v["item_base32"].as_str().unwrap()).unwrap();
        let got = match challenge::check(
            v["answer"].as_str().unwrap(),
            &owner,
            &item,
            v["challenge"].as_str().unwrap().as_bytes(),
        ) {
            Ok(()) => "valid".to_string(),
            Err(e) => e.code().to_string(),
        };
        assert_eq!(got, v["expect"].as_str().unwrap(), "{}", v["name"]);
    }
}

#[test]
fn the_spec_documents_every_code() {
    let spec = std::fs::read_to_string(vectors_dir().join("../README.md")).unwrap();
    for (code, _) in ALL_CODES {
        assert!(
            spec.contains(&format!("| `{code}` |")),
            "spec/README.md §10 lacks {code}"
        );
    }
}
