//! The library against fixtures built with the core API.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::*;
use provenance_core::record::ReportStatus;
use provenance_core::{challenge, Payload, Record, RecordBody, RunManifest, Timestamp};
use provenance_verify::{exit, load_trust, verify, Input, Severity, Verdict};

#[test]
fn genuine_history_tells_the_story() {
    let chain = history();
    let report = verify(chain.encode_confirmed().as_str(), &trust(), now());
    assert_eq!(report.verdict, Verdict::Genuine, "{}", report.to_text());
    assert_eq!(report.code, None);
    assert!(report.findings.is_empty());
    assert_eq!(report.exit_code(), exit::GENUINE);
    let story = report.story.as_ref().unwrap();
    assert_eq!(story.title, "Eclipse Pin");
    assert_eq!(story.maker.name, "Karim Studio");
    assert_eq!(story.microfactory, "Northside Microfactory");
    assert_eq!((story.edition.number, story.edition.size), (2, 3));
    assert_eq!(story.minted_at, "2026-03-02T10:00:00Z");
    assert_eq!(story.repairs.len(), 1);
    assert_eq!(story.repairs[0].desk.name, "Fix-It Desk");
    assert_eq!(story.repairs[0].time, "2026-03-03T12:00:00Z");
    assert_eq!(story.repairs[0].parts, vec!["clasp".to_string()]);
    assert_eq!(story.badges[0].event, "Leeds Makers Fair");
    assert_eq!(story.badges[0].host.name, "Makers Fair");
    assert_eq!(story.owner_count, 2);
    assert_eq!(
        story.current_owner.key,
        owner2().public_key().to_base64url()
    );
    assert_eq!(
        story.current_owner.key_id,
        owner2().public_key().key_id().to_string()
    );
    assert_eq!(story.item, chain.item.to_base32());
    assert_eq!(story.records, 4);
    assert!(!story.stolen && !story.void);
    assert_eq!(story.freshness.basis, "head_statement");
    assert_eq!(
        story.freshness.as_of,
        Timestamp(now().0 - 86_400).to_rfc3339()
    );

    let summary = &report.summary;
    assert!(
        summary.starts_with(
            "GENUINE: 2/3 of 'Eclipse Pin', made by Karim Studio at Northside Microfactory on \
             2026-03-02. Repaired once. 2 owners. Current owner key "
        ),
        "{summary}"
    );
    assert!(summary.contains(&owner2().public_key().key_id().to_string()));

    // The same records without the ledger's head statement: genuine, owner not confirmed.
    let unconfirmed = verify(chain.encode().as_str(), &trust(), now());
    assert_eq!(unconfirmed.verdict, Verdict::GenuineWithWarnings);
    assert_eq!(unconfirmed.codes(), vec!["payload.owner_unconfirmed"]);
    assert_eq!(unconfirmed.exit_code(), exit::WARNINGS);
    let story = unconfirmed.story.as_ref().unwrap();
    assert_eq!(story.freshness.basis, "last_record");
    assert_eq!(story.freshness.as_of, "2026-03-05T12:00:00Z");
    assert!(story.freshness.note.contains("NOT CONFIRMED"));
    assert!(
        unconfirmed.summary.ends_with(
            "2 owners. Last owner in this file: key 72456720412037a6, not confirmed by the ledger."
        ),
        "{}",
        unconfirmed.summary
    );
}

#[test]
fn history_file_bytes_and_text_bytes_verify_like_the_string() {
    let chain = history();
    let from_file = verify(&chain.confirmed().to_cbor(), &trust(), now());
    assert_eq!(from_file.verdict, Verdict::Genuine);
    let text = format!("{}\n", chain.encode_confirmed()).into_bytes();
    let from_text = verify(Input::Bytes(&text), &trust(), now());
    assert_eq!(from_text.verdict, Verdict::Genuine);
    assert_eq!(from_file.story, from_text.story);
}

#[test]
fn label_only_is_a_warning_about_origin() {
    let report = verify(label().as_str(), &trust(), now());
    assert_eq!(report.verdict, Verdict::GenuineWithWarnings);
    assert_eq!(report.codes(), vec!["payload.label_only"]);
    assert_eq!(report.exit_code(), exit::WARNINGS);
    let finding = &report.findings[0];
    assert_eq!(finding.severity, Severity::Warning);
    assert!(finding.message.contains("origin"), "{}", finding.message);
    assert!(finding.message.contains("not"), "{}", finding.message);
    assert!(report
        .summary
        .contains("proves origin, not current owner or history"));
    assert_eq!(report.story.as_ref().unwrap().freshness.basis, "label");
}

