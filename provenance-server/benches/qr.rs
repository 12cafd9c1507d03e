//! QR label rendering: a label payload (the mint alone) to a QR code, then to the printable
//! SVG and PNG labels that `provenance mint --labels` writes.
//!
//! `cargo bench -p provenance-server --bench qr`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use provenance_core::{ItemId, Mint, Payload, Record, RecordBody, RunId, SigningKey, Timestamp};
use provenance_server::qr;

fn label(c: &mut Criterion) {
    let maker = SigningKey::from_seed([2; 32]);
    let mint = Record {
        time: Timestamp(1_780_000_000),
        seq: 0,
        body: RecordBody::Mint(Mint {
            run: RunId([9; 16]),
            number: 17,
            size: 1000,
            title: "Eclipse Pin".into(),
            microfactory: "Northside Microfactory".into(),
            owner: None,
        }),
    }
    .sign(&maker, None);
    let payload = Payload::Label(mint.clone()).encode();
    let text = qr::LabelText {
        number: 17,
        size: 1000,
        title: "Eclipse Pin".into(),
        short_id: ItemId::derive(&mint).short(),
    };
    let code = qr::encode(&payload).unwrap();

    let mut g = c.benchmark_group("qr_label");
    g.bench_function("payload_encode", |b| {
        b.iter(|| Payload::Label(black_box(mint.clone())).encode())
    });
    g.bench_function("qr_encode", |b| {
        b.iter(|| qr::encode(black_box(&payload)).unwrap())
    });
    g.bench_function("label_svg", |b| {
        b.iter(|| qr::label_svg(black_box(&code), &text))
    });
    g.bench_function("label_png", |b| {
        b.iter(|| qr::label_png(black_box(&code), &text).unwrap())
    });
    g.bench_function("payload_to_svg_and_png", |b| {
        b.iter(|| {
            let code = qr::encode(black_box(&payload)).unwrap();
            (
                qr::label_svg(&code, &text),
                qr::label_png(&code, &text).unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, label);
criterion_main!(benches);
