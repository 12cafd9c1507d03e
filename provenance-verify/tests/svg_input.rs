//! `--image` with an SVG label (what `provenance mint --labels` writes beside the PNG): refused
//! with its own code, `input.svg`, and a message naming the commands that write a PNG.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use std::process::Command;

use common::*;
use provenance_verify::image_input::CODE_INPUT_SVG;
use provenance_verify::{exit, payload_from_image, ImageInputError};
use serde_json::Value;

/// An SVG label as the `provenance` CLI writes it (a code's path, then the text).
const LABEL_SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 29 40\" \
width=\"19.64mm\" height=\"27.09mm\"><rect width=\"29\" height=\"40\" fill=\"#fff\" \
stroke=\"none\"/><path fill=\"#000\" stroke=\"none\" shape-rendering=\"crispEdges\" \
d=\"M4 4h7v1h-7z\"/><text x=\"14.5\" y=\"32\">2/3</text></svg>\n";

#[test]
fn svg_is_refused_with_its_own_code_and_the_png_commands() {
    for bytes in [
        LABEL_SVG.as_bytes().to_vec(),
        format!("\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{LABEL_SVG}").into_bytes(),
        format!("\n  {LABEL_SVG}").into_bytes(),
    ] {
        let error = payload_from_image(&bytes).unwrap_err();
        assert_eq!(error, ImageInputError::Svg);
        assert_eq!(error.code(), CODE_INPUT_SVG);
        assert_eq!(CODE_INPUT_SVG, "input.svg");
        let message = error.to_string();
        assert!(message.contains("SVG"), "{message}");
        assert!(
            message.contains("provenance qr ITEM --out item.png"),
            "{message}"
        );
        assert!(message.contains("provenance mint --labels"), "{message}");
    }
    // Other text that is not an image stays `input.unreadable`.
    let error = payload_from_image(b"<html><body>label</body></html>").unwrap_err();
    assert_eq!(error.code(), provenance_verify::CODE_INPUT_UNREADABLE);
}

#[test]
fn the_binary_names_the_png_commands_for_an_svg_label() {
    let dir = tempfile::tempdir().unwrap();
    let trust = dir.path().join("trust.cbor");
    std::fs::write(&trust, trust_bytes()).unwrap();
    let svg = dir.path().join("2-abcdefgh.svg");
    std::fs::write(&svg, LABEL_SVG).unwrap();
    let run = |json: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_provenance-verify"));
        cmd.arg("--trust")
            .arg(&trust)
            .args(["--now", "2026-06-01", "--image"])
            .arg(&svg);
        if json {
            cmd.arg("--json");
        }
        cmd.output().unwrap()
    };
    let out = run(true);
    assert_eq!(out.status.code(), Some(exit::UNREADABLE));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "unreadable");
    assert_eq!(json["code"], "input.svg");
    let out = run(false);
    assert_eq!(out.status.code(), Some(exit::UNREADABLE));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("provenance qr ITEM --out item.png"), "{text}");
}
