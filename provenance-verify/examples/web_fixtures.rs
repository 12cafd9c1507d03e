//! Fixtures for the web verifier's browser tests (`provenance-verify/web/tests/`), built with
//! the same core API as the verifier's own tests (`tests/common`):
//!
//! ```sh
//! cargo run -p provenance-verify --example web_fixtures -- DIR
//! cargo run -p provenance-verify --example web_fixtures -- prove owner|stranger NONCE
//! cargo run -p provenance-verify --example web_fixtures -- y4m LABEL.png OUT.y4m
//! ```
//!
//! The first writes `DIR/fixtures.json` (trust list, operator key, time, a label, its label URL,
//! a confirmed 4-record history and a confirmed 10-record living payload), `DIR/trust.cbor`,
//! `DIR/label.png` (the label URL's QR code on a card, as a phone camera would see it) and
//! `DIR/label.y4m` (that picture as a few frames of video for Chromium's fake camera). `prove`
//! prints the owner challenge answer for the history's item, as `provenance prove` would, by
//! its current owner or by a stranger. `y4m` turns any label PNG (e.g. one written by
//! `provenance mint --labels`) into such a video.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    clippy::panic,
    clippy::cast_possible_truncation
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;

use common::*;
use image::{GrayImage, Luma};
use provenance_core::challenge;

/// The camera frame size: Chromium's fake camera takes the size from the file.
const FRAME: (u32, u32) = (640, 480);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["prove", who, nonce] => {
            let key = match *who {
                "owner" => owner2(),
                "stranger" => stranger(),
                other => panic!("prove owner|stranger NONCE, not {other}"),
            };
            println!(
                "{}",
                challenge::prove(&key, &history().item, nonce.as_bytes()).unwrap()
            );
        }
        ["y4m", png, out] => {
            let label = image::open(png).expect("a PNG").into_luma8();
            write_y4m(&on_a_table(&label), Path::new(out));
        }
        [dir] => write_fixtures(Path::new(dir)),
        _ => panic!("usage: web_fixtures DIR | prove owner|stranger NONCE | y4m PNG OUT"),
    }
}

fn write_fixtures(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let label = label();
    let label_url = format!(
        "https://ledger.example/v#{}",
        label.replace('%', "%25").replace(' ', "%20")
    );
    let fixtures = serde_json::json!({
        "trust_hex": hex::encode(trust_bytes()),
        "operator": operator().public_key().to_base64url(),
        "now": now().0,
        "label": label,
        "label_url": label_url,
        "history": history().encode_confirmed(),
        "history_item": history().item.to_base32(),
        "living10": history10().encode_confirmed(),
    });
    std::fs::write(
        dir.join("fixtures.json"),
        serde_json::to_string_pretty(&fixtures).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("trust.cbor"), trust_bytes()).unwrap();
    let card = qr_card(&label_url);
    card.save(dir.join("label.png")).unwrap();
    write_y4m(&on_a_table(&card), &dir.join("label.y4m"));
}

/// The QR code of `text` at 4 pixels a module, in a white card with a 4-module quiet zone.
fn qr_card(text: &str) -> GrayImage {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).unwrap();
    code.render::<Luma<u8>>()
        .module_dimensions(4, 4)
        .quiet_zone(true)
        .build()
}

/// `label` centred on a grey table in a camera-sized frame (scaled down if it is larger).
fn on_a_table(label: &GrayImage) -> GrayImage {
    let (w, h) = FRAME;
    let label = if label.width() > w - 40 || label.height() > h - 40 {
        let scale = f64::min(
            f64::from(w - 40) / f64::from(label.width()),
            f64::from(h - 40) / f64::from(label.height()),
        );
        image::imageops::resize(
            label,
            (f64::from(label.width()) * scale) as u32,
            (f64::from(label.height()) * scale) as u32,
            image::imageops::FilterType::Triangle,
        )
    } else {
        label.clone()
    };
    let mut frame = GrayImage::from_pixel(w, h, Luma([140]));
    image::imageops::overlay(
        &mut frame,
        &label,
        i64::from((w - label.width()) / 2),
        i64::from((h - label.height()) / 2),
    );
    frame
}

/// A few identical frames of 4:2:0 video (grey: chroma at 128), the YUV4MPEG2 format that
/// Chromium's `--use-file-for-fake-video-capture` plays in a loop.
fn write_y4m(frame: &GrayImage, out: &Path) {
    let (w, h) = frame.dimensions();
    let mut bytes = format!("YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    let chroma = vec![128u8; (w.div_ceil(2) * h.div_ceil(2) * 2) as usize];
    for _ in 0..5 {
        bytes.extend_from_slice(b"FRAME\n");
        bytes.extend_from_slice(frame.as_raw());
        bytes.extend_from_slice(&chroma);
    }
    std::fs::write(out, bytes).unwrap();
}
