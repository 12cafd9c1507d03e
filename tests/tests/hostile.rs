//! Hostile input to the running server.
//!
//! The server runs in the world of the conformance vectors (`spec/vectors/`): its ledger key
//! and trust-list operator are the vectors' fixed-seed keys and it holds the vectors' trust
//! list, so every invalid vector's records can be posted to the append endpoints and must get
//! exactly the vector's error code. Added to that: bodies of 0 bytes, 1 byte and 10 MB
//! (declared and chunked), deeply nested CBOR, and slow clients (headers and bodies dribbled a
//! byte at a time) while other clients must still be answered promptly.
//!
//! Every answer is checked for its status and problem+json `code`, the server's peak memory
//! and each answer's time are bounded, and the database file is byte-identical before and
//! after. Both snapshots are taken while the same server process runs, after checkpointing
//! the WAL into the main file from a second connection (a restart is no good baseline: the
//! server writes a fresh log checkpoint on every start).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::Server;
use provenance_core::codes::ErrorCode;
use provenance_core::{
    verify_chain, ChainLink, DecodedRecord, ItemId, Payload, Record, RecordBody, RecordHash,
    RecordKind, Repair, SigningKey, Timestamp, TrustList,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

const COSE: &str = "application/cose";
/// Longest any single hostile request may take to be answered (slow clients excepted).
const ANSWER_BOUND: Duration = Duration::from_secs(5);
/// The server's peak resident memory after everything (10 MB bodies included).
const MEMORY_BOUND_KB: u64 = 200 * 1024;

fn vectors(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../spec/vectors/{name}"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The vectors' fixed-seed keys (provenance-core/tests/vectors.rs).
fn seed_key(seed: u8) -> SigningKey {
    SigningKey::from_seed([seed; 32])
}

/// Where a hostile body goes.
#[derive(Debug, Clone, PartialEq)]
enum Endpoint {
    Runs,
    Items,
    Records(ItemId),
    Trust,
}

impl Endpoint {
    fn path(&self) -> String {
        match self {
            Endpoint::Runs => "/v1/runs".into(),
            Endpoint::Items => "/v1/items".into(),
            Endpoint::Records(item) => format!("/v1/items/{item}/records"),
            Endpoint::Trust => "/v1/trust".into(),
        }
    }

    /// The endpoint a record goes to, by its kind.
    fn for_record(bytes: &[u8], item: Option<ItemId>) -> Endpoint {
        match DecodedRecord::decode(bytes).map(|d| d.record.body.kind()) {
            Ok(RecordKind::RunManifest) => Endpoint::Runs,
            Ok(RecordKind::Mint) => Endpoint::Items,
            _ => item.map_or(Endpoint::Items, Endpoint::Records),
        }
    }
}

/// One hostile request and the answer it must get.
#[derive(Debug, Clone)]
struct Case {
    name: String,
    endpoint: Endpoint,
    body: Vec<u8>,
    /// Expected status and `code`; `None` code means a success answer (idempotent re-post).
    status: u16,
    code: Option<String>,
    /// The chain an item must hold for this answer: (item, records from the mint).
    needs: Option<(ItemId, Vec<Vec<u8>>)>,
}

/// The HTTP status spec §10 gives each code.
fn status_of(code: &str) -> u16 {
    common::spec_status(code)
}

fn error_case(name: &str, endpoint: Endpoint, body: Vec<u8>, code: &str) -> Case {
    Case {
        name: name.into(),
        endpoint,
        body,
        status: status_of(code),
        code: Some(code.into()),
        needs: None,
    }
}

/// The code the server must answer for a body that is not a decodable record.
fn record_decode_code(body: &[u8]) -> String {
    if body.len() > provenance_core::limits::MAX_RECORD_BYTES {
        return "ledger.body_too_large".into();
    }
    match DecodedRecord::decode(body) {
        Ok(_) => panic!("a decodable record"),
        Err(e) => e.code().into(),
    }
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

/// The vector world: its trust list, valid run manifests, the cases and what they need.
struct VectorWorld {
    trust: Vec<u8>,
    operator: SigningKey,
    runs: Vec<Vec<u8>>,
    cases: Vec<Case>,
    /// Vectors that cannot be hostile on today's clock (their answer would be a success).
    skipped: Vec<String>,
}

/// Turns every invalid payload vector into cases: the records it carries are extracted; the
/// first record that breaks the chain (checked here with the same library the server uses) is
/// posted on top of the valid prefix before it, and must get the vector's code.
fn vector_world() -> VectorWorld {
    let payloads = vectors("payloads.json");
    let list = payloads["vectors"].as_array().unwrap();
    let label = list.iter().find(|v| v["name"] == "label").unwrap();
    let trust_bytes = unhex(label["trust_list_hex"].as_str().unwrap());
    let operator = seed_key(1);
    assert_eq!(
        label["operator_public_key_hex"].as_str().unwrap(),
        hex::encode(operator.public_key().to_bytes())
    );
    let trust = TrustList::verify(&trust_bytes, Some(&operator.public_key())).unwrap();
    let today = common::now();

    let mut runs: Vec<Vec<u8>> = Vec::new();
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    for v in list {
        let name = v["name"].as_str().unwrap();
        let expect = v["expect"].as_str().unwrap();
        let vector_now = Timestamp::parse(v["now"].as_str().unwrap()).unwrap();
        let text = v["payload"].as_str().unwrap();
        let payload = match Payload::decode(text) {
            Ok(p) => p,
            Err(_) => {
                // Nothing to extract: post what the payload carries (its CBOR when the base45
                // decodes, else its text) as a record and as a mint.
                let body = text
                    .strip_prefix("PV1:")
                    .and_then(|b| provenance_core::base45::decode(b).ok())
                    .unwrap_or_else(|| text.as_bytes().to_vec());
                let code = record_decode_code(&body);
                cases.push(error_case(name, Endpoint::Items, body.clone(), &code));
                continue;
            }
        };
        let (records, run): (Vec<Vec<u8>>, Option<Vec<u8>>) = match payload {
            Payload::Label(mint) => (vec![mint], None),
            Payload::History(h) => (h.records, h.run),
        };
        if let Some(run) = run {
            if expect == "run.invalid_window" {
                cases.push(error_case(name, Endpoint::Runs, run, expect));
                continue;
            }
            if !runs.contains(&run) {
                runs.push(run);
            }
        }
        if expect.starts_with("trust.") {
            let list = unhex(v["trust_list_hex"].as_str().unwrap());
            cases.push(error_case(name, Endpoint::Trust, list, expect));
            continue;
        }
        // The first record whose prefix stops verifying is the offender.
        let item = records
            .first()
            .filter(|r| matches!(DecodedRecord::decode(r), Ok(d) if d.record.body.is_genesis()))
            .map(|r| ItemId::derive(r));
        let failing = (0..records.len()).find_map(|k| {
            let prefix = records[..=k].iter().map(Vec::as_slice);
            match DecodedRecord::decode(&records[k]) {
                Err(e) => Some((k, e.code().to_string())),
                Ok(_) => verify_chain(prefix, &trust, vector_now)
                    .err()
                    .map(|e| (k, e.code().to_string())),
            }
        });
        match failing {
            Some((k, code)) => {
                assert_eq!(code, expect, "{name}: the library agrees with the vector");
                let offender = records[k].clone();
                // On the server's clock (today, not the vector's now) the offender must still
                // fail the same way, or posting it would store it.
                let today_ok = DecodedRecord::decode(&offender).is_ok()
                    && verify_chain(records[..=k].iter().map(Vec::as_slice), &trust, today).is_ok();
                if today_ok {
                    skipped.push(name.to_string());
                    continue;
                }
                // A later position always goes to the item's records endpoint, whatever the
                // record's kind (a mint there is `chain.unexpected_kind`).
                let endpoint = match (k, item) {
                    (0, _) | (_, None) => Endpoint::Items,
                    (_, Some(item)) => Endpoint::Records(item),
                };
                let mut case = if records[..k].contains(&offender) {
                    // These exact bytes are already stored on this item (a second copy of the
                    // mint): the documented answer is the idempotent 200 with the first answer.
                    Case {
                        name: format!("{name} (bytes already stored: idempotent)"),
                        endpoint,
                        body: offender,
                        status: 200,
                        code: None,
                        needs: None,
                    }
                } else {
                    error_case(name, endpoint, offender, expect)
                };
                if k > 0 {
                    case.needs = Some((item.unwrap(), records[..k].to_vec()));
                }
                cases.push(case);
            }
            None if expect == "run.outside_window" => {
                // The chain is fine on its own; the registered run's window refuses the mint.
                cases.push(error_case(
                    name,
                    Endpoint::Items,
                    records[0].clone(),
                    expect,
                ));
            }
            None => {
                // Records all genuine (the vector's fault is in its head statement, anchor or
                // carried run): stored in the setup, and re-posting each gets the first answer.
                let item = item.unwrap();
                for (i, r) in records.iter().enumerate() {
                    let endpoint = Endpoint::for_record(r, Some(item));
                    cases.push(Case {
                        name: format!("{name} (genuine record {i}, re-posted)"),
                        endpoint,
                        body: r.clone(),
                        status: 200,
                        code: None,
                        needs: Some((item, records.clone())),
                    });
                }
            }
        }
    }
    VectorWorld {
        trust: trust_bytes,
        operator,
        runs,
        cases,
        skipped,
    }
}

/// A group of cases that can share one database: for each item, the one chain they need, and
/// no two items minted as the same edition of a run (the ledger takes one mint per edition).
#[derive(Default)]
struct World {
    chains: BTreeMap<String, (ItemId, Vec<Vec<u8>>)>,
    editions: BTreeMap<([u8; 16], u64), ItemId>,
    cases: Vec<Case>,
    /// Runs the raw-HTTP checks (sizes, nesting, slow clients) in this world.
    raw: bool,
}

fn assign(worlds: &mut Vec<World>, case: Case) {
    let edition = case
        .needs
        .as_ref()
        .and_then(|(_, chain)| edition_of(&chain[0]));
    let fits = |w: &World| match &case.needs {
        None => true,
        Some((item, chain)) => {
            let same_chain = match w.chains.get(&item.to_base32()) {
                None => true,
                Some((_, have)) => have == chain,
            };
            let edition_free = edition
                .and_then(|e| w.editions.get(&e))
                .is_none_or(|minted| minted == item);
            same_chain && edition_free
        }
    };
    let index = match worlds.iter().position(fits) {
        Some(i) => i,
        None => {
            worlds.push(World::default());
            worlds.len() - 1
        }
    };
    let world = &mut worlds[index];
    if let Some((item, chain)) = &case.needs {
        world
            .chains
            .insert(item.to_base32(), (*item, chain.clone()));
        if let Some(e) = edition {
            world.editions.insert(e, *item);
        }
    }
    world.cases.push(case);
}

/// The (run, edition) a mint takes, if the bytes are one.
fn edition_of(mint: &[u8]) -> Option<([u8; 16], u64)> {
    match provenance_core::DecodedRecord::decode(mint)
        .ok()?
        .record
        .body
    {
        provenance_core::RecordBody::Mint(m) => Some((m.run.0, m.number)),
        _ => None,
    }
}

/// The database as it stands, taken while the server runs: the WAL is checkpointed (TRUNCATE)
/// into the main file from a separate connection, then the main file is hashed. Also returns
/// a logical dump (every row of every table, in rowid order) to show what differs. On
/// PostgreSQL: the hash of the logical dump, and the dump.
fn db_fingerprint(dir: &Path) -> (String, Vec<String>) {
    if common::is_postgres(dir) {
        return common::pg_fingerprint(dir);
    }
    let conn = rusqlite::Connection::open(dir.join("ledger.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (busy, _log, _done): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        if busy == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "WAL checkpoint stayed busy");
        std::thread::sleep(Duration::from_millis(20));
    }
    let wal = dir.join("ledger.db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "WAL truncated by the checkpoint");
    let mut dump = Vec::new();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let values: Vec<String> = (0..columns)
                .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                .collect();
            dump.push(format!("{table}: {}", values.join(", ")));
        }
    }
    drop(conn);
    let bytes = std::fs::read(dir.join("ledger.db")).unwrap();
    (
        format!(
            "{} bytes, sha256 {}",
            bytes.len(),
            hex::encode(Sha256::digest(&bytes))
        ),
        dump,
    )
}

/// The pid of the `serve` process whose database is in `dir`.
fn server_pid(dir: &Path) -> u32 {
    let needle = common::db_arg(dir);
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).to_string())
            .collect();
        if args.iter().any(|a| a == "serve") && args.contains(&needle) {
            return pid;
        }
    }
    panic!("no serve process for {needle}");
}

