//! Issue 20 (items 4 and 7), against the real binary: the living QR is a link whenever the
//! ledger has a public URL; `serve` warns about a public URL where a phone's browser gives the
//! web verifier no camera, and names its pages; `/` is a home page.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use common::{bin, decode_qr, get, Server};

/// The item's served PNG QR and the one `provenance qr --out` writes, decoded.
fn living_qr_texts(server: &Server, item: &str) -> [String; 2] {
    let (status, png) = get(&format!("{}/v1/items/{item}/qr.png", server.url), "*/*");
    assert_eq!(status, 200);
    let served = server.dir.join("served.png");
    std::fs::write(&served, png).unwrap();
    server.ok(&["qr", item, "--out", "cli.png"]);
    [decode_qr(&served), decode_qr(&server.dir.join("cli.png"))]
}

#[test]
fn the_living_qr_is_a_label_url_when_the_ledger_has_a_public_url() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        &["--public-url", "https://ledger.example.org/abc"],
    );
    server.parties(&[("maker", "maker")]);
    let run = server.run_of("maker", "Pin", 3);
    let item = server.mint_of("maker", &run, 1).remove(0);
    let (_, living) = get(
        &format!("{}/v1/items/{item}/payload", server.url),
        "text/plain",
    );
    let living = String::from_utf8(living).unwrap();
    for text in living_qr_texts(&server, &item) {
        let payload = text
            .strip_prefix("https://ledger.example.org/abc/v#PV1:")
            .unwrap_or_else(|| panic!("not a label URL: {text}"));
        let bare = format!("PV1:{payload}")
            .replace("%20", " ")
            .replace("%25", "%");
        assert_eq!(bare, living.trim(), "the URL carries the living payload");
    }

    // Without a public URL: the bare payload.
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    server.parties(&[("maker", "maker")]);
    let run = server.run_of("maker", "Pin", 3);
    let item = server.mint_of("maker", &run, 1).remove(0);
    for text in living_qr_texts(&server, &item) {
        assert!(text.starts_with("PV1:"), "{text}");
    }
}

/// Starts `serve` with `extra`, reads stdout up to the sheets' line, stops it; (stdout, stderr).
fn serve_output(dir: &std::path::Path, extra: &[&str]) -> (String, String) {
    let mut child = Command::new(bin())
        .arg("serve")
        .arg("--db")
        .arg(dir.join("p.db"))
        .arg("--ledger-key")
        .arg(dir.join("ledger.pem"))
        .args(["--listen", "127.0.0.1:0", "--workers", "1"])
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        stdout.push_str(&line);
        stdout.push('\n');
        if line.starts_with("provenance sheets:") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (stdout, stderr)
}

#[test]
fn serve_warns_about_plain_http_off_localhost_and_names_its_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let (stdout, stderr) = serve_output(tmp.path(), &["--public-url", "http://192.168.1.5:8750"]);
    assert!(
        stderr.contains("warning: --public-url http://192.168.1.5:8750 is plain http")
            && stderr.contains("camera")
            && stderr.contains("https"),
        "{stderr}"
    );
    assert!(
        stdout.contains("web verifier: http://192.168.1.5:8750/v\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("dashboard: http://192.168.1.5:8750/dashboard\n"),
        "{stdout}"
    );
    for quiet in [
        &["--public-url", "https://ledger.example"][..],
        &["--public-url", "http://localhost:8750"],
        &[],
    ] {
        let (stdout, stderr) = serve_output(tmp.path(), quiet);
        assert!(!stderr.contains("warning"), "{quiet:?}: {stderr}");
        assert!(stdout.contains("web verifier: http"), "{stdout}");
    }
}

#[test]
fn the_root_is_a_home_page_linking_the_verifier_dashboard_and_sheets() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    let response = ureq::get(&format!("{}/", server.url))
        .set("Accept", "text/html")
        .call()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let csp = response
        .header("Content-Security-Policy")
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let html = response.into_string().unwrap();
    for link in [
        "href=\"/v\"",
        "href=\"/dashboard\"",
        "/runs/{run}",
        "/items/{item}",
    ] {
        assert!(html.contains(link), "{link} in {html}");
    }
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "{html}"
    );
    // The links lead somewhere.
    for path in ["/v", "/dashboard"] {
        let (status, _) = get(&format!("{}{path}", server.url), "text/html");
        assert_eq!(status, 200, "{path}");
    }
}
