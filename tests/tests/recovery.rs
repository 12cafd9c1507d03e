//! Owner-key recovery by pre-rotation (spec §3.1, issue 23) through the real binaries: a buyer
//! made with `keygen --recovery` buys through a receive code, loses the owner key, recovers
//! with the recovery key, and sells on; the lost key, the spent recovery key, a former owner's
//! recovery key, the maker and the operator are each refused with their own code; the export
//! verifies offline with the recovery in its story; the recovery sheet's QR gives back the key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{decode_qr, key, verifier_bin, Server};
use provenance_core::recovery::{ReceiveCode, RecoverySheetCode};
use provenance_core::{verify_chain, RecoveryDigest};

/// Runs a command that must be refused with `code`.
fn refused(server: &Server, args: &[&str], code: &str) {
    let out = server.cli(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} was accepted");
    assert!(
        stderr.contains(code),
        "{args:?}: wanted {code}, got {stderr}"
    );
}

#[test]
fn lose_the_owner_key_recover_and_sell_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(dir, &[]);
    server.parties(&[("maker", "maker"), ("carol", "")]);
    let made = server.ok_json(&["keygen", "--recovery", "-o", "buyer.pem"]);
    let buyer = key(dir, "buyer.pem");
    let recovery = key(dir, "buyer.recovery.pem");
    assert_eq!(
        made["recovery_key_id"],
        recovery.public_key().key_id().to_string()
    );
    let code = made["receive_code"].as_str().unwrap();
    let parsed = ReceiveCode::parse(code).unwrap().0;
    assert_eq!(parsed.key, buyer.public_key());
    assert_eq!(
        parsed.recovery,
        Some(RecoveryDigest::of(&recovery.public_key()))
    );
    // `receive-code` prints the same code again; the sheet's QR gives back the recovery key.
    let again = server.ok(&[
        "receive-code",
        "-k",
        "buyer.pem",
        "-r",
        "buyer.recovery.pem",
    ]);
    assert_eq!(again.trim(), code);
    let sheet = RecoverySheetCode::parse(&decode_qr(&dir.join("buyer.recovery.png"))).unwrap();
    assert_eq!(sheet.0.public_key(), recovery.public_key());
    let again = server.cli(&["keygen", "--recovery", "-o", "buyer.pem"]);
    assert!(!again.status.success(), "keygen never overwrites a key");

    let run = server.run_of("maker", "Eclipse Pin", 3);
    let item = server.mint_of("maker", &run, 1).remove(0);
    server.ok(&["transfer", &item, "-k", "maker.pem", "--to", code]);

    // The phone is lost: its key is gone from the owner (a thief may hold a copy).
    std::fs::rename(dir.join("buyer.pem"), dir.join("thief.pem")).unwrap();
    server.ok(&["keygen", "--recovery", "-o", "buyer2.pem"]);
    let hostile_recover = |signer: &str| {
        [
            "recover",
            item.as_str(),
            "--recovery-key",
            signer,
            "--new-key",
            "carol.pem",
        ]
        .map(String::from)
    };
    // The maker and the operator cannot move a piece that committed to another key.
    for signer in ["maker.pem", "ledger.pem"] {
        let args = hostile_recover(signer);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&server, &args, "chain.recovery_key_mismatch");
    }
    // The recovery key as the owner has it after the loss: the code read off the printed
    // sheet, typed into a file.
    let sheet_text = decode_qr(&dir.join("buyer.recovery.png"));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join("sheet.txt"))
            .unwrap();
        std::io::Write::write_all(&mut f, format!("{sheet_text}\n").as_bytes()).unwrap();
    }
    server.ok(&[
        "recover",
        &item,
        "--recovery-key",
        "sheet.txt",
        "--new-key",
        "buyer2.pem",
        "--new-recovery",
        "buyer2.recovery.pem",
    ]);
    // From that record on, the lost key is refused with its own code, and so is a second use
    // of the spent recovery key.
    refused(
        &server,
        &["transfer", &item, "-k", "thief.pem", "--to", "carol.pem"],
        "chain.owner_key_recovered",
    );
    refused(
        &server,
        &[
            "recover",
            &item,
            "--recovery-key",
            "buyer.recovery.pem",
            "--new-key",
            "carol.pem",
        ],
        "chain.recovery_key_spent",
    );
    // The owner challenge answers only to the new key.
    let view = server.get_json(&format!("/v1/items/{item}"));
    assert_eq!(
        view["owner"],
        key(dir, "buyer2.pem").public_key().to_base64url(),
        "{view}"
    );
    assert_eq!(
        view["owner_recovery"],
        RecoveryDigest::of(&key(dir, "buyer2.recovery.pem").public_key()).to_string()
    );
    assert_eq!(view["recoveries"][0]["to"], view["owner"], "{view}");

    // Sell on; the seller's recovery key is then a former owner's.
    server.ok(&["transfer", &item, "-k", "buyer2.pem", "--to", "carol.pem"]);
    refused(
        &server,
        &[
            "recover",
            &item,
            "--recovery-key",
            "buyer2.recovery.pem",
            "--new-key",
            "buyer2.pem",
        ],
        "chain.recovery_key_former_owner",
    );

    // The history verifies offline, the recovery in its story.
    let history = server.history(&item);
    let chain = verify_chain(
        history.records.iter().map(Vec::as_slice),
        &server.trust(),
        common::now(),
    )
    .unwrap();
    assert_eq!(chain.recovers().len(), 1);
    assert_eq!(chain.owner(), &key(dir, "carol.pem").public_key());
    server.ok(&["trust", "export", "--out", "trust.cbor"]);
    server.ok(&["export", &item, "--out", "history.cbor"]);
    let out = std::process::Command::new(verifier_bin())
        .arg("--trust")
        .arg(dir.join("trust.cbor"))
        .arg("--file")
        .arg(dir.join("history.cbor"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("owner key recovered on"), "{text}");
    let json = std::process::Command::new(verifier_bin())
        .arg("--trust")
        .arg(dir.join("trust.cbor"))
        .arg("--file")
        .arg(dir.join("history.cbor"))
        .arg("--json")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let recoveries = &report["story"]["recoveries"];
    assert_eq!(recoveries.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(
        recoveries[0]["from"]["key_id"],
        key(dir, "thief.pem").public_key().key_id().to_string()
    );
    server.stop();
}

#[test]
fn the_recovery_key_reports_a_piece_stolen_before_a_thief_sells_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(dir, &[]);
    server.parties(&[("maker", "maker"), ("carol", "")]);
    let made = server.ok_json(&["keygen", "--recovery", "-o", "bob.pem"]);
    let code = made["receive_code"].as_str().unwrap().to_string();
    let run = server.run_of("maker", "Eclipse Pin", 3);
    // The maker names Bob as first owner at the mint, with his recovery commitment.
    let item = server
        .ok(&["mint", "-k", "maker.pem", "--run", &run, "--owner", &code])
        .trim()
        .to_string();
    // A key without a commitment is refused as such; Bob's recovery key reports it stolen.
    refused(
        &server,
        &[
            "report",
            &item,
            "-k",
            "carol.pem",
            "--by-recovery-key",
            "--stolen",
        ],
        "chain.recovery_key_mismatch",
    );
    server.ok(&[
        "report",
        &item,
        "-k",
        "bob.recovery.pem",
        "--by-recovery-key",
        "--stolen",
    ]);
    // A recover waits until the piece is reported recovered.
    refused(
        &server,
        &[
            "recover",
            &item,
            "--recovery-key",
            "bob.recovery.pem",
            "--new-key",
            "carol.pem",
        ],
        "chain.recover_while_stolen",
    );
    let view = server.get_json(&format!("/v1/items/{item}"));
    assert_eq!(view["stolen"], true, "{view}");
    server.stop();
}