#[test]
fn stolen_is_a_loud_first_warning() {
    let chain = history().report(&owner2(), ReportStatus::Stolen);
    let report = verify(chain.encode_confirmed().as_str(), &trust(), now());
    assert_eq!(report.verdict, Verdict::GenuineWithWarnings);
    assert_eq!(report.codes(), vec!["item.stolen"]);
    assert!(report.story.as_ref().unwrap().stolen);
    assert!(report.summary.contains("REPORTED STOLEN"));
    // Issue 20.5: first, in a buyer's words, with the day it was reported.
    let day = &report.story.as_ref().unwrap().reports[0].time[..10];
    assert_eq!(
        report.headline,
        format!("REPORTED STOLEN on {day}: do not buy")
    );
    assert!(report.advice.contains("Do not buy it"), "{}", report.advice);
    assert!(report.to_text().starts_with(&report.headline));

    // Recovered: genuine again, the reports stay in the story.
    let recovered = chain.report(&owner2(), ReportStatus::Recovered);
    let report = verify(recovered.encode_confirmed().as_str(), &trust(), now());
    assert_eq!(report.verdict, Verdict::Genuine);
    assert_eq!(report.story.as_ref().unwrap().reports.len(), 2);
}

#[test]
fn void_is_not_genuine() {
    let chain = history().report(&maker(), ReportStatus::Void);
    let report = verify(chain.encode_confirmed().as_str(), &trust(), now());
    assert_eq!(report.verdict, Verdict::NotGenuine);
    assert_eq!(report.code, Some("item.void"));
    assert_eq!(report.codes(), vec!["item.void"]);
    assert_eq!(report.exit_code(), exit::NOT_GENUINE);
    assert!(report.story.as_ref().unwrap().void);
    assert!(report.summary.contains("VOIDED"));
}

fn not_genuine(payload: &str) -> provenance_verify::Report {
    let report = verify(payload, &trust(), now());
    assert_eq!(report.verdict, Verdict::NotGenuine, "{}", report.to_text());
    assert_eq!(report.exit_code(), exit::NOT_GENUINE);
    assert!(report.story.is_none());
    report
}

#[test]
fn failures_name_their_cause_and_code() {
    // Tampered: one byte of the title changed after signing.
    let mut mint = mint();
    let pos = mint.windows(7).position(|w| w == b"Eclipse").unwrap();
    mint[pos] = b'F';
    let report = not_genuine(&Payload::Label(mint).encode());
    assert_eq!(report.code, Some("record.signature_invalid"));
    assert_eq!(report.findings[0].cause, "tampered");
    assert!(report.summary.contains("tampered"));

    // Untrusted maker.
    let report =
        not_genuine(&Payload::Label(mint_with(&stranger(), 1, None, "2026-03-02")).encode());
    assert_eq!(report.code, Some("chain.unknown_signer"));
    assert_eq!(report.findings[0].cause, "untrusted signer");

    // Signer not authorized: the repair desk mints.
    let report = not_genuine(&Payload::Label(mint_with(&desk(), 1, None, "2026-03-02")).encode());
    assert_eq!(report.code, Some("chain.signer_not_authorized"));
    assert_eq!(report.findings[0].cause, "signer not authorized");

    // Edition over cap.
    let report = not_genuine(&Payload::Label(mint_with(&maker(), 4, None, "2026-03-02")).encode());
    assert_eq!(report.code, Some("run.edition_over_cap"));
    assert_eq!(report.findings[0].cause, "edition over cap");

    // Key revoked (a record signed by a key outside its validity).
    let report =
        not_genuine(&Payload::Label(mint_with(&revoked_maker(), 1, None, "2026-03-02")).encode());
    assert_eq!(report.code, Some("chain.key_revoked"));
    assert_eq!(report.findings[0].cause, "key revoked");

    // Broken chain: the badge dropped, later records no longer link.
    let mut chain = history().repair("again", &[]);
    chain.records.remove(3);
    let report = not_genuine(&chain.encode());
    assert_eq!(report.code, Some("chain.seq_mismatch"));
    assert_eq!(report.findings[0].cause, "broken chain");
    assert_eq!(report.findings[0].record, Some(3));

    // A transfer signed by an earlier owner.
    let chain = history().transfer(&owner1(), &owner1());
    let report = not_genuine(&chain.encode());
    assert_eq!(report.code, Some("chain.signer_not_owner"));
}

