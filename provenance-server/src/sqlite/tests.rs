//! The SQLite backend's tests.

#![allow(clippy::unwrap_used)]

use super::schema::MIGRATIONS;
use super::*;
use crate::store::WriteOutcome;
use provenance_core::checkpoint::Checkpoint;
use provenance_core::{
    verify_run, Mint, Record, RecordBody, Role, Roles, RunManifest, SigningKey, TrustEntry,
    TrustList, TrustListContent, VerifiedChain,
};

pub(in crate::sqlite) fn signer() -> LogSigner {
    LogSigner {
        key: Arc::new(SigningKey::from_seed([7; 32])),
        origin: "test.example/log".into(),
    }
}

pub(in crate::sqlite) fn trust(maker: &SigningKey) -> TrustList {
    let operator = SigningKey::from_seed([9; 32]);
    let content = TrustListContent {
        version: 1,
        issued_at: Timestamp(0),
        ledger: None,
        entries: vec![TrustEntry {
            key: maker.public_key(),
            roles: Roles::of(Role::Maker),
            name: "maker".into(),
            valid_from: Timestamp(0),
            valid_until: None,
            revoked_at: None,
        }],
    };
    TrustList::verify(&content.sign(&operator), None).unwrap()
}

/// A trust list of `version` signed by the test operator, verified as the writer takes it.
fn signed_trust(version: u64, issued_at: Timestamp) -> (crate::store::VerifiedTrust, TrustList) {
    let operator = SigningKey::from_seed([9; 32]);
    let content = TrustListContent {
        version,
        issued_at,
        ledger: None,
        entries: Vec::new(),
    };
    crate::store::VerifiedTrust::verify(&content.sign(&operator), &operator.public_key()).unwrap()
}

#[test]
fn migrations_group_commit_cas_and_edition_uniqueness() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let metrics = Arc::new(Metrics::default());
    let store = SqliteStore::open(&path, metrics.clone(), signer()).unwrap();
    let maker = SigningKey::from_seed([1; 32]);
    let trust = trust(&maker);
    let now = Timestamp(1_000);
    let manifest = RunManifest {
        title: "T".into(),
        microfactory: "M".into(),
        place: "P".into(),
        size: 2,
        window_start: Timestamp(0),
        window_end: Timestamp(2_000),
    };
    let run_bytes = Record {
        time: now,
        seq: 0,
        body: RecordBody::RunManifest(manifest),
    }
    .sign(&maker, None);
    let run = verify_run(&run_bytes, &trust, now).unwrap();
    let run_id = run.id();
    let r = store
        .submit(WriteOp::Run(Box::new(run.clone())))
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert_eq!(r, WriteOutcome::Stored { log_index: Some(0) });
    let r = store
        .submit(WriteOp::Run(Box::new(run)))
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert_eq!(r, WriteOutcome::RunAlreadyStored);

    let mint = |time: u64| {
        Record {
            time: Timestamp(time),
            seq: 0,
            body: RecordBody::Mint(Mint {
                run: run_id,
                number: 1,
                size: 2,
                title: "T".into(),
                microfactory: "M".into(),
                owner: None,
            }),
        }
        .sign(&maker, None)
    };
    let (a, a_rec) = VerifiedChain::start(&mint(1_000), &trust, now).unwrap();
    let (b, b_rec) = VerifiedChain::start(&mint(1_001), &trust, now).unwrap();
    let rx1 = store.submit(WriteOp::Mint {
        item: a.item(),
        run: run_id,
        edition: 1,
        record: Box::new(a_rec.clone()),
    });
    let rx2 = store.submit(WriteOp::Mint {
        item: b.item(),
        run: run_id,
        edition: 1,
        record: Box::new(b_rec),
    });
    assert_eq!(
        rx1.blocking_recv().unwrap().unwrap(),
        WriteOutcome::Stored { log_index: Some(1) }
    );
    assert_eq!(
        rx2.blocking_recv().unwrap().unwrap(),
        WriteOutcome::EditionTaken(a.item())
    );
    let stats = store.stats().unwrap();
    assert_eq!((stats.runs, stats.items, stats.records), (1, 1, 1));

    // A stale compare-and-swap changes nothing and reports the head.
    let wrong = Head {
        seq: 0,
        hash: RecordHash([0; 32]),
    };
    let owner_key = SigningKey::from_seed([3; 32]);
    let transfer = Record {
        time: now,
        seq: 1,
        body: RecordBody::Transfer(owner_key.public_key().into()),
    }
    .sign(
        &maker,
        Some(&provenance_core::ChainLink {
            item: a.item(),
            prev: a.head(),
        }),
    );
    let mut chain = a.clone();
    let rec = chain.extend(&transfer, &trust, now).unwrap();
    let stale = store
        .submit(WriteOp::Append {
            item: a.item(),
            expected: wrong,
            record: Box::new(rec.clone()),
        })
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert_eq!(
        stale,
        WriteOutcome::Stale(Head {
            seq: 0,
            hash: a.head()
        })
    );
    let ok = store
        .submit(WriteOp::Append {
            item: a.item(),
            expected: Head {
                seq: 0,
                hash: a.head(),
            },
            record: Box::new(rec.clone()),
        })
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert_eq!(ok, WriteOutcome::Stored { log_index: Some(2) });
    let again = store
        .submit(WriteOp::Append {
            item: a.item(),
            expected: Head {
                seq: 0,
                hash: a.head(),
            },
            record: Box::new(rec),
        })
        .blocking_recv()
        .unwrap()
        .unwrap();
    assert!(matches!(again, WriteOutcome::AlreadyStored(r) if r.seq == 1));
    store.shutdown();
    assert!(matches!(
        store
            .submit(WriteOp::Run(Box::new(
                verify_run(&run_bytes, &trust, now).unwrap()
            )))
            .blocking_recv()
            .unwrap(),
        Err(StoreError::WriterGone)
    ));

    // Reopen: migrations are idempotent, data is there, and so is the log.
    let before = store.checkpoint().unwrap();
    let store = SqliteStore::open(&path, metrics, signer()).unwrap();
    assert_eq!(store.records(&a.item()).unwrap().len(), 2);
    assert_eq!(store.item(&a.item()).unwrap().unwrap().head.seq, 1);
    check_log(&store, 3);
    assert_eq!(*store.checkpoint().unwrap(), *before);
    store.shutdown();
}

