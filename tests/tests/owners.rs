//! Who holds what (issue 22, the studio's "My pieces") through the real binaries:
//! `GET /v1/owners/{key}/items` lists exactly the pieces a key owns now, and
//! `GET /v1/recoveries/{digest}/items` exactly the pieces whose current ownership committed to
//! a recovery sheet, through mints, sales, a resale and a recovery; both are public under
//! `serve --stats token`; malformed keys, digests and pages get their 400 problem; answers are
//! bounded and a `next` cursor walks them all.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{assert_problem, key, Server};
use provenance_core::{ItemId, RecoveryDigest};
use serde_json::Value;

/// GET that must be refused: the problem+json answer, its media type checked.
fn problem(server: &Server, path: &str) -> (u16, Value) {
    let url = format!("{}{path}", server.url);
    match ureq::get(&url).call() {
        Ok(r) => panic!("GET {path} answered {}", r.status()),
        Err(ureq::Error::Status(status, r)) => {
            assert_eq!(r.header("Content-Type"), Some("application/problem+json"));
            (status, serde_json::from_reader(r.into_reader()).unwrap())
        }
        Err(e) => panic!("GET {path}: {e}"),
    }
}

/// The item ids of an answer, in order; checks the answer's shape on the way.
fn items(answer: &Value) -> Vec<String> {
    answer["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {answer}"))
        .iter()
        .map(|i| i["item"].as_str().unwrap().to_string())
        .collect()
}

/// Sorts item ids as the answers list them: by their 16 bytes (not by their base32 text).
fn by_bytes(mut ids: Vec<String>) -> Vec<String> {
    ids.sort_by_key(|id| ItemId::from_base32(id).unwrap().0);
    ids
}

fn owned(server: &Server, key: &str) -> Value {
    server.get_json(&format!("/v1/owners/{key}/items"))
}

fn committed(server: &Server, digest: &RecoveryDigest) -> Value {
    server.get_json(&format!("/v1/recoveries/{digest}/items"))
}

