//! Property: a valid payload mutated by one byte, truncated or extended is never genuine,
//! and the verifier never panics. (Surrounding whitespace is ignored by design, so an
//! extension made only of whitespace is the same payload.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::*;
use proptest::prelude::*;
use provenance_core::TrustList;
use provenance_verify::{verify, Input, Verdict};

fn check(original: &str, mutated: &[u8], trust: &TrustList) -> Result<(), TestCaseError> {
    let same = std::str::from_utf8(mutated).is_ok_and(|m| m.trim() == original);
    if same {
        return Ok(());
    }
    let by_bytes = verify(Input::Bytes(mutated), trust, now());
    prop_assert!(
        matches!(by_bytes.verdict, Verdict::NotGenuine | Verdict::Unreadable),
        "bytes: {:?} -> {:?}",
        String::from_utf8_lossy(mutated),
        by_bytes.verdict
    );
    prop_assert!(by_bytes.code.is_some());
    if let Ok(text) = std::str::from_utf8(mutated) {
        let by_text = verify(text, trust, now());
        prop_assert!(
            matches!(by_text.verdict, Verdict::NotGenuine | Verdict::Unreadable),
            "text: {text:?} -> {:?}",
            by_text.verdict
        );
        prop_assert!(by_text.code.is_some());
    }
    Ok(())
}

fn payloads() -> Vec<String> {
    vec![label(), history().encode()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn one_byte_mutations_are_never_genuine(which in 0usize..2, pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let trust = trust();
        let original = &payloads()[which];
        let mut bytes = original.as_bytes().to_vec();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        check(original, &bytes, &trust)?;
    }

    #[test]
    fn one_character_mutations_within_the_alphabet_are_never_genuine(
        which in 0usize..2,
        pos in any::<prop::sample::Index>(),
        c in prop::sample::select(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".to_vec()),
    ) {
        let trust = trust();
        let original = &payloads()[which];
        let mut bytes = original.as_bytes().to_vec();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != c);
        bytes[i] = c;
        check(original, &bytes, &trust)?;
    }

    #[test]
    fn truncations_are_never_genuine(which in 0usize..2, len in any::<prop::sample::Index>()) {
        let trust = trust();
        let original = &payloads()[which];
        let bytes = &original.as_bytes()[..len.index(original.len())];
        check(original, bytes, &trust)?;
    }

    #[test]
    fn extensions_are_never_genuine(which in 0usize..2, tail in prop::collection::vec(any::<u8>(), 1..64)) {
        let trust = trust();
        let original = &payloads()[which];
        let mut bytes = original.as_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        check(original, &bytes, &trust)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let trust = trust();
        let report = verify(Input::Bytes(&bytes), &trust, now());
        prop_assert!(matches!(report.verdict, Verdict::NotGenuine | Verdict::Unreadable));
    }

    #[test]
    fn arbitrary_images_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&bytes);
        prop_assert!(provenance_verify::payload_from_image(&png).is_err());
        prop_assert!(provenance_verify::payload_from_image(&bytes).is_err());
    }
}

#[test]
fn file_history_mutations_are_never_genuine() {
    // Exhaustive over every byte of a raw history file: flip each bit pattern 0x01 and 0x80.
    let trust = trust();
    let file = history().confirmed().to_cbor();
    assert_eq!(verify(&file, &trust, now()).verdict, Verdict::Genuine);
    for i in 0..file.len() {
        for flip in [0x01u8, 0x80] {
            let mut bytes = file.clone();
            bytes[i] ^= flip;
            let report = verify(&bytes, &trust, now());
            assert!(
                matches!(report.verdict, Verdict::NotGenuine | Verdict::Unreadable),
                "byte {i} ^ {flip:#x}: {:?}",
                report.verdict
            );
        }
    }
}
