//! Issue 9.2, against the real binaries: trusted repair desks flood an item they never saw
//! with the largest repairs the limits allow. The ledger refuses them past the third-party
//! quotas (`chain.quota_exceeded`, spec §6 R8); the owner still transfers, the new owner
//! reports it stolen, `provenance export` writes the whole (over 1 MiB) history, and
//! `provenance-verify --file` verifies it offline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::process::Command;

use common::{assert_problem, key, now, spec_status, verifier_bin, Server};
use provenance_core::limits::{
    MAX_TEXT_BYTES, MAX_THIRD_PARTY_RECORDS_PER_ITEM, MAX_THIRD_PARTY_RECORDS_PER_SIGNER,
};
use provenance_core::{ChainLink, ItemId, Record, RecordBody, RecordHash, Repair, SigningKey};
use serde_json::Value;

const COSE: &str = "application/cose";
/// Desks needed to reach the per-item quota, plus one that finds it full.
const DESKS: usize = MAX_THIRD_PARTY_RECORDS_PER_ITEM / MAX_THIRD_PARTY_RECORDS_PER_SIGNER + 1;

/// A repair near the 2048-byte record limit: a full note and six full parts.
fn big_repair(i: usize) -> RecordBody {
    RecordBody::Repair(Repair {
        note: format!("{i:04} {}", "n".repeat(MAX_TEXT_BYTES - 5)),
        parts: (0..6)
            .map(|p| format!("{p}{}", "x".repeat(MAX_TEXT_BYTES - 1)))
            .collect(),
    })
}

/// The item's head as this test tracks it.
struct Head {
    item: ItemId,
    seq: u64,
    hash: RecordHash,
}

impl Head {
    fn sign(&self, by: &SigningKey, body: RecordBody) -> Vec<u8> {
        Record {
            time: now(),
            seq: self.seq + 1,
            body,
        }
        .sign(
            by,
            Some(&ChainLink {
                item: self.item,
                prev: self.hash,
            }),
        )
    }
}

#[test]
fn third_parties_cannot_lock_an_owner_out() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let server = Server::start(&dir, &[]);
    let desks_named: Vec<String> = (0..DESKS).map(|i| format!("desk{i}")).collect();
    let mut parties = vec![("maker", "maker"), ("alice", ""), ("bob", "")];
    parties.extend(desks_named.iter().map(|name| (name.as_str(), "repairer")));
    server.parties(&parties);
    server.ok(&["trust", "export", "--out", "trust.cbor"]);
    let run = server.run_of("maker", "Flood", 3);
    let item = server
        .ok(&["mint", "--key", "maker.pem", "--run", &run, "--count", "1"])
        .trim()
        .to_string();
    server.ok(&["transfer", &item, "--key", "maker.pem", "--to", "alice.pem"]);

    let history = server.history(&item);
    let mut head = Head {
        item: ItemId::from_base32(&item).unwrap(),
        seq: history.records.len() as u64 - 1,
        hash: RecordHash::of(history.records.last().unwrap()),
    };
    let desks: Vec<SigningKey> = (0..DESKS)
        .map(|i| key(&dir, &format!("desk{i}.pem")))
        .collect();
    let path = format!("/v1/items/{item}/records");
    let post = |by: &SigningKey, head: &mut Head, i: usize| {
        let bytes = head.sign(by, big_repair(i));
        let answer = server.post(&path, COSE, &bytes);
        if answer.0 == 201 {
            head.seq += 1;
            head.hash = RecordHash::of(&bytes);
        }
        answer
    };

    // One desk fills its own quota; its next repair is refused, and nothing is stored.
    for i in 0..MAX_THIRD_PARTY_RECORDS_PER_SIGNER {
        let answer = post(&desks[0], &mut head, i);
        assert_eq!(answer.0, 201, "{}", answer.1);
    }
    let before = server.stored();
    let refused = post(&desks[0], &mut head, 9999);
    assert_problem(
        &refused,
        spec_status("chain.quota_exceeded"),
        "chain.quota_exceeded",
    );
    assert_eq!(server.stored(), before, "a refused record stores nothing");

    // The other desks fill the item's quota; then even a fresh desk is refused.
    for desk in &desks[1..DESKS - 1] {
        for i in 0..MAX_THIRD_PARTY_RECORDS_PER_SIGNER {
            let answer = post(desk, &mut head, i);
            assert_eq!(answer.0, 201, "{}", answer.1);
        }
    }
    let refused = post(&desks[DESKS - 1], &mut head, 0);
    assert_problem(&refused, 422, "chain.quota_exceeded");
    assert!(
        refused.1["detail"].as_str().unwrap().contains("1024"),
        "{}",
        refused.1
    );

    // The owner is not locked out.
    server.ok(&["transfer", &item, "--key", "alice.pem", "--to", "bob.pem"]);
    server.ok(&["report", &item, "--key", "bob.pem", "--stolen"]);
    server.ok(&["export", &item, "--out", "history.cbor"]);
    let file = std::fs::read(dir.join("history.cbor")).unwrap();
    assert!(file.len() > 1 << 20, "the export is {} bytes", file.len());

    let out = Command::new(verifier_bin())
        .current_dir(&dir)
        .args(["--trust", "trust.cbor", "--file", "history.cbor", "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(report["verdict"], "genuine_with_warnings");
    assert_eq!(report["findings"][0]["code"], "item.stolen");
    let bob = key(&dir, "bob.pem").public_key().to_base64url();
    assert_eq!(report["story"]["current_owner"]["key"], bob);
    assert_eq!(
        report["story"]["repair_count"],
        MAX_THIRD_PARTY_RECORDS_PER_ITEM as u64
    );
    assert_eq!(report["story"]["freshness"]["in_log"], true);
}
