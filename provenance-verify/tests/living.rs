//! Living payloads (mint + ledger head statement) and anchored histories through the verifier:
//! the owner and freshness come from the statement, the owner challenge uses its owner, and
//! every way a statement can be wrong is refused with its own code (spec §14.3).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::*;
use provenance_core::head::HeadStatement;
use provenance_core::payload::HeadStatementBytes;
use provenance_core::{
    challenge, verify_chain, History, Payload, Timestamp, TrustList, VerifiedChain,
};
use provenance_verify::{exit, verify, verify_with, Options, Verdict};

const DAY: u64 = 86_400;

fn chain_of(records: &[Vec<u8>]) -> VerifiedChain {
    verify_chain(records.iter().map(Vec::as_slice), &trust(), now()).unwrap()
}

/// The statement the ledger makes for `records`, `days` before now.
fn statement(records: &[Vec<u8>], days: u64) -> HeadStatement {
    HeadStatement::for_chain(&chain_of(records), Timestamp(now().0 - days * DAY), 42)
}

/// A living payload: the mint and a signed statement.
fn living(mint: &[u8], head: Vec<u8>) -> String {
    Payload::History(History {
        records: vec![mint.to_vec()],
        run: None,
        head: Some(HeadStatementBytes(head)),
        anchor: None,
    })
    .encode()
}

#[test]
fn a_living_payload_names_the_ledgers_owner_and_as_of_when() {
    let chain = history();
    let head = statement(&chain.records, 2).sign(&ledger());
    let report = verify(living(&chain.records[0], head).as_str(), &trust(), now());
    assert_eq!(report.verdict, Verdict::Genuine, "{}", report.to_text());
    let story = report.story.as_ref().unwrap();
    assert_eq!(
        story.current_owner.key,
        owner2().public_key().to_base64url()
    );
    assert_eq!(story.owner_count, 2);
    assert_eq!(story.repair_count, 1);
    assert_eq!(story.badge_count, 1);
    assert_eq!(story.records, 4);
    assert_eq!(story.records_verified, 1);
    assert_eq!(story.freshness.basis, "head_statement");
    assert_eq!(story.freshness.age_days, 2);
    assert!(
        story
            .freshness
            .note
            .contains("owner confirmed by the ledger as of 2026-05-30, 2 days ago"),
        "{}",
        story.freshness.note
    );
    assert!(
        report.summary.contains("Repaired once"),
        "{}",
        report.summary
    );
    assert!(report.to_text().contains("2 days ago"));
}

#[test]
fn the_owner_challenge_uses_the_statements_owner() {
    let chain = history();
    let head = statement(&chain.records, 2).sign(&ledger());
    let payload = living(&chain.records[0], head);
    let nonce = b"nonce-at-the-market";

    let mut report = verify(payload.as_str(), &trust(), now());
    let answer = challenge::prove(&owner2(), &chain.item, nonce).unwrap();
    assert!(report.check_owner(nonce, &answer).passed);
    assert_eq!(report.exit_code(), exit::GENUINE);

    // The first owner sold it: their answer no longer counts, although the mint names them.
    let mut report = verify(payload.as_str(), &trust(), now());
    let answer = challenge::prove(&owner1(), &chain.item, nonce).unwrap();
    let outcome = report.check_owner(nonce, &answer).clone();
    assert!(!outcome.passed);
    assert_eq!(outcome.code, Some("proof.invalid"));
    assert_eq!(report.exit_code(), exit::CHALLENGE_FAILED);
}

#[test]
fn an_old_statement_is_a_warning_and_max_age_sets_the_limit() {
    let chain = history();
    let head = statement(&chain.records, 45).sign(&ledger());
    let payload = living(&chain.records[0], head);

    let report = verify(payload.as_str(), &trust(), now());
    assert_eq!(report.verdict, Verdict::GenuineWithWarnings);
    assert_eq!(report.codes(), vec!["head.old"]);
    assert!(report.findings[0].message.contains("45 days ago"));
    assert_eq!(report.exit_code(), exit::WARNINGS);

    let lenient = Options {
        max_age_secs: 60 * DAY,
    };
    let report = verify_with(payload.as_str(), &trust(), now(), lenient);
    assert_eq!(report.verdict, Verdict::Genuine);
}

#[test]
fn a_stolen_flag_in_the_statement_is_the_first_warning() {
    let chain = history();
    let mut s = statement(&chain.records, 1);
    s.stolen = true;
    let report = verify(
        living(&chain.records[0], s.sign(&ledger())).as_str(),
        &trust(),
        now(),
    );
    assert_eq!(report.verdict, Verdict::GenuineWithWarnings);
    assert_eq!(report.codes()[0], "item.stolen");
    // Only the ledger's statement says so (no report record carried): no day to name.
    assert!(
        report.to_text().starts_with("REPORTED STOLEN: do not buy"),
        "{}",
        report.to_text()
    );
}

#[test]
fn a_void_flag_in_the_statement_is_not_genuine() {
    let chain = history();
    let mut s = statement(&chain.records, 1);
    s.void = true;
    let report = verify(
        living(&chain.records[0], s.sign(&ledger())).as_str(),
        &trust(),
        now(),
    );
    assert_eq!(report.verdict, Verdict::NotGenuine);
    assert_eq!(report.code, Some("item.void"));
}

#[test]
fn statements_for_another_item_older_or_not_by_the_ledger_are_refused() {
    let chain = history();
    let other = Chain::new(mint_with(&maker(), 2, None, "2026-03-02T10:00:00Z"));
    let cases = [
        (
            "another item",
            living(
                &chain.records[0],
                statement(&other.records, 1).sign(&ledger()),
            ),
            "head.item_mismatch",
        ),
        (
            "older than the records",
            Payload::History(History {
                records: chain.records.clone(),
                run: None,
                head: Some(HeadStatementBytes(
                    statement(&chain.records[..2], 1).sign(&ledger()),
                )),
                anchor: None,
            })
            .encode(),
            "head.stale",
        ),
        (
            "signed by the operator",
            living(
                &chain.records[0],
                statement(&chain.records, 1).sign(&operator()),
            ),
            "head.signer_not_ledger",
        ),
    ];
    for (what, payload, code) in cases {
        let report = verify(payload.as_str(), &trust(), now());
        assert_eq!(report.verdict, Verdict::NotGenuine, "{what}");
        assert_eq!(report.code, Some(code), "{what}");
        assert_eq!(report.exit_code(), exit::NOT_GENUINE, "{what}");
        assert!(report.summary.contains("bad ledger statement"), "{what}");
    }
}

#[test]
fn a_trust_list_without_a_ledger_key_cannot_check_a_statement() {
    let chain = history();
    let head = statement(&chain.records, 1).sign(&ledger());
    let mut content = trust().content().clone();
    content.ledger = None;
    let bare = TrustList::verify(&content.sign(&operator()), None).unwrap();
    let report = verify(living(&chain.records[0], head).as_str(), &bare, now());
    assert_eq!(report.code, Some("head.no_ledger_key"));
}
