//! Conflicting transfers: many clients race to extend the same item from the same head.
//! Exactly one gets 201; every other gets 409 `chain.seq_mismatch` naming the winner as the
//! current head; the stored history holds one record at that position (no fork), and still
//! verifies. Repeated over many items and two rounds per item (transfers by the owner, then
//! repairs by a desk from the new head), against the real server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use common::{assert_problem, key, Server};
use provenance_core::{
    verify_chain, ChainLink, ItemId, Record, RecordBody, RecordHash, Repair, SigningKey,
};
use serde_json::Value;

const COSE: &str = "application/cose";
/// Items raced over.
const ITEMS: usize = 100;
/// Clients racing for each head.
const CLIENTS: usize = 16;

/// One racer: its own keep-alive connection, one record per round.
fn racer(
    url: String,
    barrier: Arc<Barrier>,
    jobs: mpsc::Receiver<(String, Vec<u8>)>,
    answers: mpsc::Sender<(usize, u16, Value)>,
    id: usize,
) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build();
    // Open the connection before the first race so every racer starts from a warm socket.
    agent.get(&format!("{url}/healthz")).call().unwrap();
    for (item, body) in jobs {
        barrier.wait();
        let resp = agent
            .post(&format!("{url}/v1/items/{item}/records"))
            .set("Content-Type", COSE)
            .send_bytes(&body);
        let (status, resp) = match resp {
            Ok(r) => (r.status(), r),
            Err(ureq::Error::Status(s, r)) => (s, r),
            Err(e) => panic!("racer {id}: {e}"),
        };
        let value: Value = serde_json::from_str(&resp.into_string().unwrap()).unwrap();
        answers.send((id, status, value)).unwrap();
    }
}

#[test]
fn racing_appends_have_one_winner_and_never_fork() {
    common::for_each_backend(racing_appends_have_one_winner_and_never_fork_once);
}

/// One backend's run of [`racing_appends_have_one_winner_and_never_fork`].
fn racing_appends_have_one_winner_and_never_fork_once() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let server = Server::start(&dir, &[]);
    server.parties(&[("maker", "maker"), ("desk", "repairer")]);
    let run = server.run_of("maker", "Race", ITEMS as u64);
    let items: Vec<String> = server
        .ok(&[
            "mint",
            "--key",
            "maker.pem",
            "--run",
            &run,
            "--count",
            &ITEMS.to_string(),
        ])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(items.len(), ITEMS);
    let maker = key(&dir, "maker.pem");
    let desk = key(&dir, "desk.pem");
    let buyers: Vec<SigningKey> = (0..CLIENTS)
        .map(|i| SigningKey::from_seed([100 + i as u8; 32]))
        .collect();

    // The racers, each on its own connection; a barrier lines them up before every race.
    let barrier = Arc::new(Barrier::new(CLIENTS));
    let (answer_tx, answer_rx) = mpsc::channel();
    let mut job_txs = Vec::new();
    let mut handles = Vec::new();
    for id in 0..CLIENTS {
        let (tx, rx) = mpsc::channel();
        job_txs.push(tx);
        let (url, barrier, answers) = (server.url.clone(), barrier.clone(), answer_tx.clone());
        handles.push(std::thread::spawn(move || {
            racer(url, barrier, rx, answers, id)
        }));
    }
    drop(answer_tx);

    let mut total_409 = 0;
    for item in &items {
        let id = ItemId::from_base32(item).unwrap();
        // Round 1: CLIENTS transfers, all signed by the owner (the maker) on the mint.
        // Round 2: CLIENTS repairs by the desk, all on the winner of round 1.
        for round in 0..2 {
            let history = server.history(item);
            assert_eq!(
                history.records.len(),
                round + 1,
                "{item}: history before round"
            );
            let prev = RecordHash::of(history.records.last().unwrap());
            let seq = round as u64 + 1;
            let link = ChainLink { item: id, prev };
            let records: Vec<Vec<u8>> = (0..CLIENTS)
                .map(|i| {
                    let (signer, body) = if round == 0 {
                        (&maker, RecordBody::Transfer(buyers[i].public_key().into()))
                    } else {
                        let note = format!("racer {i}");
                        (
                            &desk,
                            RecordBody::Repair(Repair {
                                note,
                                parts: vec![],
                            }),
                        )
                    };
                    Record {
                        time: common::now(),
                        seq,
                        body,
                    }
                    .sign(signer, Some(&link))
                })
                .collect();
            for (tx, record) in job_txs.iter().zip(&records) {
                tx.send((item.clone(), record.clone())).unwrap();
            }
            let answers: Vec<(usize, u16, Value)> =
                (0..CLIENTS).map(|_| answer_rx.recv().unwrap()).collect();

            let winners: Vec<_> = answers.iter().filter(|a| a.1 == 201).collect();
            assert_eq!(winners.len(), 1, "{item} round {round}: {answers:?}");
            let (winner, _, created) = winners[0];
            let winner_hash = RecordHash::of(&records[*winner]).to_hex();
            assert_eq!(created["seq"], seq);
            assert_eq!(created["head"], winner_hash.as_str());
            for (_, status, body) in answers.iter().filter(|a| a.1 != 201) {
                assert_problem(&(*status, body.clone()), 409, "chain.seq_mismatch");
                assert_eq!(body["head"]["seq"], seq, "409 names the current head");
                assert_eq!(body["head"]["hash"], winner_hash.as_str());
                total_409 += 1;
            }

            // No fork: exactly one record at this position, the winner's bytes.
            let history = server.history(item);
            assert_eq!(
                history.records.len(),
                round + 2,
                "{item}: one record at seq {seq}"
            );
            assert_eq!(history.records[round + 1], records[*winner]);
        }
    }
    for tx in job_txs {
        drop(tx);
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(total_409, ITEMS * 2 * (CLIENTS - 1));

    // Every stored chain still verifies from its mint under the server's trust list, and the
    // row counts hold exactly the winners: one mint and two records per item.
    let trust = server.trust();
    for item in &items {
        let history = server.history(item);
        verify_chain(
            history.records.iter().map(Vec::as_slice),
            &trust,
            common::now(),
        )
        .unwrap();
        let json = server.get_json(&format!("/v1/items/{item}"));
        assert_eq!(json["verified"], true);
        assert_eq!(json["head"]["seq"], 2);
    }
    let [runs, stored_items, records, _] = server.stored();
    assert_eq!((runs, stored_items), (1, ITEMS as u64));
    assert_eq!(
        records,
        (ITEMS * 3) as u64,
        "mints plus one winner per round"
    );
    server.stop();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "race suite took {:?}",
        started.elapsed()
    );
}
