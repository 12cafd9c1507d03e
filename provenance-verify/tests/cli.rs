//! The `provenance-verify` binary: exit codes, JSON, stdin, files, images, challenges.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use image::{GrayImage, Luma};
use provenance_core::challenge;
use provenance_core::record::ReportStatus;
use provenance_verify::exit;
use qrcode::{EcLevel, QrCode};
use serde_json::Value;

struct Env {
    dir: tempfile::TempDir,
    trust: PathBuf,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let trust = dir.path().join("trust.cbor");
    std::fs::write(&trust, trust_bytes()).unwrap();
    Env { dir, trust }
}

impl Env {
    fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_provenance-verify"));
        cmd.arg("--trust")
            .arg(&self.trust)
            .args(["--now", "2026-06-01"]);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> (i32, Value) {
        let out = self.cmd().args(args).arg("--json").output().unwrap();
        let json = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.code().unwrap(), json)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn qr_png(text: &str, path: &Path) {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).unwrap();
    let img = code.render::<Luma<u8>>().module_dimensions(4, 4).build();
    img.save(path).unwrap();
}

#[test]
fn exit_codes_for_each_verdict() {
    let env = env();
    let genuine = env.run(&[&history().encode_confirmed()]);
    assert_eq!(genuine.status.code(), Some(0), "{}", stdout(&genuine));
    let text = stdout(&genuine);
    // A buyer's words first, then the details with their codes.
    assert!(
        text.starts_with(
            "GENUINE\n\u{2018}Eclipse Pin\u{2019}, edition 2 of 3, made by Karim Studio"
        ),
        "{text}"
    );
    assert!(
        text.contains("GENUINE: 2/3 of 'Eclipse Pin', made by Karim Studio"),
        "{text}"
    );
    assert!(
        text.contains("Repaired once. 2 owners. Current owner key"),
        "{text}"
    );
    assert!(text.contains("Fix-It Desk"), "{text}");

    let label = env.run(&[&label()]);
    assert_eq!(label.status.code(), Some(1));
    assert!(stdout(&label).contains("proves origin, not current owner or history"));

    let stolen = env.run(&[&history().report(&owner2(), ReportStatus::Stolen).encode()]);
    assert_eq!(stolen.status.code(), Some(1));
    let first = stdout(&stolen).lines().next().unwrap().to_string();
    assert!(
        first.starts_with("REPORTED STOLEN on 2026-") && first.ends_with(": do not buy"),
        "{first}"
    );

    let void = env.run(&[&history().report(&maker(), ReportStatus::Void).encode()]);
    assert_eq!(void.status.code(), Some(2));
    assert!(stdout(&void).contains("item.void"));

    let untrusted = provenance_core::Payload::Label(mint_with(&stranger(), 1, None, "2026-03-02"));
    let out = env.run(&[&untrusted.encode()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("untrusted"), "{}", stdout(&out));
    assert!(stdout(&out).contains("chain.unknown_signer"));

    let out = env.run(&["PV1:not base45!"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("payload.bad_base45"));
}

#[test]
fn json_output_carries_the_codes() {
    let env = env();
    let (code, json) = env.json(&[&label()]);
    assert_eq!(code, 1);
    assert_eq!(json["verdict"], "genuine_with_warnings");
    assert_eq!(json["findings"][0]["code"], "payload.label_only");
    assert_eq!(json["story"]["maker"]["name"], "Karim Studio");
    assert_eq!(json["story"]["edition"]["size"], 3);

    let revoked =
        provenance_core::Payload::Label(mint_with(&revoked_maker(), 1, None, "2026-03-02"));
    let (code, json) = env.json(&[&revoked.encode()]);
    assert_eq!(code, 2);
    assert_eq!(json["verdict"], "not_genuine");
    assert_eq!(json["code"], "chain.key_revoked");
    assert_eq!(json["findings"][0]["cause"], "key revoked");
}

#[test]
fn stdin_and_history_files() {
    let env = env();
    let chain = history();
    let mut child = env
        .cmd()
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", chain.encode_confirmed()).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    let file = env.path("history.cbor");
    std::fs::write(&file, chain.confirmed().to_cbor()).unwrap();
    let out = env.run(&["--file", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    let missing = env.path("missing.cbor");
    let (code, json) = env.json(&["--file", missing.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert_eq!(json["code"], "input.unreadable");
}

#[test]
fn label_photo_verifies_with_image() {
    let env = env();
    let png = env.path("label.png");
    qr_png(&label(), &png);
    let (code, json) = env.json(&["--image", png.to_str().unwrap()]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["story"]["edition"]["number"], 2);
    assert_eq!(json["findings"][0]["code"], "payload.label_only");

    // JPEG, with the QR in a larger grey frame, as a photo would be.
    let code =
        QrCode::with_error_correction_level(history().encode_confirmed().as_bytes(), EcLevel::M)
            .unwrap();
    let qr = code.render::<Luma<u8>>().module_dimensions(3, 3).build();
    let mut photo = GrayImage::from_pixel(qr.width() + 200, qr.height() + 120, Luma([200]));
    image::imageops::overlay(&mut photo, &qr, 90, 50);
    let jpg = env.path("photo.jpg");
    photo.save(&jpg).unwrap();
    let (code, json) = env.json(&["--image", jpg.to_str().unwrap()]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["story"]["owner_count"], 2);
}

#[test]
fn image_without_a_label_is_unreadable() {
    let env = env();
    let blank = env.path("blank.png");
    GrayImage::from_pixel(200, 200, Luma([255]))
        .save(&blank)
        .unwrap();
    let (code, json) = env.json(&["--image", blank.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert_eq!(json["verdict"], "unreadable");
    assert_eq!(json["code"], "input.no_qr");
    let text = stdout(&env.run(&["--image", blank.to_str().unwrap()]));
    assert!(text.contains("no readable QR code"), "{text}");

    // A QR code that is not a provenance label.
    let other = env.path("other.png");
    qr_png("https://example.com", &other);
    let (code, json) = env.json(&["--image", other.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert_eq!(json["code"], "input.no_qr");

    // Not an image at all.
    let junk = env.path("junk.png");
    std::fs::write(&junk, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let (code, json) = env.json(&["--image", junk.to_str().unwrap()]);
    assert_eq!(code, 3);
    assert_eq!(json["code"], "input.unreadable");
}

#[test]
fn owner_challenge_outcomes() {
    let env = env();
    let chain = history();
    let payload = chain.encode_confirmed();
    let right = challenge::prove(&owner2(), &chain.item, b"nonce-77").unwrap();
    let out = env.run(&[&payload, "--challenge", "nonce-77", "--response", &right]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("PASSED"));

    let earlier = challenge::prove(&owner1(), &chain.item, b"nonce-77").unwrap();
    let (code, json) = env.json(&[&payload, "--challenge", "nonce-77", "--response", &earlier]);
    assert_eq!(code, 4);
    assert_eq!(json["verdict"], "genuine");
    assert_eq!(json["owner_challenge"]["passed"], false);
    assert_eq!(json["owner_challenge"]["code"], "proof.invalid");

    let (code, _) = env.json(&[&payload, "--challenge", "nonce-78", "--response", &right]);
    assert_eq!(code, 4);

    // A challenge on a piece that is not genuine keeps the not-genuine exit code.
    let void = history().report(&maker(), ReportStatus::Void).encode();
    let (code, _) = env.json(&[&void, "--challenge", "nonce-77", "--response", &right]);
    assert_eq!(code, 2);
}

#[test]
fn usage_errors_exit_3_and_help_documents_exit_codes() {
    let env = env();
    for args in [
        vec![],
        vec!["--bogus"],
        vec!["--now", "yesterday", "PV1:x"],
        vec!["--operator", "nope", "PV1:x"],
        vec!["--challenge", "n", "PV1:x"],
        vec!["PV1:x", "--image", "a.png"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_provenance-verify"))
        .arg("PV1:x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "missing --trust");

    let help = Command::new(env!("CARGO_BIN_EXE_provenance-verify"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(help.status.code(), Some(0));
    let help = stdout(&help);
    for needle in [
        "EXIT CODES",
        "0  genuine",
        "3  unreadable",
        "4  owner challenge failed",
    ] {
        assert!(help.contains(needle), "help lacks {needle}: {help}");
    }
}

#[test]
fn trust_list_problems_exit_3_with_the_code() {
    let env = env();
    let other = operator_other();
    let (code, json) = env.json(&["--operator", &other, &label()]);
    assert_eq!(code, 3);
    assert_eq!(json["code"], "trust.operator_mismatch");
    let pinned = operator().public_key().to_base64url();
    let (code, _) = env.json(&["--operator", &pinned, &label()]);
    assert_eq!(code, 1);
}

fn operator_other() -> String {
    stranger().public_key().to_base64url()
}

#[test]
fn max_age_flag_sets_when_a_head_statement_is_old() {
    // A bad duration is a usage error.
    let out = env().run(&["PV1:", "--max-age", "soon"]);
    assert_eq!(out.status.code(), Some(provenance_verify::exit::UNREADABLE));
    use provenance_core::head::HeadStatement;
    use provenance_core::payload::HeadStatementBytes;
    use provenance_core::{verify_chain, History, Payload, Timestamp};
    let e = env();
    let chain = history();
    let verified = verify_chain(chain.records.iter().map(Vec::as_slice), &trust(), now()).unwrap();
    let ten_days_ago = Timestamp(now().0 - 10 * 86_400);
    let head = HeadStatement::for_chain(&verified, ten_days_ago, 7).sign(&ledger());
    let payload = Payload::History(History {
        records: vec![chain.records[0].clone()],
        run: None,
        head: Some(HeadStatementBytes(head)),
        anchor: None,
    })
    .encode();
    let (code, json) = e.json(&[payload.as_str()]);
    assert_eq!(code, provenance_verify::exit::GENUINE);
    assert_eq!(json["story"]["freshness"]["basis"], "head_statement");
    assert_eq!(json["story"]["freshness"]["age_days"], 10);
    let (code, json) = e.json(&[payload.as_str(), "--max-age", "7d"]);
    assert_eq!(code, provenance_verify::exit::WARNINGS);
    assert_eq!(json["findings"][0]["code"], "head.old");
    let (code, _) = e.json(&[payload.as_str(), "--max-age", "241h"]);
    assert_eq!(code, provenance_verify::exit::GENUINE);
    let (code, json) = e.json(&[payload.as_str(), "--max-age", "239h"]);
    assert_eq!(code, provenance_verify::exit::WARNINGS);
    assert_eq!(json["findings"][0]["code"], "head.old");
}

/// Issue 9.3: an offline double sale. The former owner shows a history cut before the
/// transfer that sold the piece on (records only, no head statement): the piece verifies, but
/// the owner is not confirmed, the exit code says so, and (issue 20.2) the former owner's
/// answer to the challenge is not judged at all: it never shows PASSED.
#[test]
fn a_cut_history_does_not_confirm_its_last_owner() {
    let env = env();
    let chain = history(); // mint → repair → owner1 sells to owner2 → badge
    let mut cut = chain.clone();
    cut.records.truncate(2); // before the transfer: owner1 still looks like the owner
    let file = env.path("cut.cbor");
    std::fs::write(&file, cut.file_bytes()).unwrap();
    let old_owner = challenge::prove(&owner1(), &chain.item, b"nonce-9").unwrap();
    let (code, json) = env.json(&[
        "--file",
        file.to_str().unwrap(),
        "--challenge",
        "nonce-9",
        "--response",
        &old_owner,
    ]);
    assert_eq!(code, exit::CHALLENGE_FAILED, "{json}");
    assert_eq!(json["verdict"], "genuine_with_warnings");
    assert_eq!(json["findings"][0]["code"], "payload.owner_unconfirmed");
    assert_eq!(json["story"]["freshness"]["basis"], "last_record");
    assert_eq!(json["owner_challenge"]["result"], "not_judged");
    assert_eq!(json["owner_challenge"]["passed"], false);
    assert_eq!(json["owner_challenge"]["code"], "payload.owner_unconfirmed");
    let message = json["owner_challenge"]["message"].as_str().unwrap();
    assert!(message.contains("NOT CHECKED"), "{message}");
    assert!(!message.contains("PASSED"), "{message}");
    let text = stdout(&env.run(&[
        "--file",
        file.to_str().unwrap(),
        "--challenge",
        "nonce-9",
        "--response",
        &old_owner,
    ]));
    assert!(
        text.contains("WARNING [payload.owner_unconfirmed]"),
        "{text}"
    );
    assert!(text.contains("NOT CONFIRMED"), "{text}");

    // A history with an extra transfer that never reached the ledger: without a head
    // statement it is unconfirmed the same way; with the ledger's (older) statement stapled,
    // the statement is stale against the records and the payload is refused.
    let extra = chain.clone().transfer(&owner2(), &owner1());
    let (code, json) = env.json(&[&extra.encode()]);
    assert_eq!(code, exit::WARNINGS, "{json}");
    assert_eq!(json["findings"][0]["code"], "payload.owner_unconfirmed");
    let mut stapled = match chain.confirmed() {
        provenance_core::Payload::History(h) => h,
        other => panic!("{other:?}"),
    };
    stapled.records = extra.records.clone();
    let (code, json) = env.json(&[&provenance_core::Payload::History(stapled).encode()]);
    assert_eq!(code, exit::NOT_GENUINE, "{json}");
    assert_eq!(json["code"], "head.stale");
}

/// Issue 9.8: without `--operator` the trust list file is its own anchor; the output says so.
#[test]
fn an_unpinned_operator_is_named_in_the_output() {
    let env = env();
    let payload = history().encode_confirmed();
    let text = stdout(&env.run(&[&payload]));
    assert!(text.contains("NOT PINNED"), "{text}");
    assert!(text.contains("--operator"), "{text}");
    let (_, json) = env.json(&[&payload]);
    assert_eq!(json["trust_anchor"]["pinned"], false);
    assert_eq!(
        json["trust_anchor"]["operator_key_id"],
        operator().public_key().key_id().to_string()
    );

    let pinned = operator().public_key().to_base64url();
    let text = stdout(&env.run(&[&payload, "--operator", &pinned]));
    assert!(!text.contains("NOT PINNED"), "{text}");
    assert!(text.contains("(pinned)"), "{text}");
    let (code, json) = env.json(&[&payload, "--operator", &pinned]);
    assert_eq!(code, exit::GENUINE);
    assert_eq!(json["trust_anchor"]["pinned"], true);

    // Pinning another operator refuses the list.
    let other = stranger().public_key().to_base64url();
    let (code, json) = env.json(&[&payload, "--operator", &other]);
    assert_eq!(code, exit::UNREADABLE);
    assert_eq!(json["code"], "trust.operator_mismatch");
}

/// Issue 21.7: `provenance-verify ... | head -1` closes the pipe before the verifier writes;
/// it used to panic (exit 101). It exits with the verdict's code, text or JSON.
#[test]
fn a_closed_pipe_keeps_the_verdict_s_exit_code() {
    let env = env();
    let payload = history().encode_confirmed();
    for json in [false, true] {
        let mut cmd = env.cmd();
        cmd.arg(&payload)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if json {
            cmd.arg("--json");
        }
        let mut child = cmd.spawn().unwrap();
        drop(child.stdout.take()); // the reader is gone before anything is written
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(exit::GENUINE), "json {json}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
