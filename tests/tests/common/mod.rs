//! Shared helpers: build and locate the real `provenance` binary, run a ledger on an
//! ephemeral loopback port with a temporary database, run CLI commands, raw HTTP.
#![allow(
    clippy::unwrap_used,
    dead_code,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use provenance_core::{History, SigningKey, TrustList};
use serde_json::Value;

/// The `provenance` binary of this workspace, built once per test process.
///
/// Cargo only builds the binaries of the package under test, so this runs
/// `cargo build -p provenance-server --bin provenance` (same profile, same target dir) before
/// the first use; when it is already up to date that takes well under a second.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/<test binary>
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "provenance-server",
            "--bin",
            "provenance",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            cmd.arg("--release");
        }
        if let Some(target_dir) = profile_dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target_dir);
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "building the provenance binary failed");
        let path = profile_dir.join("provenance");
        assert!(path.is_file(), "no binary at {}", path.display());
        path
    })
}

/// The `provenance-verify` binary of this workspace, built once per test process (as [`bin`]).
pub fn verifier_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "provenance-verify",
            "--bin",
            "provenance-verify",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            cmd.arg("--release");
        }
        if let Some(target_dir) = profile_dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target_dir);
        }
        assert!(
            cmd.status().unwrap().success(),
            "building provenance-verify failed"
        );
        let path = profile_dir.join("provenance-verify");
        assert!(path.is_file(), "no binary at {}", path.display());
        path
    })
}

/// A running `provenance serve`.
pub struct Server {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// The directory holding the database and keys.
    pub dir: PathBuf,
    /// Extra `serve` arguments (kept for restarts).
    extra: Vec<String>,
}

