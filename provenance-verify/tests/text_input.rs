//! Label URLs (spec §7.5): `https://host/v#PV1:...` with base45's space and `%` written as
//! `%20` and `%25` gives back exactly the bare payload, for any payload; what the binary and
//! the web verifier accept both ways.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::*;
use proptest::prelude::*;
use provenance_verify::{payload_from_text, verify, verify_text, Verdict};

/// The label URL form of a payload, as `provenance serve --public-url` encodes it.
fn url_of(host: &str, payload: &str) -> String {
    format!(
        "{host}/v#{}",
        payload.replace('%', "%25").replace(' ', "%20")
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any base45 text round-trips exactly through the URL form (under any host; an escaped
    /// trailing space is kept), and a bare payload is itself, trimmed.
    #[test]
    fn any_payload_round_trips_through_a_label_url(
        body in "[0-9A-Z $%*+./:-]{0,200}",
        host in prop::sample::select(vec!["https://ledger.example", "http://127.0.0.1:8080", "https://a.example/sub/path"]),
    ) {
        let payload = format!("PV1:{body}");
        prop_assert_eq!(payload_from_text(&url_of(host, &payload)), payload.as_str());
        prop_assert_eq!(payload_from_text(&payload), payload.trim());
    }
}

#[test]
fn escapes_are_decoded_in_either_case_and_malformed_ones_kept() {
    assert_eq!(payload_from_text("https://h/v#PV1:A%2aB%2AC"), "PV1:A*B*C");
    assert_eq!(payload_from_text("https://h/v#PV1:A%20%25B"), "PV1:A %B");
    // A lone or short escape stays, for the payload decoder to refuse with its own code.
    assert_eq!(payload_from_text("https://h/v#PV1:A%"), "PV1:A%");
    assert_eq!(payload_from_text("https://h/v#PV1:A%G0"), "PV1:A%G0");
    // Surrounding white space (a pasted line) is ignored in both forms.
    assert_eq!(
        payload_from_text("\n https://h/v#PV1:AB%20C \t"),
        "PV1:AB C"
    );
    // A fragment without the `PV1:` payload, or `#PV1:` outside a URL: left as it is.
    assert_eq!(payload_from_text("https://h/v#XYZ"), "https://h/v#XYZ");
    assert_eq!(payload_from_text("label #PV1:AB"), "label #PV1:AB");
}

/// The real label and history verify the same from the URL form, and a URL whose escape was
/// damaged is not genuine or unreadable, never the same verdict by accident.
#[test]
fn a_label_url_verifies_like_its_payload_and_a_damaged_one_does_not() {
    let trust_list = trust();
    for payload in [label(), history().encode()] {
        let url = url_of("https://ledger.example", &payload);
        let direct = verify(payload.as_str(), &trust_list, now());
        assert_ne!(direct.verdict, Verdict::NotGenuine);
        let via_url = verify_text(&url, &trust_bytes(), None, now().0, None);
        assert_eq!(via_url.verdict, direct.verdict);
        assert_eq!(via_url.codes(), direct.codes());
        if let Some(at) = url.find("%20") {
            let damaged = format!("{}%2{}", &url[..at], &url[at + 3..]);
            let report = verify_text(&damaged, &trust_bytes(), None, now().0, None);
            assert!(
                matches!(report.verdict, Verdict::NotGenuine | Verdict::Unreadable),
                "{:?}",
                report.verdict
            );
        }
    }
}
