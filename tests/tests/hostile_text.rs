//! Issue 9.5: text that could drive a terminal is refused at signing (CLI) and at append
//! (ledger, `decode.bad_text`), and nothing is stored.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{assert_problem, key, now, spec_status, Server};
use provenance_core::{Badge, ChainLink, ItemId, Record, RecordBody, RecordHash};

#[test]
fn control_characters_are_refused_at_signing_and_at_append() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let server = Server::start(&dir, &[]);
    server.parties(&[("maker", "maker"), ("host", "host")]);
    // A display name with a newline is refused before anything is signed.
    let out = server.cli(&[
        "trust",
        "add",
        "--public",
        "host.pem",
        "--role",
        "host",
        "--name",
        "Fair\nOwners 1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[decode.bad_text]"));
    let run = server.run_of("maker", "T", 1);
    let item = server.mint_of("maker", &run, 1).remove(0);
    let before = server.stored();

    // The CLI refuses to sign it.
    let out = server.cli(&["badge", &item, "-k", "host.pem", "--event", "Fair\u{1b}[2J"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("[decode.bad_text]"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "the error itself is inert: {stderr}"
    );

    // Signed anyway and posted: the ledger refuses it.
    let history = server.history(&item);
    let record = Record {
        time: now(),
        seq: 1,
        body: RecordBody::Badge(Badge {
            event: "Fair\u{202e}2026".into(),
            place: None,
        }),
    }
    .sign(
        &key(&dir, "host.pem"),
        Some(&ChainLink {
            item: ItemId::from_base32(&item).unwrap(),
            prev: RecordHash::of(&history.records[0]),
        }),
    );
    let answer = server.post(
        &format!("/v1/items/{item}/records"),
        "application/cose",
        &record,
    );
    assert_problem(&answer, spec_status("decode.bad_text"), "decode.bad_text");
    assert_eq!(server.stored(), before, "nothing stored");
}
