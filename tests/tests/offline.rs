//! Issue 14, against the real binary: a pop-up without network. Heads are pulled, the ledger
//! goes away, badges and repairs are signed and queued, the owner of one piece sells it
//! elsewhere meanwhile, and `provenance sync` delivers everything exactly once: commuting
//! records re-signed on the new head, the former owner's transfer kept as a conflict.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{bin, key, Server};
use provenance_core::verify_chain;
use serde_json::Value;

/// Runs the CLI with its own outbox home, against `url`.
fn cli(dir: &Path, home: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(bin())
        .args(["--server", url])
        .args(args)
        .current_dir(dir)
        .env("PROVENANCE_HOME", home)
        .env_remove("PROVENANCE_SERVER")
        .output()
        .unwrap()
}

fn ok(dir: &Path, home: &Path, url: &str, args: &[&str]) -> String {
    let out = cli(dir, home, url, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A ledger with a maker, a desk, a host, alice and carol, and `pieces` pieces minted.
fn world(dir: &Path, pieces: usize) -> (Server, String, Vec<String>) {
    let server = Server::start(dir, &[]);
    server.parties(&[
        ("maker", "maker"),
        ("desk", "repairer"),
        ("host", "host"),
        ("alice", ""),
        ("bob", ""),
        ("carol", ""),
    ]);
    let run = server.run_of("maker", "Pop", 200);
    let items = server.mint_of("maker", &run, pieces as u64);
    (server, run, items)
}

/// The exit status of a write the ledger could not take, queued in the outbox instead.
const QUEUED_EXIT: i32 = 4;

fn records_stored(server: &Server) -> u64 {
    server.stored()[2]
}

#[test]
fn a_pop_up_without_network_syncs_every_record_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home = dir.join("host-home");
    let (server, run, items) = world(&dir, 50);
    let url = server.url.clone();
    ok(
        &dir,
        &home,
        &url,
        &[
            "transfer",
            &items[0],
            "-k",
            "maker.pem",
            "--to",
            "alice.pem",
        ],
    );
    ok(
        &dir,
        &home,
        &url,
        &["log", "checkpoint", "--save", "before.txt"],
    );
    ok(&dir, &home, &url, &["pull", "--run", &run]);
    let before = records_stored(&server);

    // The network goes: the ledger is stopped.
    server.stop();
    // 200 badges at the door, 4 per piece, from a file of label payloads and ids.
    let door: Vec<String> = items.iter().take(50).cloned().collect();
    std::fs::write(dir.join("door.txt"), door.join("\n")).unwrap();
    for round in 0..4 {
        let event = format!("Night Market {round}");
        let args = [
            "badge", "-k", "host.pem", "--event", &event, "--from", "door.txt",
        ];
        // Without --offline the CLI finds the ledger unreachable and queues anyway.
        let args: Vec<&str> = if round % 2 == 0 {
            args.to_vec()
        } else {
            [&args[..], &["--offline"]].concat()
        };
        let out = cli(&dir, &home, &url, &args);
        let expected = if round % 2 == 0 { QUEUED_EXIT } else { 0 };
        assert_eq!(out.status.code(), Some(expected), "round {round}");
        let out = String::from_utf8(out.stdout).unwrap();
        assert!(out.contains("queued"), "{out}");
    }
    for item in items.iter().take(20) {
        ok(
            &dir,
            &home,
            &url,
            &[
                "repair",
                item,
                "-k",
                "desk.pem",
                "--note",
                "clasp",
                "--offline",
            ],
        );
    }
    // Alice, offline at the market, also signs a sale of piece 0 to Bob.
    ok(
        &dir,
        &home,
        &url,
        &[
            "transfer",
            &items[0],
            "-k",
            "alice.pem",
            "--to",
            "bob.pem",
            "--offline",
        ],
    );
    let outbox: Value =
        serde_json::from_str(&ok(&dir, &home, &url, &["--json", "outbox"])).unwrap();
    assert_eq!(outbox["entries"].as_array().unwrap().len(), 221);

    // The network is back; meanwhile Alice sold piece 0 to Carol from her phone (another
    // outbox), so her queued sale to Bob no longer holds.
    let server = Server::start(&dir, &[]);
    let url = server.url.clone();
    let phone = dir.join("alice-phone");
    ok(
        &dir,
        &phone,
        &url,
        &[
            "transfer",
            &items[0],
            "-k",
            "alice.pem",
            "--to",
            "carol.pem",
        ],
    );

    let out = cli(&dir, &home, &url, &["sync"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "conflicts exit 3: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("220 sent"), "{stdout}");
    assert_eq!(records_stored(&server), before + 1 + 220);

    // The conflict is shown, with its reason and the item's current head.
    let outbox: Value =
        serde_json::from_str(&ok(&dir, &home, &url, &["--json", "outbox"])).unwrap();
    let entries = outbox["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{outbox}");
    assert_eq!(entries[0]["state"], "conflict");
    assert_eq!(entries[0]["kind"], "transfer");
    assert!(
        entries[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no longer owns"),
        "{}",
        entries[0]["reason"]
    );
    assert!(entries[0]["current_head"]["seq"].as_u64().unwrap() >= 2);

    // Every chain verifies; piece 0 belongs to Carol; the log only grew.
    let trust = server.trust();
    for (i, item) in items.iter().enumerate() {
        let history = server.history(item);
        let chain = verify_chain(
            history.records.iter().map(Vec::as_slice),
            &trust,
            common::now(),
        )
        .unwrap();
        let expected_repairs = usize::from(i < 20);
        assert_eq!(chain.badges().len(), 4, "{item}");
        assert_eq!(chain.repairs().len(), expected_repairs, "{item}");
        if i == 0 {
            assert_eq!(chain.owner(), &key(&dir, "carol.pem").public_key());
        }
    }
    ok(
        &dir,
        &home,
        &url,
        &["log", "verify", "--since", "before.txt"],
    );

    // Sync again: nothing is sent twice; the conflict stays.
    let out = cli(&dir, &home, &url, &["sync"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(records_stored(&server), before + 1 + 220);
}

#[test]
fn sync_killed_at_random_and_run_twice_at_once_posts_each_record_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home = dir.join("home");
    let (server, run, items) = world(&dir, 10);
    let url = server.url.clone();
    ok(&dir, &home, &url, &["pull", "--run", &run]);
    let before = records_stored(&server);
    // 100 badges and 5 offline mints, queued.
    std::fs::write(dir.join("door.txt"), items.join("\n")).unwrap();
    for round in 0..10 {
        let event = format!("Fair {round}");
        ok(
            &dir,
            &home,
            &url,
            &[
                "badge",
                "-k",
                "host.pem",
                "--event",
                &event,
                "--from",
                "door.txt",
                "--offline",
            ],
        );
    }
    let minted = ok(
        &dir,
        &home,
        &url,
        &[
            "mint",
            "-k",
            "maker.pem",
            "--run",
            &run,
            "-n",
            "5",
            "--offline",
        ],
    );
    assert_eq!(minted.lines().count(), 5);
    // A badge on an offline-minted piece, chained on its queued mint.
    let fresh = minted.lines().next().unwrap();
    ok(
        &dir,
        &home,
        &url,
        &[
            "badge",
            fresh,
            "-k",
            "host.pem",
            "--event",
            "Fresh",
            "--offline",
        ],
    );

    // kill -9 sync at 20 random moments.
    let mut seed = 0x2545_f491_u64;
    for _ in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(bin())
            .args(["--server", &url, "sync"])
            .current_dir(&dir)
            .env("PROVENANCE_HOME", &home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + seed % 60));
        let _ = child.kill();
        child.wait().unwrap();
    }
    // Two syncs at once finish the job.
    let spawn = || {
        Command::new(bin())
            .args(["--server", &url, "sync"])
            .current_dir(&dir)
            .env("PROVENANCE_HOME", &home)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        records_stored(&server),
        before + 100 + 5 + 1,
        "each record exactly once"
    );
    assert_eq!(server.stored()[1], 15, "10 + 5 items");
    let outbox: Value =
        serde_json::from_str(&ok(&dir, &home, &url, &["--json", "outbox"])).unwrap();
    assert!(outbox["entries"].as_array().unwrap().is_empty(), "{outbox}");
}

#[test]
fn a_corrupt_outbox_is_a_clear_error_and_stays_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home: PathBuf = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let garbage = b"SQLite format 3\0 but truncated".to_vec();
    std::fs::write(home.join("outbox.db"), &garbage).unwrap();
    let out = cli(&dir, &home, "http://127.0.0.1:9", &["outbox"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[outbox.corrupt]") && err.contains("left untouched"),
        "{err}"
    );
    assert_eq!(std::fs::read(home.join("outbox.db")).unwrap(), garbage);
}

/// Fast door capture from label photos: `badge --image` reads each label (bare payload or
/// label URL) and queues one badge per piece.
#[test]
fn badges_from_label_photos_are_queued_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home = dir.join("home");
    let server = Server::start(&dir, &["--public-url", "https://ledger.example.org"]);
    server.parties(&[("maker", "maker"), ("host", "host")]);
    let run = server.run_of("maker", "Pop", 5);
    server.ok(&[
        "mint",
        "-k",
        "maker.pem",
        "--run",
        &run,
        "-n",
        "2",
        "--labels",
        "labels",
    ]);
    let url = server.url.clone();
    ok(&dir, &home, &url, &["pull", "--run", &run]);
    let mut photos: Vec<String> = std::fs::read_dir(dir.join("labels"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .map(|p| p.display().to_string())
        .collect();
    photos.sort();
    assert_eq!(photos.len(), 2);
    let mut args = vec!["badge", "--offline", "-k", "host.pem", "--event", "Door"];
    for p in &photos {
        args.extend(["--image", p.as_str()]);
    }
    let out = ok(&dir, &home, &url, &args);
    assert_eq!(out.matches("queued").count(), 2, "{out}");
    let before = records_stored(&server);
    ok(&dir, &home, &url, &["sync"]);
    assert_eq!(records_stored(&server), before + 2);
}

/// Without `--offline`, a record only queued because the ledger was unreachable exits
/// [`QUEUED_EXIT`], not 0, and `--json` says `queued`; with `--offline` it is what was asked
/// for and exits 0. Delivered records exit 0.
#[test]
fn a_record_queued_because_the_ledger_was_unreachable_has_its_own_exit_status() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home = dir.join("home");
    let (server, run, items) = world(&dir, 2);
    let url = server.url.clone();
    let delivered = cli(
        &dir,
        &home,
        &url,
        &["repair", &items[0], "-k", "desk.pem", "--note", "clasp"],
    );
    assert_eq!(delivered.status.code(), Some(0));
    ok(&dir, &home, &url, &["pull", "--run", &run]);
    server.stop();
    let writes: [&[&str]; 5] = [
        &["repair", &items[0], "-k", "desk.pem", "--note", "clasp"],
        &[
            "badge", &items[0], &items[1], "-k", "host.pem", "--event", "Fair",
        ],
        &[
            "transfer",
            &items[1],
            "-k",
            "maker.pem",
            "--to",
            "alice.pem",
        ],
        &["report", &items[0], "-k", "maker.pem", "--void"],
        &["mint", "-k", "maker.pem", "--run", &run],
    ];
    for args in writes {
        let json = [&["--json"], args].concat();
        let out = cli(&dir, &home, &url, &json);
        assert_eq!(
            out.status.code(),
            Some(QUEUED_EXIT),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let answer: Value = serde_json::from_str(line).unwrap();
            assert_eq!(answer["state"], "queued", "{args:?}: {answer}");
        }
        let offline = [args, &["--offline"]].concat();
        let out = cli(&dir, &home, &url, &offline);
        assert_eq!(out.status.code(), Some(0), "{offline:?}");
    }
}

// ---- Issue 21: what sync sends, lost answers, transient refusals, hostile text ----

/// What the proxy does with each POST, in order (GETs, and POSTs past the list, are relayed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Forwarded, and the answer relayed.
    Relay,
    /// Forwarded and stored by the ledger, but the client's connection is closed (after a
    /// second, as a timed-out answer) before the answer is relayed.
    DropAnswer,
    /// Answered 503 `ledger.overloaded` without forwarding.
    Overloaded,
    /// Answered 502 by "the proxy", a page without a spec code, without forwarding.
    BadGateway,
}

/// A small HTTP/1.1 proxy in front of a ledger: one request per connection.
struct Proxy {
    url: String,
    posts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Proxy {
    fn start(upstream: &str, fates: &[Fate]) -> Proxy {
        use std::sync::atomic::AtomicUsize;
        use std::sync::{Arc, Mutex};
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fates = Arc::new(Mutex::new(
            fates
                .iter()
                .copied()
                .collect::<std::collections::VecDeque<_>>(),
        ));
        let posts = Arc::new(AtomicUsize::new(0));
        let counter = posts.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(client) = stream else { continue };
                let (fates, counter, upstream) = (fates.clone(), counter.clone(), upstream.clone());
                std::thread::spawn(move || proxy_one(client, &upstream, &fates, &counter));
            }
        });
        Proxy { url, posts }
    }

    fn posts(&self) -> usize {
        self.posts.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Reads one request: (method, head lines without Connection, body).
fn read_request(stream: &mut std::net::TcpStream) -> Option<(String, Vec<String>, Vec<u8>)> {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).ok()?;
    let mut lines: Vec<String> = head.split("\r\n").map(str::to_string).collect();
    lines.retain(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"));
    let method = lines.first()?.split(' ').next()?.to_string();
    let length: usize = lines
        .iter()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).ok()?;
    Some((method, lines, body))
}

fn proxy_one(
    mut client: std::net::TcpStream,
    upstream: &str,
    fates: &std::sync::Mutex<std::collections::VecDeque<Fate>>,
    posts: &std::sync::atomic::AtomicUsize,
) {
    use std::io::{Read, Write};
    let Some((method, head, body)) = read_request(&mut client) else {
        return;
    };
    let fate = if method == "POST" {
        posts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        fates.lock().unwrap().pop_front().unwrap_or(Fate::Relay)
    } else {
        Fate::Relay
    };
    let canned = |status: &str, media: &str, text: String| {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {media}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        )
    };
    match fate {
        Fate::Overloaded => {
            let problem = serde_json::json!({
                "type": "urn:provenance:error:ledger.overloaded",
                "title": "overloaded", "status": 503,
                "detail": "the ledger is at its connection limit", "code": "ledger.overloaded",
            });
            let answer = canned(
                "503 Service Unavailable",
                "application/problem+json",
                problem.to_string(),
            );
            let _ = client.write_all(answer.as_bytes());
        }
        Fate::BadGateway => {
            let answer = canned(
                "502 Bad Gateway",
                "text/html",
                "<html><body>502 Bad Gateway</body></html>".into(),
            );
            let _ = client.write_all(answer.as_bytes());
        }
        Fate::Relay | Fate::DropAnswer => {
            let mut up = std::net::TcpStream::connect(upstream).unwrap();
            let mut request = head.join("\r\n").into_bytes();
            request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
            request.extend_from_slice(&body);
            up.write_all(&request).unwrap();
            let mut answer = Vec::new();
            let _ = up.read_to_end(&mut answer);
            if fate == Fate::DropAnswer {
                // The ledger answered (and stored the record); the client never hears it.
                std::thread::sleep(Duration::from_millis(1100));
                let _ = client.shutdown(std::net::Shutdown::Both);
                return;
            }
            let _ = client.write_all(&answer);
        }
    }
    let _ = client.flush();
}

