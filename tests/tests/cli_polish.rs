//! Issue 16, the command line a first-time maker meets: `provenance payload`, `trust add`
//! without `--operator-key`, `mint --count 0` and past the run size, the mint summary as
//! ranges, usage lines with `PROVENANCE_SERVER` set, and one spelling of the log root.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::process::Command;

use common::{bin, verifier_bin, Server};
use serde_json::Value;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_first_time_maker_is_not_tripped_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let server = Server::start(&dir, &[]);
    server.ok(&["keygen", "-o", "maker.pem"]);
    // `--operator-key` defaults to ledger.pem, as its help says.
    server.ok(&[
        "trust",
        "add",
        "--public",
        "maker.pem",
        "--role",
        "maker",
        "--name",
        "Maker",
    ]);
    server.ok(&["trust", "export", "-o", "trust.cbor"]);
    let run = server
        .ok(&[
            "run",
            "create",
            "-k",
            "maker.pem",
            "--title",
            "T",
            "--microfactory",
            "M",
            "--size",
            "3",
        ])
        .trim()
        .to_string();

    // --count 0 is a usage error (exit 2), not "minted 0".
    let out = server.cli(&["mint", "-k", "maker.pem", "--run", &run, "-n", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--count"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("minted"), "{}", stderr(&out));

    // The summary names ranges.
    let out = server.cli(&["mint", "-k", "maker.pem", "--run", &run, "-n", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("minted 3 of \"T\" (editions 1-3 of 3)"),
        "{}",
        stderr(&out)
    );
    let item = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();

    // Past the run size: the rule's own code, and no success summary.
    let out = server.cli(&["mint", "-k", "maker.pem", "--run", &run]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("[run.edition_over_cap]"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("minted"), "{}", stderr(&out));

    // `provenance payload`: the exact strings, which the verifier reads as the living payload
    // and as the label.
    for (args, basis) in [
        (vec!["payload", item.as_str()], "head_statement"),
        (vec!["payload", item.as_str(), "--label"], "label"),
    ] {
        let text = server.ok(&args);
        assert!(text.starts_with("PV1:") && text.ends_with('\n'), "{text}");
        let out = Command::new(verifier_bin())
            .current_dir(&dir)
            .args(["--trust", "trust.cbor", "--json", text.trim()])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["story"]["freshness"]["basis"], basis, "{report}");
        assert_eq!(report["story"]["item"], item.as_str());
    }
    let json = server.ok_json(&["payload", &item]);
    assert_eq!(json["form"], "living");

    // One spelling of the log root: the text output's root is the note's base64 root line.
    let note_path = dir.join("checkpoint.txt");
    let text = server.ok(&["log", "checkpoint", "--save", note_path.to_str().unwrap()]);
    let note = std::fs::read_to_string(&note_path).unwrap();
    let root = note.lines().nth(2).unwrap();
    assert!(text.contains(&format!("root {root}")), "{text} / {note}");
}

#[test]
fn usage_lines_do_not_demand_server_when_the_environment_gives_it() {
    let out = Command::new(bin())
        .args(["mint"])
        .env("PROVENANCE_SERVER", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let usage = stderr(&out);
    let line = usage.lines().find(|l| l.starts_with("Usage:")).unwrap();
    assert_eq!(line, "Usage: provenance mint --key <FILE.pem> --run <RUN>");

    // The environment is still honoured: this ledger does not answer.
    let out = Command::new(bin())
        .args(["show", "aaaaaaaaaaaaaaaaaaaaaaaaaa"])
        .env("PROVENANCE_SERVER", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("127.0.0.1:9"), "{}", stderr(&out));

    // Every subcommand's help has examples.
    for args in [
        vec!["serve"],
        vec!["keygen"],
        vec!["trust", "add"],
        vec!["run", "create"],
        vec!["mint"],
        vec!["repair"],
        vec!["transfer"],
        vec!["badge"],
        vec!["report"],
        vec!["show"],
        vec!["qr"],
        vec!["payload"],
        vec!["prove"],
        vec!["export"],
        vec!["log", "checkpoint"],
        vec!["log", "verify"],
    ] {
        let out = Command::new(bin())
            .args(&args)
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Examples:\n  "), "{args:?}: {help}");
    }
}

/// A base64url key or answer may start with `-`: it is a value, not a flag.
#[test]
fn values_starting_with_a_dash_are_values() {
    let out = std::process::Command::new(bin())
        .args(["log", "checkpoint", "--server", "http://127.0.0.1:9"])
        .args([
            "--ledger-key",
            "-gh2ab16uCx6H8Sc53ZYQYAin6vhG5z3dH55B6-iI8s",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("unexpected argument"), "{err}");
}
