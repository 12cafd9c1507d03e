//! Issue 21.4, against the real server: dashboard event streams have their own budget, per
//! client address and in all, apart from the connection slots (an address holding its whole
//! stream budget still gets its ordinary requests answered, as does every other address); a
//! stream over the budget is refused with its specific code and `Retry-After`; a stream ends at
//! its maximum lifetime with a `retry:` hint and gives its place back; and each update is
//! rendered once per log change however many watch (`provenance_dashboard_renders_total`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{spec_status, Server};
use socket2::{Domain, SockAddr, Socket, Type};

/// A connection from 127.0.0.`host`.
fn connect_from(server: SocketAddr, host: u8) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SockAddr::from(SocketAddr::from(([127, 0, 0, host], 0))))
        .unwrap();
    socket.connect(&SockAddr::from(server)).unwrap();
    let s: TcpStream = socket.into();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s
}

fn addr(server: &Server) -> SocketAddr {
    server.url.trim_start_matches("http://").parse().unwrap()
}

/// An answer read from a raw connection: its head, and what has arrived of its body.
struct Answer {
    s: TcpStream,
    status: u16,
    head: String,
    body: String,
    closed: bool,
}

impl Answer {
    /// Sends `GET path` from 127.0.0.`host` and reads the answer's head.
    fn get(server: &Server, host: u8, path: &str) -> Answer {
        let mut s = connect_from(addr(server), host);
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: ledger\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut answer = Answer {
            s,
            status: 0,
            head: String::new(),
            body: String::new(),
            closed: false,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut raw = String::new();
        while !raw.contains("\r\n\r\n") {
            assert!(
                Instant::now() < deadline,
                "no answer to GET {path}: {raw:?}"
            );
            let mut buf = [0u8; 8192];
            match answer.s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => raw.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(_) => {}
            }
        }
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        answer.status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        answer.head = head.to_ascii_lowercase();
        answer.body = body.to_string();
        answer
    }

    /// Reads on until `done` holds for the body so far, the connection closes, or `wait`.
    fn read_until(&mut self, wait: Duration, done: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + wait;
        while !done(&self.body) && !self.closed && Instant::now() < deadline {
            let mut buf = [0u8; 65536];
            match self.s.read(&mut buf) {
                Ok(0) => self.closed = true,
                Ok(n) => self.body.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => self.closed = true,
                Err(_) => {}
            }
        }
        done(&self.body)
    }

    /// A refusal's problem code, once its body has arrived.
    fn code(&mut self) -> String {
        self.read_until(Duration::from_secs(5), |b| b.trim_end().ends_with('}'));
        let json = &self.body[self.body.find('{').unwrap()..=self.body.rfind('}').unwrap()];
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        v["code"].as_str().unwrap().to_string()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|r| r.strip_prefix(':'))
                .map(str::trim)
        })
    }

    /// The last log size an `update` event of this stream named.
    fn last_size(&self) -> Option<u64> {
        let at = self.body.rfind("\"size\":")? + "\"size\":".len();
        let digits: String = self.body[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }
}

/// Asserts a refusal: status, code (both as spec §10 says) and a `Retry-After`.
fn assert_refused(mut a: Answer, code: &str) {
    assert_eq!(a.status, spec_status(code), "{}", a.head);
    assert_eq!(a.code(), code);
    let retry: u64 = a
        .header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {}", a.head))
        .parse()
        .unwrap();
    assert!(retry >= 1);
}

/// An ordinary request from 127.0.0.`host` is answered 200.
fn ordinary_ok(server: &Server, host: u8) {
    let a = Answer::get(server, host, "/v1/log/checkpoint");
    assert_eq!(
        a.status, 200,
        "an ordinary request from 127.0.0.{host}: {}",
        a.head
    );
}

fn log_size(server: &Server) -> u64 {
    let (status, body) = common::get(&format!("{}/v1/log/checkpoint", server.url), "text/plain");
    assert_eq!(status, 200);
    String::from_utf8(body)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

fn metric(server: &Server, name: &str) -> u64 {
    let (_, body) = common::get(&format!("{}/metrics", server.url), "text/plain");
    String::from_utf8(body)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("/metrics has no {name}"))
}

