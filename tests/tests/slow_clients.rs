//! Issue 9.1, against the real server: two thousand clients from one address declare a 2 KB
//! body and trickle one byte. Every connection beyond the per-address bound is answered 429
//! and closed at once, the admitted ones get 408 when the body deadline passes and are
//! closed, the server's memory stays bounded, and meanwhile another address keeps appending
//! and `/healthz` keeps answering.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{get, Server};
use socket2::{Domain, SockAddr, Socket, Type};

/// Slow clients opened at once.
const SLOW: usize = 2000;
/// The server's per-address bound and body deadline in this test.
const PER_PEER: usize = 64;
const BODY_SECS: u64 = 3;

/// A connection from 127.0.0.2 (the normal client uses 127.0.0.1, another address).
fn connect_from_second_address(server: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SockAddr::from(
            "127.0.0.2:0".parse::<SocketAddr>().unwrap(),
        ))
        .unwrap();
    socket.connect(&SockAddr::from(server)).unwrap();
    socket.into()
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn slow_bodies_are_bounded_and_normal_clients_keep_working() {
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        files >= SLOW as u64 + 256,
        "this test opens {SLOW} sockets; the open-files hard limit is {files} (ulimit -Hn)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        &[
            "--max-connections-per-peer",
            &PER_PEER.to_string(),
            "--body-timeout",
            &BODY_SECS.to_string(),
        ],
    );
    server.parties(&[("maker", "maker"), ("desk", "repairer")]);
    let run = server.run_of("maker", "T", 10);
    let items = server.mint_of("maker", &run, 10);
    let addr: SocketAddr = server.url.trim_start_matches("http://").parse().unwrap();

    // The slow clients: headers, then one byte of a declared 2000-byte body.
    let head = "POST /v1/items/aaaaaaaaaaaaaaaaaaaaaaaaaa/records HTTP/1.1\r\nHost: ledger\r\n\
                Content-Type: application/cose\r\nContent-Length: 2000\r\n\r\nX";
    let mut slow = Vec::with_capacity(SLOW);
    let started = Instant::now();
    for _ in 0..SLOW {
        let mut s = connect_from_second_address(addr);
        // A refused connection may be closed before all of it is written.
        let _ = s.write_all(head.as_bytes());
        slow.push(s);
    }

    // Meanwhile, from 127.0.0.1: the ledger answers and appends succeed.
    for item in &items {
        assert_eq!(get(&format!("{}/healthz", server.url), "text/plain").0, 200);
        server.ok(&["repair", item, "-k", "desk.pem", "--note", "still open"]);
    }
    let rss = rss_kb(server.pid());
    assert!(
        rss < 200 * 1024,
        "server RSS {rss} kB with {SLOW} slow clients"
    );

    // Every slow connection gets its answer and is closed within the deadlines.
    let bound = Duration::from_secs(BODY_SECS + 5 + 10);
    let (mut refused, mut timed_out, mut closed) = (0, 0, 0);
    for mut s in slow {
        let left = bound
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(100));
        s.set_read_timeout(Some(left)).unwrap();
        let mut answer = Vec::new();
        match s.read_to_end(&mut answer) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("a slow connection stayed open past {bound:?}: {e}"),
        }
        let text = String::from_utf8_lossy(&answer);
        if text.starts_with("HTTP/1.1 429") {
            assert!(text.contains("ledger.too_many_connections"), "{text}");
            refused += 1;
        } else if text.starts_with("HTTP/1.1 408") {
            assert!(text.contains("ledger.request_timeout"), "{text}");
            timed_out += 1;
        } else {
            assert!(text.is_empty(), "{text}");
            closed += 1;
        }
    }
    assert!(started.elapsed() < bound, "took {:?}", started.elapsed());
    // Every slow connection got its answer: 429 at once beyond the bound, or 408 at the
    // deadline (an admitted connection that timed out frees its place for a later one, so
    // more than PER_PEER can time out over the run, never more than PER_PEER at once).
    assert_eq!(
        refused + timed_out,
        SLOW,
        "{closed} closed without an answer"
    );
    assert!(
        refused >= SLOW / 2,
        "{refused} refused, {timed_out} timed out"
    );
    assert!(
        timed_out >= PER_PEER,
        "{refused} refused, {timed_out} timed out"
    );

    // Everything was released: the second address may connect again.
    let mut again = connect_from_second_address(addr);
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: ledger\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    again.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Issue 16.13: 405 answers name the allowed methods; unknown paths have their own code.
#[test]
fn method_not_allowed_has_allow_and_unknown_paths_their_own_code() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    let agent = ureq::agent();
    let problem = |r: Result<ureq::Response, ureq::Error>| match r {
        Err(ureq::Error::Status(status, resp)) => {
            let allow = resp.header("Allow").map(str::to_string);
            let body: serde_json::Value = resp.into_json().unwrap();
            (status, allow, body)
        }
        other => panic!("{other:?}"),
    };
    let (status, allow, body) = problem(agent.delete(&format!("{}/v1/items", server.url)).call());
    assert_eq!((status, allow.as_deref()), (405, Some("POST")));
    assert_eq!(body["code"], "ledger.method_not_allowed");
    assert_eq!(
        body["title"],
        "the endpoint does not take this HTTP method (405)"
    );
    let (status, allow, body) = problem(agent.post(&format!("{}/healthz", server.url)).call());
    assert_eq!((status, allow.as_deref()), (405, Some("GET, HEAD")));
    assert_eq!(body["code"], "ledger.method_not_allowed");
    let (status, _, body) = problem(agent.get(&format!("{}/v1/nothing", server.url)).call());
    assert_eq!(status, 404);
    assert_eq!(body["code"], "ledger.unknown_endpoint");
}
