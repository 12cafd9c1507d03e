//! Issue 10: `provenance serve` serves the phone web verifier at `/v`: every file of
//! `provenance-verify/web/bundle.json`, byte for byte, with its media type and headers, and
//! answers revalidation, `HEAD`, `/v/` and other methods as the page and its service worker
//! expect. The page itself runs in Chromium against this server in
//! `provenance-verify/web/tests/served.test.mjs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::path::PathBuf;

use common::Server;
use serde_json::Value;

fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../provenance-verify/web")
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).build()
}

fn call(req: ureq::Request) -> ureq::Response {
    match req.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn every_file_of_the_bundle_is_served_as_the_manifest_says() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(web_dir().join("bundle.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        let url = format!("{}{}", server.url, file["url"].as_str().unwrap());
        let want = std::fs::read(web_dir().join(file["path"].as_str().unwrap())).unwrap();
        let r = call(agent().get(&url));
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.header("Content-Type"), file["type"].as_str(), "{url}");
        for (name, value) in file["headers"].as_object().unwrap() {
            assert_eq!(r.header(name), value.as_str(), "{url}: {name}");
        }
        let etag = r.header("ETag").unwrap().to_string();
        assert_eq!(etag, format!("W/\"{}\"", file["sha256"].as_str().unwrap()));
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut body).unwrap();
        assert!(body == want, "{url}: the served bytes are not the file's");

        // Revalidation (the service worker's `cache: 'reload'` and browsers' no-cache).
        let r = call(agent().get(&url).set("If-None-Match", &etag));
        assert_eq!(r.status(), 304, "{url}");
        assert_eq!(r.header("ETag"), Some(etag.as_str()));
        let strong = etag.trim_start_matches("W/");
        let r = call(agent().get(&url).set("If-None-Match", strong));
        assert_eq!(r.status(), 304, "{url}: weak comparison");
        let r = call(agent().get(&url).set("If-None-Match", "\"0000\""));
        assert_eq!(r.status(), 200, "{url}: a stale tag gets the file");

        // Compressed when asked (what browsers send); identity otherwise (above).
        let r = call(agent().get(&url).set("Accept-Encoding", "gzip"));
        assert_eq!(r.header("Content-Encoding"), Some("gzip"), "{url}");
        assert!(r
            .header("Vary")
            .is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
        let mut gz = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut gz).unwrap();
        if want.len() > 10_000 {
            assert!(
                gz.len() < want.len() * 9 / 10,
                "{url}: {} gzipped of {}",
                gz.len(),
                want.len()
            );
        }

        // HEAD: the same headers, no body.
        let r = call(agent().head(&url));
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.header("Content-Type"), file["type"].as_str(), "{url}");
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut body).unwrap();
        assert!(body.is_empty(), "{url}: HEAD has no body");
    }
}

#[test]
fn the_page_answers_redirects_methods_and_unknown_files() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    let r = call(agent().get(&format!("{}/v/", server.url)));
    assert_eq!(r.status(), 308);
    assert_eq!(r.header("Location"), Some("../v"));

    let r = call(agent().post(&format!("{}/v", server.url)));
    assert_eq!(r.status(), 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    assert_eq!(r.header("Content-Type"), Some("application/problem+json"));

    let r = call(agent().get(&format!("{}/v/pkg/nothing.wasm", server.url)));
    assert_eq!(r.status(), 404);
    let problem: Value = r.into_json().unwrap();
    assert_eq!(problem["code"], "ledger.unknown_endpoint");
}

/// Behind a proxy that publishes the ledger under a path (`--public-url https://x/abc`), the
/// service worker may take the page's scope as the browser sees it, `/abc/v`.
#[test]
fn the_service_worker_scope_follows_the_public_urls_path() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &["--public-url", "https://ledger.example/abc"]);
    let r = call(agent().get(&format!("{}/v/sw.js", server.url)));
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Service-Worker-Allowed"), Some("/abc/v"));
    std::fs::create_dir(tmp.path().join("plain")).unwrap();
    let plain = Server::start(&tmp.path().join("plain"), &[]);
    let r = call(agent().get(&format!("{}/v/sw.js", plain.url)));
    assert_eq!(r.header("Service-Worker-Allowed"), Some("/v"));
}
