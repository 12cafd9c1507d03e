//! The HTTP write bodies through the functions the handlers call: `provenance-server`'s
//! [`Ledger::append`], [`Ledger::mint`] and [`Ledger::register_run`], over a real SQLite store
//! in a temporary directory, set up once per process with the vector world's trust list, run
//! manifest and mint (so appends reach an existing item).
//!
//! Input: `[selector, body...]`; the body is capped at the handlers' limit (2048 bytes: the
//! handler answers 413 before the ledger sees more). `selector % 4`:
//! - `0`: append the body to the vector item (or, for `(selector / 4) % 8 == 7`, to an item
//!   that does not exist);
//! - `1`: the body as a mint; `2`: the body as a run manifest;
//! - `3`: the body as a record *payload*, signed here by the vector key `(selector / 4) % 7`
//!   (`provenance_fuzz::seed::ALL`): genesis kinds as a run or mint, later kinds linked to the
//!   vector item's current head and appended (while it holds fewer than 64 records, so the
//!   store stays small).
//!
//! Checked: no panic; every refusal is a 4xx with a documented code (a 500 means the ledger
//! failed on input it should have refused); an accepted body decodes and re-encodes to exactly
//! its bytes, and posting it again is an idempotent 200.
#![no_main]

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use libfuzzer_sys::fuzz_target;
use provenance_core::codes::ALL_CODES;
use provenance_core::limits::MAX_RECORD_BYTES;
use provenance_core::{DecodedRecord, ItemId, Record, RecordBody};
use provenance_fuzz::{cose_bytes, key, link_after, public, seed, sign_cose, signer, world};
use provenance_server::ledger::{Accepted, Ledger, LedgerError};
use provenance_server::metrics::Metrics;
use provenance_server::sqlite::{LogSigner, SqliteStore};
use provenance_server::store::LedgerStore;

/// Records the vector item may grow to through signed appends.
const MAX_SIGNED_SEQ: u64 = 64;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future on this thread. The ledger's futures wait only on the store's writer thread
/// (tokio oneshot channels, which need no runtime).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

fn ledger() -> &'static Ledger {
    static LEDGER: OnceLock<Ledger> = OnceLock::new();
    LEDGER.get_or_init(|| {
        let world = world();
        let dir: PathBuf =
            std::env::temp_dir().join(format!("provenance-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let metrics = Arc::new(Metrics::default());
        let ledger_key = Arc::new(key(seed::LEDGER));
        let signer = LogSigner {
            key: ledger_key.clone(),
            origin: "fuzz.example/log".into(),
        };
        let store =
            SqliteStore::open(&dir.join("ledger.db"), metrics.clone(), signer).expect("store");
        let ledger = Ledger::new(
            Arc::new(store) as Arc<dyn LedgerStore>,
            ledger_key,
            public(seed::OPERATOR),
            metrics,
        )
        .expect("ledger");
        block_on(ledger.put_trust(&world.trust_bytes)).expect("vector trust list");
        block_on(ledger.register_run(&world.run)).expect("vector run");
        block_on(ledger.mint(&world.chain[0])).expect("vector mint");
        ledger
    })
}

#[derive(Clone, Copy)]
enum Op {
    Append(ItemId),
    Mint,
    Run,
}

fn post(ledger: &Ledger, op: Op, body: &[u8]) -> Result<Accepted, LedgerError> {
    block_on(async {
        match op {
            Op::Append(item) => ledger.append(&item, body).await,
            Op::Mint => ledger.mint(body).await,
            Op::Run => ledger.register_run(body).await,
        }
    })
}

fn check(ledger: &Ledger, op: Op, body: &[u8]) {
    match post(ledger, op, body) {
        Ok(_) => {
            let decoded = DecodedRecord::decode(body).expect("an accepted body decodes");
            let signature: [u8; 64] = body[body.len() - 64..].try_into().expect("64 bytes");
            assert_eq!(
                cose_bytes(&decoded.signer.0, &decoded.record.to_payload(), &signature),
                body,
                "an accepted body re-encodes to its bytes"
            );
            let again = post(ledger, op, body).expect("a stored body is accepted again");
            assert!(!again.created, "posting a stored body again is idempotent");
        }
        Err(problem) => {
            assert!(
                (400..500).contains(&problem.status),
                "refusal {} {}: {}",
                problem.status,
                problem.code,
                problem.detail
            );
            assert!(
                ALL_CODES.iter().any(|(code, _)| *code == problem.code),
                "undocumented code {}",
                problem.code
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let ledger = ledger();
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if body.len() > MAX_RECORD_BYTES {
        return;
    }
    let item = world().prefixes[0].item();
    match selector % 4 {
        0 if (selector / 4) % 8 == 7 => check(ledger, Op::Append(ItemId([0x5a; 16])), body),
        0 => check(ledger, Op::Append(item), body),
        1 => check(ledger, Op::Mint, body),
        2 => check(ledger, Op::Run, body),
        _ => {
            let seed = signer(selector / 4);
            let genesis = match Record::from_payload(body) {
                Ok(r) => Some(matches!(r.body, RecordBody::RunManifest(_)))
                    .filter(|_| r.body.is_genesis()),
                Err(_) => None,
            };
            match genesis {
                Some(true) => check(ledger, Op::Run, &sign_cose(seed, body, &[])),
                Some(false) => check(ledger, Op::Mint, &sign_cose(seed, body, &[])),
                None => {
                    let Ok(chain) = ledger.item_state(&item).and_then(|s| s.chain) else {
                        return;
                    };
                    if chain.seq() >= MAX_SIGNED_SEQ {
                        return;
                    }
                    let aad = link_after(&chain).external_aad();
                    check(ledger, Op::Append(item), &sign_cose(seed, body, &aad));
                }
            }
        }
    }
});
