//! Every vector of `spec/vectors/payloads.json`, through the library and through the binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::process::Command;

use provenance_verify::{exit, load_trust, verify, Report, Verdict};
use serde_json::Value;

#[path = "../../provenance-core/tests/support/payload_vectors.rs"]
#[allow(dead_code)]
mod payload_vectors;

use payload_vectors::{load as vectors, PayloadVector};

/// What the verifier must answer for a vector: (verdict, code, finding codes, exit code).
/// The spec's "genuine" means every record verifies; the verifier then reports a maker's
/// void as not genuine (`item.void`), and stolen or label-only as warnings.
fn expected(v: &PayloadVector) -> (Option<Verdict>, Option<String>, Vec<String>, i32) {
    let expect = v.expect.as_str();
    if v.is_genuine() {
        let warnings = v.warnings.clone();
        if warnings.iter().any(|w| w == "item.void") {
            (
                Some(Verdict::NotGenuine),
                Some("item.void".into()),
                warnings,
                exit::NOT_GENUINE,
            )
        } else if warnings.is_empty() {
            (Some(Verdict::Genuine), None, warnings, exit::GENUINE)
        } else {
            (
                Some(Verdict::GenuineWithWarnings),
                None,
                warnings,
                exit::WARNINGS,
            )
        }
    } else {
        // Errors: unreadable when the payload or trust list cannot be read, not genuine when
        // a record breaks a rule. Either way the code is the vector's.
        (None, Some(expect.to_string()), vec![expect.to_string()], -1)
    }
}

fn run_library(v: &PayloadVector) -> Report {
    match load_trust(&v.trust_list(), Some(&v.operator())) {
        Ok(trust) => verify(&v.payload, &trust, v.now()),
        Err(report) => *report,
    }
}

fn check(
    name: &str,
    verdict: Verdict,
    code: Option<&str>,
    codes: Vec<String>,
    exit_code: i32,
    v: &PayloadVector,
) {
    let (want_verdict, want_code, want_codes, want_exit) = expected(v);
    match want_verdict {
        Some(w) => assert_eq!(verdict, w, "{name}: verdict"),
        None => assert!(
            matches!(verdict, Verdict::NotGenuine | Verdict::Unreadable),
            "{name}: verdict {verdict:?}"
        ),
    }
    assert_eq!(code.map(str::to_string), want_code, "{name}: code");
    assert_eq!(codes, want_codes, "{name}: findings");
    if want_exit >= 0 {
        assert_eq!(exit_code, want_exit, "{name}: exit code");
    } else {
        let e = if verdict == Verdict::Unreadable {
            exit::UNREADABLE
        } else {
            exit::NOT_GENUINE
        };
        assert_eq!(exit_code, e, "{name}: exit code");
    }
}

#[test]
fn every_vector_through_the_library() {
    for v in vectors() {
        let name = &v.name;
        let report = run_library(&v);
        let codes = report.codes().into_iter().map(String::from).collect();
        check(
            name,
            report.verdict,
            report.code,
            codes,
            report.exit_code(),
            &v,
        );
        // Plain-language output never lacks the headline.
        assert!(
            report.to_text().contains(report.verdict.headline()),
            "{name}"
        );
    }
}

#[test]
fn every_vector_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    for (i, v) in vectors().iter().enumerate() {
        let name = &v.name;
        let trust = dir.path().join(format!("trust-{i}.cbor"));
        std::fs::write(&trust, v.trust_list()).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_provenance-verify"))
            .arg("--trust")
            .arg(&trust)
            .args(["--operator", &v.operator_public_key_hex])
            .args(["--now", &v.now, "--json"])
            .arg(&v.payload)
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{name}: JSON output: {e}: {:?}", out));
        let verdict = match json["verdict"].as_str().unwrap() {
            "genuine" => Verdict::Genuine,
            "genuine_with_warnings" => Verdict::GenuineWithWarnings,
            "not_genuine" => Verdict::NotGenuine,
            "unreadable" => Verdict::Unreadable,
            other => panic!("{name}: verdict {other}"),
        };
        let codes = json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect();
        let exit_code = out.status.code().unwrap();
        assert_eq!(json["exit_code"], exit_code, "{name}");
        check(name, verdict, json["code"].as_str(), codes, exit_code, v);
    }
}

/// The web verifier's entry point (`verify_text`, what the wasm export returns as JSON) gives
/// the library's report for every vector, and a label URL (spec §7.5) gives the same JSON as
/// the bare payload.
#[test]
fn every_vector_through_verify_text_and_as_a_label_url() {
    use provenance_verify::verify_text;
    for v in vectors() {
        let name = &v.name;
        let trust = v.trust_list();
        let operator = v.operator().to_base64url();
        let now = v.now().0;
        let payload = v.payload.as_str();
        let mut library = run_library(&v);
        if let Ok(list) = provenance_core::TrustList::verify(&trust, None) {
            library.note_trust_anchor(&list, true);
        }
        let text = verify_text(payload, &trust, Some(&operator), now, None);
        let json = |r: &provenance_verify::Report| serde_json::to_string(r).unwrap();
        if library.verdict != Verdict::Unreadable || text.verdict != Verdict::Unreadable {
            assert_eq!(json(&text), json(&library), "{name}");
        }
        let url = format!(
            "https://ledger.example/v#{}",
            payload.replace('%', "%25").replace(' ', "%20")
        );
        let from_url = verify_text(&url, &trust, Some(&operator), now, None);
        assert_eq!(json(&from_url), json(&text), "{name} as a URL");
    }
}

/// Issue 20.6: the headline and the advice speak to a buyer at a market: for every vector,
/// no stable code, no key id, no command name; and a stolen piece's headline says so first.
#[test]
fn buyer_words_carry_no_codes_key_ids_or_commands() {
    let mut codes: Vec<&str> = provenance_core::codes::ALL_CODES
        .iter()
        .map(|(code, _)| *code)
        .collect();
    codes.extend([
        provenance_verify::CODE_INPUT_UNREADABLE,
        provenance_verify::CODE_INPUT_NO_QR,
    ]);
    for v in vectors() {
        let report = run_library(&v);
        let words = format!("{}\n{}", report.headline, report.advice);
        assert!(!report.headline.is_empty(), "{}", v.name);
        for code in &codes {
            assert!(!words.contains(code), "{}: {code} in {words}", v.name);
        }
        let key_ids = report.story.iter().flat_map(|s| {
            [
                &s.maker.key_id,
                &s.current_owner.key_id,
                &s.current_owner.key,
            ]
        });
        for id in key_ids {
            assert!(
                !words.contains(id.as_str()),
                "{}: key {id} in {words}",
                v.name
            );
        }
        for command in [
            "provenance prove",
            "provenance qr",
            "provenance-verify",
            "--",
            "PV1:",
        ] {
            assert!(
                !words.contains(command),
                "{}: {command:?} in {words}",
                v.name
            );
        }
        if report.story.as_ref().is_some_and(|s| s.stolen) {
            assert!(report.headline.starts_with("REPORTED STOLEN"), "{}", v.name);
            assert!(report.headline.ends_with("do not buy"), "{}", v.name);
        }
        if report.verdict == Verdict::NotGenuine {
            assert!(report.headline.ends_with("do not buy"), "{}", v.name);
        }
    }
}
