//! Verifying a label payload and a 10-record history, against the raw Ed25519
//! `verify_strict` calls they contain, measured in the same run (DESIGN §7: at most 1.2x).
//!
//! `cargo bench -p provenance-verify --bench verify`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use common::*;
use coset::TaggedCborSerializable;
use criterion::Criterion;
use provenance_core::{ChainLink, History, ItemId, Payload, RecordHash, SigningKey};
use provenance_verify::{verify, Verdict};

/// One signature check exactly as the verifier does it: key, Sig_structure, signature.
struct RawCheck {
    key: ed25519_dalek::VerifyingKey,
    message: Vec<u8>,
    signature: ed25519_dalek::Signature,
}

fn raw_checks(records: &[Vec<u8>], signers: &[SigningKey]) -> Vec<RawCheck> {
    let item = ItemId::derive(&records[0]);
    records
        .iter()
        .zip(signers)
        .enumerate()
        .map(|(i, (bytes, signer))| {
            let aad = if i == 0 {
                Vec::new()
            } else {
                ChainLink {
                    item,
                    prev: RecordHash::of(&records[i - 1]),
                }
                .external_aad()
                .to_vec()
            };
            let sign1 = coset::CoseSign1::from_tagged_slice(bytes).unwrap();
            let message = sign1.tbs_data(&aad);
            let signature = ed25519_dalek::Signature::from_slice(&sign1.signature).unwrap();
            let key =
                ed25519_dalek::VerifyingKey::from_bytes(&signer.public_key().to_bytes()).unwrap();
            key.verify_strict(&message, &signature).unwrap();
            RawCheck {
                key,
                message,
                signature,
            }
        })
        .collect()
}

fn run_raw(checks: &[RawCheck]) {
    for c in checks {
        black_box(c.key.verify_strict(black_box(&c.message), &c.signature)).unwrap();
    }
}

/// Median nanoseconds per call over `rounds` batches of `iters` calls each.
fn median_ns(rounds: usize, iters: u32, f: &mut dyn FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let trust = trust();
    let now = now();
    let label = label();
    let mut chain = history10();
    chain.run = None; // exactly 10 records, 10 signatures
    let history = Payload::History(History {
        records: chain.records.clone(),
        run: None,
        head: None,
        anchor: None,
    })
    .encode();
    assert_eq!(
        verify(label.as_str(), &trust, now).verdict,
        Verdict::GenuineWithWarnings
    );
    assert_eq!(
        verify(history.as_str(), &trust, now).verdict,
        Verdict::Genuine
    );

    let label_raw = raw_checks(&chain.records[..1], &[maker()]);
    let signers: Vec<SigningKey> = (0..10)
        .map(|i| match i {
            0 => maker(),
            i if i % 2 == 1 => desk(),
            _ => host(),
        })
        .collect();
    let history_raw = raw_checks(&chain.records, &signers);

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("verify label payload", |b| {
        b.iter(|| verify(black_box(label.as_str()), &trust, now))
    });
    c.bench_function("raw verify_strict x1 (label)", |b| {
        b.iter(|| run_raw(&label_raw))
    });
    c.bench_function("verify 10-record history", |b| {
        b.iter(|| verify(black_box(history.as_str()), &trust, now))
    });
    c.bench_function("raw verify_strict x10 (history)", |b| {
        b.iter(|| run_raw(&history_raw))
    });
    c.final_summary();

    // The ratio, measured interleaved in this same process.
    let mut rows = Vec::new();
    for (name, payload, raw) in [
        ("label", &label, &label_raw),
        ("10-record history", &history, &history_raw),
    ] {
        let iters = if raw.len() == 1 { 2000 } else { 200 };
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..5 {
            ours.push(median_ns(9, iters, &mut || {
                black_box(verify(black_box(payload.as_str()), &trust, now));
            }));
            theirs.push(median_ns(9, iters, &mut || run_raw(raw)));
        }
        ours.sort_by(f64::total_cmp);
        theirs.sort_by(f64::total_cmp);
        let (o, t) = (ours[2], theirs[2]);
        rows.push(format!(
            "{name}: verify {:.1} us, raw verify_strict x{} {:.1} us, ratio {:.3}x (goal <= 1.2x)",
            o / 1000.0,
            raw.len(),
            t / 1000.0,
            o / t
        ));
    }
    for row in rows {
        println!("RATIO {row}");
    }
}