#[test]
fn owners_and_recovery_sheets_list_exactly_what_they_hold_now() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("stats-token"), "op-stats-token-4f9c2a7d1e\n").unwrap();
    let token_file = dir.join("stats-token");
    // The figures are private on this ledger; who holds what is not (spec §15).
    let server = Server::start(
        dir,
        &[
            "--stats",
            "token",
            "--stats-token-file",
            token_file.to_str().unwrap(),
        ],
    );
    server.parties(&[("maker", "maker"), ("bob", ""), ("carol", "")]);
    let made = server.ok_json(&["keygen", "--recovery", "-o", "alice.pem"]);
    let receive_code = made["receive_code"].as_str().unwrap();
    let pk = |name: &str| key(dir, name).public_key();
    let [maker, alice, bob, carol] =
        ["maker.pem", "alice.pem", "bob.pem", "carol.pem"].map(|n| pk(n).to_base64url());
    let sheet = RecoveryDigest::of(&pk("alice.recovery.pem"));

    let run = server.run_of("maker", "Eclipse Pin", 3);
    let minted = server.mint_of("maker", &run, 3);
    let [first, second, third] = [0, 1, 2].map(|i| minted[i].clone());
    assert_eq!(items(&owned(&server, &maker)), by_bytes(minted.clone()));
    // First to alice's receive code (with her recovery commitment), second to her bare key,
    // which she sells on to bob.
    server.ok(&["transfer", &first, "-k", "maker.pem", "--to", receive_code]);
    server.ok(&["transfer", &second, "-k", "maker.pem", "--to", "alice.pem"]);
    server.ok(&["transfer", &second, "-k", "alice.pem", "--to", "bob.pem"]);

    let mine = owned(&server, &alice);
    assert_eq!(items(&mine), vec![first.clone()], "{mine}");
    assert_eq!(mine["key"], alice.as_str());
    assert_eq!(mine["next"], Value::Null);
    let piece = &mine["items"][0];
    assert_eq!(piece["run"], run.as_str());
    assert_eq!(piece["title"], "Eclipse Pin");
    assert_eq!(piece["owner"], alice.as_str());
    assert_eq!(piece["owner_recovery"], sheet.to_string());
    assert_eq!(piece["seq"], 1);
    assert_eq!(piece["edition"]["size"], 3);
    assert_eq!(
        (&piece["stolen"], &piece["void"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
    // The edition agrees with the item's own history.
    let view = server.get_json(&format!("/v1/items/{first}"));
    assert_eq!(piece["edition"], view["edition"], "{view}");
    assert_eq!(piece["short"], view["short"]);

    let bobs = owned(&server, &bob);
    assert_eq!(items(&bobs), vec![second.clone()], "{bobs}");
    assert_eq!(bobs["items"][0]["owner_recovery"], Value::Null);
    assert_eq!(bobs["items"][0]["seq"], 2);
    assert_eq!(items(&owned(&server, &maker)), vec![third.clone()]);
    assert!(items(&owned(&server, &carol)).is_empty());

    let on_sheet = committed(&server, &sheet);
    assert_eq!(items(&on_sheet), vec![first.clone()], "{on_sheet}");
    assert_eq!(on_sheet["recovery"], sheet.to_string());
    assert_eq!(on_sheet["items"][0]["owner"], alice.as_str());

    // Alice lost her phone: her sheet moves the piece to carol's key.
    server.ok(&[
        "recover",
        &first,
        "--recovery-key",
        "alice.recovery.pem",
        "--new-key",
        "carol.pem",
    ]);
    assert!(items(&committed(&server, &sheet)).is_empty());
    assert!(items(&owned(&server, &alice)).is_empty());
    let carols = owned(&server, &carol);
    assert_eq!(items(&carols), vec![first.clone()], "{carols}");
    assert_eq!(carols["items"][0]["seq"], 2);
    assert_eq!(carols["items"][0]["owner_recovery"], Value::Null);
    assert_eq!(items(&owned(&server, &bob)), vec![second]);
    assert_eq!(items(&owned(&server, &maker)), vec![third]);

    // The figures stay behind the token: the ledger really is in `--stats token` mode.
    let refused = problem(&server, &format!("/v1/makers/{maker}/stats"));
    assert_problem(&refused, 401, "ledger.unauthorized");
}

#[test]
fn malformed_keys_digests_and_pages_are_400_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    server.parties(&[("maker", "maker")]);
    let maker = key(tmp.path(), "maker.pem").public_key().to_base64url();
    let digest = RecoveryDigest::of(&key(tmp.path(), "maker.pem").public_key()).to_string();
    let long = "A".repeat(5000);
    for (path, code) in [
        (
            "/v1/owners/not-a-key/items".to_string(),
            "ledger.bad_request",
        ),
        (format!("/v1/owners/{maker}A/items"), "ledger.bad_request"),
        (format!("/v1/owners/{long}/items"), "ledger.bad_request"),
        // 32 zero bytes: spelled right, a point of small order.
        (
            format!("/v1/owners/{}/items", "A".repeat(43)),
            "decode.bad_public_key",
        ),
        ("/v1/recoveries/abc/items".to_string(), "ledger.bad_request"),
        (
            format!("/v1/recoveries/{}/items", digest.to_uppercase()),
            "ledger.bad_request",
        ),
        (
            format!("/v1/recoveries/{}/items", "g".repeat(64)),
            "ledger.bad_request",
        ),
        (
            format!("/v1/owners/{maker}/items?limit=0"),
            "ledger.bad_request",
        ),
        (
            format!("/v1/owners/{maker}/items?limit=1001"),
            "ledger.bad_request",
        ),
        (
            format!("/v1/owners/{maker}/items?limit=two"),
            "ledger.bad_request",
        ),
        (
            format!("/v1/recoveries/{digest}/items?after=nope"),
            "ledger.bad_request",
        ),
    ] {
        let answer = problem(&server, &path);
        assert_problem(&answer, 400, code);
        assert!(
            answer.1["detail"].as_str().unwrap().len() < 300,
            "{path}: {}",
            answer.1
        );
    }
    // Well-formed but holding nothing: an empty answer, not an error.
    let none = server.get_json(&format!("/v1/recoveries/{digest}/items"));
    assert_eq!(none["items"], Value::Array(Vec::new()));
    assert_eq!(none["next"], Value::Null);
    assert_eq!(none["recovery"], digest.as_str());
}

#[test]
fn a_bounded_answer_names_the_next_page_until_the_last() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    server.parties(&[("maker", "maker")]);
    let maker = key(tmp.path(), "maker.pem").public_key().to_base64url();
    let run = server.run_of("maker", "Pin", 5);
    let minted = by_bytes(server.mint_of("maker", &run, 5));
    // Without a limit: all five (the bound is 1,000), no next page.
    let whole = owned(&server, &maker);
    assert_eq!(items(&whole), minted);
    assert_eq!(whole["next"], Value::Null);
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut path = format!("/v1/owners/{maker}/items?limit=2");
    loop {
        let page = server.get_json(&path);
        let got = items(&page);
        assert!(got.len() <= 2, "{page}");
        pages.push(got.len());
        seen.extend(got.clone());
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(Some(next), got.last().map(String::as_str), "{page}");
                path = format!("/v1/owners/{maker}/items?limit=2&after={next}");
            }
            None => break,
        }
    }
    assert_eq!(pages, [2, 2, 1]);
    assert_eq!(seen, minted);
    // A page ending exactly at the last item names no next page.
    let exact = server.get_json(&format!("/v1/owners/{maker}/items?limit=5"));
    assert_eq!((items(&exact).len(), &exact["next"]), (5, &Value::Null));
}
