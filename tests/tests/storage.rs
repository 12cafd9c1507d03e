//! Issue 9.4 and 9.8 (files) and 16.8-16.9 (serve and key files), against the real binary:
//! trust-list versions above 2^63 survive a restart in order (a revoked maker stays revoked);
//! the database, its WAL files and the ledger key are owner-only; `serve` refuses a ledger key
//! others can read and creates nothing when its port is taken; key-file mistakes get a
//! message that says what is wrong, with a code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::{bin, key, now, Server};
use provenance_core::{Role, Roles, Timestamp, TrustEntry, TrustListContent};

const COSE: &str = "application/cose";

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn trust_versions_above_2_63_keep_their_order_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let server = Server::start(&dir, &[]);
    server.ok(&["keygen", "-o", "maker.pem"]);
    let operator = key(&dir, "ledger.pem");
    let maker = key(&dir, "maker.pem").public_key();
    let list = |version: u64, revoked: bool| {
        TrustListContent {
            version,
            issued_at: now(),
            ledger: Some(operator.public_key()),
            entries: vec![TrustEntry {
                key: maker,
                roles: Roles::of(Role::Maker),
                name: "Maker".into(),
                valid_from: Timestamp(0),
                valid_until: None,
                revoked_at: revoked.then(|| Timestamp(now().0 - 60)),
            }],
        }
        .sign(&operator)
    };
    let big = 1u64 << 63;
    assert_eq!(server.post("/v1/trust", COSE, &list(big + 1, false)).0, 201);
    // The operator revokes the maker in the next version.
    assert_eq!(server.post("/v1/trust", COSE, &list(big + 2, true)).0, 201);
    let stale = server.post("/v1/trust", COSE, &list(big + 1, false));
    common::assert_problem(&stale, 409, "ledger.trust_version_stale");

    let run = [
        "run",
        "create",
        "-k",
        "maker.pem",
        "--title",
        "T",
        "--microfactory",
        "M",
        "--size",
        "1",
    ];
    let refused = server.cli(&run);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("[chain.key_revoked]"));

    // After a restart the newest list is still the current one: the maker stays revoked.
    server.stop();
    let server = Server::start(&dir, &[]);
    assert_eq!(server.get_json("/v1/trust")["version"], big + 2);
    let refused = server.cli(&run);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("[chain.key_revoked]"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    for version in [big + 2, big, 5] {
        let stale = server.post("/v1/trust", COSE, &list(version, false));
        common::assert_problem(&stale, 409, "ledger.trust_version_stale");
    }
    assert_eq!(
        server.post("/v1/trust", COSE, &list(u64::MAX, true)).0,
        201,
        "the whole u64 range"
    );
    server.stop();
    let server = Server::start(&dir, &[]);
    assert_eq!(server.get_json("/v1/trust")["version"], u64::MAX);

    // Owner-only files: the database, its WAL files, the ledger key.
    for name in [
        "ledger.db",
        "ledger.db-wal",
        "ledger.db-shm",
        "ledger.pem",
        "maker.pem",
    ] {
        let path = dir.join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
        } else {
            assert!(
                name.ends_with("-wal") || name.ends_with("-shm"),
                "{name} missing"
            );
        }
    }
    assert!(dir.join("ledger.db-wal").exists(), "WAL mode");
    drop(server);
}

#[test]
fn serve_refuses_a_readable_ledger_key_and_creates_nothing_on_a_taken_port() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let serve = |extra: &[&str]| {
        Command::new(bin())
            .current_dir(dir)
            .args(["serve", "--db", "l.db", "--ledger-key", "l.pem"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    };
    // A taken port: an error, and no key or database left behind.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = serve(&["--listen", &addr]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
    assert!(!dir.join("l.pem").exists(), "no key created");
    assert!(!dir.join("l.db").exists(), "no database created");

    // A ledger key others can read is refused, with the fix.
    Command::new(bin())
        .current_dir(dir)
        .args(["keygen", "-o", "l.pem"])
        .output()
        .unwrap();
    std::fs::set_permissions(dir.join("l.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = serve(&["--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mode 0644") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(err.contains("[cli.key_file]"), "{err}");
    assert!(!dir.join("l.db").exists(), "nothing opened");

    // Logs to a file (not a terminal) carry no colour codes; the one-person default (operator
    // key = ledger key) is warned about.
    std::fs::set_permissions(dir.join("l.pem"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let mut child = Command::new(bin())
        .current_dir(dir)
        .args([
            "serve",
            "--db",
            "l.db",
            "--ledger-key",
            "l.pem",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let text = loop {
        let text = std::fs::read_to_string(dir.join("serve.log")).unwrap();
        if text.contains("ledger started") || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(text.contains("operator key is the ledger key"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "ANSI codes in a log file: {text:?}"
    );
}

#[test]
fn key_file_mistakes_say_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = |key: &str| {
        let out = Command::new(bin())
            .current_dir(dir)
            .args([
                "prove",
                "aaaaaaaaaaaaaaaaaaaaaaaaaa",
                "-k",
                key,
                "--challenge",
                "n",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    std::fs::write(dir.join("trust.cbor"), [0xd2, 0x84, 0xff, 0x00, 0x9f]).unwrap();
    let err = run("trust.cbor");
    assert!(
        err.contains("binary data") && err.contains("[cli.key_file]"),
        "{err}"
    );
    std::fs::write(
        dir.join("enc.pem"),
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAg=\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = run("enc.pem");
    assert!(
        err.contains("encrypted") && err.contains("openssl pkey"),
        "{err}"
    );
    let err = run("missing.pem");
    assert!(err.contains("[cli.io]"), "{err}");
    // A 26-character id with padding bits set.
    let out = Command::new(bin())
        .args(["show", "aaaaaaaaaaaaaaaaaaaaaaaaab"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("padding bits"), "{err}");
    // A ledger nobody runs: say how to start one.
    let out = Command::new(bin())
        .args([
            "show",
            "aaaaaaaaaaaaaaaaaaaaaaaaaa",
            "--server",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("provenance serve") && err.contains("[cli.unreachable]"),
        "{err}"
    );
}

/// Issue 9.8: a CLI key file that group or others can read still works (only `serve` refuses
/// its ledger key) but is warned about on stderr, with the fix.
#[test]
fn a_readable_cli_key_is_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let keygen = Command::new(bin())
        .current_dir(dir)
        .args(["keygen", "-o", "k.pem"])
        .output()
        .unwrap();
    assert!(keygen.status.success());
    assert_eq!(mode(&dir.join("k.pem")), 0o600);
    let prove = || {
        Command::new(bin())
            .current_dir(dir)
            .args([
                "prove",
                "aaaaaaaaaaaaaaaaaaaaaaaaaa",
                "-k",
                "k.pem",
                "--challenge",
                "n",
                "--server",
                "http://127.0.0.1:9",
            ])
            .output()
            .unwrap()
    };
    let quiet = String::from_utf8_lossy(&prove().stderr).into_owned();
    assert!(!quiet.contains("warning: key file"), "{quiet}");
    std::fs::set_permissions(dir.join("k.pem"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = String::from_utf8_lossy(&prove().stderr).into_owned();
    assert!(
        err.contains("warning: key file") && err.contains("mode 0640") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(
        !err.contains("[cli.key_file]"),
        "the key itself is accepted: {err}"
    );
}
