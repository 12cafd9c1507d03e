//! Shared helpers: build and locate the real `provenance` binary, run a ledger on an
//! ephemeral loopback port with a temporary database, run CLI commands, raw HTTP.
//!
//! Backends: a server starts on SQLite (`ledger.db` in its directory) unless its directory was
//! first started on PostgreSQL (a fresh database per directory, remembered in `ledger.pgurl`).
//! [`for_each_backend`] runs a test body on SQLite and, when `PROVENANCE_TEST_POSTGRES` names a
//! PostgreSQL server (a base URL such as `postgres://pgtest@127.0.0.1:55432/postgres`), again on
//! PostgreSQL; with the variable unset it runs the body once, on SQLite, exactly as before.
#![allow(
    clippy::unwrap_used,
    dead_code,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::cell::Cell;
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

/// A ledger backend a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `ledger.db` in the server's directory.
    Sqlite,
    /// A fresh database on the server `PROVENANCE_TEST_POSTGRES` names.
    Postgres,
}

/// The env variable naming the PostgreSQL server the tests may create databases on.
pub const POSTGRES_ENV: &str = "PROVENANCE_TEST_POSTGRES";
/// The file in a server's directory that holds its PostgreSQL database's URL.
const PG_MARKER: &str = "ledger.pgurl";

thread_local! {
    /// The backend `Server::start` uses for a directory that has none yet.
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Sqlite) };
}

/// The base URL of the test PostgreSQL server, if `PROVENANCE_TEST_POSTGRES` is set.
pub fn postgres_base() -> Option<String> {
    std::env::var(POSTGRES_ENV).ok().filter(|v| !v.is_empty())
}

/// SQLite, and PostgreSQL when `PROVENANCE_TEST_POSTGRES` is set.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if postgres_base().is_some() {
        all.push(Backend::Postgres);
    }
    all
}

/// Runs `body` once per backend of [`backends`]; during each run, a server started in a new
/// directory uses that backend.
pub fn for_each_backend(body: impl Fn()) {
    for backend in backends() {
        eprintln!("-- backend: {backend:?}");
        BACKEND.with(|b| b.set(backend));
        body();
    }
    BACKEND.with(|b| b.set(Backend::Sqlite));
}

/// The backend a server started now in a new directory uses.
pub fn current_backend() -> Backend {
    BACKEND.with(|b| b.get())
}

/// `base` (a `postgres://` URL) with its database name replaced by `db`.
pub fn pg_url(base: &str, db: &str) -> String {
    let (scheme, rest) = base.split_once("://").expect("a postgres:// URL");
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, format!("?{q}")),
        None => (rest, String::new()),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{db}{query}")
}

/// Creates a fresh, uniquely named database on the test PostgreSQL server; returns its URL.
pub fn create_pg_database() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let base = postgres_base().expect("PROVENANCE_TEST_POSTGRES is set");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "prov_t{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = postgres::Client::connect(&base, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to {base} ({POSTGRES_ENV}): {e}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    pg_url(&base, &name)
}

/// The `--db` of a server in `dir`: its PostgreSQL URL if the directory has one, a new
/// database if the current backend is PostgreSQL, else `dir/ledger.db`.
pub fn db_arg(dir: &Path) -> String {
    let marker = dir.join(PG_MARKER);
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return url.trim().to_string();
    }
    match current_backend() {
        Backend::Sqlite => dir.join("ledger.db").to_string_lossy().into_owned(),
        Backend::Postgres => {
            let url = create_pg_database();
            std::fs::write(&marker, &url).unwrap();
            url
        }
    }
}

/// Gives `dir` a fresh PostgreSQL database (the server started there runs on it); returns its
/// URL.
pub fn use_postgres(dir: &Path) -> String {
    let url = create_pg_database();
    std::fs::write(dir.join(PG_MARKER), &url).unwrap();
    url
}

/// Whether the server in `dir` runs (or will run) on PostgreSQL.
pub fn is_postgres(dir: &Path) -> bool {
    dir.join(PG_MARKER).is_file()
}

/// Makes `second` a directory whose server shares `first`'s database and ledger key (one
/// ledger, two servers); `first` must have been started once.
pub fn share_ledger(first: &Path, second: &Path) {
    for file in [PG_MARKER, "ledger.pem"] {
        std::fs::copy(first.join(file), second.join(file)).unwrap();
    }
}

/// The PostgreSQL database of the server in `dir`, as it stands: the SHA-256 of a logical dump
/// (every row of every table as text, sorted), and the dump.
pub fn pg_fingerprint(dir: &Path) -> (String, Vec<String>) {
    use sha2::{Digest, Sha256};
    let url = std::fs::read_to_string(dir.join(PG_MARKER)).unwrap();
    let mut client = postgres::Client::connect(url.trim(), postgres::NoTls).unwrap();
    let tables: Vec<String> = client
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut dump = Vec::new();
    for table in tables {
        let sql = format!("SELECT t::text FROM \"{table}\" t ORDER BY 1");
        for row in client.query(sql.as_str(), &[]).unwrap() {
            let text: String = row.get(0);
            dump.push(format!("{table}: {text}"));
        }
    }
    let digest = Sha256::digest(dump.join("\n").as_bytes());
    (
        format!("{} rows, sha256 {}", dump.len(), hex::encode(digest)),
        dump,
    )
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
            .arg(db_arg(dir))
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
