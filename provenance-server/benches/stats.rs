//! Drop KPIs (issue 13): the fold of a 100,000-item ledger's log, then what one
//! `GET /v1/runs/{run}/stats` or `GET /v1/makers/{key}/stats` computes from it (the figures
//! and their JSON body). The request also reads the latest checkpoint from the store, once.
//!
//! `cargo bench -p provenance-server --bench stats`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use provenance_core::{
    Badge, ItemId, Mint, PublicKey, RecordBody, Repair, RunId, RunManifest, SigningKey, Timestamp,
};
use provenance_server::drops::stats::{Fact, Stats, DAY};

const ITEMS: u64 = 100_000;
const START: u64 = 1_780_000_000;

/// The facts of one run of `ITEMS` pieces: each minted, sold to one of 500 buyers on day
/// `i % 60`, every tenth repaired three days later and every fifth badged at one of 4 events.
fn facts() -> (Vec<Fact>, RunId, PublicKey) {
    let maker = SigningKey::from_seed([1; 32]).public_key();
    let buyers: Vec<PublicKey> = (0..500u32)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            SigningKey::from_seed(seed).public_key()
        })
        .collect();
    let run = RunId([9; 16]);
    let mut facts = vec![Fact::Run {
        run,
        maker,
        time: Timestamp(START),
        manifest: RunManifest {
            title: "Eclipse Pin".into(),
            microfactory: "Northside Microfactory".into(),
            place: "Leeds".into(),
            size: ITEMS,
            window_start: Timestamp(START),
            window_end: Timestamp(START + 90 * DAY),
        },
    }];
    for i in 0..ITEMS {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&i.to_be_bytes());
        let item = ItemId(id);
        let sold = START + (i % 60) * DAY + 1;
        facts.push(Fact::Record {
            item,
            seq: 0,
            time: Timestamp(START + 1),
            body: RecordBody::Mint(Mint {
                run,
                number: i + 1,
                size: ITEMS,
                title: "Eclipse Pin".into(),
                microfactory: "Northside Microfactory".into(),
                owner: None,
            }),
        });
        facts.push(Fact::Record {
            item,
            seq: 1,
            time: Timestamp(sold),
            body: RecordBody::Transfer(buyers[(i % 500) as usize].into()),
        });
        if i % 10 == 0 {
            facts.push(Fact::Record {
                item,
                seq: 2,
                time: Timestamp(sold + 3 * DAY),
                body: RecordBody::Repair(Repair {
                    note: "clasp".into(),
                    parts: vec!["clasp".into()],
                }),
            });
        }
        if i % 5 == 0 {
            facts.push(Fact::Record {
                item,
                seq: 3,
                time: Timestamp(sold + DAY),
                body: RecordBody::Badge(Badge {
                    event: format!("Night market {}", i % 4),
                    place: None,
                }),
            });
        }
    }
    (facts, run, maker)
}

fn stats(c: &mut Criterion) {
    let (facts, run, maker) = facts();
    let mut group = c.benchmark_group("drops");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("fold 100k items (start-up)", |b| {
        b.iter(|| {
            let mut s = Stats::new();
            for fact in facts.iter().cloned() {
                s.apply(fact);
            }
            black_box(s.size())
        });
    });
    group.finish();

    let mut s = Stats::new();
    for fact in facts {
        s.apply(fact);
    }
    c.bench_function("run stats + JSON, 100k items", |b| {
        b.iter(|| black_box(serde_json::to_vec(&s.run(&run)).unwrap()));
    });
    c.bench_function("maker stats + JSON, 100k items", |b| {
        b.iter(|| black_box(serde_json::to_vec(&s.maker(&maker)).unwrap()));
    });
}

criterion_group!(benches, stats);
criterion_main!(benches);