/// Peak resident set (VmHWM) of a process, in KiB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn start(dir: &Path, operator: &SigningKey) -> Server {
    Server::start(dir, &["--operator", &operator.public_key().to_base64url()])
}

/// POSTs and checks the answer; returns how long it took.
fn check(server: &Server, case: &Case) -> Duration {
    let t = Instant::now();
    let answer = server.post(&case.endpoint.path(), COSE, &case.body);
    let took = t.elapsed();
    match &case.code {
        Some(code) => {
            assert_eq!(
                (answer.0, answer.1["code"].as_str()),
                (case.status, Some(code.as_str())),
                "{}: {}",
                case.name,
                answer.1
            );
            common::assert_problem(&answer, case.status, code);
        }
        None => assert_eq!(answer.0, case.status, "{}: {}", case.name, answer.1),
    }
    assert!(took < ANSWER_BOUND, "{} took {took:?}", case.name);
    took
}

/// Parses one HTTP/1.1 response from a raw socket: (status, body).
fn read_response(stream: &mut TcpStream) -> std::io::Result<(u16, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(std::io::ErrorKind::InvalidData)?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((status, body))
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Sends a 10 MB body (declared or chunked) and expects 413 without the server reading it all.
fn ten_megabytes(addr: SocketAddr, path: &str, chunked: bool) {
    const SIZE: usize = 10 * 1024 * 1024;
    let mut stream = connect(addr);
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {SIZE}")
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {COSE}\r\n{framing}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let t = Instant::now();
    // The writer may be cut off once the server has answered: errors there are expected.
    let feeder = std::thread::spawn(move || {
        let block = vec![0x81u8; 64 * 1024];
        let mut sent = 0;
        while sent < SIZE {
            let r = if chunked {
                writer
                    .write_all(format!("{:x}\r\n", block.len()).as_bytes())
                    .and_then(|_| writer.write_all(&block))
                    .and_then(|_| writer.write_all(b"\r\n"))
            } else {
                writer.write_all(&block)
            };
            if r.is_err() {
                return;
            }
            sent += block.len();
        }
        if chunked {
            let _ = writer.write_all(b"0\r\n\r\n");
        }
    });
    let (status, body) = read_response(&mut stream).unwrap();
    let took = t.elapsed();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    feeder.join().unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("ledger.body_too_large")),
        "10 MB to {path} (chunked: {chunked})"
    );
    assert!(took < ANSWER_BOUND, "10 MB to {path}: {took:?}");
}

