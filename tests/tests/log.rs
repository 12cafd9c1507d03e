//! The Merkle log through the real binaries: inclusion of every record in the served
//! checkpoint, consistency across appends and restarts, log/head/export/payload endpoints, and
//! a record edited directly in the database file caught by `provenance log verify --since` and
//! by `provenance-verify --file` on the exported history.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{assert_problem, get, key, verifier_bin, Server};
use provenance_core::checkpoint::Checkpoint;
use provenance_core::head::HeadStatement;
use provenance_core::log::{
    item_leaf, leaf_hash, node_hash, verify_consistency, verify_inclusion, MemoryTree, TreeHash,
};
use provenance_core::{
    ChainLink, History, ItemId, Payload, PublicKey, Record, RecordBody, RecordHash, Repair,
    Timestamp, TrustList,
};
use serde_json::Value;

struct Fixture {
    _tmp: tempfile::TempDir,
    server: Option<Server>,
    run: String,
    items: Vec<String>,
    trust: TrustList,
    ledger: PublicKey,
}

impl Fixture {
    fn dir(&self) -> &Path {
        self._tmp.path()
    }

    fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    fn stop(&mut self) {
        self.server.take().unwrap().stop();
    }

    fn start(&mut self) {
        self.server = Some(Server::start(self._tmp.path(), &[]));
    }
}

/// Keys, a ledger, a trusted maker and desk, a run of 10 and `n` minted pieces.
fn setup(n: u64) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(dir, &[]);
    server.parties(&[("maker", "maker"), ("desk", "repairer"), ("buyer", "")]);
    let run = server.run_of("maker", "Log Pin", 10);
    let items: Vec<String> = server
        .ok(&[
            "mint",
            "--key",
            "maker.pem",
            "--run",
            &run,
            "--count",
            &n.to_string(),
        ])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(items.len() as u64, n);
    server.ok(&["trust", "export", "--out", "trust.cbor"]);
    let trust = TrustList::verify(&std::fs::read(dir.join("trust.cbor")).unwrap(), None).unwrap();
    let ledger = key(dir, "ledger.pem").public_key();
    assert_eq!(
        trust.content().ledger,
        Some(ledger),
        "trust add names the ledger key in the signed list"
    );
    Fixture {
        _tmp: tmp,
        server: Some(server),
        run,
        items,
        trust,
        ledger,
    }
}

fn checkpoint(server: &Server, ledger: &PublicKey) -> (String, Checkpoint) {
    let (status, body) = get(&format!("{}/v1/log/checkpoint", server.url), "text/plain");
    assert_eq!(status, 200);
    let note = String::from_utf8(body).unwrap();
    let cp = Checkpoint::verify_own_origin(&note, ledger).unwrap();
    (note, cp)
}

fn hashes(v: &Value) -> Vec<Vec<u8>> {
    v["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
        .collect()
}

fn get_json_status(server: &Server, path: &str) -> (u16, Value) {
    let (status, body) = get(&format!("{}{path}", server.url), "application/json");
    (status, serde_json::from_slice(&body).unwrap())
}

/// Every record of every item is proved included in the checkpoint `cp`.
fn check_all_included(server: &Server, items: &[String], cp: &Checkpoint) -> usize {
    let mut proved = 0;
    for item in items {
        let id = ItemId::from_base32(item).unwrap();
        let json = server.get_json(&format!("/v1/items/{item}"));
        let history = server.history(item);
        for r in json["records"].as_array().unwrap() {
            let seq = r["seq"].as_u64().unwrap();
            let index = r["log_index"]
                .as_u64()
                .expect("every record shows its log index");
            let leaf = leaf_hash(&item_leaf(&id, seq, &history.records[seq as usize]));
            let (status, v) = get_json_status(
                server,
                &format!("/v1/log/inclusion?index={index}&size={}", cp.size),
            );
            assert_eq!(status, 200, "{v}");
            assert_eq!(v["leaf_hash"], hex::encode(leaf.0));
            let proof = hashes(&v);
            let proof: Vec<&[u8]> = proof.iter().map(Vec::as_slice).collect();
            verify_inclusion(index, cp.size, &leaf.0, &proof, &cp.root.0).unwrap();
            proved += 1;
        }
    }
    proved
}

fn check_consistent(server: &Server, a: &Checkpoint, b: &Checkpoint) {
    let proof = if a.size == b.size {
        Vec::new()
    } else {
        let (status, v) = get_json_status(
            server,
            &format!("/v1/log/consistency?first={}&second={}", a.size, b.size),
        );
        assert_eq!(status, 200, "{v}");
        hashes(&v)
    };
    let proof: Vec<&[u8]> = proof.iter().map(Vec::as_slice).collect();
    verify_consistency(a.size, b.size, &a.root.0, &b.root.0, &proof).unwrap();
}

/// Runs `provenance-verify --file FILE --trust trust.cbor --json`; returns (exit code, JSON).
fn verify_file(dir: &Path, file: &str) -> (i32, Value) {
    let out = Command::new(verifier_bin())
        .args(["--file", file, "--trust", "trust.cbor", "--json"])
        .current_dir(dir)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), v)
}

