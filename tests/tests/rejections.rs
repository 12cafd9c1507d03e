//! Every rejection of the append path against the real server: each asserts its status, its
//! spec code, and that nothing stored changed (item JSON and row counts identical).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{assert_problem, key, Server};
use provenance_core::{
    ChainLink, ItemId, Mint, Record, RecordBody, RecordHash, Repair, RunId, SigningKey, Timestamp,
};
use serde_json::Value;

const COSE: &str = "application/cose";

struct Fixture {
    _tmp: tempfile::TempDir,
    server: Server,
    maker: SigningKey,
    desk: SigningKey,
    buyer: SigningKey,
    run: RunId,
    a: String,
    b: String,
}

fn setup() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let server = Server::start(&dir, &[]);
    server.parties(&[
        ("maker", "maker"),
        ("desk", "repairer"),
        ("host", "host"),
        ("buyer", ""),
    ]);
    let run = server.run_of("maker", "T", 3);
    let items = server.ok(&["mint", "--key", "maker.pem", "--run", &run, "--count", "2"]);
    let mut items = items.lines().map(str::to_string);
    Fixture {
        maker: key(&dir, "maker.pem"),
        desk: key(&dir, "desk.pem"),
        buyer: key(&dir, "buyer.pem"),
        run: RunId::from_base32(&run).unwrap(),
        a: items.next().unwrap(),
        b: items.next().unwrap(),
        server,
        _tmp: tmp,
    }
}

impl Fixture {
    /// Everything a rejection must leave untouched.
    fn snapshot(&self) -> (Value, Value, Value, [u64; 4]) {
        (
            self.server.get_json(&format!("/v1/items/{}", self.a)),
            self.server.get_json(&format!("/v1/items/{}", self.b)),
            self.server.get_json(&format!("/v1/runs/{}", self.run)),
            self.server.stored(),
        )
    }

    fn head(&self, item: &str) -> (u64, RecordHash) {
        let v = self.server.get_json(&format!("/v1/items/{item}"));
        (
            v["head"]["seq"].as_u64().unwrap(),
            RecordHash::from_hex(v["head"]["hash"].as_str().unwrap()).unwrap(),
        )
    }

    fn sign_next(&self, item: &str, signer: &SigningKey, body: RecordBody) -> Vec<u8> {
        let (seq, prev) = self.head(item);
        let item = ItemId::from_base32(item).unwrap();
        Record {
            time: common::now(),
            seq: seq + 1,
            body,
        }
        .sign(signer, Some(&ChainLink { item, prev }))
    }

    fn post_record(&self, item: &str, bytes: &[u8]) -> (u16, Value) {
        self.server
            .post(&format!("/v1/items/{item}/records"), COSE, bytes)
    }

    fn mint(&self, number: u64, size: u64, run: RunId, time: Timestamp) -> Vec<u8> {
        Record {
            time,
            seq: 0,
            body: RecordBody::Mint(Mint {
                run,
                number,
                size,
                title: "T".into(),
                microfactory: "M".into(),
                owner: None,
            }),
        }
        .sign(&self.maker, None)
    }
}

fn repair(note: &str) -> RecordBody {
    RecordBody::Repair(Repair {
        note: note.into(),
        parts: vec![],
    })
}

#[test]
fn every_rejection_changes_nothing() {
    common::for_each_backend(every_rejection_changes_nothing_once);
}

