//! provenance-core benches: record verification against the raw Ed25519 `verify_strict` it
//! contains (measured in the same run), and RFC 9162 Merkle inclusion and consistency proof
//! generation and verification over an in-memory tree of 2^20 leaves.
//!
//! `cargo bench -p provenance-core --bench core`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use provenance_core::log::{
    consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion,
    MemoryTree,
};
use provenance_core::{
    ChainLink, DecodedRecord, ItemId, Mint, Record, RecordBody, RecordHash, Repair, Role, Roles,
    RunId, SigningKey, Timestamp, TrustEntry, TrustList, TrustListContent, VerifiedChain,
};

const NOW: Timestamp = Timestamp(1_780_000_000);

fn world() -> (TrustList, Vec<u8>, Vec<u8>, SigningKey, SigningKey) {
    let operator = SigningKey::from_seed([1; 32]);
    let maker = SigningKey::from_seed([2; 32]);
    let desk = SigningKey::from_seed([3; 32]);
    let entry = |k: &SigningKey, role| TrustEntry {
        key: k.public_key(),
        roles: Roles::of(role),
        name: "bench".into(),
        valid_from: Timestamp(NOW.0 - 86_400 * 30),
        valid_until: None,
        revoked_at: None,
    };
    let trust_bytes = TrustListContent {
        version: 1,
        issued_at: Timestamp(NOW.0 - 86_400),
        ledger: None,
        entries: vec![entry(&maker, Role::Maker), entry(&desk, Role::Repairer)],
    }
    .sign(&operator);
    let trust = TrustList::verify(&trust_bytes, Some(&operator.public_key())).unwrap();
    let mint = Record {
        time: Timestamp(NOW.0 - 3600),
        seq: 0,
        body: RecordBody::Mint(Mint {
            run: RunId([9; 16]),
            number: 1,
            size: 100,
            title: "Eclipse Pin".into(),
            microfactory: "Northside Microfactory".into(),
            owner: None,
        }),
    }
    .sign(&maker, None);
    let item = ItemId::derive(&mint);
    let repair = Record {
        time: Timestamp(NOW.0 - 60),
        seq: 1,
        body: RecordBody::Repair(Repair {
            note: "replaced the clasp".into(),
            parts: vec!["clasp".into()],
        }),
    }
    .sign(
        &desk,
        Some(&ChainLink {
            item,
            prev: RecordHash::of(&mint),
        }),
    );
    (trust, mint, repair, maker, desk)
}

fn records(c: &mut Criterion) {
    let (trust, mint, repair, _maker, desk) = world();
    let (chain, _) = VerifiedChain::start(&mint, &trust, NOW).unwrap();

    // The raw limit: one Ed25519 verify_strict over a message of the record's size.
    let raw_key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    assert_eq!(
        raw_key.verifying_key().to_bytes(),
        desk.public_key().to_bytes()
    );
    let message = vec![0x5a; repair.len()];
    let signature = ed25519_dalek::Signer::sign(&raw_key, &message);
    let public = raw_key.verifying_key();

    let mut g = c.benchmark_group("record");
    g.bench_function("raw_verify_strict", |b| {
        b.iter(|| {
            public
                .verify_strict(black_box(&message), &signature)
                .unwrap()
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| DecodedRecord::decode(black_box(&repair)).unwrap())
    });
    g.bench_function("verify_mint", |b| {
        b.iter(|| VerifiedChain::start(black_box(&mint), &trust, NOW).unwrap())
    });
    g.bench_function("verify_append", |b| {
        b.iter(|| {
            let mut next = chain.clone();
            next.extend(black_box(&repair), &trust, NOW).unwrap()
        })
    });
    g.finish();
}

fn merkle(c: &mut Criterion) {
    const SIZE: u64 = 1 << 20;
    let mut tree = MemoryTree::new();
    for i in 0..SIZE {
        tree.push(leaf_hash(&i.to_le_bytes()));
    }
    let old = SIZE - 12_345;
    let root_new = root(&tree, SIZE).unwrap();
    let root_old = root(&tree, old).unwrap();
    let index = 654_321u64;
    let leaf = leaf_hash(&index.to_le_bytes());
    let inclusion = inclusion_proof(&tree, index, SIZE).unwrap().unwrap();
    let consistency = consistency_proof(&tree, old, SIZE).unwrap().unwrap();
    let inclusion_refs: Vec<&[u8]> = inclusion.iter().map(|h| &h.0[..]).collect();
    let consistency_refs: Vec<&[u8]> = consistency.iter().map(|h| &h.0[..]).collect();
    verify_inclusion(index, SIZE, &leaf.0, &inclusion_refs, &root_new.0).unwrap();
    verify_consistency(old, SIZE, &root_old.0, &root_new.0, &consistency_refs).unwrap();

    let mut g = c.benchmark_group("merkle_2^20");
    g.bench_function("leaf_hash_200B", |b| {
        let data = [7u8; 200];
        b.iter(|| leaf_hash(black_box(&data)))
    });
    g.bench_function("root", |b| {
        b.iter(|| root(&tree, black_box(SIZE - 1)).unwrap())
    });
    g.bench_function("inclusion_proof", |b| {
        b.iter(|| inclusion_proof(&tree, black_box(index), SIZE).unwrap())
    });
    g.bench_function("inclusion_verify", |b| {
        b.iter(|| {
            verify_inclusion(
                black_box(index),
                SIZE,
                &leaf.0,
                &inclusion_refs,
                &root_new.0,
            )
            .unwrap()
        })
    });
    g.bench_function("consistency_proof", |b| {
        b.iter(|| consistency_proof(&tree, black_box(old), SIZE).unwrap())
    });
    g.bench_function("consistency_verify", |b| {
        b.iter(|| {
            verify_consistency(
                black_box(old),
                SIZE,
                &root_old.0,
                &root_new.0,
                &consistency_refs,
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, records, merkle);
criterion_main!(benches);