#[test]
fn every_record_is_included_and_the_log_stays_consistent_across_appends_and_restart() {
    common::for_each_backend(
        every_record_is_included_and_the_log_stays_consistent_across_appends_and_restart_once,
    );
}

/// One backend's run of [`every_record_is_included_and_the_log_stays_consistent_across_appends_and_restart`].
fn every_record_is_included_and_the_log_stays_consistent_across_appends_and_restart_once() {
    let mut f = setup(3);
    let s = f.server();
    s.ok(&[
        "repair",
        &f.items[0],
        "--key",
        "desk.pem",
        "--note",
        "clasp",
    ]);
    s.ok(&[
        "transfer",
        &f.items[1],
        "--key",
        "maker.pem",
        "--to",
        "buyer.pem",
    ]);

    // The CLI fetches and verifies the checkpoint with the trust list's ledger key.
    let v = s.ok_json(&["log", "checkpoint", "--save", "cp1.txt"]);
    let (note1, cp1) = checkpoint(s, &f.ledger);
    // 1 run manifest + 3 mints + repair + transfer.
    assert_eq!(cp1.size, 6);
    assert_eq!(v["size"], 6);
    assert_eq!(
        std::fs::read_to_string(f.dir().join("cp1.txt")).unwrap(),
        note1
    );
    assert_eq!(
        cp1.origin,
        s.url.trim_start_matches("http://"),
        "origin defaults to the listen address"
    );
    assert_eq!(check_all_included(s, &f.items, &cp1), 5);

    // Run manifests are leaves too: the run's answer to a re-post names its leaf.
    let entries = s.get_json("/v1/log/entries?start=0&end=100");
    assert_eq!(entries["entries"].as_array().unwrap().len(), 6);
    assert_eq!(entries["entries"][0]["kind"], "run");
    assert_eq!(entries["entries"][0]["id"], f.run);

    // More appends, then a consistency proof between the two checkpoints.
    let more = s.ok(&[
        "mint",
        "--key",
        "maker.pem",
        "--run",
        &f.run,
        "--count",
        "2",
    ]);
    f.items.extend(more.lines().map(str::to_string));
    let s = f.server();
    s.ok(&[
        "repair",
        &f.items[0],
        "--key",
        "desk.pem",
        "--note",
        "polish",
    ]);
    let (_, cp2) = checkpoint(s, &f.ledger);
    assert_eq!(cp2.size, 9);
    check_consistent(s, &cp1, &cp2);
    assert_eq!(check_all_included(s, &f.items, &cp2), 8);
    let v = s.ok_json(&["log", "verify", "--since", "cp1.txt", "--save", "cp2.txt"]);
    assert_eq!(v["consistent"], true);
    assert_eq!(v["audited"], 9);
    let out = s.ok(&["log", "verify", "--since", "cp1.txt"]);
    assert!(out.contains("log consistent: 6 -> 9 leaves"), "{out}");

    // Restart (new port, so a new origin): same tree, re-signed; then more appends.
    f.stop();
    f.start();
    let s = f.server();
    let (_, cp3) = checkpoint(s, &f.ledger);
    assert_eq!((cp3.size, cp3.root), (cp2.size, cp2.root));
    s.ok(&[
        "transfer",
        &f.items[0],
        "--key",
        "maker.pem",
        "--to",
        "buyer.pem",
    ]);
    let (_, cp4) = checkpoint(s, &f.ledger);
    assert_eq!(cp4.size, 10);
    for earlier in [&cp1, &cp2, &cp3] {
        check_consistent(s, earlier, &cp4);
    }
    assert_eq!(check_all_included(s, &f.items, &cp4), 9);
    s.ok(&["log", "verify", "--since", "cp1.txt"]);
    s.ok(&[
        "log",
        "verify",
        "--since",
        "cp2.txt",
        "--trust",
        "trust.cbor",
    ]);
    let pinned = f.ledger.to_base64url();
    s.ok(&["log", "checkpoint", "--ledger-key", &pinned]);

    // A checkpoint checked against another key is refused with its code.
    let buyer = key(f.dir(), "buyer.pem").public_key().to_base64url();
    let out = s.cli(&["log", "checkpoint", "--ledger-key", &buyer]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[checkpoint.unknown_key]"), "{err}");
    assert_eq!(err.lines().count(), 1, "one-line error: {err}");

    // Bad parameters: problem+json with the right status and code, never a panic.
    let cases: &[(&str, u16, &str)] = &[
        (
            "/v1/log/inclusion?index=x&size=3",
            400,
            "ledger.bad_request",
        ),
        ("/v1/log/inclusion?size=3", 400, "ledger.bad_request"),
        (
            "/v1/log/inclusion?index=-1&size=3",
            400,
            "ledger.bad_request",
        ),
        (
            "/v1/log/inclusion?index=0&size=99999999999999999999",
            400,
            "ledger.bad_request",
        ),
        ("/v1/log/inclusion?index=0&size=11", 404, "ledger.not_found"),
        (
            "/v1/log/inclusion?index=18446744073709551615&size=18446744073709551615",
            404,
            "ledger.not_found",
        ),
        (
            "/v1/log/inclusion?index=10&size=10",
            422,
            "log.index_out_of_range",
        ),
        (
            "/v1/log/consistency?first=0&second=5",
            422,
            "log.empty_first_tree",
        ),
        (
            "/v1/log/consistency?first=6&second=5",
            422,
            "log.size_order",
        ),
        (
            "/v1/log/consistency?first=1&second=11",
            404,
            "ledger.not_found",
        ),
        ("/v1/log/consistency?first=1", 400, "ledger.bad_request"),
        ("/v1/log/entries?start=5&end=5", 400, "ledger.bad_request"),
        ("/v1/log/entries?start=10&end=20", 404, "ledger.not_found"),
        ("/v1/items/NOTANID/head", 400, "ledger.bad_request"),
        (
            "/v1/items/AAAAAAAAAAAAAAAAAAAAAAAAAA/head",
            404,
            "ledger.not_found",
        ),
        (
            "/v1/items/AAAAAAAAAAAAAAAAAAAAAAAAAA/export",
            404,
            "ledger.not_found",
        ),
    ];
    for (path, status, code) in cases {
        let answer = get_json_status(s, path);
        assert_problem(&answer, *status, code);
    }
    // Pages are bounded.
    let page = s.get_json("/v1/log/entries?start=1&end=18446744073709551615");
    assert_eq!(page["end"], 10);

    // Head statement: COSE by default, JSON on request; verifies with the trust list.
    let item = &f.items[0];
    let (status, cose) = get(&format!("{}/v1/items/{item}/head", s.url), "*/*");
    assert_eq!(status, 200);
    let statement = HeadStatement::verify(&cose, &f.trust, common::now()).unwrap();
    assert_eq!(statement.item.to_base32(), *item);
    assert_eq!(statement.seq, 3);
    assert_eq!(statement.owner, key(f.dir(), "buyer.pem").public_key());
    assert_eq!((statement.repairs, statement.transfers), (2, 1));
    assert_eq!(statement.log_size, 10);
    let json = s.get_json(&format!("/v1/items/{item}/head"));
    assert_eq!(json["seq"], 3);
    assert_eq!(json["repairs"], 2);
    assert!(json["cose"].is_string());

    // Living payload: the whole chain and a head statement, verified offline.
    let (status, text) = get(&format!("{}/v1/items/{item}/payload", s.url), "text/plain");
    assert_eq!(status, 200);
    let payload = Payload::decode(std::str::from_utf8(&text).unwrap()).unwrap();
    let Payload::History(h) = &payload else {
        panic!("a living payload is a container")
    };
    assert_eq!(h.records.len(), 4);
    assert!(h.head.is_some() && h.anchor.is_none() && h.run.is_none());
    let verified = payload.verify(&f.trust, common::now()).unwrap();
    assert_eq!(verified.head.unwrap().seq, 3);

    // Export: written only after it verified; provenance-verify accepts it offline.
    let v = s.ok_json(&["export", item, "--out", "history.cbor"]);
    assert_eq!(v["records"], 4);
    let file = History::from_cbor(
        &std::fs::read(f.dir().join("history.cbor")).unwrap(),
        provenance_core::limits::MAX_HISTORY_BYTES,
    )
    .unwrap();
    let anchor = file.anchor.clone().unwrap();
    assert_eq!(
        anchor.index,
        s.get_json(&format!("/v1/items/{item}"))["records"][3]["log_index"]
    );
    let verified = Payload::History(file)
        .verify(&f.trust, common::now())
        .unwrap();
    assert_eq!(verified.checkpoint.unwrap().size, 10);
    let (code, report) = verify_file(f.dir(), "history.cbor");
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["verdict"], "genuine");
    f.stop();
}