/// Raw-HTTP hostility: sizes, nesting, slow clients. Runs against a live server.
fn raw_hostility(server: &Server, item: ItemId, operator: &SigningKey) {
    let addr: SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();
    let records = Endpoint::Records(item);

    // Bodies of 0 and 1 bytes, to every append endpoint.
    for endpoint in [Endpoint::Items, Endpoint::Runs, records.clone()] {
        for body in [vec![], vec![0xd2]] {
            let code = record_decode_code(&body);
            check(
                server,
                &error_case(
                    &format!("{}-byte body", body.len()),
                    endpoint.clone(),
                    body,
                    &code,
                ),
            );
        }
    }
    for body in [vec![], vec![0xd2]] {
        let code = TrustList::verify(&body, Some(&operator.public_key()))
            .unwrap_err()
            .code();
        check(
            server,
            &error_case("trust body", Endpoint::Trust, body, code),
        );
    }

    // 10 MB, declared up front and streamed chunked.
    for path in [
        "/v1/items".to_string(),
        records.path(),
        "/v1/trust".to_string(),
    ] {
        ten_megabytes(addr, &path, false);
        ten_megabytes(addr, &path, true);
    }

    // Deeply nested CBOR within the size limit: arrays, maps, tags, indefinite arrays; and
    // the same inside a COSE_Sign1 shell, where the protected header or payload would be.
    let max = provenance_core::limits::MAX_RECORD_BYTES;
    let mut nested: Vec<(&str, Vec<u8>)> = vec![
        ("nested arrays", [vec![0x81; max - 1], vec![0x00]].concat()),
        (
            "nested maps",
            [[0xa1, 0x00].repeat(max / 2 - 1), vec![0x00]].concat(),
        ),
        ("nested tags", [vec![0xc6; max - 1], vec![0x00]].concat()),
        ("unclosed indefinite arrays", vec![0x9f; max]),
        (
            "nested arrays, 20 deep",
            [vec![0x81; 20], vec![0x00]].concat(),
        ),
    ];
    let mut shell = vec![0xd2, 0x84, 0x59, 0x07, 0xf0];
    shell.extend(std::iter::repeat_n(0x81, max - shell.len() - 1));
    shell.push(0x00);
    nested.push(("COSE shell around nested arrays", shell));
    for (name, body) in nested {
        for endpoint in [Endpoint::Items, records.clone()] {
            let code = record_decode_code(&body);
            check(server, &error_case(name, endpoint, body.clone(), &code));
        }
    }
    let trust_nested = [vec![0x81; 256 * 1024 - 1], vec![0x00]].concat();
    let code = TrustList::verify(&trust_nested, Some(&operator.public_key()))
        .unwrap_err()
        .code();
    check(
        server,
        &error_case("nested trust list", Endpoint::Trust, trust_nested, code),
    );

    // Slow clients: many connections dribbling their headers, and some dribbling a body,
    // while a well-behaved client keeps being answered promptly.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow_headers: Vec<_> = (0..24)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = connect(addr);
                s.set_read_timeout(Some(Duration::from_millis(300)))
                    .unwrap();
                let t = Instant::now();
                let head = format!("POST /v1/items HTTP/1.1\r\nHost: x\r\nX-Slow-{i}: ");
                if s.write_all(head.as_bytes()).is_err() {
                    return t.elapsed();
                }
                // One byte every 300 ms, never finishing: the server must give up on us.
                let mut probe = [0u8; 512];
                loop {
                    assert!(
                        t.elapsed() < Duration::from_secs(30),
                        "slow header client {i} never timed out"
                    );
                    match s.read(&mut probe) {
                        Ok(0) => return t.elapsed(),
                        Ok(_) => return t.elapsed(), // an answer (408) then close
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(_) => return t.elapsed(),
                    }
                    if s.write_all(b"a").is_err() {
                        return t.elapsed();
                    }
                }
            })
        })
        .collect();
    let slow_bodies: Vec<_> = (0..8)
        .map(|i| {
            let path = records.path();
            std::thread::spawn(move || {
                let mut s = connect(addr);
                let body = b"\xd2\x84garbage!";
                let head = format!(
                    "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {COSE}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                s.write_all(head.as_bytes()).unwrap();
                let t = Instant::now();
                for b in body {
                    std::thread::sleep(Duration::from_millis(250));
                    if s.write_all(&[*b]).is_err() {
                        break;
                    }
                }
                // Answered (400 for the garbage) or cut off: either way, not stuck.
                match read_response(&mut s) {
                    Ok((status, body)) => {
                        let body: Value = serde_json::from_slice(&body).unwrap();
                        assert!(
                            (status == 400 && body["code"] == "decode.malformed")
                                || status == 408,
                            "slow body {i}: {status} {body}"
                        );
                    }
                    Err(e) => assert!(
                        t.elapsed() < Duration::from_secs(30),
                        "slow body {i}: {e}"
                    ),
                }
                t.elapsed()
            })
        })
        .collect();
    let well_behaved = {
        let (stop, url) = (stop.clone(), server.url.clone());
        let probe = error_case(
            "probe",
            Endpoint::Items,
            vec![0xff, 0x00],
            "decode.malformed",
        );
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut count = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                let (status, _) = common::get(&format!("{url}/healthz"), "text/plain");
                assert_eq!(status, 200);
                let answer = common::post(
                    &format!("{url}{}", probe.endpoint.path()),
                    COSE,
                    &probe.body,
                );
                assert_eq!(answer.1["code"], "decode.malformed");
                worst = worst.max(t.elapsed());
                count += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            (count, worst)
        })
    };
    let header_times: Vec<Duration> = slow_headers
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let body_times: Vec<Duration> = slow_bodies.into_iter().map(|h| h.join().unwrap()).collect();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (count, worst) = well_behaved.join().unwrap();
    let slowest_header = header_times.iter().max().unwrap();
    eprintln!(
        "slow clients: header dribblers cut off after at most {slowest_header:?}, body \
         dribblers done after at most {:?}; meanwhile {count} normal exchanges, worst {worst:?}",
        body_times.iter().max().unwrap()
    );
    assert!(
        count >= 10,
        "the well-behaved client was starved: {count} exchanges"
    );
    assert!(
        worst < Duration::from_secs(1),
        "a normal exchange took {worst:?}"
    );
}

