//! Fixtures built with the core API: a trust list, a run, a mint and later records.
#![allow(dead_code, clippy::unwrap_used)]

use provenance_core::record::{Badge, ReportStatus};
use provenance_core::{
    ChainLink, History, ItemId, Mint, Payload, PublicKey, Record, RecordBody, RecordHash, Repair,
    Role, Roles, RunId, RunManifest, SigningKey, Timestamp, TrustEntry, TrustList,
    TrustListContent,
};

pub fn t(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed([seed; 32])
}

pub fn operator() -> SigningKey {
    key(1)
}
pub fn maker() -> SigningKey {
    key(2)
}
pub fn desk() -> SigningKey {
    key(3)
}
pub fn host() -> SigningKey {
    key(4)
}
pub fn owner1() -> SigningKey {
    key(5)
}
pub fn owner2() -> SigningKey {
    key(6)
}
/// A maker whose key the operator revoked on 2026-02-01.
pub fn revoked_maker() -> SigningKey {
    key(8)
}
/// Not on the trust list.
pub fn stranger() -> SigningKey {
    key(9)
}

/// The ledger key named in the trust list: signs head statements and checkpoints.
pub fn ledger() -> SigningKey {
    key(20)
}

pub fn now() -> Timestamp {
    t("2026-06-01T00:00:00Z")
}

fn entry(k: &SigningKey, role: Role, name: &str) -> TrustEntry {
    TrustEntry {
        key: k.public_key(),
        roles: Roles::of(role),
        name: name.to_string(),
        valid_from: t("2026-01-01"),
        valid_until: None,
        revoked_at: None,
    }
}

pub fn trust_bytes() -> Vec<u8> {
    let mut revoked = entry(&revoked_maker(), Role::Maker, "Gone Goods");
    revoked.revoked_at = Some(t("2026-02-01"));
    TrustListContent {
        version: 1,
        issued_at: t("2026-01-01"),
        ledger: Some(ledger().public_key()),
        entries: vec![
            entry(&maker(), Role::Maker, "Karim Studio"),
            entry(&desk(), Role::Repairer, "Fix-It Desk"),
            entry(&host(), Role::Host, "Makers Fair"),
            revoked,
        ],
    }
    .sign(&operator())
}

pub fn trust() -> TrustList {
    TrustList::verify(&trust_bytes(), Some(&operator().public_key())).unwrap()
}

pub fn run_manifest(by: &SigningKey) -> Vec<u8> {
    Record {
        time: t("2026-03-01"),
        seq: 0,
        body: RecordBody::RunManifest(RunManifest {
            title: "Eclipse Pin".into(),
            microfactory: "Northside Microfactory".into(),
            place: "Leeds".into(),
            size: 3,
            window_start: t("2026-03-01"),
            window_end: t("2026-04-01"),
        }),
    }
    .sign(by, None)
}

pub fn mint_with(by: &SigningKey, number: u64, owner: Option<PublicKey>, time: &str) -> Vec<u8> {
    Record {
        time: t(time),
        seq: 0,
        body: RecordBody::Mint(Mint {
            run: RunId::derive(&run_manifest(by)),
            number,
            size: 3,
            title: "Eclipse Pin".into(),
            microfactory: "Northside Microfactory".into(),
            owner: owner.map(Into::into),
        }),
    }
    .sign(by, None)
}

/// Edition 2/3 minted by Karim Studio on 2026-03-02 for owner 1.
pub fn mint() -> Vec<u8> {
    mint_with(
        &maker(),
        2,
        Some(owner1().public_key()),
        "2026-03-02T10:00:00Z",
    )
}

pub fn label() -> String {
    Payload::Label(mint()).encode()
}

/// Builds an item's chain record by record.
#[derive(Clone)]
pub struct Chain {
    pub item: ItemId,
    pub records: Vec<Vec<u8>>,
    pub run: Option<Vec<u8>>,
    day: u32,
}

impl Chain {
    pub fn new(mint: Vec<u8>) -> Self {
        Chain {
            item: ItemId::derive(&mint),
            records: vec![mint],
            run: Some(run_manifest(&maker())),
            day: 3,
        }
    }

    /// Appends a record signed by `by`, dated one day after the previous one.
    pub fn push(mut self, by: &SigningKey, body: RecordBody) -> Self {
        let link = ChainLink {
            item: self.item,
            prev: RecordHash::of(self.records.last().unwrap()),
        };
        let record = Record {
            time: t(&format!("2026-03-{:02}T12:00:00Z", self.day)),
            seq: self.records.len() as u64,
            body,
        };
        self.day += 1;
        self.records.push(record.sign(by, Some(&link)));
        self
    }

    pub fn repair(self, note: &str, parts: &[&str]) -> Self {
        let body = RecordBody::Repair(Repair {
            note: note.into(),
            parts: parts.iter().map(|p| p.to_string()).collect(),
        });
        self.push(&desk(), body)
    }

    pub fn badge(self, event: &str) -> Self {
        let body = RecordBody::Badge(Badge {
            event: event.into(),
            place: Some("Leeds".into()),
        });
        self.push(&host(), body)
    }

    pub fn transfer(self, from: &SigningKey, to: &SigningKey) -> Self {
        self.push(from, RecordBody::Transfer(to.public_key().into()))
    }

    pub fn report(self, by: &SigningKey, status: ReportStatus) -> Self {
        self.push(by, RecordBody::Report(status))
    }

    pub fn payload(&self) -> Payload {
        Payload::History(History {
            records: self.records.clone(),
            run: self.run.clone(),
            head: None,
            anchor: None,
        })
    }

    pub fn encode(&self) -> String {
        self.payload().encode()
    }

    /// The history with the ledger's head statement for its last record (signed a day before
    /// now): what `provenance export` gives, so the owner is confirmed. Panics on a chain that
    /// does not verify (such a chain has no head statement).
    pub fn confirmed(&self) -> Payload {
        let chain =
            provenance_core::verify_chain(self.records.iter().map(Vec::as_slice), &trust(), now())
                .unwrap();
        let head = provenance_core::head::HeadStatement::for_chain(
            &chain,
            Timestamp(now().0 - 86_400),
            42,
        )
        .sign(&ledger());
        Payload::History(History {
            records: self.records.clone(),
            run: self.run.clone(),
            head: Some(provenance_core::payload::HeadStatementBytes(head)),
            anchor: None,
        })
    }

    /// [`Chain::confirmed`] as a payload string.
    pub fn encode_confirmed(&self) -> String {
        self.confirmed().encode()
    }

    /// The raw CBOR container, as in a full-history file.
    pub fn file_bytes(&self) -> Vec<u8> {
        self.payload().to_cbor()
    }
}

/// Mint, a repair, a transfer from owner 1 to owner 2, and a badge.
pub fn history() -> Chain {
    Chain::new(mint())
        .repair("replaced the clasp", &["clasp"])
        .transfer(&owner1(), &owner2())
        .badge("Leeds Makers Fair")
}

/// A 10-record history: the mint, then repairs and badges.
pub fn history10() -> Chain {
    let mut chain = Chain::new(mint());
    for i in 0..9 {
        chain = if i % 2 == 0 {
            chain.repair(&format!("polish {i}"), &[])
        } else {
            chain.badge(&format!("Fair {i}"))
        };
    }
    chain
}