impl Server {
    /// Starts a ledger with its database and ledger key in `dir`.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut child = Command::new(bin())
            .arg("serve")
            .arg("--db")
            .arg(dir.join("ledger.db"))
            .arg("--ledger-key")
            .arg(dir.join("ledger.pem"))
            .args(["--listen", "127.0.0.1:0", "--workers", "2"])
            .args(&extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = loop {
            assert!(Instant::now() < deadline, "server did not start");
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            url,
            dir: dir.to_path_buf(),
            extra,
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "serve exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// The server process's id (for its memory in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts again on the same database and key.
    pub fn restart_args(&self) -> Vec<String> {
        self.extra.clone()
    }

    /// Runs a CLI command against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli(&self.url, &self.dir, args)
    }

    /// Runs a CLI command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "provenance {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a CLI command with `--json` that must succeed; returns its JSON.
    pub fn ok_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// GET a JSON document.
    pub fn get_json(&self, path: &str) -> Value {
        let (status, body) = get(&format!("{}{path}", self.url), "application/json");
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }

    /// The stored row counts from /metrics (runs, items, records, trust lists).
    pub fn stored(&self) -> [u64; 4] {
        let (_, body) = get(&format!("{}/metrics", self.url), "text/plain");
        let text = String::from_utf8(body).unwrap();
        ["runs", "items", "records", "trust_lists"].map(|name| {
            let prefix = format!("provenance_stored_{name} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
    }

    /// The item's stored history (Accept: application/cbor).
    pub fn history(&self, item: &str) -> History {
        let (status, body) = get(&format!("{}/v1/items/{item}", self.url), "application/cbor");
        assert_eq!(status, 200);
        History::from_cbor(&body, provenance_core::limits::MAX_HISTORY_BYTES).unwrap()
    }

    /// The current signed trust list.
    pub fn trust(&self) -> TrustList {
        let (status, body) = get(&format!("{}/v1/trust", self.url), "application/cose");
        assert_eq!(status, 200);
        TrustList::verify(&body, None).unwrap()
    }

    /// POST bytes; returns (status, JSON body).
    pub fn post(&self, path: &str, media: &str, body: &[u8]) -> (u16, Value) {
        post(&format!("{}{path}", self.url), media, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `provenance` with `--server url` in `dir`.
pub fn cli(url: &str, dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(["--server", url])
        .args(args)
        .current_dir(dir)
        .env_remove("PROVENANCE_SERVER")
        .output()
        .unwrap()
}

fn read_all(resp: ureq::Response) -> Vec<u8> {
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    body
}

/// GET with an Accept header; returns (status, body).
pub fn get(url: &str, accept: &str) -> (u16, Vec<u8>) {
    match ureq::get(url).set("Accept", accept).call() {
        Ok(r) => (r.status(), read_all(r)),
        Err(ureq::Error::Status(s, r)) => (s, read_all(r)),
        Err(e) => panic!("GET {url}: {e}"),
    }
}

/// POST with a Content-Type; returns (status, JSON body).
pub fn post(url: &str, media: &str, body: &[u8]) -> (u16, Value) {
    let (status, bytes) = match ureq::post(url).set("Content-Type", media).send_bytes(body) {
        Ok(r) => (r.status(), read_all(r)),
        Err(ureq::Error::Status(s, r)) => {
            assert_eq!(
                r.header("Content-Type"),
                Some("application/problem+json"),
                "errors are problem+json"
            );
            (s, read_all(r))
        }
        Err(e) => panic!("POST {url}: {e}"),
    };
    (status, serde_json::from_slice(&bytes).unwrap())
}

/// Reads a key file written by `provenance keygen`.
pub fn key(dir: &Path, name: &str) -> SigningKey {
    SigningKey::from_pkcs8_pem(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

/// The current Unix time.
pub fn now() -> provenance_core::Timestamp {
    provenance_core::Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
}

/// Decodes the single QR code in an image file.
pub fn decode_qr(path: &Path) -> String {
    let img = image::open(path).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in {}", path.display());
    grids[0].decode().unwrap().1
}

/// Asserts a problem+json answer: status and spec code.
pub fn assert_problem(answer: &(u16, Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "status of {}", answer.1);
    assert_eq!(answer.1["code"], code, "code of {}", answer.1);
    assert_eq!(answer.1["status"], status);
    assert_eq!(answer.1["type"], format!("urn:provenance:error:{code}"));
    assert!(answer.1["title"].is_string() && answer.1["detail"].is_string());
}

/// The ledger's HTTP status for `code`, read from the HTTP column of spec §10 (the truth the
/// server's own `status` table is pinned to).
pub fn spec_status(code: &str) -> u16 {
    let spec =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/README.md")).unwrap();
    let row = format!("| `{code}` |");
    let line = spec
        .lines()
        .find(|l| l.starts_with(&row))
        .unwrap_or_else(|| panic!("spec §10 has no row for {code}"));
    let column = line.split('|').nth(3).unwrap().trim();
    column
        .parse()
        .unwrap_or_else(|_| panic!("spec §10 gives {code} no HTTP status ({column})"))
}

impl Server {
    /// The fixture most tests start from: a key file `<name>.pem` per party, and the ones with
    /// a role added to the trust list under their own name (`role` is `maker`, `repairer`,
    /// `host`, or empty for a plain owner key).
    pub fn parties(&self, parties: &[(&str, &str)]) {
        for (name, role) in parties {
            self.ok(&["keygen", "-o", &format!("{name}.pem")]);
            if !role.is_empty() {
                self.ok(&[
                    "trust",
                    "add",
                    "--public",
                    &format!("{name}.pem"),
                    "--role",
                    role,
                    "--name",
                    name,
                ]);
            }
        }
    }

    /// Registers a run of `size` by `maker` (a key file name without `.pem`); its id.
    pub fn run_of(&self, maker: &str, title: &str, size: u64) -> String {
        self.ok(&[
            "run",
            "create",
            "-k",
            &format!("{maker}.pem"),
            "--title",
            title,
            "--microfactory",
            "M",
            "--size",
            &size.to_string(),
        ])
        .trim()
        .to_string()
    }

    /// Mints `count` pieces of `run` by `maker`; their item ids.
    pub fn mint_of(&self, maker: &str, run: &str, count: u64) -> Vec<String> {
        self.ok(&[
            "mint",
            "-k",
            &format!("{maker}.pem"),
            "--run",
            run,
            "-n",
            &count.to_string(),
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }
}
