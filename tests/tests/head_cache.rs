//! Issue 9.8: unauthenticated GETs of an item's head statement, living payload and QR reuse
//! one signed statement per head and interval, so a flood of them costs no signatures; a new
//! record gets a new statement at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{get, now, Server};
use provenance_core::head::HeadStatement;

fn signed_count(server: &Server) -> u64 {
    let (_, body) = get(&format!("{}/metrics", server.url), "text/plain");
    String::from_utf8(body)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("provenance_head_statements_signed_total "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_flood_of_gets_signs_one_statement_per_head() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let server = Server::start(&dir, &[]);
    server.parties(&[("maker", "maker"), ("alice", "")]);
    let run = server.run_of("maker", "T", 2);
    let item = server.mint_of("maker", &run, 1).remove(0);

    let before = signed_count(&server);
    let head_url = format!("{}/v1/items/{item}/head", server.url);
    let (status, first) = get(&head_url, "application/cose");
    assert_eq!(status, 200);
    for _ in 0..50 {
        assert_eq!(get(&head_url, "application/cose"), (200, first.clone()));
        for path in ["payload", "qr.svg"] {
            let (status, _) = get(&format!("{}/v1/items/{item}/{path}", server.url), "*/*");
            assert_eq!(status, 200);
        }
    }
    assert_eq!(signed_count(&server), before + 1, "150 GETs, one signature");
    let statement = HeadStatement::verify(&first, &server.trust(), now()).unwrap();
    assert_eq!(statement.seq, 0);

    // A new record: the next GET names it, with one more signature.
    server.ok(&["transfer", &item, "--key", "maker.pem", "--to", "alice.pem"]);
    let signed = signed_count(&server);
    let (_, second) = get(&head_url, "application/cose");
    let statement = HeadStatement::verify(&second, &server.trust(), now()).unwrap();
    assert_eq!(statement.seq, 1);
    assert_eq!(signed_count(&server), signed + 1);
}
