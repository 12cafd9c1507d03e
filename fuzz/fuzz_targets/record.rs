//! Single record decode, and the chain rules behind the signature.
//!
//! Every input is used twice:
//! 1. as record bytes: [`DecodedRecord::decode`], then as the next record of each prefix of the
//!    vector chain ([`VerifiedChain::extend`]) and as a mint ([`VerifiedChain::start`]);
//! 2. `[selector, payload...]`: the payload is signed as a COSE_Sign1 by the vector key and at
//!    the chain position the selector picks, so that mutations of the payload reach every rule
//!    after the signature check.
//!
//! Round trip: an accepted record's envelope re-encodes (by an independent encoder) to exactly
//! its bytes, its payload re-encodes to exactly the payload, and re-signing the decoded record
//! gives the signed bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenance_core::{DecodedRecord, Record, VerifiedChain};
use provenance_fuzz::{cose_bytes, key, link_after, signer, world};

fuzz_target!(|data: &[u8]| {
    let world = world();

    // 1. Raw record bytes.
    if let Ok(decoded) = DecodedRecord::decode(data) {
        let payload = decoded.record.to_payload();
        let signature: [u8; 64] = data[data.len() - 64..].try_into().expect("64 bytes");
        assert_eq!(
            cose_bytes(&decoded.signer.0, &payload, &signature),
            data,
            "record envelope round trip"
        );
        assert_eq!(decoded.hash, provenance_fuzz::hash(data));
        let at = usize::from(data[data.len() - 1]) % world.prefixes.len();
        let mut chain = world.prefixes[at].clone();
        if let Ok(record) = chain.extend(data, &world.trust, world.now) {
            assert_eq!(record.bytes(), data);
            assert_eq!(chain.head(), decoded.hash);
        }
        let _ = VerifiedChain::start(data, &world.trust, world.now);
    }
    if let Ok(record) = Record::from_payload(data) {
        assert_eq!(record.to_payload(), data, "record payload round trip");
    }

    // 2. A signed payload at a chosen position.
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let seed = signer(selector);
    // Position: 0 = genesis (no link), k = after prefix k-1 of the vector chain.
    let position = usize::from(selector / 7) % (world.prefixes.len() + 1);
    let link = position
        .checked_sub(1)
        .map(|k| link_after(&world.prefixes[k]));
    let aad = link
        .as_ref()
        .map(|l| l.external_aad().to_vec())
        .unwrap_or_default();
    let bytes = provenance_fuzz::sign_cose(seed, payload, &aad);
    let parsed = Record::from_payload(payload);
    match DecodedRecord::decode(&bytes) {
        Ok(decoded) => {
            let record = parsed.expect("the envelope adds nothing a payload decode refuses");
            assert_eq!(decoded.record, record);
            assert_eq!(
                decoded.record.sign(&key(seed), link.as_ref()),
                bytes,
                "re-signing a decoded record gives its bytes"
            );
        }
        Err(_) => {
            // Only the size limit of the envelope can refuse a payload that parses.
            if parsed.is_ok() {
                assert!(bytes.len() > provenance_core::limits::MAX_RECORD_BYTES);
            }
            return;
        }
    }
    match position {
        0 => {
            if let Ok((chain, record)) = VerifiedChain::start(&bytes, &world.trust, world.now) {
                assert_eq!(record.bytes(), &bytes[..]);
                assert_eq!(chain.seq(), 0);
                assert!(chain.mint().number >= 1 && chain.mint().number <= chain.mint().size);
            }
        }
        k => {
            let mut chain = world.prefixes[k - 1].clone();
            let before = chain.seq();
            match chain.extend(&bytes, &world.trust, world.now) {
                Ok(_) => assert_eq!(chain.seq(), before + 1),
                Err(_) => assert_eq!(chain.seq(), before, "a refused record leaves the chain"),
            }
        }
    }
});
