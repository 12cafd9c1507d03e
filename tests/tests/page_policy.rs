//! Issue 21.7: one strict policy for every answer of `provenance serve` (spec §16). Every HTML
//! page, the web verifier and the other answers carry exactly the policy the spec prints, with
//! `nosniff` and no framing; no page holds an inline script, style or event handler; and the
//! files the pages link instead are served, immutable. The pages running under that policy in
//! Chromium without one violation is `tests/browser/pages.test.mjs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Server;

/// The policy as spec §16 prints it (its code block, lines joined by a space).
fn spec_policy() -> String {
    let spec =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/README.md")).unwrap();
    let section = spec
        .split("## 16. What a ledger's pages may run")
        .nth(1)
        .expect("spec §16");
    let block = section.split("```").nth(1).expect("§16's code block");
    let policy: Vec<&str> = block
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("Content-Security-Policy:"))
        .take_while(|l| !l.starts_with("X-Content-Type-Options"))
        .collect();
    policy
        .join(" ")
        .strip_prefix("Content-Security-Policy: ")
        .unwrap()
        .to_string()
}

struct Answer {
    status: u16,
    policies: Vec<String>,
    nosniff: Option<String>,
    frame_options: Option<String>,
    content_type: String,
    cache_control: Option<String>,
    body: Option<String>,
}

/// GETs `path`; reads the body unless it is an event stream (which never ends).
fn fetch(server: &Server, path: &str) -> Answer {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let r = match agent.get(&format!("{}{path}", server.url)).call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let content_type = r.header("Content-Type").unwrap_or("").to_string();
    Answer {
        status: r.status(),
        policies: r
            .all("Content-Security-Policy")
            .into_iter()
            .map(str::to_string)
            .collect(),
        nosniff: r.header("X-Content-Type-Options").map(str::to_string),
        frame_options: r.header("X-Frame-Options").map(str::to_string),
        cache_control: r.header("Cache-Control").map(str::to_string),
        body: (!content_type.starts_with("text/event-stream")).then(|| r.into_string().unwrap()),
        content_type,
    }
}

/// Inline code a strict policy would block: a `<script>` without `src`, a `<style>` element,
/// a `style=` attribute, an `on…=` event handler, a `javascript:` URL.
fn inline_code(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    for tag in lower.split("<script").skip(1) {
        let open = &tag[..tag.find('>').unwrap_or(tag.len())];
        if !open.contains(" src=") {
            found.push(format!("inline <script{open}>"));
        }
    }
    if lower.contains("<style") {
        found.push("a <style> element".into());
    }
    for (i, _) in lower.match_indices(" style=") {
        found.push(format!("style attribute at {i}"));
    }
    for (i, _) in lower.match_indices(" on") {
        let name: String = lower[i + 1..]
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        if lower[i + 1 + name.len()..].starts_with('=') && name.len() > 2 {
            found.push(format!("event handler {name}= at {i}"));
        }
    }
    if lower.contains("javascript:") {
        found.push("a javascript: URL".into());
    }
    found
}

/// The values of `attr="…"` on every `<tag` of `html`.
fn links(html: &str, tag: &str, attr: &str) -> Vec<String> {
    html.split(&format!("<{tag}"))
        .skip(1)
        .filter_map(|t| {
            let open = &t[..t.find('>')?];
            let rest = open.split(&format!("{attr}=\"")).nth(1)?;
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

#[test]
fn every_answer_carries_the_one_strict_policy_and_pages_hold_no_inline_code() {
    let policy = spec_policy();
    assert!(policy.starts_with("default-src 'none'; script-src 'self' 'wasm-unsafe-eval';"));
    assert!(policy.ends_with("frame-ancestors 'none'") && !policy.contains("unsafe-inline"));

    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &["--public-url", "https://ledger.example"]);
    server.parties(&[("maker", "maker"), ("alice", "")]);
    // Record text that would be code, were it not escaped.
    let run = server.run_of("maker", "<script>alert(1)</script><style>*{}</style>", 3);
    let items = server.mint_of("maker", &run, 2);
    server.ok(&[
        "transfer",
        &items[0],
        "-k",
        "maker.pem",
        "--to",
        "alice.pem",
    ]);

    let pages = [
        "/".to_string(),
        "/v".to_string(),
        "/dashboard".to_string(),
        format!("/dashboard/{run}"),
        format!("/runs/{run}"),
        format!("/items/{}", items[0]),
    ];
    let others = [
        "/v1/trust".to_string(),
        "/healthz".to_string(),
        "/no-such-page".to_string(),
        format!("/v1/items/{}/qr.svg", items[0]),
        "/dashboard/events".to_string(),
        "/assets/nope.css".to_string(),
    ];
    let mut linked = Vec::new();
    for path in pages.iter().chain(&others) {
        let a = fetch(&server, path);
        assert_eq!(
            a.policies,
            std::slice::from_ref(&policy),
            "{path}: one policy, the spec's"
        );
        assert_eq!(a.nosniff.as_deref(), Some("nosniff"), "{path}");
        assert_eq!(a.frame_options.as_deref(), Some("DENY"), "{path}");
        if pages.contains(path) {
            assert_eq!(a.status, 200, "{path}");
            assert!(a.content_type.starts_with("text/html"), "{path}");
            let html = a.body.unwrap();
            assert_eq!(inline_code(&html), Vec::<String>::new(), "{path}");
            for href in links(&html, "link", "href")
                .into_iter()
                .chain(links(&html, "script", "src"))
            {
                linked.push((path.clone(), href));
            }
        }
    }
    assert_eq!(fetch(&server, "/assets/nope.css").status, 404);

    // The server pages' stylesheet and the dashboard's script: same origin, served, immutable.
    let assets: Vec<&(String, String)> = linked
        .iter()
        .filter(|(_, h)| h.starts_with("/assets/"))
        .collect();
    assert!(
        assets
            .iter()
            .any(|(p, h)| p == "/dashboard" && h.ends_with(".js")),
        "{linked:?}"
    );
    assert!(
        assets.iter().any(|(_, h)| h.ends_with(".css")),
        "{linked:?}"
    );
    for (page, href) in assets {
        let a = fetch(&server, href);
        assert_eq!(a.status, 200, "{page} links {href}");
        assert_eq!(
            a.cache_control.as_deref(),
            Some("public, max-age=31536000, immutable"),
            "{href}"
        );
        let want = if href.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            a.content_type.starts_with(want),
            "{href}: {}",
            a.content_type
        );
    }
    for (page, href) in &linked {
        assert!(
            !href.starts_with("http:") && !href.starts_with("https:") && !href.starts_with("//"),
            "{page} links another origin: {href}"
        );
    }
}