/// One backend's run of [`every_rejection_changes_nothing`].
fn every_rejection_changes_nothing_once() {
    let f = setup();
    let before = f.snapshot();
    let a = f.a.as_str();

    // Garbage body.
    assert_problem(
        &f.post_record(a, b"\xff\x00garbage"),
        400,
        "decode.malformed",
    );
    assert_problem(
        &f.server.post("/v1/items", COSE, b"\xff\xfe\xfd"),
        400,
        "decode.malformed",
    );
    assert_problem(
        &f.server.post("/v1/runs", COSE, &[0xd2, 0x84]),
        400,
        "decode.malformed",
    );
    // Wrong media type.
    let good = f.sign_next(a, &f.desk, repair("ok"));
    assert_problem(
        &f.server
            .post(&format!("/v1/items/{a}/records"), "application/json", &good),
        415,
        "ledger.unsupported_media_type",
    );
    // Oversized body (records are at most 2048 bytes; trust lists at most 256 KiB).
    assert_problem(
        &f.post_record(a, &vec![0u8; 2049]),
        413,
        "ledger.body_too_large",
    );
    assert_problem(
        &f.server.post("/v1/trust", COSE, &vec![0u8; 256 * 1024 + 1]),
        413,
        "ledger.body_too_large",
    );
    // Bad path and unknown item.
    assert_problem(
        &f.post_record("not-an-item", &good),
        400,
        "ledger.bad_request",
    );
    assert_problem(
        &f.post_record(&ItemId([7; 16]).to_base32(), &good),
        404,
        "ledger.not_found",
    );
    // Unauthorized signers: a desk cannot badge, an unknown key cannot repair.
    let badge = RecordBody::Badge(provenance_core::Badge {
        event: "E".into(),
        place: None,
    });
    assert_problem(
        &f.post_record(a, &f.sign_next(a, &f.desk, badge)),
        403,
        "chain.signer_not_authorized",
    );
    let stranger = SigningKey::from_seed([42; 32]);
    assert_problem(
        &f.post_record(a, &f.sign_next(a, &stranger, repair("x"))),
        403,
        "chain.unknown_signer",
    );
    // Transfer signed by a non-owner (the maker owns it; the buyer signs).
    let transfer = RecordBody::Transfer(f.desk.public_key().into());
    assert_problem(
        &f.post_record(a, &f.sign_next(a, &f.buyer, transfer)),
        403,
        "chain.signer_not_owner",
    );
    // Edition 4 of 3, a taken edition, an unregistered run.
    let t = common::now();
    assert_problem(
        &f.server.post("/v1/items", COSE, &f.mint(4, 3, f.run, t)),
        422,
        "run.edition_over_cap",
    );
    let taken = f.server.get_json(&format!("/v1/runs/{}", f.run))["items"][0]["number"]
        .as_u64()
        .unwrap();
    assert_problem(
        &f.server.post(
            "/v1/items",
            COSE,
            &f.mint(taken, 3, f.run, Timestamp(t.0 + 1)),
        ),
        422,
        "ledger.edition_taken",
    );
    assert_problem(
        &f.server
            .post("/v1/items", COSE, &f.mint(1, 3, RunId([3; 16]), t)),
        422,
        "ledger.run_not_registered",
    );
    // A later record posted as a mint, a mint posted as a later record.
    assert_problem(
        &f.server.post("/v1/items", COSE, &good),
        422,
        "chain.first_not_mint",
    );
    assert_problem(
        &f.post_record(a, &f.mint(3, 3, f.run, t)),
        422,
        "chain.unexpected_kind",
    );
    // A stale trust list (same version again).
    let (_, current) = common::get(&format!("{}/v1/trust", f.server.url), COSE);
    assert_problem(
        &f.server.post("/v1/trust", COSE, &current),
        409,
        "ledger.trust_version_stale",
    );
    assert_eq!(f.snapshot(), before, "nothing stored changed");

    // Stale head: two records both signed against the same head; the second gets 409 with the
    // current head in the body.
    let first = f.sign_next(a, &f.desk, repair("first"));
    let second = f.sign_next(a, &f.desk, repair("second"));
    let created = f.post_record(a, &first);
    assert_eq!(created.0, 201, "{}", created.1);
    assert_eq!(created.1["seq"], 1);
    assert_eq!(created.1["kind"], "repair");
    assert_eq!(created.1["item"], a);
    let after_first = f.snapshot();
    let stale = f.post_record(a, &second);
    assert_problem(&stale, 409, "chain.seq_mismatch");
    assert_eq!(stale.1["head"]["seq"], 1);
    assert_eq!(stale.1["head"]["hash"], RecordHash::of(&first).to_hex());
    assert_eq!(f.snapshot(), after_first);

    // Idempotent re-post: the same bytes get the first answer again, with 200.
    let repost = f.post_record(a, &first);
    assert_eq!(repost.0, 200);
    assert_eq!(repost.1, created.1);
    let mint_bytes = f.server.history(a).records[0].clone();
    let remint = f.server.post("/v1/items", COSE, &mint_bytes);
    assert_eq!(remint.0, 200);
    assert_eq!(remint.1["item"], a);
    assert_eq!(remint.1["seq"], 0);
    assert_eq!(f.snapshot(), after_first);

    // A record replayed onto another item (same position): the binding breaks the signature.
    assert_eq!(f.head(&f.b).0, 0);
    assert_problem(
        &f.post_record(&f.b, &first),
        403,
        "record.signature_invalid",
    );
    assert_eq!(f.snapshot(), after_first);

    // Rejections are counted by code in /metrics.
    let (_, metrics) = common::get(&format!("{}/metrics", f.server.url), "text/plain");
    let metrics = String::from_utf8(metrics).unwrap();
    for code in [
        "decode.malformed",
        "chain.seq_mismatch",
        "ledger.body_too_large",
        "record.signature_invalid",
    ] {
        assert!(
            metrics.contains(&format!("provenance_rejections_total{{code=\"{code}\"}}")),
            "{code}"
        );
    }
}

#[test]
fn concurrent_appends_to_one_item_have_exactly_one_winner() {
    common::for_each_backend(concurrent_appends_to_one_item_have_exactly_one_winner_once);
}

/// One backend's run of [`concurrent_appends_to_one_item_have_exactly_one_winner`].
fn concurrent_appends_to_one_item_have_exactly_one_winner_once() {
    let f = setup();
    let a = f.a.as_str();
    let records: Vec<Vec<u8>> = (0..8)
        .map(|i| f.sign_next(a, &f.desk, repair(&format!("desk {i}"))))
        .collect();
    let url = format!("{}/v1/items/{a}/records", f.server.url);
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = records
            .iter()
            .map(|r| s.spawn(|| common::post(&url, COSE, r)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<_> = answers.iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for loser in answers.iter().filter(|(s, _)| *s != 201) {
        assert_problem(loser, 409, "chain.seq_mismatch");
        assert_eq!(loser.1["head"]["seq"], 1);
    }
    let history = f.server.history(a);
    assert_eq!(history.records.len(), 2);
    assert_eq!(
        RecordHash::of(&history.records[1]).to_hex(),
        winners[0].1["head"].as_str().unwrap()
    );
    // A client that lost refetches the head and wins on retry (what the CLI does).
    let retry = f.sign_next(a, &f.desk, repair("retry"));
    assert_eq!(f.post_record(a, &retry).0, 201);
    assert_eq!(f.server.history(a).records.len(), 3);
}