/// Every proof the store serves verifies against its checkpoint, and the stored tree equals
/// the in-memory tree built from the entries' record bytes.
fn check_log(store: &SqliteStore, size: u64) {
    use provenance_core::log::{leaf_hash, verify_consistency, verify_inclusion, MemoryTree};
    let cp = store.checkpoint().unwrap();
    assert_eq!(cp.size, size);
    let parsed = Checkpoint::verify_own_origin(&cp.note, &signer().key.public_key()).unwrap();
    assert_eq!((parsed.size, parsed.root), (cp.size, cp.root));
    let mut tree = MemoryTree::new();
    for e in store.log_entries(0, size).unwrap() {
        let bytes = e.bytes.unwrap();
        let data = match e.kind {
            LeafKind::Record => tlog::item_leaf(&ItemId(e.id), e.seq, &bytes),
            LeafKind::Run => tlog::run_leaf(&RunId(e.id), &bytes),
        };
        assert_eq!(leaf_hash(&data), e.leaf_hash);
        tree.push(e.leaf_hash);
    }
    assert_eq!(tlog::root(&tree, size).unwrap(), cp.root);
    for n in 1..=size {
        let root_n = tlog::root(&tree, n).unwrap();
        for i in 0..n {
            let proof = store.inclusion_proof(i, n).unwrap();
            let proof: Vec<&[u8]> = proof.iter().map(|h| &h.0[..]).collect();
            let leaf = tlog::NodeSource::perfect(&tree, 0, i).unwrap();
            verify_inclusion(i, n, &leaf.0, &proof, &root_n.0).unwrap();
        }
        let proof = store.consistency_proof(n, size).unwrap();
        let proof: Vec<&[u8]> = proof.iter().map(|h| &h.0[..]).collect();
        verify_consistency(n, size, &root_n.0, &cp.root.0, &proof).unwrap();
    }
}

