//! The web verifier's QR reader (feature `wasm-scan`): the texts of the QR codes in a grey
//! camera frame or photo, with rqrr, for browsers without `BarcodeDetector` (desktop Linux and
//! Windows Chromium, Firefox, Safari). Built as its own small wasm module
//! (`scripts/build-wasm.sh`), loaded only when the camera or a photo is used, so the
//! verifier's module stays small. It only reads: the page passes what it reads to the
//! verifier.

use provenance_core::PAYLOAD_PREFIX;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::payload_from_text;

/// The largest frame side [`decode_qr`] accepts, in pixels (the page scales camera frames and
/// photos down to this; larger frames only cost time).
pub const MAX_FRAME_SIDE: u32 = 2048;

/// The texts of the QR codes found in a `width` × `height` grey image (`luma`: one byte per
/// pixel, rows top to bottom), as a JSON array of strings, provenance payloads first (a label
/// URL is given as its `PV1:` payload). `[]` when nothing is found, when `luma` is not
/// `width * height` bytes, or when a side is 0 or over [`MAX_FRAME_SIDE`].
#[wasm_bindgen]
pub fn decode_qr(width: u32, height: u32, luma: &[u8]) -> String {
    serde_json::to_string(&qr_texts(width, height, luma)).unwrap_or_else(|_| "[]".to_string())
}

/// [`decode_qr`] before JSON.
pub fn qr_texts(width: u32, height: u32, luma: &[u8]) -> Vec<String> {
    if width == 0 || height == 0 || width > MAX_FRAME_SIDE || height > MAX_FRAME_SIDE {
        return Vec::new();
    }
    let (w, h) = (width as usize, height as usize);
    if w.checked_mul(h) != Some(luma.len()) {
        return Vec::new();
    }
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        luma.get(y * w + x).copied().unwrap_or(255)
    });
    let mut texts: Vec<String> = prepared
        .detect_grids()
        .iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .map(|text| {
            let payload = payload_from_text(&text);
            if payload.starts_with(PAYLOAD_PREFIX) {
                payload
            } else {
                text
            }
        })
        .collect();
    texts.sort_by_key(|text| !text.starts_with(PAYLOAD_PREFIX));
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` as a QR code, 4 pixels per module with a 4-module quiet zone: (side, pixels).
    fn draw(text: &str) -> (u32, Vec<u8>) {
        let code =
            qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).expect("fits");
        let n = code.width();
        let side = (n + 8) * 4;
        let mut luma = vec![255u8; side * side];
        for (i, colour) in code.to_colors().into_iter().enumerate() {
            let (mx, my) = (i % n + 4, i / n + 4);
            for dy in 0..4 {
                for dx in 0..4 {
                    if colour == qrcode::Color::Dark {
                        luma[(my * 4 + dy) * side + mx * 4 + dx] = 0;
                    }
                }
            }
        }
        (u32::try_from(side).expect("small"), luma)
    }

    #[test]
    fn a_label_url_is_read_as_its_payload_and_other_text_as_it_is() {
        let (side, luma) = draw("https://ledger.example/v#PV1:6BFOXN%25TS3DH%20PVO");
        assert_eq!(decode_qr(side, side, &luma), r#"["PV1:6BFOXN%TS3DH PVO"]"#);
        let (side, luma) = draw("an answer, not a payload");
        assert_eq!(
            decode_qr(side, side, &luma),
            r#"["an answer, not a payload"]"#
        );
    }

    #[test]
    fn frames_of_the_wrong_size_give_nothing() {
        let (side, luma) = draw("PV1:AB");
        assert_eq!(decode_qr(side, side + 1, &luma), "[]");
        assert_eq!(decode_qr(side, side - 1, &luma), "[]");
        assert_eq!(decode_qr(0, 0, &[]), "[]");
        assert_eq!(decode_qr(MAX_FRAME_SIDE + 1, 1, &[0; 2049]), "[]");
        assert_eq!(decode_qr(u32::MAX, u32::MAX, &[0; 16]), "[]");
        // A blank frame and noise: nothing found.
        assert_eq!(decode_qr(64, 64, &[255; 64 * 64]), "[]");
        let noise: Vec<u8> = (0..64u32 * 64)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        assert_eq!(decode_qr(64, 64, &noise), "[]");
    }
}