#[test]
fn streams_have_their_own_budget_per_address_and_in_all() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        &[
            "--max-connections-per-peer",
            "6",
            "--max-streams-per-peer",
            "8",
            "--max-streams",
            "12",
        ],
    );
    // One address opens its whole stream budget: more streams than it may hold connections.
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut a = Answer::get(&server, 2, "/dashboard/events");
        assert_eq!(a.status, 200, "{}", a.head);
        assert!(a.read_until(Duration::from_secs(10), |b| b.contains("event: update")));
        held.push(a);
    }
    // One more is refused with the stream code, not the connections' one.
    assert_refused(
        Answer::get(&server, 2, "/dashboard/events"),
        "ledger.too_many_streams",
    );
    // Its ordinary requests are still answered, and every other address's.
    for _ in 0..3 {
        ordinary_ok(&server, 2);
        ordinary_ok(&server, 3);
    }
    // The overall budget: 4 more from another address fill it; then a third is refused 503.
    for _ in 0..4 {
        let a = Answer::get(&server, 3, "/dashboard/events");
        assert_eq!(a.status, 200, "{}", a.head);
        held.push(a);
    }
    assert_refused(
        Answer::get(&server, 4, "/dashboard/events"),
        "ledger.streams_full",
    );
    ordinary_ok(&server, 4);
    let (status, _) = common::get(&format!("{}/healthz", server.url), "text/plain");
    assert_eq!(status, 200);
    drop(held);
}

#[test]
fn a_stream_ends_at_its_lifetime_with_a_retry_hint_and_gives_its_place_back() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        &["--stream-lifetime", "1", "--max-streams-per-peer", "1"],
    );
    let started = Instant::now();
    let mut a = Answer::get(&server, 2, "/dashboard/events");
    assert_eq!(a.status, 200, "{}", a.head);
    assert!(a.head.contains("connection: close"), "{}", a.head);
    a.read_until(Duration::from_secs(15), |_| false);
    let took = started.elapsed();
    assert!(a.closed, "the stream did not end: {}", a.body);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(8),
        "{took:?}"
    );
    let goodbye = &a.body[a.body.rfind("event: update").unwrap()..];
    assert!(
        goodbye.contains("\nretry: "),
        "no retry hint at the end: {goodbye}"
    );
    // Its place is free again: the same address may open a new one (what EventSource does).
    let b = Answer::get(&server, 2, "/dashboard/events");
    assert_eq!(b.status, 200, "{}", b.head);
}

#[test]
fn an_update_is_rendered_once_per_change_for_every_watcher() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    server.parties(&[("maker", "maker")]);
    let run = server.run_of("maker", "Watched", 10);
    let size = log_size(&server);
    let mut watchers = Vec::new();
    for i in 0..14u8 {
        let path = if i < 10 {
            "/dashboard/events".to_string()
        } else {
            format!("/dashboard/{run}/events")
        };
        let mut a = Answer::get(&server, 2 + i % 4, &path);
        assert_eq!(a.status, 200, "{}", a.head);
        assert!(a.read_until(Duration::from_secs(10), |b| b.contains("event: update")));
        watchers.push(a);
    }
    let settle = |watchers: &mut Vec<Answer>, size: u64| {
        for w in watchers.iter_mut() {
            let ok = w.read_until(Duration::from_secs(10), |b| {
                b.contains(&format!("\"size\":{size},"))
                    || b.contains(&format!("\"size\":{size}}}"))
            });
            assert!(ok, "a watcher did not see size {size}: {:?}", w.last_size());
        }
    };
    settle(&mut watchers, size);
    std::thread::sleep(Duration::from_millis(500));
    let before = metric(&server, "provenance_dashboard_renders_total");
    let changes = 3;
    for _ in 0..changes {
        server.mint_of("maker", &run, 1);
        settle(&mut watchers, log_size(&server));
    }
    std::thread::sleep(Duration::from_millis(500));
    let renders = metric(&server, "provenance_dashboard_renders_total") - before;
    // Two boards (all runs, the run), each rendered at most once per change.
    assert!(
        (1..=2 * changes).contains(&renders),
        "{renders} renders for {changes} changes and {} watchers",
        watchers.len()
    );
}
