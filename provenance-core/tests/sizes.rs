//! The sizes spec/README.md §7.4 states, measured on the vector world's records. If a format
//! change moves them, this test fails and the spec's table must be updated with it.
#![allow(clippy::unwrap_used, missing_docs)]

use provenance_core::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed([seed; 32])
}

fn mint(owner: Option<PublicKey>) -> Vec<u8> {
    Record {
        time: Timestamp(1_772_323_200),
        seq: 0,
        body: RecordBody::Mint(Mint {
            run: RunId([7; 16]),
            number: 17,
            size: 250,
            title: "Eclipse Pin".into(),
            microfactory: "Northside Microfactory".into(),
            owner,
        }),
    }
    .sign(&key(2), None)
}

fn extra(body: RecordBody) -> usize {
    let link = ChainLink {
        item: ItemId([1; 16]),
        prev: RecordHash([2; 32]),
    };
    let bytes = Record {
        time: Timestamp(1_772_323_200),
        seq: 12,
        body,
    }
    .sign(&key(3), Some(&link));
    // A record costs its bytes plus the byte-string head inside the container's array.
    bytes.len() + if bytes.len() < 256 { 2 } else { 3 }
}

#[test]
fn label_and_record_sizes_are_as_specified() {
    let label = mint(None);
    let label_owned = mint(Some(key(5).public_key()));
    let sizes = [
        ("label (maker owns)", label.len()),
        ("label (first owner named)", label_owned.len()),
        (
            "label payload string chars",
            Payload::Label(label.clone()).encode().len(),
        ),
        (
            "repair",
            extra(RecordBody::Repair(Repair {
                note: "replaced the clasp".into(),
                parts: vec![],
            })),
        ),
        ("transfer", extra(RecordBody::Transfer(key(6).public_key()))),
        (
            "badge",
            extra(RecordBody::Badge(Badge {
                event: "Leeds Makers Fair".into(),
                place: None,
            })),
        ),
        ("report", extra(RecordBody::Report(ReportStatus::Stolen))),
    ];
    for (what, n) in sizes {
        println!("{what}: {n}");
    }
    // The figures in spec/README.md §7.4.
    assert_eq!(label.len(), 154);
    assert_eq!(label_owned.len(), 189);
    assert!(
        label_owned.len() <= 200,
        "label goal: at most 200 bytes of CBOR"
    );
    assert_eq!(sizes[2].1, 4 + 231);
    assert_eq!(sizes[3].1, 118);
    assert_eq!(sizes[4].1, 133);
    assert_eq!(sizes[5].1, 117);
    assert_eq!(sizes[6].1, 99);
}

#[test]
fn living_payload_of_mint_and_head_statement_fits_400_bytes() {
    let owner = key(6).public_key();
    let mint = mint(Some(key(5).public_key()));
    let statement = head::HeadStatement {
        time: Timestamp(1_795_000_000),
        item: ItemId::derive(&mint),
        seq: 14,
        head: RecordHash([3; 32]),
        owner,
        stolen: false,
        void: false,
        repairs: 3,
        transfers: 6,
        badges: 4,
        log_size: 1_250_000,
    };
    let signed = statement.sign(&key(9));
    let history = History {
        records: vec![mint.clone()],
        run: None,
        head: Some(payload::HeadStatementBytes(signed.clone())),
        anchor: None,
    };
    let cbor = history.to_cbor();
    let text = Payload::History(history).encode();
    println!(
        "head statement: {}, living payload CBOR: {}, string: {} chars",
        signed.len(),
        cbor.len(),
        text.len()
    );
    // The figures in spec/README.md §14.2.
    assert_eq!(signed.len(), 198);
    assert_eq!(cbor.len(), 395);
    assert_eq!(text.len(), 597);
    assert!(cbor.len() <= 400, "living payload goal: at most 400 bytes");
}
