//! Trust list decode ([`TrustList::verify`]).
//!
//! Every input is used twice: as trust-list bytes (pinned to the vector operator, and as its
//! own anchor), and as a trust-list *payload* signed here by the vector operator, so that
//! mutations of the content reach every check after the signature. Round trip: an accepted
//! list re-signed by its operator gives exactly its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenance_core::TrustList;
use provenance_fuzz::{key, public, seed, sign_cose, world, TRUST_AAD};

fuzz_target!(|data: &[u8]| {
    let world = world();
    let operator = public(seed::OPERATOR);

    // 1. Raw bytes.
    let pinned = TrustList::verify(data, Some(&operator));
    let anchor = TrustList::verify(data, None);
    if let Ok(list) = &pinned {
        assert_eq!(list.operator(), &operator);
        assert_eq!(
            list.content().sign(&key(seed::OPERATOR)),
            data,
            "trust list round trip"
        );
        let again = anchor.as_ref().expect("pinned implies self-anchored");
        assert_eq!(again.content(), list.content());
    }
    if let Ok(list) = &anchor {
        // The fuzzer cannot sign; an accepted list is signed by a vector key we can re-sign.
        if let Some(s) = seed::ALL.iter().find(|s| public(**s) == *list.operator()) {
            assert_eq!(list.content().sign(&key(*s)), data, "trust list round trip");
        }
    }

    // 2. The input as the signed content.
    let bytes = sign_cose(seed::OPERATOR, data, TRUST_AAD);
    if let Ok(list) = TrustList::verify(&bytes, Some(&operator)) {
        assert_eq!(
            list.content().sign(&key(seed::OPERATOR)),
            bytes,
            "re-signing a decoded trust list gives its bytes"
        );
        for entry in &list.content().entries {
            assert!(list.entry(&entry.key.key_id()).is_some());
            let _ = entry.validity_at(world.now);
        }
    }
});