/// Re-signs the item's last record (a repair) with the same desk key but another note, in
/// the database file, as someone with write access to it (and the desk key) would.
fn forge_last_repair(db: &Path, desk: &provenance_core::SigningKey, item: &ItemId) -> Vec<u8> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let (seq, prev_hash): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT seq, hash FROM records WHERE item = ?1 AND seq = (SELECT MAX(seq) - 1 FROM records WHERE item = ?1)",
            [&item.0[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let time: i64 = conn
        .query_row(
            "SELECT time FROM records WHERE item = ?1 AND seq = ?2",
            rusqlite::params![&item.0[..], seq + 1],
            |r| r.get(0),
        )
        .unwrap();
    let forged = Record {
        time: Timestamp(time as u64),
        seq: seq as u64 + 1,
        body: RecordBody::Repair(Repair {
            note: "replaced the stone (never happened)".into(),
            parts: vec!["stone".into()],
        }),
    }
    .sign(
        desk,
        Some(&ChainLink {
            item: *item,
            prev: RecordHash(prev_hash.try_into().unwrap()),
        }),
    );
    let hash = RecordHash::of(&forged);
    conn.execute(
        "UPDATE records SET bytes = ?1, hash = ?2 WHERE item = ?3 AND seq = ?4",
        rusqlite::params![&forged, &hash.0[..], &item.0[..], seq + 1],
    )
    .unwrap();
    conn.execute(
        "UPDATE items SET head_hash = ?1 WHERE id = ?2",
        rusqlite::params![&hash.0[..], &item.0[..]],
    )
    .unwrap();
    forged
}

/// What a malicious ledger would also do: recompute the edited leaf's hash and every interior
/// node, so that the stored tree is self-consistent again.
fn recompute_tree(db: &Path, item: &ItemId, seq: u64, bytes: &[u8]) -> TreeHash {
    let conn = rusqlite::Connection::open(db).unwrap();
    let leaf = leaf_hash(&item_leaf(item, seq, bytes));
    conn.execute(
        "UPDATE log_leaves SET hash = ?1 WHERE kind = 1 AND id = ?2 AND seq = ?3",
        rusqlite::params![&leaf.0[..], &item.0[..], seq as i64],
    )
    .unwrap();
    let mut stmt = conn
        .prepare("SELECT hash FROM log_leaves ORDER BY idx")
        .unwrap();
    let leaves: Vec<TreeHash> = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|h| TreeHash(h.unwrap().try_into().unwrap()))
        .collect();
    conn.execute("DELETE FROM log_nodes", []).unwrap();
    let mut level: Vec<TreeHash> = leaves.clone();
    let mut depth = 0;
    while level.len() > 1 {
        depth += 1;
        let next: Vec<TreeHash> = level
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
        for (i, h) in next.iter().enumerate() {
            conn.execute(
                "INSERT INTO log_nodes (level, idx, hash) VALUES (?1, ?2, ?3)",
                rusqlite::params![depth, i as i64, &h.0[..]],
            )
            .unwrap();
        }
        level = next;
    }
    let mut tree = MemoryTree::new();
    leaves.into_iter().for_each(|l| tree.push(l));
    provenance_core::log::root(&tree, tree.size()).unwrap()
}

