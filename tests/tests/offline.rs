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
