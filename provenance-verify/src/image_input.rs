//! Reading a payload from a photo or scan of a QR label (PNG or JPEG).
//!
//! The image is decoded with size limits, converted to grayscale, and every QR grid `rqrr`
//! finds is decoded; the first one that holds a `PV1:` payload (bare, or in a label URL's
//! fragment) wins.
//!
//! SVG (what `provenance mint --labels` and `provenance qr --out x.svg` also write) is not
//! rasterized here, to keep the verifier small: it is recognised and refused with
//! [`CODE_INPUT_SVG`] and a message naming the commands that write a PNG.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use provenance_core::PAYLOAD_PREFIX;

use crate::{CODE_INPUT_NO_QR, CODE_INPUT_UNREADABLE};

/// Largest image file accepted, in bytes.
pub const MAX_IMAGE_FILE_BYTES: usize = 32 << 20;
/// Largest image side accepted, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 12_000;
/// Most memory the image decoder may allocate, in bytes.
pub const MAX_IMAGE_ALLOC: u64 = 256 << 20;

/// Code for an SVG given as an image: the verifier reads PNG and JPEG only. The verifier's own.
pub const CODE_INPUT_SVG: &str = "input.svg";

/// Why no payload could be read from an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageInputError {
    /// Too large, not PNG/JPEG, or corrupt.
    Undecodable(String),
    /// An SVG (or other XML) file: not rasterized; the message names the PNG alternatives.
    Svg,
    /// The image decoded, but no QR code in it could be read.
    NoQr,
    /// QR codes were read, but none holds a provenance payload (their text, first one).
    NotAPayload(String),
}

impl ImageInputError {
    /// The stable code: [`CODE_INPUT_UNREADABLE`], [`CODE_INPUT_SVG`] or [`CODE_INPUT_NO_QR`].
    pub fn code(&self) -> &'static str {
        match self {
            ImageInputError::Undecodable(_) => CODE_INPUT_UNREADABLE,
            ImageInputError::Svg => CODE_INPUT_SVG,
            ImageInputError::NoQr | ImageInputError::NotAPayload(_) => CODE_INPUT_NO_QR,
        }
    }
}

impl std::fmt::Display for ImageInputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageInputError::Undecodable(why) => {
                write!(f, "the image could not be decoded as PNG or JPEG: {why}")
            }
            ImageInputError::Svg => f.write_str(
                "the image is SVG, and the verifier reads PNG or JPEG only: use the label's PNG \
                 (`provenance mint --labels DIR` writes `<n>-<short id>.png` beside each .svg), \
                 write one with `provenance qr ITEM --out item.png`, or convert the SVG to PNG",
            ),
            ImageInputError::NoQr => f.write_str(
                "no readable QR code was found in the image (retake the photo: flat, sharp, \
                 well lit, the whole code in frame)",
            ),
            ImageInputError::NotAPayload(text) => {
                let shown: String = text.chars().take(40).collect();
                write!(
                    f,
                    "the image holds a QR code, but not a provenance label (it reads \"{shown}\")"
                )
            }
        }
    }
}

impl std::error::Error for ImageInputError {}

/// Finds the provenance payload string in a PNG or JPEG image.
pub fn payload_from_image(bytes: &[u8]) -> Result<String, ImageInputError> {
    if bytes.len() > MAX_IMAGE_FILE_BYTES {
        return Err(ImageInputError::Undecodable(format!(
            "{} bytes, over the {MAX_IMAGE_FILE_BYTES}-byte limit",
            bytes.len()
        )));
    }
    if looks_like_svg(bytes) {
        return Err(ImageInputError::Svg);
    }
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageInputError::Undecodable(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_IMAGE_ALLOC);
    reader.limits(limits);
    let gray = reader
        .decode()
        .map_err(|e| ImageInputError::Undecodable(e.to_string()))?
        .into_luma8();
    // rqrr is not written for hostile images; a panic inside it must not crash the verifier.
    let contents = catch_unwind(AssertUnwindSafe(|| {
        let mut prepared = rqrr::PreparedImage::prepare(gray);
        prepared
            .detect_grids()
            .iter()
            .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
            .collect::<Vec<String>>()
    }))
    .map_err(|_| ImageInputError::NoQr)?;
    // A bare `PV1:` string, or a label URL whose fragment holds one (spec §7.5).
    if let Some(payload) = contents
        .iter()
        .map(|text| crate::payload_from_text(text))
        .find(|text| text.starts_with(PAYLOAD_PREFIX))
    {
        return Ok(payload);
    }
    match contents.into_iter().next() {
        Some(text) => Err(ImageInputError::NotAPayload(text)),
        None => Err(ImageInputError::NoQr),
    }
}

/// Whether the file starts (after an optional UTF-8 byte order mark and white space) like an
/// SVG or other XML document: `<svg`, `<?xml` or `<!DOCTYPE svg`.
fn looks_like_svg(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let head = &bytes[start..bytes.len().min(start + 14)];
    [&b"<svg"[..], b"<?xml", b"<!doctype svg"]
        .iter()
        .any(|p| head.len() >= p.len() && head[..p.len()].eq_ignore_ascii_case(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_is_recognised_by_its_start() {
        for svg in [
            &b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"[..],
            b"<?xml version=\"1.0\"?><svg/>",
            b"\xEF\xBB\xBF \n\t<SVG>",
            b"<!DOCTYPE svg PUBLIC>",
        ] {
            assert!(looks_like_svg(svg), "{}", String::from_utf8_lossy(svg));
        }
        for other in [
            &b""[..],
            b"   ",
            b"<sv",
            b"<html>",
            b"\x89PNG\r\n\x1a\n<svg",
            b"\xFF\xD8\xFF<svg",
        ] {
            assert!(!looks_like_svg(other), "{}", String::from_utf8_lossy(other));
        }
    }
}