/// Runs one world: setup, clean stop, fingerprint; hostile cases; clean stop, fingerprint.
fn run_world(index: usize, world: &World, vw: &VectorWorld) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("ledger.pem"), seed_key(9).to_pkcs8_pem().unwrap()).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("ledger.pem"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }

    // Setup: the vectors' trust list, their valid runs, and every chain the cases stand on.
    let server = start(dir, &vw.operator);
    let ok = |path: &str, body: &[u8], what: &str| {
        let answer = server.post(path, COSE, body);
        assert_eq!(
            answer.0, 201,
            "setup of world {index}, {what}: {}",
            answer.1
        );
    };
    ok("/v1/trust", &vw.trust, "trust list");
    for run in &vw.runs {
        ok("/v1/runs", run, "run");
    }
    for (item, chain) in world.chains.values() {
        ok("/v1/items", &chain[0], "mint");
        for r in &chain[1..] {
            ok(&format!("/v1/items/{item}/records"), r, "record");
        }
    }
    let stored = server.stored();
    let before = db_fingerprint(dir);
    let pid = server_pid(dir);
    let mut slowest = Duration::ZERO;
    for case in &world.cases {
        slowest = slowest.max(check(&server, case));
    }
    if world.raw {
        let (item, _) = world.chains.values().next().unwrap();
        raw_hostility(&server, *item, &vw.operator);
    }
    // Everything again: answers are stable, and nothing accumulated.
    for case in &world.cases {
        check(&server, case);
    }
    assert_eq!(server.stored(), stored, "world {index}: row counts");
    let peak = peak_rss_kb(pid);
    let after = db_fingerprint(dir);
    server.stop();
    let codes: Vec<String> = world
        .cases
        .iter()
        .map(|c| format!("{} -> {}", c.name, c.code.as_deref().unwrap_or("200")))
        .collect();
    eprintln!(
        "world {index}: {} cases, slowest answer {slowest:?}, server peak RSS {peak} KiB\n  {}",
        world.cases.len(),
        codes.join("\n  ")
    );
    assert!(peak < MEMORY_BOUND_KB, "world {index}: peak RSS {peak} KiB");
    assert_eq!(before.1, after.1, "world {index}: stored rows changed");
    assert_eq!(
        before.0, after.0,
        "world {index}: the database file changed"
    );
}

