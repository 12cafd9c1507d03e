//! The `provenance` CLI's help, pinned: every command's `--help` (found by walking the
//! `Commands:` lists from the top) is compared with `tests/snapshots/help/<command>.txt`, so a
//! refactoring of the CLI shows any change it makes to what users read. After an intended
//! change: `UPDATE_SNAPSHOTS=1 cargo test -p provenance-e2e --test cli_snapshots`, and review
//! the diff.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

fn snapshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots/help")
}

fn help(path: &[String]) -> String {
    let out = Command::new(common::bin())
        .args(path)
        .arg("--help")
        .env_remove("PROVENANCE_SERVER")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{path:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a help text lists (its `Commands:` section), without `help`.
fn subcommands(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Every command's help text, by its path (`provenance`, `trust add`, ...).
fn every_help() -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut queue: Vec<Vec<String>> = vec![vec![]];
    while let Some(path) = queue.pop() {
        let text = help(&path);
        for sub in subcommands(&text) {
            let mut next = path.clone();
            next.push(sub);
            queue.push(next);
        }
        let name = if path.is_empty() {
            "provenance".to_string()
        } else {
            path.join(" ")
        };
        found.insert(name, text);
    }
    found
}

#[test]
fn every_commands_help_is_as_pinned() {
    let helps = every_help();
    assert!(helps.len() > 20, "{:?}", helps.keys());
    let dir = snapshot_dir();
    let file_of = |name: &str| dir.join(format!("{}.txt", name.replace(' ', "_")));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &helps {
            std::fs::write(file_of(name), text).unwrap();
        }
        return;
    }
    let mut stale: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    stale.retain(|f| !helps.keys().any(|name| file_of(name).ends_with(f)));
    assert!(
        stale.is_empty(),
        "snapshots of commands that no longer exist: {stale:?} \
         (UPDATE_SNAPSHOTS=1 cargo test -p provenance-e2e --test cli_snapshots)"
    );
    for (name, text) in &helps {
        let pinned = std::fs::read_to_string(file_of(name)).unwrap_or_else(|_| {
            panic!(
                "no snapshot of `{name} --help`: UPDATE_SNAPSHOTS=1 cargo test -p \
                 provenance-e2e --test cli_snapshots, and review it"
            )
        });
        assert!(
            pinned == *text,
            "`{name} --help` changed (UPDATE_SNAPSHOTS=1 cargo test -p provenance-e2e --test \
             cli_snapshots, and review the diff)\n--- pinned\n{pinned}\n--- now\n{text}"
        );
    }
}