#[test]
fn unreadable_input() {
    for (input, code) in [
        ("hello", "payload.bad_prefix"),
        ("PV1:abc", "payload.bad_base45"),
        ("", "payload.bad_prefix"),
    ] {
        let report = verify(input, &trust(), now());
        assert_eq!(report.verdict, Verdict::Unreadable, "{input}");
        assert_eq!(report.code, Some(code), "{input}");
        assert_eq!(report.exit_code(), exit::UNREADABLE);
    }
    let report = verify(Input::Bytes(&[0xff, 0x00]), &trust(), now());
    assert_eq!(report.verdict, Verdict::Unreadable);
    assert_eq!(report.code, Some("payload.bad_container"));
}

#[test]
fn trust_list_problems_are_reported_with_their_code() {
    let err = load_trust(&trust_bytes(), Some(&stranger().public_key())).unwrap_err();
    assert_eq!(err.code, Some("trust.operator_mismatch"));
    assert_eq!(err.verdict, Verdict::Unreadable);
    let mut tampered = trust_bytes();
    let pos = tampered.windows(5).position(|w| w == b"Karim").unwrap();
    tampered[pos] = b'C';
    let err = load_trust(&tampered, None).unwrap_err();
    assert_eq!(err.code, Some("trust.signature_invalid"));
    assert!(load_trust(&trust_bytes(), None).is_ok());
}

#[test]
fn record_in_the_future_is_refused() {
    let report = verify(label().as_str(), &trust(), t("2026-03-01"));
    assert_eq!(report.verdict, Verdict::NotGenuine);
    assert_eq!(report.code, Some("chain.time_in_future"));
}

#[test]
fn owner_challenge_right_owner_passes() {
    let chain = history();
    let mut report = verify(chain.encode_confirmed().as_str(), &trust(), now());
    let answer = challenge::prove(&owner2(), &chain.item, b"buyer-nonce-1").unwrap();
    let outcome = report.check_owner(b"buyer-nonce-1", &answer).clone();
    assert!(outcome.passed, "{}", outcome.message);
    assert_eq!(outcome.code, None);
    assert_eq!(report.exit_code(), exit::GENUINE);
}

#[test]
fn owner_challenge_earlier_owner_fails() {
    let chain = history();
    let mut report = verify(chain.encode_confirmed().as_str(), &trust(), now());
    let answer = challenge::prove(&owner1(), &chain.item, b"buyer-nonce-1").unwrap();
    let outcome = report.check_owner(b"buyer-nonce-1", &answer).clone();
    assert!(!outcome.passed);
    assert_eq!(outcome.code, Some("proof.invalid"));
    assert_eq!(report.exit_code(), exit::CHALLENGE_FAILED);
    // The verdict itself is unchanged: the piece is genuine, the seller is not proven.
    assert_eq!(report.verdict, Verdict::Genuine);
}

#[test]
fn owner_challenge_for_another_item_or_nonce_fails() {
    let chain = history();
    let other_item = Chain::new(mint_with(
        &maker(),
        1,
        Some(owner2().public_key()),
        "2026-03-02",
    ))
    .item;
    for (item, nonce) in [
        (other_item, &b"buyer-nonce-1"[..]),
        (chain.item, b"buyer-nonce-2"),
    ] {
        let mut report = verify(chain.encode_confirmed().as_str(), &trust(), now());
        let answer = challenge::prove(&owner2(), &item, nonce).unwrap();
        let outcome = report.check_owner(b"buyer-nonce-1", &answer).clone();
        assert!(!outcome.passed);
        assert_eq!(outcome.code, Some("proof.invalid"));
        assert_eq!(report.exit_code(), exit::CHALLENGE_FAILED);
    }
    let mut report = verify(chain.encode_confirmed().as_str(), &trust(), now());
    let outcome = report
        .check_owner(b"buyer-nonce-1", "not an answer")
        .clone();
    assert_eq!(outcome.code, Some("proof.malformed"));
}

