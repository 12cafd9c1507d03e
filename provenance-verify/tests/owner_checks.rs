//! Every vector of `spec/vectors/owner_checks.json` (issue 20.2): the owner check passes only
//! the owner the ledger's head statement names; a label or a history without the statement
//! judges no answer, whoever made it. Through the library and through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use provenance_verify::{exit, load_trust, verify, ChallengeResult, Verdict};
use serde_json::Value;

#[path = "../../provenance-core/tests/support/payload_vectors.rs"]
#[allow(dead_code)]
mod payload_vectors;

use payload_vectors::{load as payload_vectors, vectors_dir, PayloadVector};

/// One owner check: a payload vector, the buyer's challenge, the seller's answer, the outcome.
struct OwnerCheck {
    name: String,
    payload: PayloadVector,
    challenge: String,
    answer: String,
    expect: ChallengeResult,
    code: Option<String>,
}

fn owner_checks() -> Vec<OwnerCheck> {
    let payloads = payload_vectors();
    let text = std::fs::read_to_string(vectors_dir().join("owner_checks.json")).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    let checks: Vec<OwnerCheck> = file["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let wanted = v["payload_vector"].as_str().unwrap();
            OwnerCheck {
                name: v["name"].as_str().unwrap().to_string(),
                payload: payloads
                    .iter()
                    .find(|p| p.name == wanted)
                    .unwrap_or_else(|| panic!("no payload vector {wanted}"))
                    .clone(),
                challenge: v["challenge"].as_str().unwrap().to_string(),
                answer: v["answer"].as_str().unwrap().to_string(),
                expect: match v["expect"].as_str().unwrap() {
                    "passed" => ChallengeResult::Passed,
                    "failed" => ChallengeResult::Failed,
                    "not_judged" => ChallengeResult::NotJudged,
                    other => panic!("expect {other}"),
                },
                code: v["code"].as_str().map(String::from),
            }
        })
        .collect();
    for kind in ["passed", "failed", "not_judged"] {
        assert!(
            text.contains(&format!("\"expect\": \"{kind}\"")),
            "no {kind} vector"
        );
    }
    checks
}

/// The exit code a check must give: the verdict's, or 4 when the owner was not proven.
fn expected_exit(check: &OwnerCheck, verdict: Verdict) -> i32 {
    match (check.expect, verdict) {
        (ChallengeResult::Passed, Verdict::Genuine) => exit::GENUINE,
        (ChallengeResult::Passed, _) => exit::WARNINGS,
        _ => exit::CHALLENGE_FAILED,
    }
}

#[test]
fn every_owner_check_through_the_library() {
    for c in owner_checks() {
        let trust = load_trust(&c.payload.trust_list(), Some(&c.payload.operator())).unwrap();
        let mut report = verify(&c.payload.payload, &trust, c.payload.now());
        let outcome = report
            .check_owner(c.challenge.as_bytes(), &c.answer)
            .clone();
        assert_eq!(outcome.result, c.expect, "{}: {}", c.name, outcome.message);
        assert_eq!(
            outcome.passed,
            c.expect == ChallengeResult::Passed,
            "{}",
            c.name
        );
        assert_eq!(outcome.code.map(String::from), c.code, "{}", c.name);
        if c.expect != ChallengeResult::Passed {
            assert!(
                !outcome.message.contains("PASSED"),
                "{}: {}",
                c.name,
                outcome.message
            );
        }
        assert_eq!(
            report.exit_code(),
            expected_exit(&c, report.verdict),
            "{}",
            c.name
        );
    }
}

#[test]
fn every_owner_check_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    for (i, c) in owner_checks().iter().enumerate() {
        let trust = dir.path().join(format!("trust-{i}.cbor"));
        std::fs::write(&trust, c.payload.trust_list()).unwrap();
        let run = |json: bool| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_provenance-verify"));
            cmd.arg("--trust")
                .arg(&trust)
                .args(["--operator", &c.payload.operator_public_key_hex])
                .args(["--now", &c.payload.now])
                .args(["--challenge", &c.challenge, "--response", &c.answer])
                .arg(&c.payload.payload);
            if json {
                cmd.arg("--json");
            }
            cmd.output().unwrap()
        };
        let out = run(true);
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        let outcome = &json["owner_challenge"];
        let want = serde_json::to_value(c.expect).unwrap();
        assert_eq!(outcome["result"], want, "{}: {outcome}", c.name);
        assert_eq!(
            outcome["code"].as_str().map(String::from),
            c.code,
            "{}",
            c.name
        );
        let verdict = match json["verdict"].as_str().unwrap() {
            "genuine" => Verdict::Genuine,
            _ => Verdict::GenuineWithWarnings,
        };
        assert_eq!(
            out.status.code(),
            Some(expected_exit(c, verdict)),
            "{}",
            c.name
        );
        let text = String::from_utf8(run(false).stdout).unwrap();
        assert_eq!(
            text.contains("PASSED"),
            c.expect == ChallengeResult::Passed,
            "{}: {text}",
            c.name
        );
    }
}
