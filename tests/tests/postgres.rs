//! Several servers, one truth (issue 15): two `provenance serve` processes on one PostgreSQL
//! database, sharing the ledger key file and `--origin`.
//!
//! - conflicting transfers sent to the two servers: exactly one 201, the other 409 naming the
//!   winner; the winner re-posted to the other server is an idempotent 200;
//! - log indexes gap-free across servers (the database's leaves, records and runs agree);
//!   checkpoints from each server verify and are consistent with each other;
//!   `provenance log verify --since` passes against both;
//! - `kill -9` of one server under load, and `pg_ctl restart -m immediate` under load: no
//!   acknowledged append lost, every chain verifies, the log stays consistent;
//! - `provenance migrate` from a SQLite ledger written by a real server: the checkpoint and
//!   every root unchanged; a non-empty target and a tampered source are refused, writing
//!   nothing.
//!
//! Needs `PROVENANCE_TEST_POSTGRES` (a base URL; `.ci/run` starts a server and sets it); each
//! test prints why it skips without it. The restart test also needs `PROVENANCE_TEST_PGDATA`
//! and `PROVENANCE_TEST_PG_CTL` (run as the data directory's owner through `su` when root).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::{assert_problem, cli, get, key, Server};
use provenance_core::checkpoint::Checkpoint;
use provenance_core::log::verify_consistency;
use provenance_core::{
    verify_chain, ChainLink, ItemId, PublicKey, Record, RecordBody, RecordHash, SigningKey,
};
use serde_json::Value;

const COSE: &str = "application/cose";
const ORIGIN: &str = "ledger.test/pg";

/// The tests of this file share one PostgreSQL server, and one of them restarts it.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether PostgreSQL is configured; prints why a test skips when it is not.
fn postgres_or_skip(test: &str) -> bool {
    if common::postgres_base().is_some() {
        return true;
    }
    eprintln!(
        "SKIPPED {test}: set {} to a PostgreSQL base URL (e.g. postgres://pgtest@127.0.0.1:55432/postgres) to run it; .ci/run does",
        common::POSTGRES_ENV
    );
    false
}

/// One ledger, two servers: both directories hold the ledger key; keys of the parties live in
/// the first.
struct Pair {
    _tmp: (tempfile::TempDir, tempfile::TempDir),
    a: Server,
    b: Server,
    url: String,
}