#[test]
fn owner_challenge_on_a_piece_that_did_not_verify_is_not_checked() {
    let mut report = verify("garbage", &trust(), now());
    let outcome = report.check_owner(b"n", "x").clone();
    assert!(!outcome.passed);
    assert_eq!(report.exit_code(), exit::UNREADABLE);
}

#[test]
fn json_carries_verdict_story_and_codes() {
    let chain = history().report(&owner2(), ReportStatus::Stolen);
    let report = verify(chain.encode().as_str(), &trust(), now());
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "genuine_with_warnings");
    assert_eq!(json["findings"][0]["code"], "item.stolen");
    assert_eq!(json["findings"][0]["severity"], "warning");
    assert_eq!(json["story"]["edition"]["number"], 2);
    assert_eq!(json["story"]["repairs"][0]["desk"]["name"], "Fix-It Desk");
    assert_eq!(json["exit_code"], 1);

    let report = verify("PV1:%%", &trust(), now());
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"], "unreadable");
    assert_eq!(json["code"], "payload.bad_base45");
    assert!(json["story"].is_null());
}

#[test]
fn a_run_manifest_that_disagrees_is_not_genuine() {
    let mut chain = history();
    chain.run = Some(
        Record {
            time: t("2026-03-01"),
            seq: 0,
            body: RecordBody::RunManifest(RunManifest {
                title: "Eclipse Pin".into(),
                microfactory: "Northside Microfactory".into(),
                place: "Leeds".into(),
                size: 5,
                window_start: t("2026-03-01"),
                window_end: t("2026-04-01"),
            }),
        }
        .sign(&maker(), None),
    );
    let report = verify(chain.encode().as_str(), &trust(), now());
    assert_eq!(report.verdict, Verdict::NotGenuine);
    assert_eq!(report.code, Some("run.mismatch"));
    assert_eq!(report.findings[0].cause, "run mismatch");
}

/// Issue 9.5: text from records reaches a terminal inert (escaped), while the JSON keeps the
/// exact text. Decoding already refuses such text; this pins the second fence, for text
/// stored before the rule.
#[test]
fn control_characters_never_reach_the_terminal() {
    let mut report = verify(history().encode_confirmed().as_str(), &trust(), now());
    let hostile = "fixed\u{1b}[2J\r\n  Owners      9 so far\u{202e}";
    let story = report.story.as_mut().unwrap();
    story.repairs[0].note = hostile.to_string();
    story.badges[0].event = hostile.to_string();
    story.title = hostile.to_string();
    let text = report.to_text();
    for c in ['\u{1b}', '\r', '\u{202e}'] {
        assert!(!text.contains(c), "{c:?} in {text}");
    }
    assert!(
        text.contains("fixed\\u{001b}[2J\\u{000d}\\u{000a}  Owners"),
        "{text}"
    );
    assert_eq!(
        text.matches("\n  Owners ").count(),
        1,
        "one Owners line: {text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["story"]["repairs"][0]["note"], hostile);
}

/// Issue 21.6: a history filled (by its owners' transfers) up to the positions kept for the
/// maker's void can no longer change hands: the verifier warns, and tells a buyer not to buy.
#[test]
fn a_history_that_can_no_longer_change_hands_is_a_warning() {
    use provenance_core::limits::MAX_HISTORY_RECORDS;
    use provenance_core::{ChainLink, RecordHash};
    let mint = mint();
    let item = provenance_core::ItemId::derive(&mint);
    let mut records = vec![mint];
    let (a, b) = (owner1(), owner2());
    for seq in 1..(MAX_HISTORY_RECORDS - 1) as u64 {
        let (from, to) = if seq % 2 == 1 { (&a, &b) } else { (&b, &a) };
        let link = ChainLink {
            item,
            prev: RecordHash::of(records.last().unwrap()),
        };
        let record = Record {
            time: t("2026-03-05"),
            seq,
            body: RecordBody::Transfer(to.public_key().into()),
        };
        records.push(record.sign(from, Some(&link)));
    }
    let file = Payload::History(provenance_core::History {
        records,
        run: None,
        head: None,
        anchor: None,
    })
    .to_cbor();
    let report = verify(&file, &trust(), now());
    assert_eq!(
        report.verdict,
        Verdict::GenuineWithWarnings,
        "{}",
        report.summary
    );
    assert_eq!(report.codes()[0], "item.not_transferable");
    assert_eq!(report.headline, "CANNOT CHANGE HANDS: do not buy");
}