/// The outbox listing as JSON rows.
fn outbox_rows(dir: &Path, home: &Path, url: &str) -> Vec<Value> {
    let listing: Value = serde_json::from_str(&ok(dir, home, url, &["--json", "outbox"])).unwrap();
    listing["entries"].as_array().unwrap().clone()
}

/// Edits the outbox file directly, as anything with the user's permissions could.
fn edit_outbox(home: &Path, edit: impl FnOnce(&rusqlite::Connection)) {
    let conn = rusqlite::Connection::open(home.join("outbox.db")).unwrap();
    edit(&conn);
}

fn row_bytes(conn: &rusqlite::Connection, id: i64) -> Vec<u8> {
    conn.query_row("SELECT bytes FROM entries WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .unwrap()
}

/// Issue 21.1: a row whose bytes were replaced by a zero-signature transfer to another key,
/// and a badge whose text was edited in `outbox.db`, are quarantined: never posted, never
/// re-signed, the ledger unchanged. `outbox drop` removes them, with confirmation.
#[test]
fn tampered_rows_are_quarantined_and_never_sent() {
    use provenance_core::{ChainLink, DecodedRecord, ItemId, Record, RecordBody, RecordHash};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home = dir.join("home");
    let (server, run, items) = world(&dir, 2);
    let url = server.url.clone();
    ok(
        &dir,
        &home,
        &url,
        &[
            "transfer",
            &items[0],
            "-k",
            "maker.pem",
            "--to",
            "alice.pem",
        ],
    );
    ok(&dir, &home, &url, &["pull", "--run", &run]);
    // Alice approves a sale to Bob, the host a badge; both queued.
    ok(
        &dir,
        &home,
        &url,
        &[
            "transfer",
            &items[0],
            "-k",
            "alice.pem",
            "--to",
            "bob.pem",
            "--offline",
        ],
    );
    ok(
        &dir,
        &home,
        &url,
        &[
            "badge",
            &items[1],
            "-k",
            "host.pem",
            "--event",
            "Night Market",
            "--offline",
        ],
    );
    // Both items move on meanwhile, so sync would have to re-sign them.
    for item in &items {
        ok(
            &dir,
            &home,
            &url,
            &["repair", item, "-k", "desk.pem", "--note", "polish"],
        );
    }
    let rows = outbox_rows(&dir, &home, &url);
    let (transfer_id, badge_id) = (
        rows[0]["id"].as_i64().unwrap(),
        rows[1]["id"].as_i64().unwrap(),
    );
    let alice = key(&dir, "alice.pem");
    let carol = key(&dir, "carol.pem").public_key();
    edit_outbox(&home, |conn| {
        // The sale now goes to Carol, "signed" by Alice with an all-zero signature.
        let queued = DecodedRecord::decode(&row_bytes(conn, transfer_id)).unwrap();
        let mut forged = Record {
            time: queued.record.time,
            seq: queued.record.seq,
            body: RecordBody::Transfer(carol.into()),
        }
        .sign(
            &alice,
            Some(&ChainLink {
                item: ItemId::from_base32(&items[0]).unwrap(),
                prev: RecordHash([0; 32]),
            }),
        );
        let n = forged.len();
        forged[n - 64..].fill(0);
        conn.execute(
            "UPDATE entries SET bytes = ?2 WHERE id = ?1",
            rusqlite::params![transfer_id, forged],
        )
        .unwrap();
        // The badge's event is edited in place.
        let mut badge = row_bytes(conn, badge_id);
        let at = badge.windows(5).position(|w| w == b"Night").unwrap();
        badge[at] = b'F';
        conn.execute(
            "UPDATE entries SET bytes = ?2 WHERE id = ?1",
            rusqlite::params![badge_id, badge],
        )
        .unwrap();
    });
    let before = records_stored(&server);
    let out = cli(&dir, &home, &url, &["sync"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("[outbox.quarantined]"), "{stderr}");
    assert_eq!(records_stored(&server), before, "nothing was sent");
    let chain = verify_chain(
        server.history(&items[0]).records.iter().map(Vec::as_slice),
        &server.trust(),
        common::now(),
    )
    .unwrap();
    assert_eq!(
        chain.owner(),
        &alice.public_key(),
        "the piece is still Alice's"
    );
    let rows = outbox_rows(&dir, &home, &url);
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(row["state"], "quarantined", "{row}");
        assert_eq!(row["code"], "outbox.tampered", "{row}");
    }
    // A second sync sends nothing either; retry refuses what still does not verify.
    assert_eq!(cli(&dir, &home, &url, &["sync"]).status.code(), Some(3));
    assert_eq!(records_stored(&server), before);
    let out = cli(
        &dir,
        &home,
        &url,
        &["outbox", "retry", &transfer_id.to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[outbox.tampered]"));
    // Dropping needs confirmation: no terminal and no --yes drops nothing.
    let out = cli(
        &dir,
        &home,
        &url,
        &["outbox", "drop", &transfer_id.to_string()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[outbox.not_confirmed]"));
    assert_eq!(outbox_rows(&dir, &home, &url).len(), 2);
    let out = cli(&dir, &home, &url, &["outbox", "drop", "999", "--yes"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("[outbox.no_entry]"));
    for id in [transfer_id, badge_id] {
        ok(
            &dir,
            &home,
            &url,
            &["outbox", "drop", &id.to_string(), "--yes"],
        );
    }
    assert!(outbox_rows(&dir, &home, &url).is_empty());
    ok(&dir, &home, &url, &["sync"]);
    assert_eq!(records_stored(&server), before);
}

/// Issue 21.2: the ledger stores a repair but its answer is lost on the way back. The CLI
/// queues the exact bytes it posted, and `sync` finds them stored (200): one repair, not two.
#[test]
fn a_lost_answer_is_not_stored_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home = dir.join("home");
    let (server, _run, items) = world(&dir, 1);
    let proxy = Proxy::start(&server.url, &[Fate::DropAnswer]);
    let before = records_stored(&server);
    let out = cli(
        &dir,
        &home,
        &proxy.url,
        &["repair", &items[0], "-k", "desk.pem", "--note", "clasp"],
    );
    assert_eq!(
        out.status.code(),
        Some(QUEUED_EXIT),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(records_stored(&server), before + 1, "the ledger stored it");
    // Someone else appends meanwhile: the item moved on before the sync.
    ok(
        &dir,
        &home,
        &server.url,
        &["badge", &items[0], "-k", "host.pem", "--event", "Fair"],
    );
    let out = cli(&dir, &home, &proxy.url, &["sync"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        records_stored(&server),
        before + 2,
        "the repair once, the badge once"
    );
    let chain = verify_chain(
        server.history(&items[0]).records.iter().map(Vec::as_slice),
        &server.trust(),
        common::now(),
    )
    .unwrap();
    assert_eq!(chain.repairs().len(), 1);
    assert!(outbox_rows(&dir, &home, &server.url).is_empty());
}

/// Issue 21.3: a 503 from the ledger and a proxy's 502 during sync are transient: the entry
/// stays queued (exit 1, `outbox.pending`), waits its backoff, and a later sync sends it.
#[test]
fn a_transient_refusal_keeps_the_entry_queued_for_the_next_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home = dir.join("home");
    let (server, run, items) = world(&dir, 1);
    ok(&dir, &home, &server.url, &["pull", "--run", &run]);
    ok(
        &dir,
        &home,
        &server.url,
        &[
            "badge",
            &items[0],
            "-k",
            "host.pem",
            "--event",
            "Fair",
            "--offline",
        ],
    );
    let proxy = Proxy::start(&server.url, &[Fate::Overloaded, Fate::BadGateway]);
    let before = records_stored(&server);
    let out = cli(&dir, &home, &proxy.url, &["sync"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("[outbox.pending]"), "{stderr}");
    let rows = outbox_rows(&dir, &home, &server.url);
    assert_eq!(rows[0]["state"], "queued", "{rows:?}");
    assert_eq!(rows[0]["attempts"], 1);
    // Within its backoff it is not posted again.
    assert_eq!(
        cli(&dir, &home, &proxy.url, &["sync"]).status.code(),
        Some(1)
    );
    assert_eq!(proxy.posts(), 1);
    std::thread::sleep(Duration::from_millis(2200));
    // The proxy's 502 is no rule refusal either.
    assert_eq!(
        cli(&dir, &home, &proxy.url, &["sync"]).status.code(),
        Some(1)
    );
    assert_eq!(proxy.posts(), 2);
    let rows = outbox_rows(&dir, &home, &server.url);
    assert_eq!(rows[0]["state"], "queued", "{rows:?}");
    assert_eq!(rows[0]["attempts"], 2);
    assert_eq!(records_stored(&server), before);
    // `outbox retry` makes it due at once; the next sync sends it.
    let out = cli(&dir, &home, &proxy.url, &["outbox", "retry", "999"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("[outbox.no_entry]"));
    ok(&dir, &home, &proxy.url, &["outbox", "retry", "--all"]);
    ok(&dir, &home, &proxy.url, &["sync"]);
    assert_eq!(records_stored(&server), before + 1);
    assert!(outbox_rows(&dir, &home, &server.url).is_empty());
}

/// Issue 21.3: a real conflict is kept until the person decides: `outbox retry ID` queues it
/// again (and it conflicts again while nothing changed), `outbox drop ID --yes` removes it.
#[test]
fn a_conflict_is_retried_or_dropped_by_the_person() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home = dir.join("home");
    let (server, run, items) = world(&dir, 1);
    let url = server.url.clone();
    ok(&dir, &home, &url, &["pull", "--run", &run]);
    // The maker, owner at pull time, sells offline; but sells to Carol online first.
    ok(
        &dir,
        &home,
        &url,
        &[
            "transfer",
            &items[0],
            "-k",
            "maker.pem",
            "--to",
            "bob.pem",
            "--offline",
        ],
    );
    ok(
        &dir,
        &dir.join("other"),
        &url,
        &[
            "transfer",
            &items[0],
            "-k",
            "maker.pem",
            "--to",
            "carol.pem",
        ],
    );
    assert_eq!(cli(&dir, &home, &url, &["sync"]).status.code(), Some(3));
    let rows = outbox_rows(&dir, &home, &url);
    assert_eq!(rows[0]["state"], "conflict");
    let id = rows[0]["id"].as_i64().unwrap().to_string();
    ok(&dir, &home, &url, &["outbox", "retry", &id]);
    assert_eq!(outbox_rows(&dir, &home, &url)[0]["state"], "queued");
    assert_eq!(cli(&dir, &home, &url, &["sync"]).status.code(), Some(3));
    ok(&dir, &home, &url, &["outbox", "drop", &id, "--yes"]);
    assert!(outbox_rows(&dir, &home, &url).is_empty());
    ok(&dir, &home, &url, &["sync"]);
}

/// Issue 21.7: a zero-byte outbox is a corrupt one, not an empty one, and is left as it is.
#[test]
fn a_zero_byte_outbox_is_corrupt_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home: PathBuf = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("outbox.db"), b"").unwrap();
    for args in [&["outbox"][..], &["sync"]] {
        let out = cli(&dir, &home, "http://127.0.0.1:9", args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("[outbox.corrupt]") && err.contains("zero bytes"),
            "{err}"
        );
        assert_eq!(std::fs::read(home.join("outbox.db")).unwrap(), b"");
    }
}

/// Issue 21.7: one row that cannot be read back is quarantined with its own code; the rest of
/// the outbox still syncs, and `outbox drop` removes the row.
#[test]
fn an_undecodable_row_is_quarantined_and_the_rest_syncs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home = dir.join("home");
    let (server, run, items) = world(&dir, 2);
    let url = server.url.clone();
    ok(&dir, &home, &url, &["pull", "--run", &run]);
    for item in &items {
        ok(
            &dir,
            &home,
            &url,
            &[
                "badge",
                item,
                "-k",
                "host.pem",
                "--event",
                "Fair",
                "--offline",
            ],
        );
    }
    edit_outbox(&home, |conn| {
        conn.execute(
            "UPDATE entries SET item = x'00' WHERE id = (SELECT MIN(id) FROM entries)",
            [],
        )
        .unwrap();
    });
    let before = records_stored(&server);
    let out = cli(&dir, &home, &url, &["sync"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert_eq!(
        records_stored(&server),
        before + 1,
        "the readable badge was sent"
    );
    let rows = outbox_rows(&dir, &home, &url);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["state"], "quarantined");
    assert_eq!(rows[0]["code"], "outbox.undecodable");
    let id = rows[0]["id"].as_i64().unwrap().to_string();
    ok(&dir, &home, &url, &["outbox", "drop", &id, "--yes"]);
    ok(&dir, &home, &url, &["sync"]);
    assert_eq!(records_stored(&server), before + 1);
}

/// A fake ledger that answers every request with a problem full of terminal controls.
fn hostile_ledger() -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = read_request(&mut stream);
            let evil = "\u{1b}[2J\u{1b}]8;;https://evil.example\u{7}click\u{1b}]8;;\u{7}\r\
                        ok\u{202e}txt.exe\u{9b}31m\u{2028}";
            let problem = serde_json::json!({
                "type": "urn:provenance:error:x", "title": evil, "status": 422,
                "detail": format!("refused {evil}"), "code": format!("future.{evil}"),
            })
            .to_string();
            let answer = format!(
                "HTTP/1.1 422 Unprocessable Entity\r\ncontent-type: application/problem+json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{problem}",
                problem.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    url
}

fn assert_no_terminal_controls(what: &str, text: &str) {
    for bad in ['\u{1b}', '\r', '\u{7}', '\u{202e}', '\u{9b}', '\u{2028}'] {
        assert!(!text.contains(bad), "{what} holds {bad:?}: {text:?}");
    }
}

/// Issue 21.7: a hostile ledger's problem text reaches the terminal escaped, from an online
/// command and from `sync` (the conflict's reason), in sentences and in `--json`.
#[test]
fn a_hostile_ledgers_text_is_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let home = dir.join("home");
    let (server, run, items) = world(&dir, 1);
    ok(&dir, &home, &server.url, &["pull", "--run", &run]);
    ok(
        &dir,
        &home,
        &server.url,
        &[
            "badge",
            &items[0],
            "-k",
            "host.pem",
            "--event",
            "Fair",
            "--offline",
        ],
    );
    let evil = hostile_ledger();
    for args in [
        &["pull", items[0].as_str()][..],
        &["--json", "pull", items[0].as_str()],
        &["sync"],
        &["outbox"],
        &["--json", "sync"],
    ] {
        let out = cli(&dir, &home, &evil, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_no_terminal_controls("stderr", &stderr);
        assert_no_terminal_controls("stdout", &stdout);
        if args[0] == "pull" {
            assert!(
                stderr.contains("\\u{001b}[2J") && stderr.contains("\\u{202e}"),
                "{stderr}"
            );
        }
    }
}