impl Pair {
    fn start() -> Pair {
        let (t1, t2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let url = common::use_postgres(t1.path());
        let a = Server::start(t1.path(), &["--origin", ORIGIN]);
        common::share_ledger(t1.path(), t2.path());
        let b = Server::start(t2.path(), &["--origin", ORIGIN]);
        Pair {
            _tmp: (t1, t2),
            a,
            b,
            url,
        }
    }

    fn dir(&self) -> PathBuf {
        self.a.dir.clone()
    }

    /// Runs a CLI command against server `b` with the parties' keys; must succeed.
    fn ok_b(&self, args: &[&str]) -> String {
        let out = cli(&self.b.url, &self.dir(), args);
        assert!(
            out.status.success(),
            "provenance {args:?} on b: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

fn post(url: &str, path: &str, body: &[u8]) -> (u16, Value) {
    common::post(&format!("{url}{path}"), COSE, body)
}

fn checkpoint(url: &str, ledger: &PublicKey) -> Checkpoint {
    let (status, body) = get(&format!("{url}/v1/log/checkpoint"), "text/plain");
    assert_eq!(status, 200);
    let cp = Checkpoint::verify_own_origin(&String::from_utf8(body).unwrap(), ledger).unwrap();
    assert_eq!(cp.origin, ORIGIN);
    cp
}

/// `a` and `b` (a.size <= b.size) are consistent, by a proof `url` serves.
fn consistent(url: &str, a: &Checkpoint, b: &Checkpoint) {
    let proof: Vec<Vec<u8>> = if a.size == b.size {
        Vec::new()
    } else {
        let (status, body) = get(
            &format!(
                "{url}/v1/log/consistency?first={}&second={}",
                a.size, b.size
            ),
            "application/json",
        );
        assert_eq!(status, 200);
        let v: Value = serde_json::from_slice(&body).unwrap();
        v["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
            .collect()
    };
    let proof: Vec<&[u8]> = proof.iter().map(Vec::as_slice).collect();
    verify_consistency(a.size, b.size, &a.root.0, &b.root.0, &proof).unwrap();
}

/// The database's log is gap-free and agrees with the records and runs: leaf indexes
/// `0..size`, one leaf per stored record or run, each at the index its row names.
fn log_tables_agree(url: &str) -> u64 {
    let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let row = db
        .query_one(
            "SELECT (SELECT size FROM log_state),
                    (SELECT COUNT(*) FROM log_leaves),
                    (SELECT COALESCE(MAX(idx) + 1, 0) FROM log_leaves),
                    (SELECT COUNT(*) FROM records) + (SELECT COUNT(*) FROM runs),
                    (SELECT COUNT(*) FROM log_leaves l WHERE
                        NOT EXISTS (SELECT 1 FROM records r WHERE l.kind = 1
                            AND r.log_index = l.idx AND r.item = l.id AND r.seq = l.seq)
                        AND NOT EXISTS (SELECT 1 FROM runs n WHERE l.kind = 2
                            AND n.log_index = l.idx AND n.id = l.id)),
                    (SELECT size FROM log_checkpoint)",
            &[],
        )
        .unwrap();
    let (size, leaves, next, rows, orphans, signed): (i64, i64, i64, i64, i64, i64) = (
        row.get(0),
        row.get(1),
        row.get(2),
        row.get(3),
        row.get(4),
        row.get(5),
    );
    assert_eq!((leaves, next, rows), (size, size, size), "gap-free log");
    assert_eq!(orphans, 0, "every leaf is a stored record or run");
    assert_eq!(signed, size, "the stored checkpoint covers every leaf");
    size as u64
}

fn transfer(
    owner: &SigningKey,
    to: &PublicKey,
    item: ItemId,
    seq: u64,
    prev: RecordHash,
) -> Vec<u8> {
    Record {
        time: common::now(),
        seq,
        body: RecordBody::Transfer((*to).into()),
    }
    .sign(owner, Some(&ChainLink { item, prev }))
}

/// Two conflicting transfers of `item` from its mint, to `x` through server a and to `y`
/// through server b at the same moment: exactly one wins, the other gets 409 naming it; the
/// winner re-posted to the other server is idempotent. Returns the winner's leaf index.
fn race_pair(p: &Pair, n: usize, item: &str, maker: &SigningKey, [x, y]: [&SigningKey; 2]) -> u64 {
    let id = ItemId::from_base32(item).unwrap();
    let mint = RecordHash::of(&p.b.history(item).records[0]);
    let to_x = transfer(maker, &x.public_key(), id, 1, mint);
    let to_y = transfer(maker, &y.public_key(), id, 1, mint);
    // The two conflicting transfers reach the two servers at the same moment.
    let barrier = Arc::new(Barrier::new(2));
    let path = format!("/v1/items/{item}/records");
    let sent: Vec<_> = [
        (p.a.url.clone(), to_x.clone()),
        (p.b.url.clone(), to_y.clone()),
    ]
    .into_iter()
    .map(|(url, body)| {
        let (barrier, path) = (barrier.clone(), path.clone());
        std::thread::spawn(move || {
            barrier.wait();
            post(&url, &path, &body)
        })
    })
    .collect();
    let answers: Vec<(u16, Value)> = sent.into_iter().map(|h| h.join().unwrap()).collect();
    let won: Vec<usize> = (0..2).filter(|i| answers[*i].0 == 201).collect();
    assert_eq!(won.len(), 1, "item {n}: exactly one winner: {answers:?}");
    let (w, l) = (won[0], 1 - won[0]);
    let winner = if w == 0 { &to_x } else { &to_y };
    let winner_hash = RecordHash::of(winner).to_hex();
    assert_problem(&answers[l], 409, "chain.seq_mismatch");
    assert_eq!(answers[l].1["head"]["seq"], 1, "409 names the current head");
    assert_eq!(answers[l].1["head"]["hash"], winner_hash.as_str());
    let index = answers[w].1["log_index"].as_u64().unwrap();
    // The retry goes to the other server: idempotent, same place in the log.
    let other = if w == 0 { &p.b.url } else { &p.a.url };
    let again = post(other, &path, winner);
    assert_eq!(again.0, 200, "re-post to the other server: {}", again.1);
    assert_eq!(again.1["log_index"], index);
    assert_eq!(again.1["seq"], 1);
    let history = p.a.history(item);
    assert_eq!(history.records.len(), 2, "no fork");
    assert_eq!(&history.records[1], winner);
    verify_chain(
        history.records.iter().map(Vec::as_slice),
        &p.a.trust(),
        common::now(),
    )
    .unwrap();
    index
}

#[test]
fn two_servers_one_ledger_keep_every_guarantee() {
    if !postgres_or_skip("two_servers_one_ledger_keep_every_guarantee") {
        return;
    }
    let _serial = serial();
    let p = Pair::start();
    let dir = p.dir();
    p.a.parties(&[("maker", "maker"), ("x", ""), ("y", "")]);
    // The trust list stored through a is what b serves (b reloads the newer list).
    assert_eq!(p.b.trust().content().version, p.a.trust().content().version);
    let run = p.a.run_of("maker", "Two", 20);
    let items = p.a.mint_of("maker", &run, 20);
    p.a.ok(&["log", "checkpoint", "--save", "before.txt"]);
    let (maker, x, y) = (
        key(&dir, "maker.pem"),
        key(&dir, "x.pem"),
        key(&dir, "y.pem"),
    );
    let ledger = key(&dir, "ledger.pem").public_key();

    let mut indexes = Vec::new();
    for (n, item) in items.iter().enumerate() {
        indexes.push(race_pair(&p, n, item, &maker, [&x, &y]));
    }
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), items.len(), "distinct leaf indexes");

    // Both servers sign checkpoints of the same tree with the same key and origin.
    let size = log_tables_agree(&p.url);
    let (ca, cb) = (checkpoint(&p.a.url, &ledger), checkpoint(&p.b.url, &ledger));
    assert_eq!((ca.size, cb.size), (size, size));
    assert_eq!(ca.root, cb.root);
    let before = Checkpoint::verify_own_origin(
        &std::fs::read_to_string(dir.join("before.txt")).unwrap(),
        &ledger,
    )
    .unwrap();
    consistent(&p.a.url, &before, &cb);
    consistent(&p.b.url, &before, &ca);
    p.a.ok(&["log", "verify", "--since", "before.txt"]);
    p.ok_b(&["log", "verify", "--since", "before.txt"]);
    p.a.stop();
    p.b.stop();
}

/// What the loaders were told was stored.
#[derive(Clone, Copy)]
struct Ack {
    item: ItemId,
    seq: u64,
    hash: RecordHash,
}

struct Load {
    urls: RwLock<Vec<String>>,
    stop: AtomicBool,
    acks: Mutex<Vec<Ack>>,
    sent: AtomicU64,
}

/// Posts until some server answers 200 or 201, alternating servers and retrying through 503
/// and lost connections (a re-post of the same bytes is idempotent). False when stopped first.
fn post_until_acked(load: &Load, agent: &ureq::Agent, path: &str, body: &[u8]) -> bool {
    let mut turn = load.sent.fetch_add(1, Ordering::Relaxed) as usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no server acknowledged {path}");
        if load.stop.load(Ordering::Relaxed) {
            return false;
        }
        let url = {
            let urls = load.urls.read().unwrap();
            format!("{}{path}", urls[turn % urls.len()])
        };
        turn += 1;
        match agent.post(&url).set("Content-Type", COSE).send_bytes(body) {
            Ok(r) if r.status() == 200 || r.status() == 201 => return true,
            Ok(r) => panic!("unexpected answer {} on {path}", r.status()),
            Err(ureq::Error::Status(503, _)) | Err(ureq::Error::Transport(_)) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(ureq::Error::Status(s, r)) => {
                panic!(
                    "refused {path}: {s} {}",
                    r.into_string().unwrap_or_default()
                )
            }
        }
    }
}

/// A loader: passes its item back and forth between two owners, one acknowledged transfer at
/// a time, until stopped.
fn loader(load: Arc<Load>, item: ItemId, mint: RecordHash, keys: PathBuf) {
    let owners = [key(&keys, "maker.pem"), key(&keys, "buyer.pem")];
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build();
    let path = format!("/v1/items/{}/records", item.to_base32());
    let (mut prev, mut seq) = (mint, 1u64);
    while !load.stop.load(Ordering::Relaxed) {
        let owner = &owners[(seq as usize + 1) % 2];
        let to = owners[seq as usize % 2].public_key();
        let body = transfer(owner, &to, item, seq, prev);
        if !post_until_acked(&load, &agent, &path, &body) {
            return;
        }
        let hash = RecordHash::of(&body);
        load.acks.lock().unwrap().push(Ack { item, seq, hash });
        prev = hash;
        seq += 1;
    }
}

/// Two servers under load from four loaders; `disrupt` runs mid-load (and may replace server
/// `a`, whose new URL it returns). Afterwards: every acknowledged transfer is stored where it
/// was acknowledged, every chain verifies, the log is gap-free, and both servers' checkpoints
/// extend the one saved before the load.
fn under_load(disrupt: impl FnOnce(Server) -> Server) {
    let p = Pair::start();
    let dir = p.dir();
    p.a.parties(&[("maker", "maker"), ("buyer", "")]);
    let run = p.a.run_of("maker", "Load", 4);
    let items = p.a.mint_of("maker", &run, 4);
    p.a.ok(&["log", "checkpoint", "--save", "before.txt"]);
    let load = Arc::new(Load {
        urls: RwLock::new(vec![p.a.url.clone(), p.b.url.clone()]),
        stop: AtomicBool::new(false),
        acks: Mutex::new(Vec::new()),
        sent: AtomicU64::new(0),
    });
    let loaders: Vec<_> = items
        .iter()
        .map(|item| {
            let id = ItemId::from_base32(item).unwrap();
            let mint = RecordHash::of(&p.b.history(item).records[0]);
            let (load, keys) = (load.clone(), dir.clone());
            std::thread::spawn(move || loader(load, id, mint, keys))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let Pair { _tmp, a, b, url } = p;
    let acked_before = load.acks.lock().unwrap().len();
    let a = disrupt(a);
    load.urls.write().unwrap()[0] = a.url.clone();
    // Appends flow again after the disruption.
    let deadline = Instant::now() + Duration::from_secs(30);
    while load.acks.lock().unwrap().len() < acked_before + 40 {
        assert!(Instant::now() < deadline, "appends did not resume");
        std::thread::sleep(Duration::from_millis(50));
    }
    load.stop.store(true, Ordering::Relaxed);
    for l in loaders {
        l.join().unwrap();
    }
    let acks = load.acks.lock().unwrap().clone();
    eprintln!(
        "{} acknowledged transfers, {acked_before} before the disruption",
        acks.len()
    );
    check_after_load(&a, &b, &items, &acks, &url, &dir);
    a.stop();
    b.stop();
}

/// After the load: every acknowledged transfer is stored where it was acknowledged, both
/// servers serve the same verifying chains, the log is gap-free, and both servers'
/// checkpoints extend the one saved before the load (`log verify --since` passes on both).
fn check_after_load(a: &Server, b: &Server, items: &[String], acks: &[Ack], url: &str, dir: &Path) {
    let trust = b.trust();
    for item in items {
        let history = b.history(item);
        verify_chain(
            history.records.iter().map(Vec::as_slice),
            &trust,
            common::now(),
        )
        .unwrap();
        assert_eq!(
            history.records,
            a.history(item).records,
            "both servers serve the same history"
        );
        let id = ItemId::from_base32(item).unwrap();
        for ack in acks.iter().filter(|k| k.item == id) {
            let stored = history
                .records
                .get(ack.seq as usize)
                .expect("acknowledged, stored");
            assert_eq!(RecordHash::of(stored), ack.hash, "{item} seq {}", ack.seq);
        }
    }
    let size = log_tables_agree(url);
    let ledger = key(dir, "ledger.pem").public_key();
    let before = Checkpoint::verify_own_origin(
        &std::fs::read_to_string(dir.join("before.txt")).unwrap(),
        &ledger,
    )
    .unwrap();
    for server in [a, b] {
        let cp = checkpoint(&server.url, &ledger);
        assert_eq!(cp.size, size);
        consistent(&server.url, &before, &cp);
        let out = cli(
            &server.url,
            dir,
            &["log", "verify", "--since", "before.txt"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn kill_9_of_one_server_under_load_loses_no_acknowledged_append() {
    if !postgres_or_skip("kill_9_of_one_server_under_load_loses_no_acknowledged_append") {
        return;
    }
    let _serial = serial();
    under_load(|a| {
        let dir = a.dir.clone();
        a.kill9();
        std::thread::sleep(Duration::from_millis(300));
        Server::start(&dir, &["--origin", ORIGIN])
    });
}

/// `pg_ctl restart -m immediate` (a crash of the database): as its data directory's owner.
fn restart_postgres(pg_ctl: &Path, pgdata: &Path) {
    let owner = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(pgdata).unwrap().uid()
    };
    let log = pgdata.join("restart.log");
    let args = format!(
        "{} restart -m immediate -w -D {} -l {}",
        pg_ctl.display(),
        pgdata.display(),
        log.display()
    );
    let is_root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let mut cmd = if is_root && owner != 0 {
        let user = Command::new("id")
            .args(["-nu", &owner.to_string()])
            .output()
            .unwrap();
        let user = String::from_utf8(user.stdout).unwrap();
        let mut c = Command::new("su");
        c.args(["-s", "/bin/sh", user.trim(), "-c", &args]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &args]);
        c
    };
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "pg_ctl restart failed (see {})",
        log.display()
    );
}

#[test]
fn postgres_restart_under_load_loses_no_acknowledged_append() {
    let name = "postgres_restart_under_load_loses_no_acknowledged_append";
    if !postgres_or_skip(name) {
        return;
    }
    let (Some(pgdata), Some(pg_ctl)) = (
        std::env::var_os("PROVENANCE_TEST_PGDATA"),
        std::env::var_os("PROVENANCE_TEST_PG_CTL"),
    ) else {
        eprintln!(
            "SKIPPED {name}: set PROVENANCE_TEST_PGDATA and PROVENANCE_TEST_PG_CTL (the test \
             cluster's data directory and its pg_ctl) to run it; .ci/run does"
        );
        return;
    };
    let _serial = serial();
    under_load(|a| {
        restart_postgres(Path::new(&pg_ctl), Path::new(&pgdata));
        a
    });
}

/// Runs `provenance migrate` in `dir`.
fn migrate(dir: &Path, from: &Path, to: &str) -> std::process::Output {
    cli(
        "http://127.0.0.1:9",
        dir,
        &["migrate", "--from", from.to_str().unwrap(), "--to", to],
    )
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A record edited in the SQLite file: its leaf no longer has the signed root. Refused with
/// the code, and the target stays empty.
fn tampered_source_is_refused(dir: &Path, db: &Path) {
    let tampered = dir.join("tampered.db");
    std::fs::copy(db, &tampered).unwrap();
    {
        let conn = rusqlite::Connection::open(&tampered).unwrap();
        let changed = conn
            .execute(
                "UPDATE records SET bytes = CAST(bytes || X'00' AS BLOB)
                 WHERE id = (SELECT MAX(id) FROM records)",
                [],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }
    let fresh = common::create_pg_database();
    let out = migrate(dir, &tampered, &fresh);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("[log.root_mismatch]"),
        "{}",
        stderr(&out)
    );
    let mut client = postgres::Client::connect(&fresh, postgres::NoTls).unwrap();
    let rows: i64 = client
        .query_one(
            "SELECT (SELECT COUNT(*) FROM records) + (SELECT COUNT(*) FROM runs)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "a refused migration writes nothing");
}

#[test]
fn migrate_copies_a_sqlite_ledger_with_every_root_unchanged() {
    if !postgres_or_skip("migrate_copies_a_sqlite_ledger_with_every_root_unchanged") {
        return;
    }
    let _serial = serial();
    // A SQLite ledger written by a real server.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sqlite = Server::start(dir, &["--origin", ORIGIN]);
    sqlite.parties(&[("maker", "maker"), ("buyer", "")]);
    let run = sqlite.run_of("maker", "Migrated", 5);
    let items = sqlite.mint_of("maker", &run, 5);
    for item in &items[..3] {
        sqlite.ok(&["transfer", item, "--key", "maker.pem", "--to", "buyer.pem"]);
    }
    sqlite.ok(&["log", "checkpoint", "--save", "sqlite.txt"]);
    let histories: Vec<_> = items.iter().map(|i| sqlite.history(i)).collect();
    sqlite.stop();
    let db = dir.join("ledger.db");

    let target = common::create_pg_database();
    let out = migrate(dir, &db, &target);
    assert!(out.status.success(), "migrate: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("copied 8 records"), "{text}");

    // Again into the same database: refused, nothing changes.
    let again = migrate(dir, &db, &target);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("[cli.target_not_empty]"),
        "{}",
        stderr(&again)
    );
    let size = log_tables_agree(&target);

    // A server on the copy serves the same checkpoint note (same tree, key and origin: not
    // re-signed), the same histories, and the log verifies since the SQLite checkpoint.
    let pg_dir = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("ledger.pem"), pg_dir.path().join("ledger.pem")).unwrap();
    std::fs::write(pg_dir.path().join("ledger.pgurl"), &target).unwrap();
    let pg = Server::start(pg_dir.path(), &["--origin", ORIGIN]);
    let (_, note) = get(&format!("{}/v1/log/checkpoint", pg.url), "text/plain");
    assert_eq!(
        String::from_utf8(note).unwrap(),
        std::fs::read_to_string(dir.join("sqlite.txt")).unwrap()
    );
    assert_eq!(
        checkpoint(&pg.url, &key(dir, "ledger.pem").public_key()).size,
        size
    );
    for (item, history) in items.iter().zip(&histories) {
        assert_eq!(&pg.history(item), history);
    }
    let out = cli(&pg.url, dir, &["log", "verify", "--since", "sqlite.txt"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // And it takes new records on top.
    let out = cli(
        &pg.url,
        dir,
        &[
            "transfer",
            &items[4],
            "--key",
            "maker.pem",
            "--to",
            "buyer.pem",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    pg.stop();

    tampered_source_is_refused(dir, &db);
}

/// Without the variable, every test here prints why it skipped (and the harness uses SQLite).
#[test]
fn postgres_tests_name_their_variable() {
    assert_eq!(common::POSTGRES_ENV, "PROVENANCE_TEST_POSTGRES");
    assert_eq!(
        common::pg_url("postgres://u@h:5432/postgres?sslmode=disable", "x"),
        "postgres://u@h:5432/x?sslmode=disable"
    );
    assert_eq!(
        common::pg_url("postgres://u@h/postgres", "x"),
        "postgres://u@h/x"
    );
}
