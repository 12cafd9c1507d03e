//! QR rendering: payload strings to QR codes at error correction M in alphanumeric mode, as
//! SVG, PNG and terminal text; printable labels ("n/N", run title, short item id) and A4 sheets.
//!
//! Every SVG written here sets `stroke="none"` and `shape-rendering="crispEdges"` on the
//! modules (ImageMagick otherwise strokes the path and merges them), escapes its text, and
//! fits each line of text inside the label (truncating with "…"); the tests rasterize each
//! kind of SVG with resvg and read the code back with rqrr. PNGs are drawn at
//! [`LABEL_PNG_DPI`] (stated in their pHYs chunk) with text in the bundled DejaVu Sans.

mod font;
mod raster;
mod svg;
mod terminal;

use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

pub use self::raster::{captioned_png, label_png, png, LABEL_PNG_DPI, LABEL_PNG_SCALE};
pub use self::svg::{label_svg, sheet_svg, svg, SHEET_GRID};
pub use self::terminal::{terminal, TERMINAL_COLUMNS};

/// Quiet zone around every code, in modules (ISO/IEC 18004 asks for 4).
pub const QUIET_ZONE: usize = 4;

/// Why a QR code could not be made.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    /// The data does not fit a version 40 code at ECC M.
    #[error("the payload ({0} characters) does not fit a QR code at error correction M")]
    TooLong(usize),
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// Whether every byte is in the QR alphanumeric set (which is exactly the base45 alphabet).
pub fn is_alphanumeric(data: &str) -> bool {
    data.bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b" $%*+-./:".contains(&b))
}

/// Encodes at ECC M in the smallest version that fits. Payload strings (`PV1:` + base45) are
/// encoded as one alphanumeric segment; anything else falls back to the library's optimizer.
pub fn encode(data: &str) -> Result<QrCode, QrError> {
    if is_alphanumeric(data) {
        for v in 1..=40 {
            let mut bits = Bits::new(Version::Normal(v));
            if bits.push_alphanumeric_data(data.as_bytes()).is_ok()
                && bits.push_terminator(EcLevel::M).is_ok()
            {
                return QrCode::with_bits(bits, EcLevel::M)
                    .map_err(|_| QrError::TooLong(data.len()));
            }
        }
        return Err(QrError::TooLong(data.len()));
    }
    QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|_| QrError::TooLong(data.len()))
}

/// The label URL for a ledger published at `public_url`: `<public_url>/v#<payload>`, the
/// payload in the fragment (never sent to the server) with base45's space and `%` written
/// `%20` and `%25`, so the whole fragment stays in the QR alphanumeric set and is a valid URL
/// that camera apps open (spec §7.5).
pub fn label_url(public_url: &str, payload: &str) -> String {
    let mut url = format!("{}/v#", public_url.trim_end_matches('/'));
    for c in payload.chars() {
        match c {
            ' ' => url.push_str("%20"),
            '%' => url.push_str("%25"),
            c => url.push(c),
        }
    }
    url
}

/// Encodes a label URL at ECC M in the smallest version that fits, as two segments: the URL
/// up to and including `#` in byte mode, the (alphanumeric) fragment in alphanumeric mode.
pub fn encode_url(url: &str) -> Result<QrCode, QrError> {
    let Some(hash) = url.find('#') else {
        return encode(url);
    };
    let (prefix, fragment) = url.split_at(hash + 1);
    if !is_alphanumeric(fragment) {
        return encode(url);
    }
    for v in 1..=40 {
        let mut bits = Bits::new(Version::Normal(v));
        if bits.push_byte_data(prefix.as_bytes()).is_ok()
            && bits.push_alphanumeric_data(fragment.as_bytes()).is_ok()
            && bits.push_terminator(EcLevel::M).is_ok()
        {
            return QrCode::with_bits(bits, EcLevel::M).map_err(|_| QrError::TooLong(url.len()));
        }
    }
    Err(QrError::TooLong(url.len()))
}

/// The QR code of a payload string as this ledger hands it out: the label URL
/// `<public_url>/v#PV1:…` ([`label_url`], [`encode_url`]) when the ledger's public URL is known,
/// so a stock camera app opens the web verifier; the bare payload ([`encode`]) when none is, or
/// when the URL would not fit a QR code at ECC M.
pub fn encode_payload(public_url: Option<&str>, payload: &str) -> Result<QrCode, QrError> {
    match public_url {
        Some(url) => encode_url(&label_url(url, payload)).or_else(|_| encode(payload)),
        None => encode(payload),
    }
}

/// The module grid with a quiet zone of `qx` modules left and right and `qy` above and below:
/// `grid[y][x]` is true for dark.
fn grid_with(code: &QrCode, qx: usize, qy: usize) -> Vec<Vec<bool>> {
    let w = code.width();
    let colors = code.to_colors();
    let mut g = vec![vec![false; w + 2 * qx]; w + 2 * qy];
    for y in 0..w {
        for x in 0..w {
            g[y + qy][x + qx] = colors[y * w + x] == Color::Dark;
        }
    }
    g
}

/// The module grid including the full quiet zone: `grid[y][x]` is true for dark.
fn grid(code: &QrCode) -> Vec<Vec<bool>> {
    grid_with(code, QUIET_ZONE, QUIET_ZONE)
}

/// What a label says besides its code.
#[derive(Debug, Clone)]
pub struct LabelText {
    /// Edition number n.
    pub number: u64,
    /// Edition size N.
    pub size: u64,
    /// The run title.
    pub title: String,
    /// The short item id.
    pub short_id: String,
}

/// The label's layout in physical units, shared by the SVG and PNG labels so both print alike.
mod layout {
    /// Millimetres per point.
    pub const MM_PER_PT: f64 = 25.4 / 72.0;
    /// Size of the "n/N" line, in points (bold).
    pub const NUMBER_PT: f64 = 8.0;
    /// Size of the title line, in points.
    pub const TITLE_PT: f64 = 6.5;
    /// Size of the short id line, in points (monospace). At least 6 pt on every label.
    pub const SHORT_ID_PT: f64 = 6.5;
    /// Baseline-to-baseline distance, as a multiple of the font size.
    pub const LEADING: f64 = 1.2;
    /// Space below the last line, in mm.
    pub const BOTTOM_MM: f64 = 1.0;
    /// Text keeps this far from the label's left and right edges, in mm.
    pub const SIDE_MM: f64 = 1.0;
    /// Height of the text block under the code, in mm.
    pub const TEXT_BLOCK_MM: f64 =
        (NUMBER_PT + TITLE_PT + SHORT_ID_PT) * LEADING * MM_PER_PT + BOTTOM_MM;
}

#[cfg(test)]
mod tests;
