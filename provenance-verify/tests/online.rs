//! A label scanned online (issue 20.3): the label's mint with the full-history file its ledger
//! answered gives today's state (owner, repairs, stolen), and a ledger that answers a forged or
//! foreign history makes the verdict NOT GENUINE, never a silent fallback to the label.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use provenance_core::{challenge, Payload, ReportStatus};
use provenance_verify::{
    exit, verify_label_online, verify_text, ChallengeResult, Verdict, CODE_ONLINE_MISMATCH,
};

/// The printed label of [`history`]'s piece: its mint alone, as a label URL.
fn printed_label() -> String {
    let fragment = label().replace('%', "%25").replace(' ', "%20");
    format!("https://ledger.example/v#{fragment}")
}

/// Sold (owner 1 to owner 2), repaired, badged, then reported stolen by owner 2.
fn sold_repaired_stolen() -> Chain {
    history().report(&owner2(), ReportStatus::Stolen)
}

fn online(
    label: &str,
    history: &[u8],
    challenge: Option<(&str, &str)>,
) -> provenance_verify::Report {
    let op = operator().public_key().to_base64url();
    verify_label_online(
        label,
        history,
        &trust_bytes(),
        Some(&op),
        now().0,
        challenge,
    )
}

#[test]
fn the_label_online_shows_today_s_owner_repairs_and_theft() {
    let chain = sold_repaired_stolen();
    assert_eq!(chain.records[0], mint(), "the label's mint");
    let export = chain.confirmed().to_cbor();
    let answer = challenge::prove(&owner2(), &chain.item, b"nonce-1").unwrap();
    let report = online(
        &printed_label(),
        &export,
        Some(("nonce-1", answer.as_str())),
    );
    let story = report.story.as_ref().unwrap();
    assert_eq!(story.freshness.basis, "head_statement");
    assert!(story.stolen);
    assert_eq!(story.repair_count, 1);
    assert_eq!(story.owner_count, 2);
    assert_eq!(
        story.current_owner.key,
        owner2().public_key().to_base64url()
    );
    assert!(
        report.headline.starts_with("REPORTED STOLEN on "),
        "{}",
        report.headline
    );
    // Today's owner passes the owner check; offline the same answer is not judged.
    let outcome = report.owner_challenge.as_ref().unwrap();
    assert_eq!(outcome.result, ChallengeResult::Passed);
    let op = operator().public_key().to_base64url();
    let offline = verify_text(
        &printed_label(),
        &trust_bytes(),
        Some(&op),
        now().0,
        Some(("nonce-1", answer.as_str())),
    );
    assert_eq!(offline.story.as_ref().unwrap().freshness.basis, "label");
    assert!(
        !offline.story.as_ref().unwrap().stolen,
        "a label cannot know"
    );
    assert_eq!(
        offline.owner_challenge.as_ref().unwrap().result,
        ChallengeResult::NotJudged
    );
}

#[test]
fn a_forged_head_statement_from_the_ledger_is_not_genuine() {
    let chain = sold_repaired_stolen();
    let Payload::History(mut forged) = chain.confirmed() else {
        panic!("a history")
    };
    // The ledger claims the piece is not stolen and that owner 1 owns it: its head statement
    // is re-signed by a key that is not the ledger's.
    let statement = forged.head.as_mut().unwrap();
    let last = statement.0.len() - 1;
    statement.0[last] ^= 0x01;
    let report = online(&printed_label(), &Payload::History(forged).to_cbor(), None);
    assert_eq!(report.verdict, Verdict::NotGenuine, "{}", report.summary);
    assert!(
        report.code.unwrap().starts_with("head."),
        "{:?}",
        report.code
    );
    assert_eq!(report.exit_code(), exit::NOT_GENUINE);
    assert!(report.headline.starts_with("NOT GENUINE"));
}

#[test]
fn another_piece_s_history_or_garbage_from_the_ledger_is_not_genuine() {
    let other =
        Chain::new(mint_with(&maker(), 2, None, "2026-03-02")).transfer(&maker(), &owner1());
    for answer in [
        other.confirmed().to_cbor(),
        b"<html>502 Bad Gateway</html>".to_vec(),
        Vec::new(),
        // A label is not a history.
        Payload::Label(mint()).to_cbor(),
    ] {
        let report = online(&printed_label(), &answer, None);
        assert_eq!(report.verdict, Verdict::NotGenuine, "{}", report.summary);
        assert_eq!(report.code, Some(CODE_ONLINE_MISMATCH));
        assert!(report.headline.ends_with("do not buy"));
    }
}

#[test]
fn a_history_that_breaks_a_rule_is_refused_with_its_own_code() {
    let chain = sold_repaired_stolen();
    let mut records = chain.records.clone();
    let last = records[2].len() - 1;
    records[2][last] ^= 0x01; // the transfer's signature
    let tampered = Payload::History(provenance_core::History {
        records,
        run: chain.run.clone(),
        head: None,
        anchor: None,
    });
    let report = online(&printed_label(), &tampered.to_cbor(), None);
    assert_eq!(report.verdict, Verdict::NotGenuine);
    assert_eq!(report.code, Some("record.signature_invalid"));
}
