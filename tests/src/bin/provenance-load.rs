//! `provenance-load`: the ledger's load generator.
//!
//! Starts `provenance serve` on a temporary database (or targets `--server URL`), registers a
//! trust list, a run and `--items` mints, pre-signs a chain of repair records for every item,
//! then drives `POST /v1/items/{item}/records` over `--concurrency` loopback keep-alive
//! connections, either closed-loop (each connection sends as soon as its last answer came) or
//! open-loop at `--rate` appends/s (every request has an intended send time; its latency is
//! measured from that time, so queueing counts). Reports appends/s and p50/p99/p999 latency,
//! the server's CPU time per append and its group-commit batch sizes, and, in the same run,
//! the machine's limits: raw Ed25519 `verify_strict` per second (one thread and all cores) and
//! raw SQLite durable commits per second (WAL, `synchronous=FULL`, one row and 256 rows per
//! commit), with the ratios. With `--db postgres://…` the server(s) run on PostgreSQL
//! (`--servers N` spawns N servers on that one database sharing the ledger key and origin, and
//! the connections are spread over them), and the raw PostgreSQL durable commit rate on that
//! database is measured too. Any append not acknowledged with 201 is counted by HTTP status and
//! problem code, and makes the program exit 1 after its report. `--dashboards N` holds N live
//! dashboard event streams open and read during the run (BENCHMARKS.md, "Dashboards during a
//! drop").
//!
//! ```text
//! cargo build --release -p provenance-server --bin provenance
//! cargo run --release -p provenance-e2e --bin provenance-load -- --items 2000 --concurrency 64 --duration 10s
//! cargo run --release -p provenance-e2e --bin provenance-load -- --items 2000 --concurrency 64 --rate 5000 --duration 10s
//! ```
#![expect(
    clippy::cast_possible_truncation,
    reason = "rates and percentile positions from floats over at most a few million samples"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use ed25519_dalek::{Signer as _, Verifier as _};
use provenance_core::limits::{
    MAX_THIRD_PARTY_RECORDS_PER_ITEM, MAX_THIRD_PARTY_RECORDS_PER_SIGNER,
};
use provenance_core::{
    ChainLink, ItemId, Mint, PublicKey, Record, RecordBody, RecordHash, Repair, Role, Roles, RunId,
    RunManifest, SigningKey, Timestamp, TrustEntry, TrustListContent,
};

