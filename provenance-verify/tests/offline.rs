//! The verifier is offline and small: no HTTP, TLS, async runtime or database crate anywhere
//! in its normal dependency tree (DESIGN §2 invariant 2).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::process::Command;

const FORBIDDEN: &[&str] = &[
    "actix",
    "hyper",
    "reqwest",
    "ureq",
    "tokio",
    "rustls",
    "native-tls",
    "openssl",
    "rusqlite",
    "libsqlite3",
    "h2",
    "mio",
];

#[test]
fn no_network_or_database_crates_in_the_dependency_tree() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "provenance-verify",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tree.contains("provenance-core"), "unexpected tree: {tree}");
    let mut found = Vec::new();
    for line in tree.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        // Match whole crate names and their families (actix-web, tokio-util, hyper-util, ...).
        if FORBIDDEN
            .iter()
            .any(|f| name == *f || name.starts_with(&format!("{f}-")))
        {
            found.push(line.to_string());
        }
    }
    assert!(
        found.is_empty(),
        "network/database crates in provenance-verify: {found:?}"
    );
}