fn expect_log_verify_fails(server: &Server, since: &str, what: &str) {
    let out = server.cli(&["log", "verify", "--since", since]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: log verify must fail");
    assert!(err.contains("[log.root_mismatch]"), "{what}: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: one-line error: {err}");
}

/// Fetches the export over HTTP (the CLI would refuse to write a history that does not
/// verify) and runs the offline verifier on it.
fn export_and_verify(f: &Fixture, item: &str, file: &str) -> (i32, Value) {
    let (status, body) = get(
        &format!("{}/v1/items/{item}/export", f.server().url),
        "application/cbor",
    );
    assert_eq!(status, 200);
    std::fs::write(f.dir().join(file), body).unwrap();
    verify_file(f.dir(), file)
}

#[test]
fn a_record_edited_in_the_database_file_is_detected() {
    let mut f = setup(2);
    let item = f.items[0].clone();
    let id = ItemId::from_base32(&item).unwrap();
    let s = f.server();
    s.ok(&["repair", &item, "--key", "desk.pem", "--note", "new clasp"]);
    s.ok(&[
        "repair",
        &f.items[1],
        "--key",
        "desk.pem",
        "--note",
        "other",
    ]);
    s.ok(&["log", "checkpoint", "--save", "before.txt"]);
    s.ok(&["export", &item, "--out", "before.cbor"]);
    assert_eq!(verify_file(f.dir(), "before.cbor").0, 0);
    let db = f.dir().join("ledger.db");
    let desk = key(f.dir(), "desk.pem");

    // A: the record is replaced by another one validly signed by the same desk key. The chain
    // still verifies on its own, but its leaf no longer matches the log.
    f.stop();
    let forged = forge_last_repair(&db, &desk, &id);
    f.start();
    let s = f.server();
    let shown = s.get_json(&format!("/v1/items/{item}"));
    assert_eq!(
        shown["verified"], true,
        "the forged chain is validly signed"
    );
    assert_eq!(
        shown["repairs"][0]["note"],
        "replaced the stone (never happened)"
    );
    expect_log_verify_fails(s, "before.txt", "edited record");
    let (code, report) = export_and_verify(&f, &item, "edited.cbor");
    assert_eq!(code, 2, "{report}");
    assert_eq!(report["code"], "log.root_mismatch", "{report}");
    let out = s.cli(&["export", &item, "--out", "refused.cbor"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[log.root_mismatch]"));
    assert!(
        !f.dir().join("refused.cbor").exists(),
        "an export that does not verify is not written"
    );

    // B: the leaf hash and every interior node recomputed too, keeping the signed checkpoint
    // (the ledger key is not at hand). The ledger notices at start and signs nothing more;
    // the auditor and the verifier both catch it.
    f.stop();
    let root = recompute_tree(&db, &id, 1, &forged);
    f.start();
    let s = f.server();
    expect_log_verify_fails(s, "before.txt", "recomputed leaves");
    let (code, report) = export_and_verify(&f, &item, "recomputed.cbor");
    assert_eq!(code, 2, "{report}");
    assert_eq!(report["code"], "log.root_mismatch", "{report}");

    // C: also re-sign a checkpoint over the rewritten tree with the ledger key, as a dishonest
    // ledger would. Every file it exports now verifies on its own; the auditor's checkpoint
    // saved before the rewrite is what proves the history was changed.
    f.stop();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let (size, origin): (i64, String) = conn
            .query_row("SELECT size, note FROM log_checkpoint", [], |r| {
                Ok((r.get(0)?, r.get::<_, String>(1)?))
            })
            .unwrap();
        let origin = origin.lines().next().unwrap().to_string();
        let note = Checkpoint {
            origin: origin.clone(),
            size: size as u64,
            root,
        }
        .sign(&key(f.dir(), "ledger.pem"), &origin)
        .unwrap();
        conn.execute(
            "UPDATE log_checkpoint SET root = ?1, note = ?2",
            rusqlite::params![&root.0[..], note],
        )
        .unwrap();
    }
    f.start();
    let s = f.server();
    expect_log_verify_fails(s, "before.txt", "re-signed log");
    let (code, _) = export_and_verify(&f, &item, "resigned.cbor");
    assert_eq!(
        code, 0,
        "a re-signed log is only caught against an earlier checkpoint"
    );
    f.stop();
}