#[test]
fn a_database_from_before_the_log_gets_its_leaves_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let metrics = Arc::new(Metrics::default());
    let store = SqliteStore::open(&path, metrics.clone(), signer()).unwrap();
    let maker = SigningKey::from_seed([1; 32]);
    let trust = trust(&maker);
    let run_bytes = Record {
        time: Timestamp(1_000),
        seq: 0,
        body: RecordBody::RunManifest(RunManifest {
            title: "T".into(),
            microfactory: "M".into(),
            place: "P".into(),
            size: 2,
            window_start: Timestamp(0),
            window_end: Timestamp(2_000),
        }),
    }
    .sign(&maker, None);
    let run = verify_run(&run_bytes, &trust, Timestamp(1_000)).unwrap();
    let run_id = run.id();
    store
        .submit(WriteOp::Run(Box::new(run)))
        .blocking_recv()
        .unwrap()
        .unwrap();
    let mint = Record {
        time: Timestamp(1_000),
        seq: 0,
        body: RecordBody::Mint(Mint {
            run: run_id,
            number: 1,
            size: 2,
            title: "T".into(),
            microfactory: "M".into(),
            owner: None,
        }),
    }
    .sign(&maker, None);
    let (chain, rec) = VerifiedChain::start(&mint, &trust, Timestamp(1_000)).unwrap();
    store
        .submit(WriteOp::Mint {
            item: chain.item(),
            run: run_id,
            edition: 1,
            record: Box::new(rec),
        })
        .blocking_recv()
        .unwrap()
        .unwrap();
    let before = store.checkpoint().unwrap();
    store.shutdown();
    // Turn it back into a version-1 database: no log tables, no log_index columns.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP INDEX runs_log_index; DROP INDEX records_log_index;
         ALTER TABLE runs DROP COLUMN log_index; ALTER TABLE records DROP COLUMN log_index;
         DROP TABLE log_leaves; DROP TABLE log_nodes; DROP TABLE log_checkpoint;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(&path, metrics, signer()).unwrap();
    check_log(&store, 2);
    assert_eq!(
        store.checkpoint().unwrap().root,
        before.root,
        "same leaves, same order"
    );
    assert_eq!(store.records(&chain.item()).unwrap()[0].log_index, Some(1));
    assert_eq!(store.run(&run_id).unwrap().unwrap().log_index, Some(0));
    store.shutdown();
}

#[test]
fn log_over_many_batches_matches_memory_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path, Arc::new(Metrics::default()), signer()).unwrap();
    assert_eq!(
        store.checkpoint().unwrap().size,
        0,
        "an empty log has a checkpoint"
    );
    let maker = SigningKey::from_seed([1; 32]);
    let trust = trust(&maker);
    let mut answers = Vec::new();
    for i in 0..37u64 {
        let bytes = Record {
            time: Timestamp(1_000 + i),
            seq: 0,
            body: RecordBody::RunManifest(RunManifest {
                title: format!("T{i}"),
                microfactory: "M".into(),
                place: "P".into(),
                size: 2,
                window_start: Timestamp(0),
                window_end: Timestamp(5_000),
            }),
        }
        .sign(&maker, None);
        let run = verify_run(&bytes, &trust, Timestamp(2_000)).unwrap();
        answers.push(store.submit(WriteOp::Run(Box::new(run))));
        if i % 5 == 0 {
            // Several batch shapes: some single writes, some groups.
            for a in answers.drain(..) {
                assert!(matches!(
                    a.blocking_recv().unwrap().unwrap(),
                    WriteOutcome::Stored { .. }
                ));
            }
        }
    }
    for a in answers.drain(..) {
        assert!(matches!(
            a.blocking_recv().unwrap().unwrap(),
            WriteOutcome::Stored { .. }
        ));
    }
    check_log(&store, 37);
    store.shutdown();
    // Reopened under another origin: same tree, re-signed checkpoint.
    let other = LogSigner {
        key: Arc::new(SigningKey::from_seed([7; 32])),
        origin: "elsewhere".into(),
    };
    let store = SqliteStore::open(&path, Arc::new(Metrics::default()), other).unwrap();
    let cp = store.checkpoint().unwrap();
    assert_eq!(cp.size, 37);
    assert!(cp.note.starts_with("elsewhere\n37\n"));
    store.shutdown();
}

