//! Payload decode and verify: the input as a `PV1:` string ([`Payload::decode`]) and as the raw
//! CBOR of a payload or history file ([`Payload::from_cbor`]); whatever decodes is verified
//! against the vector world's trust list. Accepted inputs must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenance_core::limits::MAX_HISTORY_BYTES;
use provenance_core::Payload;
use provenance_fuzz::world;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(payload) = Payload::decode(text) {
            assert_eq!(payload.encode(), text.trim(), "payload string round trip");
            check(&payload);
        }
    }
    if let Ok(payload) = Payload::from_cbor(data, MAX_HISTORY_BYTES) {
        assert_eq!(payload.to_cbor(), data, "payload CBOR round trip");
        check(&payload);
    }
});

fn check(payload: &Payload) {
    let world = world();
    let records = payload.records();
    assert!(!records.is_empty(), "a decoded payload carries a record");
    if let Ok(verified) = payload.verify(&world.trust, world.now) {
        // A verified payload's chain ends at its last record.
        let last = records.last().copied().unwrap_or_default();
        assert_eq!(verified.chain.head(), provenance_fuzz::hash(last));
        assert_eq!(verified.chain.seq() as usize + 1, records.len());
    }
    let _ = payload.verify(&world.trust_no_ledger, world.now);
}