/// Drive durable appends against a provenance ledger and compare with this machine's limits.
#[derive(Parser, Debug)]
#[command(name = "provenance-load", version)]
struct Args {
    /// Target a running ledger instead of spawning one. Its trust-list operator key must be
    /// given with --operator-key. The generator signs a new trust list holding only its own
    /// maker and desk: use a scratch ledger.
    #[arg(long)]
    server: Option<String>,
    /// The operator's private key (PKCS#8 PEM) of the --server ledger.
    #[arg(long, requires = "server")]
    operator_key: Option<PathBuf>,
    /// The `provenance` binary to spawn (default: target/release/provenance next to this
    /// program).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Actix workers of the spawned server (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// The spawned servers' database: a postgres:// URL of an empty scratch database (default:
    /// a temporary SQLite file). The raw PostgreSQL commit rate is measured on it too.
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Servers to spawn on --db, sharing its ledger key and origin (more than one needs a
    /// postgres:// --db); the connections are spread over them.
    #[arg(long, default_value_t = 1)]
    servers: usize,
    /// Items to mint and append to.
    #[arg(long, default_value_t = 2000)]
    items: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long to drive appends, e.g. 10s, 500ms, 1m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Open loop at this many appends per second (default: closed loop, as fast as answered).
    #[arg(long)]
    rate: Option<f64>,
    /// Records pre-signed per item (default: enough for the run at --rate, or at 25,000/s).
    #[arg(long)]
    records_per_item: Option<usize>,
    /// Skip the raw verify_strict and SQLite measurements.
    #[arg(long)]
    no_limits: bool,
    /// Seconds of each limit measurement.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    limit_time: Duration,
    /// Hold this many live dashboards open during the run: each an event stream
    /// (`GET /dashboard/events`) on its own connection, read by one thread. Spawned servers
    /// get `--max-streams-per-peer` and `--max-streams` of at least this many (all come from
    /// 127.0.0.1); a --server must allow them itself.
    #[arg(long, default_value_t = 0)]
    dashboards: usize,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((text, "s"), |i| (&text[..i], &text[i..]));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text:?} (use e.g. 10s, 500ms, 2m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit in {text:?} (use ms, s or m)")),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("duration must be positive: {text:?}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A clear error for the user.
#[derive(Debug)]
struct Error(String);

impl<E: std::fmt::Display> From<E> for Error {
    fn from(e: E) -> Self {
        Error(e.to_string())
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, Error> {
    Err(Error(message.into()))
}

fn main() {
    let args = Args::parse();
    if let Err(Error(message)) = run(args) {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}

fn now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
}

// ---------------------------------------------------------------------------------------------
// Open dashboards (`--dashboards`): event streams held open and read during the run.

/// The open dashboard streams and what was read from them.
struct Dashboards {
    streams: Vec<TcpStream>,
    bytes: AtomicU64,
    ended: AtomicU64,
}

/// Opens `n` event streams of the all-runs dashboard and waits for each one's first update.
fn open_dashboards(addr: SocketAddr, n: usize) -> Result<Dashboards, Error> {
    let mut streams = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.write_all(b"GET /dashboard/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")?;
        let mut head = Vec::new();
        let mut chunk = [0u8; 8192];
        while !String::from_utf8_lossy(&head).contains("event: update") {
            let got = s.read(&mut chunk)?;
            if got == 0 {
                return fail(format!(
                    "dashboard stream {i} was refused: {}",
                    String::from_utf8_lossy(&head)
                ));
            }
            head.extend_from_slice(&chunk[..got]);
        }
        if !head.starts_with(b"HTTP/1.1 200") {
            return fail(format!(
                "dashboard stream {i}: {}",
                String::from_utf8_lossy(&head)
            ));
        }
        s.set_nonblocking(true)?;
        streams.push(s);
    }
    Ok(Dashboards {
        streams,
        bytes: AtomicU64::new(0),
        ended: AtomicU64::new(0),
    })
}

impl Dashboards {
    /// Reads every stream (what a browser does), sweeping them every 100 ms, until `stop`.
    fn read_until(&self, stop: &AtomicBool) {
        let mut open = vec![true; self.streams.len()];
        let mut chunk = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            for (s, open) in self.streams.iter().zip(open.iter_mut()) {
                while *open {
                    match (&*s).read(&mut chunk) {
                        Ok(0) => {
                            *open = false;
                            self.ended.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(n) => {
                            self.bytes.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(_) => {
                            *open = false;
                            self.ended.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Minimal HTTP/1.1 keep-alive client: one request in flight per connection, no allocation
// beyond the buffers, so the generator spends as little of the shared CPU as possible.

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// One answer: status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Result<Conn, Error> {
        let stream = TcpStream::connect(addr)
            .map_err(|e| Error(format!("cannot connect to {addr}: {e}")))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        media: &str,
        body: &[u8],
    ) -> Result<Answer, Error> {
        let mut out = Vec::with_capacity(160 + body.len());
        write!(
            out,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {media}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        out.extend_from_slice(body);
        self.stream.write_all(&out)?;
        self.read_answer()
    }

    fn read_answer(&mut self) -> Result<Answer, Error> {
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return fail("the server closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| Error("a response head that is not UTF-8".into()))?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| Error(format!("bad status line: {head:?}")))?;
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .ok_or_else(|| Error("a response without Content-Length".into()))?;
        while self.buf.len() < head_end + length {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return fail("the server closed the connection mid-body");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        let body = self.buf[head_end..head_end + length].to_vec();
        self.buf.drain(..head_end + length);
        Ok(Answer { status, body })
    }
}

// ---------------------------------------------------------------------------------------------
// The server under load.

struct Target {
    addr: SocketAddr,
    url: String,
    operator: SigningKey,
    child: Option<Child>,
    /// The other servers on the same database (`--servers`).
    more: Vec<Target>,
    /// The spawned server's SQLite database file (none for --server or PostgreSQL).
    sqlite: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl Target {
    /// Every server's address.
    fn addrs(&self) -> Vec<SocketAddr> {
        std::iter::once(self.addr)
            .chain(self.more.iter().map(|t| t.addr))
            .collect()
    }

    /// The spawned servers' process ids.
    fn pids(&self) -> Vec<String> {
        std::iter::once(self)
            .chain(&self.more)
            .filter_map(|t| t.child.as_ref().map(|c| c.id().to_string()))
            .collect()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            // SIGTERM for a clean stop; the process is ours.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn default_bin() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or_else(|| Error("cannot locate this program's directory".into()))?;
    Ok(dir.join("provenance"))
}

fn spawn_server(args: &Args) -> Result<Target, Error> {
    let bin = match &args.bin {
        Some(b) => b.clone(),
        None => default_bin()?,
    };
    if !bin.is_file() {
        return fail(format!(
            "no provenance binary at {} (build it: cargo build --release -p provenance-server \
             --bin provenance, or pass --bin)",
            bin.display()
        ));
    }
    let postgres = args.db.as_deref().filter(|d| d.starts_with("postgres"));
    if args.servers == 0 || (args.servers > 1 && postgres.is_none()) {
        return fail("--servers must be 1, or more with a postgres:// --db");
    }
    let dir = tempfile::tempdir()?;
    let operator = SigningKey::from_seed([0x4c; 32]);
    let pem = dir.path().join("ledger.pem");
    std::fs::write(&pem, operator.to_pkcs8_pem()?)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pem, std::fs::Permissions::from_mode(0o600))?;
    }
    let db = match postgres {
        Some(url) => url.to_string(),
        None => dir.path().join("ledger.db").to_string_lossy().into_owned(),
    };
    let mut servers = Vec::new();
    for _ in 0..args.servers {
        let (url, child) = spawn_one(&bin, &db, &pem, args.workers, args.dashboards)?;
        servers.push(Target {
            addr: resolve(&url)?,
            url,
            operator: SigningKey::from_seed([0x4c; 32]),
            child: Some(child),
            more: Vec::new(),
            sqlite: None,
            _dir: None,
        });
    }
    let mut first = servers.remove(0);
    first.more = servers;
    first.sqlite = postgres.is_none().then(|| PathBuf::from(&db));
    first._dir = Some(dir);
    first.operator = operator;
    Ok(first)
}

/// Starts one `provenance serve` on `db`; its URL and process.
fn spawn_one(
    bin: &Path,
    db: &str,
    pem: &Path,
    workers: Option<usize>,
    dashboards: usize,
) -> Result<(String, Child), Error> {
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .args(["--db", db])
        .arg("--ledger-key")
        .arg(pem)
        .args(["--listen", "127.0.0.1:0", "--origin", "load.test"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(w) = workers {
        cmd.args(["--workers", &w.to_string()]);
    }
    if dashboards > 0 {
        let n = dashboards.to_string();
        cmd.args(["--max-streams-per-peer", &n, "--max-streams", &n]);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error(format!("cannot start {}: {e}", bin.display())))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error("no stdout from the server".into()))?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("listening on ") {
                    break url.trim().to_string();
                }
            }
            _ => {
                let _ = child.kill();
                return fail("the server exited before listening");
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((url, child))
}

fn resolve(url: &str) -> Result<SocketAddr, Error> {
    let hostport = url
        .strip_prefix("http://")
        .ok_or_else(|| Error(format!("only http:// URLs are supported, not {url:?}")))?
        .trim_end_matches('/');
    hostport
        .to_socket_addrs()
        .map_err(|e| Error(format!("cannot resolve {hostport}: {e}")))?
        .next()
        .ok_or_else(|| Error(format!("{hostport} resolves to nothing")))
}

fn target(args: &Args) -> Result<Target, Error> {
    match &args.server {
        None => spawn_server(args),
        Some(url) => {
            let path = args
                .operator_key
                .as_ref()
                .ok_or_else(|| Error("--server needs --operator-key".into()))?;
            let pem = std::fs::read_to_string(path)
                .map_err(|e| Error(format!("cannot read {}: {e}", path.display())))?;
            let operator = SigningKey::from_pkcs8_pem(&pem)
                .map_err(|e| Error(format!("{}: {e}", path.display())))?;
            Ok(Target {
                addr: resolve(url)?,
                url: url.trim_end_matches('/').to_string(),
                operator,
                child: None,
                more: Vec::new(),
                sqlite: None,
                _dir: None,
            })
        }
    }
}

fn expect(answer: Answer, ok: &[u16], what: &str) -> Result<Answer, Error> {
    if ok.contains(&answer.status) {
        Ok(answer)
    } else {
        fail(format!(
            "{what}: HTTP {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ))
    }
}

/// The current trust list's version on the target (0 when there is none) and the ledger key
/// the next list must name.
fn trust_state(conn: &mut Conn) -> Result<(u64, Option<PublicKey>), Error> {
    let answer = conn.request("GET", "/v1/trust", "application/json", &[])?;
    let json: serde_json::Value = match answer.status {
        404 => serde_json::Value::Null,
        _ => serde_json::from_slice(&expect(answer, &[200], "GET /v1/trust")?.body)?,
    };
    let ledger = match json["ledger"].as_str() {
        Some(k) => {
            Some(PublicKey::from_base64url(k).map_err(|e| Error(format!("ledger key: {e}")))?)
        }
        None => None,
    };
    Ok((json["version"].as_u64().unwrap_or(0), ledger))
}

/// Trust, run, mints. Returns the items and the hash of each mint.
fn setup(
    target: &Target,
    items: usize,
    maker: &SigningKey,
    desks: &[SigningKey],
) -> Result<Vec<(ItemId, RecordHash)>, Error> {
    let mut conn = Conn::open(target.addr)?;
    let t = now();
    let entry = |key: &SigningKey, role: Role, name: &str| TrustEntry {
        key: key.public_key(),
        roles: Roles::of(role),
        name: name.into(),
        valid_from: Timestamp(t.0 - 86_400),
        valid_until: None,
        revoked_at: None,
    };
    let (version, ledger) = trust_state(&mut conn)?;
    let trust = TrustListContent {
        version: version + 1,
        issued_at: t,
        ledger: ledger.or_else(|| target.child.is_some().then(|| target.operator.public_key())),
        entries: std::iter::once(entry(maker, Role::Maker, "load maker"))
            .chain(
                desks
                    .iter()
                    .enumerate()
                    .map(|(k, desk)| entry(desk, Role::Repairer, &format!("load desk {}", k + 1))),
            )
            .collect(),
    }
    .sign(&target.operator);
    expect(
        conn.request("POST", "/v1/trust", "application/cose", &trust)?,
        &[201],
        "POST /v1/trust",
    )?;
    let run_record = Record {
        time: t,
        seq: 0,
        body: RecordBody::RunManifest(RunManifest {
            title: "Load".into(),
            microfactory: "Bench".into(),
            place: "Loopback".into(),
            size: items as u64,
            window_start: Timestamp(t.0 - 3600),
            window_end: Timestamp(t.0 + 30 * 86_400),
        }),
    }
    .sign(maker, None);
    expect(
        conn.request("POST", "/v1/runs", "application/cose", &run_record)?,
        &[201, 200],
        "POST /v1/runs",
    )?;
    let run = RunId::derive(&run_record);
    let mints: Vec<Vec<u8>> = (1..=items as u64)
        .map(|number| {
            Record {
                time: t,
                seq: 0,
                body: RecordBody::Mint(Mint {
                    run,
                    number,
                    size: items as u64,
                    title: "Load".into(),
                    microfactory: "Bench".into(),
                    owner: None,
                }),
            }
            .sign(maker, None)
        })
        .collect();
    let started = Instant::now();
    let chunks: Vec<&[Vec<u8>]> = mints.chunks(items.div_ceil(16).max(1)).collect();
    let results: Vec<Result<(), Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                s.spawn(move || -> Result<(), Error> {
                    let mut conn = Conn::open(target.addr)?;
                    for m in *chunk {
                        expect(
                            conn.request("POST", "/v1/items", "application/cose", m)?,
                            &[201, 200],
                            "POST /v1/items",
                        )?;
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| fail("a mint thread panicked")))
            .collect()
    });
    for r in results {
        r?;
    }
    let took = started.elapsed();
    println!(
        "setup: {items} mints in {:.2} s ({:.0} mints/s over 16 connections)",
        took.as_secs_f64(),
        items as f64 / took.as_secs_f64()
    );
    Ok(mints
        .iter()
        .map(|m| (ItemId::derive(m), RecordHash::of(m)))
        .collect())
}

/// The repair desks that sign `per_item` records per item: one per
/// [`MAX_THIRD_PARTY_RECORDS_PER_SIGNER`] records (spec §6 R8), so no append meets the quota;
/// more than [`MAX_THIRD_PARTY_RECORDS_PER_ITEM`] records per item cannot be signed at all.
fn desks_for(per_item: usize) -> Result<Vec<SigningKey>, Error> {
    if per_item > MAX_THIRD_PARTY_RECORDS_PER_ITEM {
        return fail(format!(
            "{per_item} records per item is past the ledger's limit of \
             {MAX_THIRD_PARTY_RECORDS_PER_ITEM} third-party records per item: give more --items"
        ));
    }
    let desks = per_item.div_ceil(MAX_THIRD_PARTY_RECORDS_PER_SIGNER).max(1);
    Ok((0..desks)
        .map(|k| SigningKey::from_seed([0x22u8.wrapping_add(k as u8); 32]))
        .collect())
}

/// Pre-signs `per_item` chained repairs for every item, on all cores; record `seq` is signed
/// by desk `(seq - 1) / 64`.
fn presign(
    items: &[(ItemId, RecordHash)],
    per_item: usize,
    desks: &[SigningKey],
) -> Vec<Vec<Vec<u8>>> {
    let started = Instant::now();
    let t = now();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    let out: Vec<Vec<Vec<u8>>> = std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(item, mint)| {
                            let mut prev = *mint;
                            (1..=per_item as u64)
                                .map(|seq| {
                                    let bytes = Record {
                                        time: t,
                                        seq,
                                        body: RecordBody::Repair(Repair {
                                            note: format!("load {seq}"),
                                            parts: vec!["clasp".into()],
                                        }),
                                    }
                                    .sign(
                                        &desks[(seq as usize - 1)
                                            / MAX_THIRD_PARTY_RECORDS_PER_SIGNER],
                                        Some(&ChainLink { item: *item, prev }),
                                    );
                                    prev = RecordHash::of(&bytes);
                                    bytes
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let total = items.len() * per_item;
    println!(
        "pre-signed {total} records ({} per item, {} bytes each) in {:.2} s",
        per_item,
        out.first().and_then(|c| c.first()).map_or(0, Vec::len),
        started.elapsed().as_secs_f64()
    );
    out
}

// ---------------------------------------------------------------------------------------------
// The load.

struct ConnResult {
    /// Latencies in microseconds of every acknowledged append.
    latencies: Vec<u32>,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
    /// Errors by "HTTP status code" (the problem's code, or "-" when the body has none).
    by_code: std::collections::BTreeMap<String, u64>,
}

/// One connection's share: items `j, j + C, j + 2C, …`, round-robin, record `r` of each item
/// in round `r` (so a record's predecessor is always acknowledged before it is sent).
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
fn drive(
    addr: SocketAddr,
    j: usize,
    concurrency: usize,
    items: &[(ItemId, RecordHash)],
    records: &[Vec<Vec<u8>>],
    start: Instant,
    end: Instant,
    rate: Option<f64>,
    stop: &AtomicBool,
    sent: &AtomicU64,
) -> Result<ConnResult, Error> {
    let mut conn = Conn::open(addr)?;
    let mine: Vec<usize> = (j..items.len()).step_by(concurrency).collect();
    let paths: Vec<String> = mine
        .iter()
        .map(|&i| format!("/v1/items/{}/records", items[i].0))
        .collect();
    let per_item = records.first().map_or(0, Vec::len);
    let mut out = ConnResult {
        latencies: Vec::new(),
        ok: 0,
        errors: 0,
        first_error: None,
        by_code: std::collections::BTreeMap::new(),
    };
    if mine.is_empty() {
        return Ok(out);
    }
    // Open loop: this connection's k-th request is due at start + (k*C + j) / rate.
    let interval = rate.map(|r| Duration::from_secs_f64(concurrency as f64 / r));
    let offset = rate.map(|r| Duration::from_secs_f64(j as f64 / r));
    let mut k: u32 = 0;
    'rounds: for round in 0..per_item {
        for (slot, &i) in mine.iter().enumerate() {
            let intended = match (interval, offset) {
                (Some(iv), Some(off)) => {
                    let due = start + off + iv * k;
                    if due >= end {
                        break 'rounds;
                    }
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    due
                }
                _ => {
                    let now = Instant::now();
                    if now >= end || stop.load(Ordering::Relaxed) {
                        break 'rounds;
                    }
                    now
                }
            };
            k += 1;
            sent.fetch_add(1, Ordering::Relaxed);
            let answer =
                conn.request("POST", &paths[slot], "application/cose", &records[i][round])?;
            let latency = intended.elapsed();
            if answer.status == 201 {
                out.ok += 1;
                out.latencies
                    .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
            } else {
                out.errors += 1;
                let code = serde_json::from_slice::<serde_json::Value>(&answer.body)
                    .ok()
                    .and_then(|v| v["code"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "-".into());
                *out.by_code
                    .entry(format!("HTTP {} {code}", answer.status))
                    .or_default() += 1;
                if out.first_error.is_none() {
                    out.first_error = Some(format!(
                        "HTTP {} {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                    ));
                }
                // The chain of this item is broken from here on; stop this connection.
                break 'rounds;
            }
        }
    }
    Ok(out)
}

/// Keeps the largest size of the file at `path` in `peak`, sampled every 10 ms until `end` or
/// `stop`.
fn sample_size(path: &Path, end: Instant, stop: &AtomicBool, peak: &AtomicU64) {
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        let len = std::fs::metadata(path).map_or(0, |m| m.len());
        peak.fetch_max(len, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The SQLite WAL's largest size (sampled during the run, and the server's own peak gauge) and
/// the database's bytes per stored row, when the spawned server runs on SQLite.
fn report_storage(target: &Target, metrics: &[String], sampled_wal_peak: Option<u64>) {
    let Some(db) = &target.sqlite else { return };
    let value = |name: &str| metrics.first().and_then(|m| gauge(m, name));
    let mb = |bytes: f64| bytes / (1 << 20) as f64;
    if let (Some(sampled), Some(peak)) =
        (sampled_wal_peak, value("provenance_sqlite_wal_peak_bytes"))
    {
        println!(
            "SQLite WAL: largest {:.1} MiB sampled every 10 ms during the run, {:.1} MiB by the \
             server's own peak gauge (since it started); {:.0} restarts, {:.0} writer waits \
             that ran out",
            mb(sampled as f64),
            mb(peak),
            value("provenance_sqlite_wal_restarts_total").unwrap_or(0.0),
            value("provenance_sqlite_wal_wait_timeouts_total").unwrap_or(0.0),
        );
    }
    let rows = ["provenance_stored_records", "provenance_stored_runs"]
        .iter()
        .filter_map(|name| value(name))
        .sum::<f64>();
    let size = std::fs::metadata(db).map_or(0, |m| m.len()) as f64;
    if rows > 0.0 {
        println!(
            "SQLite database: {:.1} MiB for {rows:.0} stored records = {:.0} bytes per record \
             (the WAL not included)",
            mb(size),
            size / rows
        );
    }
}

/// A gauge's or counter's value in /metrics.
fn gauge(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?.strip_prefix(' ')?;
        rest.trim().parse().ok()
    })
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((utime + stime) / 100.0)
}

/// Bytes a process has caused to be written to storage, and its write syscalls.
fn io_written(pid: &str) -> Option<(f64, f64)> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |name: &str| {
        io.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    Some((field("write_bytes:")?, field("syscw:")?))
}

/// Sum and count of a Prometheus histogram in /metrics.
fn histogram(metrics: &str, name: &str) -> Option<(f64, f64)> {
    let value = |suffix: &str| {
        metrics.lines().find_map(|l| {
            let rest = l.strip_prefix(&format!("{name}_{suffix}"))?;
            let rest = rest.trim_start_matches(|c| c != ' ');
            rest.trim().parse::<f64>().ok()
        })
    };
    Some((value("sum")?, value("count")?))
}

fn metrics(addr: SocketAddr) -> Result<String, Error> {
    let mut conn = Conn::open(addr)?;
    let answer = expect(
        conn.request("GET", "/metrics", "text/plain", &[])?,
        &[200],
        "GET /metrics",
    )?;
    Ok(String::from_utf8_lossy(&answer.body).to_string())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index] as f64 / 1000.0
}

// ---------------------------------------------------------------------------------------------
// The machine's limits, measured in the same run.

/// Raw Ed25519 verify_strict per second over a 150-byte message, on `threads` threads.
fn verify_rate(threads: usize, time: Duration) -> f64 {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key();
    let message = [0x5au8; 150];
    let signature = key.sign(&message);
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let started = Instant::now();
                    let mut n = 0u64;
                    while started.elapsed() < time {
                        for _ in 0..64 {
                            let ok = public.verify_strict(&message, &signature).is_ok();
                            std::hint::black_box(ok);
                        }
                        n += 64;
                    }
                    (n as f64 / started.elapsed().as_secs_f64()) as u64
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    // Also exercise the non-strict path once so the optimiser keeps the types honest.
    let _ = public.verify(&message, &signature);
    counts.iter().sum::<u64>() as f64
}

/// Raw SQLite durable commits: WAL, synchronous=FULL, `batch` rows of ~200 bytes per commit.
/// Returns rows per second.
fn sqlite_rate(dir: &Path, batch: usize, time: Duration) -> Result<(f64, f64), Error> {
    let path = dir.join(format!("limit-{batch}.db"));
    let conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE records (id INTEGER PRIMARY KEY, item BLOB NOT NULL, seq INTEGER NOT NULL,
         hash BLOB NOT NULL UNIQUE, bytes BLOB NOT NULL)",
    )?;
    let blob = [0xabu8; 200];
    let started = Instant::now();
    let (mut rows, mut commits) = (0u64, 0u64);
    while started.elapsed() < time {
        let tx = conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO records (item, seq, hash, bytes) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for _ in 0..batch {
                let hash = RecordHash::of(&rows.to_le_bytes());
                stmt.execute(rusqlite::params![
                    &hash.0[..16],
                    rows as i64,
                    &hash.0[..],
                    &blob[..]
                ])?;
                rows += 1;
            }
        }
        tx.commit()?;
        commits += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok((rows as f64 / secs, commits as f64 / secs))
}

/// Raw PostgreSQL durable commits on `url` (`synchronous_commit` on, the server's default):
/// `batch` rows of ~200 bytes per commit into a scratch table, dropped afterwards. Returns
/// rows and commits per second.
fn postgres_rate(url: &str, batch: usize, time: Duration) -> Result<(f64, f64), Error> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)?;
    let table = format!("load_limit_{}_{batch}", std::process::id());
    client.batch_execute(&format!(
        "SET synchronous_commit = on; DROP TABLE IF EXISTS {table};
         CREATE TABLE {table} (id bigserial PRIMARY KEY, item bytea NOT NULL, seq bigint NOT NULL,
         hash bytea NOT NULL UNIQUE, bytes bytea NOT NULL)"
    ))?;
    let insert = client.prepare(&format!(
        "INSERT INTO {table} (item, seq, hash, bytes) VALUES ($1, $2, $3, $4)"
    ))?;
    let blob = [0xabu8; 200];
    let started = Instant::now();
    let (mut rows, mut commits) = (0u64, 0u64);
    while started.elapsed() < time {
        let mut tx = client.transaction()?;
        for _ in 0..batch {
            let hash = RecordHash::of(&rows.to_le_bytes());
            tx.execute(
                &insert,
                &[&&hash.0[..16], &(rows as i64), &&hash.0[..], &&blob[..]],
            )?;
            rows += 1;
        }
        tx.commit()?;
        commits += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    client.batch_execute(&format!("DROP TABLE {table}"))?;
    Ok((rows as f64 / secs, commits as f64 / secs))
}

// ---------------------------------------------------------------------------------------------

fn run(args: Args) -> Result<(), Error> {
    if args.items == 0 || args.concurrency == 0 {
        return fail("--items and --concurrency must be at least 1");
    }
    if let Some(rate) = args.rate {
        if !(rate.is_finite() && rate > 0.0) {
            return fail("--rate must be a positive number of appends per second");
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let secs = args.duration.as_secs_f64();
    let per_item = match args.records_per_item {
        Some(0) => return fail("--records-per-item must be at least 1"),
        Some(n) => n,
        None => {
            let want = args.rate.map_or(25_000.0, |r| r * 1.05) * secs;
            ((want / args.items as f64).ceil() as usize).max(1)
        }
    };
    let load = uptime_load();
    println!(
        "machine: {cores} cores, load average before the run {load}; {} items, {} \
         connections, {}",
        args.items,
        args.concurrency,
        match args.rate {
            Some(r) => format!("open loop at {r:.0} appends/s for {secs:.1} s"),
            None => format!("closed loop for {secs:.1} s"),
        }
    );

    let target = target(&args)?;
    println!(
        "server: {} ({} on {})",
        target.url,
        match target.more.len() {
            0 => "one server".to_string(),
            n => format!("{} servers", n + 1),
        },
        match args.db.as_deref() {
            Some(db) if db.starts_with("postgres") => "PostgreSQL",
            _ => "SQLite",
        }
    );
    let maker = SigningKey::from_seed([0x11; 32]);
    let desks = desks_for(per_item)?;
    let items = setup(&target, args.items, &maker, &desks)?;
    let records = presign(&items, per_item, &desks);

    let pids = target.pids();
    let addrs = target.addrs();
    let watching = open_dashboards(addrs[0], args.dashboards)?;
    let before_metrics = all_metrics(&addrs)?;
    let server_cpu_before = sum_over(&pids, cpu_seconds);
    let self_cpu_before = cpu_seconds("self");
    let server_io_before = sum_over(&pids, io_written);
    let stop = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + args.duration;
    let wal_file = target.sqlite.as_ref().map(|db| {
        let mut name = db.clone().into_os_string();
        name.push("-wal");
        PathBuf::from(name)
    });
    let wal_peak = AtomicU64::new(0);
    let results: Vec<Result<ConnResult, Error>> = std::thread::scope(|s| {
        if let Some(wal) = &wal_file {
            let (wal_peak, stop) = (&wal_peak, &stop);
            s.spawn(move || sample_size(wal, end, stop, wal_peak));
        }
        if !watching.streams.is_empty() {
            let (watching, stop) = (&watching, &stop);
            s.spawn(move || watching.read_until(stop));
        }
        let handles: Vec<_> = (0..args.concurrency)
            .map(|j| {
                let (items, records, stop, sent) = (&items, &records, &stop, &sent);
                let (addr, conc, rate) = (addrs[j % addrs.len()], args.concurrency, args.rate);
                s.spawn(move || {
                    let now = Instant::now();
                    if start > now {
                        std::thread::sleep(start - now);
                    }
                    drive(addr, j, conc, items, records, start, end, rate, stop, sent)
                })
            })
            .collect();
        let results = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| fail("a load thread panicked")))
            .collect();
        stop.store(true, Ordering::Relaxed);
        results
    });
    let elapsed = start.elapsed().as_secs_f64();
    let server_cpu = sum_over(&pids, cpu_seconds)
        .zip(server_cpu_before)
        .map(|(a, b)| a - b);
    let self_cpu = cpu_seconds("self").zip(self_cpu_before).map(|(a, b)| a - b);
    let after_metrics = all_metrics(&addrs)?;
    let server_io = sum_over(&pids, io_written)
        .zip(server_io_before)
        .map(|(a, b)| (a.0 - b.0, a.1 - b.1));

    let mut latencies = Vec::new();
    let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None);
    let mut by_code = std::collections::BTreeMap::<String, u64>::new();
    for r in results {
        let r = r?;
        ok += r.ok;
        errors += r.errors;
        for (code, n) in r.by_code {
            *by_code.entry(code).or_default() += n;
        }
        latencies.extend(r.latencies);
        if first_error.is_none() {
            first_error = r.first_error;
        }
    }
    latencies.sort_unstable();
    let appends_per_sec = ok as f64 / elapsed;
    println!();
    if !watching.streams.is_empty() {
        println!(
            "dashboards: {} event streams open during the run; {:.1} MB of updates read, {} \
             streams ended early",
            watching.streams.len(),
            watching.bytes.load(Ordering::Relaxed) as f64 / 1e6,
            watching.ended.load(Ordering::Relaxed)
        );
    }
    println!(
        "appends: {ok} acknowledged (201) in {elapsed:.2} s = {appends_per_sec:.0} appends/s; \
         {errors} errors"
    );
    let by_code = by_code
        .iter()
        .map(|(code, n)| format!("{n} x {code}"))
        .collect::<Vec<_>>()
        .join(", ");
    if errors > 0 {
        println!("errors by code: {by_code}");
    }
    let first_error_line = first_error.clone();
    if let Some(e) = first_error {
        println!("first error: {e}");
    }
    println!(
        "latency (from intended send time): p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        latencies.last().map_or(f64::NAN, |m| *m as f64 / 1000.0)
    );
    if let Some(rate) = args.rate {
        println!(
            "offered {rate:.0}/s, achieved {:.0}/s ({:.1}% of offered)",
            appends_per_sec,
            100.0 * appends_per_sec / rate
        );
    }
    if let (Some(server), Some(client)) = (server_cpu, self_cpu) {
        println!(
            "CPU during the load: server {:.2} s ({:.0} us/append, {:.2} cores), generator \
             {:.2} s ({:.0} us/append, {:.2} cores)",
            server,
            1e6 * server / ok.max(1) as f64,
            server / elapsed,
            client,
            1e6 * client / ok.max(1) as f64,
            client / elapsed
        );
    }
    if let Some((bytes, calls)) = server_io {
        println!(
            "server storage writes during the load: {:.1} MB ({:.0} bytes/append, {:.1} write \
             calls/append)",
            bytes / 1e6,
            bytes / ok.max(1) as f64,
            calls / ok.max(1) as f64
        );
    }
    for (name, unit, scale) in [
        ("provenance_commit_batch_size", "", 1.0),
        ("provenance_append_latency_seconds", " ms", 1000.0),
    ] {
        if let (Some((s0, c0)), Some((s1, c1))) = (
            histograms(&before_metrics, name),
            histograms(&after_metrics, name),
        ) {
            if c1 > c0 {
                println!(
                    "server {name}: mean {:.2}{unit} over {:.0} observations",
                    scale * (s1 - s0) / (c1 - c0),
                    c1 - c0
                );
            }
        }
    }
    report_storage(
        &target,
        &after_metrics,
        wal_file.is_some().then(|| wal_peak.load(Ordering::Relaxed)),
    );
    drop(target);
    let unacknowledged = |errors: u64| -> Result<(), Error> {
        if errors > 0 {
            return fail(format!(
                "{errors} appends were not acknowledged ({by_code}; first: {})",
                first_error_line.clone().unwrap_or_default()
            ));
        }
        Ok(())
    };
    if args.no_limits {
        return unacknowledged(errors);
    }
    println!();
    let one = verify_rate(1, args.limit_time);
    let all = verify_rate(cores, args.limit_time);
    println!(
        "limit: raw ed25519 verify_strict {one:.0}/s on 1 thread ({:.1} us), {all:.0}/s on \
         {cores} threads",
        1e6 / one
    );
    let dir = tempfile::tempdir()?;
    let (single_rows, _) = sqlite_rate(dir.path(), 1, args.limit_time)?;
    let (batch_rows, batch_commits) = sqlite_rate(dir.path(), 256, args.limit_time)?;
    println!(
        "limit: raw SQLite WAL synchronous=FULL: {single_rows:.0} commits/s one row per commit; \
         {batch_rows:.0} rows/s in batches of 256 ({batch_commits:.0} commits/s)"
    );
    println!();
    println!(
        "ratio: appends/s / raw verify_strict/s (all cores) = {:.3}; / one core = {:.3}",
        appends_per_sec / all,
        appends_per_sec / one
    );
    println!(
        "ratio: appends/s / SQLite one-row commits/s = {:.2}; / SQLite batched rows/s = {:.3}",
        appends_per_sec / single_rows,
        appends_per_sec / batch_rows
    );
    if let Some(url) = args.db.as_deref().filter(|d| d.starts_with("postgres")) {
        let (single, _) = postgres_rate(url, 1, args.limit_time)?;
        let (rows, commits) = postgres_rate(url, 256, args.limit_time)?;
        println!(
            "limit: raw PostgreSQL synchronous_commit=on: {single:.0} commits/s one row per \
             commit; {rows:.0} rows/s in batches of 256 ({commits:.0} commits/s)"
        );
        println!(
            "ratio: appends/s / PostgreSQL one-row commits/s = {:.2}; / PostgreSQL batched rows/s = {:.3}",
            appends_per_sec / single,
            appends_per_sec / rows
        );
    }
    println!(
        "load average after the run {}: other work on the machine skews every figure",
        uptime_load()
    );
    unacknowledged(errors)
}

/// Every server's /metrics text, concatenated (histogram sums and counts add up).
fn all_metrics(addrs: &[SocketAddr]) -> Result<Vec<String>, Error> {
    addrs.iter().map(|a| metrics(*a)).collect()
}

/// The sum of `f` over the processes, if it answers for each.
fn sum_over<T: Sum>(pids: &[String], f: impl Fn(&str) -> Option<T>) -> Option<T> {
    let mut values = pids.iter().map(|p| f(p));
    let first = values.next()??;
    values.try_fold(first, |acc, v| v.map(|v| acc.plus(v)))
}

/// Values that add up over several servers.
trait Sum {
    fn plus(self, other: Self) -> Self;
}

impl Sum for f64 {
    fn plus(self, other: f64) -> f64 {
        self + other
    }
}

impl Sum for (f64, f64) {
    fn plus(self, other: (f64, f64)) -> (f64, f64) {
        (self.0 + other.0, self.1 + other.1)
    }
}

/// A histogram's (sum, count) over every server's metrics.
fn histograms(metrics: &[String], name: &str) -> Option<(f64, f64)> {
    metrics
        .iter()
        .map(|m| histogram(m, name))
        .try_fold((0.0, 0.0), |acc, h| h.map(|h| acc.plus(h)))
}

fn uptime_load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
