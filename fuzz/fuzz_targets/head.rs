//! Head statement decode ([`HeadStatement::verify`]) against the vector trust list, which names
//! the ledger key, and [`HeadStatement::check_against`] every prefix of the vector chain.
//!
//! Every input is used twice: as statement bytes, and as a statement *payload* signed here by
//! the ledger key. Round trip: an accepted statement re-signed by the ledger key gives exactly
//! its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provenance_core::head::{HeadError, HeadStatement};
use provenance_fuzz::{key, seed, sign_cose, world, HEAD_AAD};

fuzz_target!(|data: &[u8]| {
    let world = world();
    let ledger = key(seed::LEDGER);

    let check = |bytes: &[u8]| {
        let Ok(statement) = HeadStatement::verify(bytes, &world.trust, world.now) else {
            return;
        };
        assert_eq!(statement.sign(&ledger), bytes, "head statement round trip");
        assert!(matches!(
            HeadStatement::verify(bytes, &world.trust_no_ledger, world.now),
            Err(HeadError::NoLedgerKey)
        ));
        for chain in &world.prefixes {
            if statement.check_against(chain).is_ok() {
                assert_eq!(statement.item, chain.item());
                assert!(statement.seq >= chain.seq());
            }
        }
    };
    check(data);
    check(&sign_cose(seed::LEDGER, data, HEAD_AAD));
});