#[test]
fn hostile_input_gets_its_code_and_changes_no_byte() {
    common::for_each_backend(hostile_input_gets_its_code_and_changes_no_byte_once);
}

/// One backend's run of [`hostile_input_gets_its_code_and_changes_no_byte`].
fn hostile_input_gets_its_code_and_changes_no_byte_once() {
    let started = Instant::now();
    let vw = vector_world();
    // Only the vector whose fault is a date in the future relative to the vectors' "now" is
    // harmless on today's clock; a fresh record dated tomorrow stands in for it below.
    assert_eq!(vw.skipped, ["time-in-future"], "vectors not posted");

    // Item 1/3 of the vectors' run: most invalid records sit on its mint.
    let label = vectors("payloads.json")["vectors"][0]["payload"]
        .as_str()
        .unwrap()
        .to_string();
    let Ok(Payload::Label(mint)) = Payload::decode(&label) else {
        panic!("label vector")
    };
    let item = ItemId::derive(&mint);
    let future = Record {
        time: Timestamp(common::now().0 + 2 * 86_400),
        seq: 1,
        body: RecordBody::Repair(Repair {
            note: "from the future".into(),
            parts: vec![],
        }),
    }
    .sign(
        &seed_key(3),
        Some(&ChainLink {
            item,
            prev: RecordHash::of(&mint),
        }),
    );
    let mut first = error_case(
        "repair dated two days ahead",
        Endpoint::Records(item),
        future,
        "chain.time_in_future",
    );
    first.needs = Some((item, vec![mint]));

    // Another piece's mint (the label-with-owner vector, not stored) as a later record.
    let other = vectors("payloads.json")["vectors"][1]["payload"]
        .as_str()
        .unwrap()
        .to_string();
    let Ok(Payload::Label(other_mint)) = Payload::decode(&other) else {
        panic!("label-with-owner vector")
    };
    let mut second = error_case(
        "another mint posted as a later record",
        Endpoint::Records(item),
        other_mint,
        "chain.unexpected_kind",
    );
    second.needs = first.needs.clone();

    let mut worlds = Vec::new();
    assign(&mut worlds, first);
    assign(&mut worlds, second);
    for case in vw.cases.iter().cloned() {
        assign(&mut worlds, case);
    }
    worlds[0].raw = true;
    let total: usize = worlds.iter().map(|w| w.cases.len()).sum();
    assert!(total >= 60, "{total} cases");

    std::thread::scope(|s| {
        let handles: Vec<_> = worlds
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let vw = &vw;
                s.spawn(move || run_world(i, w, vw))
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    eprintln!(
        "{total} vector cases in {} worlds, plus raw hostility, in {:?}",
        worlds.len(),
        started.elapsed()
    );
    // Time is bounded per request (ANSWER_BOUND, socket timeouts), not as a wall-clock total:
    // a total depends on how busy the machine is (245 s on a CI box shared with fuzzers).
}
