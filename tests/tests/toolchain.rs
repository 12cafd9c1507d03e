//! The workspace's `rust-version` is what the locked dependencies really need: the highest
//! `rust-version` any package in `Cargo.lock` declares. A dependency update that raises it
//! fails here until `Cargo.toml` says so.
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

#[test]
fn rust_version_is_what_the_locked_dependencies_need() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
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
