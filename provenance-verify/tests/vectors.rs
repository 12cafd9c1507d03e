//! Every vector of `spec/vectors/payloads.json`, through the library and through the binary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::path::PathBuf;
use std::process::Command;

use provenance_core::{PublicKey, Timestamp};
use provenance_verify::{exit, load_trust, verify, Report, Verdict};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/payloads.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "spec vectors missing: {} ({e}). They are written by the spec issue; this test \
             needs them.",
            path.display()
        )
    });
    let json: Value = serde_json::from_str(&text).unwrap();
    let vectors = json["vectors"].as_array().unwrap().clone();
    assert!(!vectors.is_empty(), "no vectors in {}", path.display());
    vectors
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("vector {} lacks {name}", v["name"]))
}

fn warnings(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .map(|a| a.iter().map(|w| w.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// What the verifier must answer for a vector: (verdict, code, finding codes, exit code).
/// The spec's "genuine" means every record verifies; the verifier then reports a maker's
/// void as not genuine (`item.void`), and stolen or label-only as warnings.
fn expected(v: &Value) -> (Option<Verdict>, Option<String>, Vec<String>, i32) {
    let expect = field(v, "expect");
    if expect == "genuine" {
        let warnings = warnings(v);
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

fn run_library(v: &Value) -> Report {
    let trust_bytes = hex::decode(field(v, "trust_list_hex")).unwrap();
    let operator: [u8; 32] = hex::decode(field(v, "operator_public_key_hex"))
        .unwrap()
        .try_into()
        .unwrap();
    let operator = PublicKey::from_bytes(&operator).unwrap();
    let now = Timestamp::parse(field(v, "now")).unwrap();
    match load_trust(&trust_bytes, Some(&operator)) {
        Ok(trust) => verify(field(v, "payload"), &trust, now),
        Err(report) => *report,
    }
}

fn check(
    name: &str,
    verdict: Verdict,
    code: Option<&str>,
    codes: Vec<String>,
    exit_code: i32,
    v: &Value,
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
        let name = field(&v, "name");
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
        let name = field(v, "name");
        let trust = dir.path().join(format!("trust-{i}.cbor"));
        std::fs::write(&trust, hex::decode(field(v, "trust_list_hex")).unwrap()).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_provenance-verify"))
            .arg("--trust")
            .arg(&trust)
            .args(["--operator", field(v, "operator_public_key_hex")])
            .args(["--now", field(v, "now"), "--json"])
            .arg(field(v, "payload"))
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
        let name = field(&v, "name");
        let trust = hex::decode(field(&v, "trust_list_hex")).unwrap();
        let operator: [u8; 32] = hex::decode(field(&v, "operator_public_key_hex"))
            .unwrap()
            .try_into()
            .unwrap();
        let operator = PublicKey::from_bytes(&operator).unwrap().to_base64url();
        let now = Timestamp::parse(field(&v, "now")).unwrap().0;
        let payload = field(&v, "payload");
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
