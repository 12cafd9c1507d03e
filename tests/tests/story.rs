//! The whole story through the real binary: keys, trust, a run of 3, labels that scan back to
//! their payloads, repair, transfer, badge, stolen report, show, prove, export, QR; then a
//! restart (SIGTERM) and a kill -9 on the same database, after which everything is still
//! there and verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{cli, decode_qr, get, key, verifier_bin, Server};
use provenance_core::{challenge, verify_chain, ItemId, Payload, Timestamp, TrustList};

#[test]
fn whole_story_then_restart() {
    common::for_each_backend(whole_story_then_restart_once);
}

/// One backend's run of [`whole_story_then_restart`].
fn whole_story_then_restart_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    // keygen for the operator, a maker, a desk, a host and a buyer (no server needed).
    for name in ["operator", "maker", "desk", "host", "buyer"] {
        let out = cli(
            "http://127.0.0.1:9",
            dir,
            &["keygen", "--out", &format!("{name}.pem")],
        );
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let public = key(dir, &format!("{name}.pem")).public_key();
        assert!(text.contains(&format!("public key: {public}")), "{text}");
        assert!(
            text.contains(&format!("key id: {}", public.key_id())),
            "{text}"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(format!("{name}.pem")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = cli("http://127.0.0.1:9", dir, &["keygen", "--out", "maker.pem"]);
    assert!(!again.status.success(), "keygen never overwrites a key");

    let operator_pem = dir.join("operator.pem");
    let server = Server::start(dir, &["--operator", operator_pem.to_str().unwrap()]);

    // trust add: maker, repair desk, event host (each bumps the signed list's version).
    server.ok(&[
        "trust",
        "add",
        "--operator-key",
        "operator.pem",
        "--public",
        "maker.pem",
        "--role",
        "maker",
        "--name",
        "Karim Studio",
    ]);
    server.ok(&[
        "trust",
        "add",
        "--operator-key",
        "operator.pem",
        "--public",
        "desk.pem",
        "--role",
        "repairer",
        "--name",
        "Desk One",
    ]);
    let host_pub = key(dir, "host.pem").public_key().to_base64url();
    server.ok(&[
        "trust",
        "add",
        "--operator-key",
        "operator.pem",
        "--public",
        &host_pub,
        "--role",
        "host",
        "--name",
        "Design Week",
    ]);
    // The ledger's own key is not the operator here: it refuses a list signed by it.
    let wrong = server.cli(&[
        "trust",
        "add",
        "--operator-key",
        "ledger.pem",
        "--public",
        "buyer.pem",
        "--role",
        "maker",
        "--name",
        "x",
    ]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("[trust.operator_mismatch]"));
    server.ok(&["trust", "export", "--out", "trust.cbor"]);
    let trust = TrustList::verify(
        &std::fs::read(dir.join("trust.cbor")).unwrap(),
        Some(&key(dir, "operator.pem").public_key()),
    )
    .unwrap();
    assert_eq!(trust.content().version, 3);
    assert_eq!(trust.content().entries.len(), 3);
    let trust_json = server.get_json("/v1/trust");
    assert_eq!(
        trust_json["listed_ledger"], trust_json["ledger"],
        "trust add names the ledger key"
    );

    // run create with size 3.
    let run = server
        .ok(&[
            "run",
            "create",
            "--key",
            "maker.pem",
            "--title",
            "Eclipse Pin",
            "--microfactory",
            "Atelier Nord",
            "--place",
            "Lyon",
            "--size",
            "3",
        ])
        .trim()
        .to_string();
    assert_eq!(run.len(), 26);

    // mint 3 with labels.
    let minted = server.ok_json(&[
        "mint",
        "--key",
        "maker.pem",
        "--run",
        &run,
        "--count",
        "3",
        "--labels",
        "labels",
    ]);
    let items: Vec<String> = minted["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(items.len(), 3);
    let run_json = server.get_json(&format!("/v1/runs/{run}"));
    assert_eq!(run_json["minted"], 3);
    assert_eq!(run_json["maker"]["name"], "Karim Studio");
    for (n, entry) in minted["items"].as_array().unwrap().iter().enumerate() {
        let number = n as u64 + 1;
        assert_eq!(entry["number"], number);
        let item = entry["item"].as_str().unwrap();
        let short = &item[..8];
        let png = dir.join("labels").join(format!("{number}-{short}.png"));
        let svg = std::fs::read_to_string(dir.join("labels").join(format!("{number}-{short}.svg")))
            .unwrap();
        assert!(
            svg.contains(&format!("{number}/3"))
                && svg.contains("Eclipse Pin")
                && svg.contains(short)
        );
        // Each label PNG decodes back to exactly the label payload of its stored mint.
        let scanned = decode_qr(&png);
        let mint = server.history(item).records[0].clone();
        assert_eq!(scanned, Payload::Label(mint).encode());
        let chain = Payload::decode(&scanned)
            .unwrap()
            .verify(&trust, common::now())
            .unwrap()
            .chain;
        assert_eq!(chain.item().to_base32(), item);
        assert_eq!(chain.mint().number, number);
        // The offline verifier reads the same PNG: genuine, the right edition, label only.
        let out = std::process::Command::new(verifier_bin())
            .arg("--trust")
            .arg(dir.join("trust.cbor"))
            .arg("--image")
            .arg(&png)
            .arg("--json")
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(1), "{report}");
        assert_eq!(report["verdict"], "genuine_with_warnings");
        assert_eq!(report["findings"][0]["code"], "payload.label_only");
        assert_eq!(report["story"]["item"], item);
        assert_eq!(report["story"]["edition"]["number"], number);
        assert_eq!(report["story"]["edition"]["size"], 3);
        assert_eq!(report["story"]["maker"]["name"], "Karim Studio");
    }
    let sheet = std::fs::read_to_string(
        dir.join("labels")
            .join(format!("sheet-{}-1-3.svg", &run[..8])),
    )
    .unwrap();
    assert!(sheet.contains("210mm") && sheet.matches("Eclipse Pin").count() == 3);
    // A fourth piece of a run of 3 cannot be minted.
    let fourth = server.cli(&["mint", "--key", "maker.pem", "--run", &run]);
    assert!(!fourth.status.success());
    assert!(String::from_utf8_lossy(&fourth.stderr).starts_with("error: "));

    // repair, transfer to the buyer, badge, report stolen.
    let item = items[0].as_str();
    let buyer = key(dir, "buyer.pem").public_key();
    server.ok(&[
        "repair",
        item,
        "--key",
        "desk.pem",
        "--note",
        "new clasp",
        "--part",
        "clasp",
        "--part",
        "pin",
    ]);
    server.ok(&[
        "transfer",
        item,
        "--key",
        "maker.pem",
        "--to",
        &buyer.to_base64url(),
    ]);
    server.ok(&[
        "badge",
        item,
        "--key",
        "host.pem",
        "--event",
        "Design Week 2026",
        "--place",
        "Milan",
    ]);
    // The maker no longer owns it: a stolen report by the maker is refused with its code.
    let refused = server.cli(&["report", item, "--key", "maker.pem", "--stolen"]);
    assert!(!refused.status.success());
    let err = String::from_utf8(refused.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("error: ") && err.trim_end().ends_with("[chain.signer_not_owner]"),
        "{err}"
    );
    server.ok(&["report", item, "--key", "buyer.pem", "--stolen"]);

    // The item sheet says so first, red, in a buyer's words (issue 20.5).
    let (status, sheet) = common::get(&format!("{}/items/{item}", server.url), "text/html");
    assert_eq!(status, 200);
    let sheet = String::from_utf8(sheet).unwrap();
    let alarm = sheet
        .find("class=\"verdict alarm\" data-field=\"verdict\" data-stolen=\"true\">REPORTED STOLEN on ")
        .unwrap_or_else(|| panic!("no stolen alarm on the sheet:\n{sheet}"));
    assert!(alarm < sheet.find("<h1>").unwrap(), "the alarm comes first");
    assert!(sheet.contains(": do not buy</p>"), "{sheet}");
    // show tells the story: the collector's verifier's report of the full history.
    let story = server.ok(&["show", item]);
    assert!(
        story.starts_with("REPORTED STOLEN on ")
            && story.lines().next().unwrap().ends_with(": do not buy"),
        "stolen first, in a buyer's words:\n{story}"
    );
    for needle in [
        "GENUINE WITH WARNINGS: REPORTED STOLEN. 1/3 of 'Eclipse Pin', made by Karim Studio at Atelier Nord",
        "Repaired once. 2 owners.",
        "Piece       'Eclipse Pin', edition 1/3",
        "Made at     Atelier Nord",
        "at Desk One: new clasp (parts: clasp, pin)",
        &format!("Owners      2 so far; Owner: key id {}", buyer.key_id()),
        "Design Week 2026, Milan (host Design Week)",
        "owner confirmed by the ledger as of",
        "the last record is in the ledger's signed log",
        "WARNING [item.stolen]",
    ] {
        assert!(story.contains(needle), "story lacks {needle:?}:\n{story}");
    }
    // The same report as `provenance-verify --json` of the exported file.
    let report: serde_json::Value =
        serde_json::from_str(&server.ok(&["--json", "show", item])).unwrap();
    assert_eq!(report["verdict"], "genuine_with_warnings");
    assert_eq!(report["story"]["repair_count"], 1);
    let json = server.get_json(&format!("/v1/items/{item}"));
    assert_eq!(json["stolen"], true);
    assert_eq!(json["owner"], buyer.to_base64url());
    let kinds: Vec<&str> = json["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["mint", "repair", "transfer", "badge", "report"]);

    // prove: the buyer's answer checks against the current owner key.
    let answer = server.ok(&[
        "prove",
        item,
        "--key",
        "buyer.pem",
        "--challenge",
        "buyer-nonce-42",
    ]);
    let item_id = ItemId::from_base32(item).unwrap();
    assert_eq!(
        challenge::check(answer.trim(), &buyer, &item_id, b"buyer-nonce-42"),
        Ok(())
    );

    // export: the full history verifies offline from the maker's key.
    server.ok(&["export", item, "--out", "history.cbor"]);
    let history = provenance_core::History::from_cbor(
        &std::fs::read(dir.join("history.cbor")).unwrap(),
        1 << 20,
    )
    .unwrap();
    assert_eq!(history.records.len(), 5);
    let chain = Payload::History(history)
        .verify(&trust, common::now())
        .unwrap()
        .chain;
    assert!(chain.is_stolen());
    assert_eq!(chain.owner(), &buyer);

    // qr: the rendered living payload scans back to exactly what the server serves.
    server.ok(&["qr", item, "--out", "item.png"]);
    let (status, payload) = get(
        &format!("{}/v1/items/{item}/payload", server.url),
        "text/plain",
    );
    assert_eq!(status, 200);
    let payload = String::from_utf8(payload).unwrap();
    assert_eq!(decode_qr(&dir.join("item.png")), payload);
    assert_eq!(
        Payload::decode(&payload)
            .unwrap()
            .verify(&trust, common::now())
            .unwrap()
            .chain
            .seq(),
        4
    );
    // A collector, offline, reads the living QR photo and challenges the seller (the buyer):
    // owner and stolen flag from the ledger's head statement, as of today.
    let answer = server.ok(&[
        "prove",
        item,
        "--key",
        "buyer.pem",
        "--challenge",
        "stall-42",
    ]);
    let out = std::process::Command::new(verifier_bin())
        .arg("--trust")
        .arg(dir.join("trust.cbor"))
        .arg("--image")
        .arg(dir.join("item.png"))
        .args([
            "--json",
            "--challenge",
            "stall-42",
            "--response",
            answer.trim(),
        ])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(report["findings"][0]["code"], "item.stolen");
    assert_eq!(
        report["story"]["current_owner"]["key"],
        buyer.to_base64url()
    );
    assert_eq!(report["story"]["freshness"]["basis"], "head_statement");
    assert_eq!(report["story"]["freshness"]["age_days"], 0);
    assert_eq!(report["owner_challenge"]["passed"], true);
    let svg = server.ok(&["qr", item, "--terminal"]);
    assert!(svg.lines().count() > 10);

    // Restart on the same database (SIGTERM drains the writer): everything is still there.
    let before = server.get_json(&format!("/v1/items/{item}"));
    let stored = server.stored();
    let extra = server.restart_args();
    server.stop();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let server = Server::start(dir, &extra);
    assert_eq!(server.stored(), stored);
    assert_eq!(server.get_json(&format!("/v1/items/{item}")), before);
    assert_eq!(server.trust().content().version, 3);
    for id in &items {
        let h = server.history(id);
        let chain =
            verify_chain(h.records.iter().map(Vec::as_slice), &trust, common::now()).unwrap();
        assert_eq!(chain.item().to_base32(), *id);
    }
    // The chain cache is cold after a restart: appending rebuilds it from the stored records.
    server.ok(&["report", item, "--key", "buyer.pem", "--recovered"]);

    // kill -9 right after an acknowledged append: the append survives.
    let other = items[1].as_str();
    server.ok(&["transfer", other, "--key", "maker.pem", "--to", "buyer.pem"]);
    server.kill9();
    let server = Server::start(dir, &extra);
    let h = server.history(other);
    assert_eq!(h.records.len(), 2);
    let chain = verify_chain(h.records.iter().map(Vec::as_slice), &trust, common::now()).unwrap();
    assert_eq!(chain.owner(), &buyer);
    assert!(!server.get_json(&format!("/v1/items/{item}"))["stolen"]
        .as_bool()
        .unwrap());
    assert!(chain.last_time() <= Timestamp(common::now().0 + 1));
    server.stop();
}
