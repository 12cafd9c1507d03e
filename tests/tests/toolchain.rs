//! The workspace's `rust-version` is what the locked dependencies really need: the highest
//! `rust-version` any package in `Cargo.lock` declares for this machine's platform. A dependency
//! update that raises it fails here until `Cargo.toml` says so.
//!
//! `cargo metadata --offline` reads every package's manifest from the local cargo cache; on a
//! fresh machine that cache holds only what the build downloaded, the host's packages, so the
//! query is filtered to the host platform (issue 20.1: unfiltered, it failed there on
//! `android_system_properties`). Filtered, it needs exactly the packages the build itself
//! downloads: with a cache missing any of them, `cargo test --workspace --offline` stops at the
//! same download first (checked by removing such packages from a fresh `CARGO_HOME`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// The platform this test was built for, as `rustc -vV` names it.
fn host() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().unwrap();
    assert!(out.status.success(), "rustc -vV failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .trim()
        .to_string()
}

#[test]
fn rust_version_is_what_the_locked_dependencies_need() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let host = host();
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let mut ours = Vec::new();
    let mut needed = ((0, 0, 0), String::new());
    for package in metadata["packages"].as_array().unwrap() {
        let Some(rust_version) = package["rust_version"].as_str() else {
            continue;
        };
        let name = format!("{} {}", package["name"], package["version"]);
        if members.contains(&package["id"].as_str().unwrap()) {
            ours.push((version(rust_version), name));
        } else if version(rust_version) > needed.0 {
            needed = (version(rust_version), name);
        }
    }
    assert!(
        !ours.is_empty(),
        "the workspace members declare rust-version"
    );
    for (declared, name) in &ours {
        assert_eq!(
            *declared, needed.0,
            "{name} declares rust-version {declared:?}, but {} needs {:?}: set \
             [workspace.package] rust-version in Cargo.toml",
            needed.1, needed.0
        );
    }
}