/// Migration 3: a database whose trust lists sit in the old INTEGER rowid column keeps
/// them, in order, and then accepts versions past 2^63.
#[test]
fn trust_lists_migrate_to_the_whole_u64_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        for (index, sql) in MIGRATIONS.iter().enumerate().take(2) {
            let tx = conn.transaction().unwrap();
            tx.execute_batch(sql).unwrap();
            tx.pragma_update(None, "user_version", index as i64 + 1)
                .unwrap();
            tx.commit().unwrap();
        }
        for (version, bytes) in [(7i64, b"seven".to_vec()), (12, b"twelve".to_vec())] {
            conn.execute(
                "INSERT INTO trust_lists (version, issued_at, bytes, received_at) VALUES (?1, 1, ?2, 1)",
                params![version, bytes],
            )
            .unwrap();
        }
    }
    let store = SqliteStore::open(&path, Arc::new(Metrics::default()), signer()).unwrap();
    assert_eq!(store.latest_trust().unwrap(), Some(b"twelve".to_vec()));
    let put = |version: u64| {
        let (list, _) = signed_trust(version, Timestamp(u64::MAX));
        let bytes = list.bytes().to_vec();
        let outcome = store
            .submit(WriteOp::Trust(Box::new(list)))
            .blocking_recv()
            .unwrap()
            .unwrap();
        (outcome, bytes)
    };
    assert!(matches!(
        put(12).0,
        WriteOutcome::TrustStale { current: 12 }
    ));
    assert!(matches!(put(1 << 63).0, WriteOutcome::Stored { .. }));
    assert!(matches!(
        put((1 << 63) - 1).0,
        WriteOutcome::TrustStale { current } if current == 1 << 63
    ));
    let (stored, max) = put(u64::MAX);
    assert!(matches!(stored, WriteOutcome::Stored { .. }));
    assert_eq!(store.latest_trust().unwrap(), Some(max));
    store.shutdown();
}

/// Contention is never a 500: a real SQLITE_BUSY is recognised, and answers 503
/// `ledger.overloaded` (retry), like the writer's `Busy`.
#[test]
fn contention_answers_503_not_500() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let a = open_write(&path).unwrap();
    let b = Connection::open(&path).unwrap();
    b.busy_timeout(std::time::Duration::from_millis(0)).unwrap();
    a.execute_batch("BEGIN IMMEDIATE").unwrap();
    let busy = StoreError::from(b.execute_batch("BEGIN IMMEDIATE").unwrap_err());
    assert!(busy.is_contention(), "{busy}");
    for e in [busy, StoreError::Busy] {
        let p = crate::ledger::LedgerError::internal(&e);
        assert_eq!((p.status, p.code), (503, "ledger.overloaded"));
    }
    let other = crate::ledger::LedgerError::internal(&StoreError::Corrupt("x"));
    assert_eq!(other.status, 500);
    a.execute_batch("ROLLBACK").unwrap();
}

/// Issue 9.7, the cause: under load a reader that catches the wal-index header mid-update
/// takes the WAL write lock for a moment to re-read it. The writer used to begin DEFERRED
/// and read before its first write; upgrading a read transaction to a write one is the
/// case where SQLite answers SQLITE_BUSY at once, without the busy handler, so one append
/// in ~100,000 failed with 500. Here another connection holds the write lock when a batch
/// starts: the writer must wait for it (BEGIN IMMEDIATE under the busy timeout) and store,
/// not answer an error. The pause only lets the writer reach the lock; nothing is timed
/// (a slow writer still passes).
#[test]
fn writer_waits_for_a_write_lock_held_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = SqliteStore::open(&path, Arc::new(Metrics::default()), signer()).unwrap();
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (list, _) = signed_trust(1, Timestamp(1));
    let bytes = list.bytes().to_vec();
    let mut reply = store.submit(WriteOp::Trust(Box::new(list)));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        matches!(
            reply.try_recv(),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty)
        ),
        "the writer answered while another connection held the write lock"
    );
    other.execute_batch("ROLLBACK").unwrap();
    assert!(matches!(
        reply.blocking_recv().unwrap().unwrap(),
        WriteOutcome::Stored { log_index: None }
    ));
    assert_eq!(store.latest_trust().unwrap(), Some(bytes));
    store.shutdown();
}

/// Run `i` of the test maker, signed and verified as the writer takes it.
pub(in crate::sqlite) fn signed_run(
    maker: &SigningKey,
    trust: &TrustList,
    i: u64,
) -> provenance_core::VerifiedRun {
    let bytes = Record {
        time: Timestamp(1_000),
        seq: 0,
        body: RecordBody::RunManifest(RunManifest {
            title: format!("Run {i}"),
            microfactory: "M".into(),
            place: "P".into(),
            size: 10,
            window_start: Timestamp(0),
            window_end: Timestamp(2_000),
        }),
    }
    .sign(maker, None);
    verify_run(&bytes, trust, Timestamp(1_000)).unwrap()
}

/// Registers `n` runs, one commit each (every write awaited before the next).
pub(in crate::sqlite) fn register_runs(store: &SqliteStore, n: u64) {
    let maker = SigningKey::from_seed([1; 32]);
    let trust = trust(&maker);
    for i in 0..n {
        let run = signed_run(&maker, &trust, i);
        let stored = store
            .submit(WriteOp::Run(Box::new(run)))
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert!(matches!(stored, WriteOutcome::Stored { .. }));
    }
}
