//! QR rendering: payload strings to QR codes at error correction M in alphanumeric mode, as
//! SVG, PNG and terminal text; printable labels ("n/N", run title, short item id) and A4 sheets.

use std::io::Cursor;

use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

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

/// The module grid including the quiet zone: `grid[y][x]` is true for dark.
fn grid(code: &QrCode) -> Vec<Vec<bool>> {
    let w = code.width();
    let colors = code.to_colors();
    let size = w + 2 * QUIET_ZONE;
    let mut g = vec![vec![false; size]; size];
    for y in 0..w {
        for x in 0..w {
            g[y + QUIET_ZONE][x + QUIET_ZONE] = colors[y * w + x] == Color::Dark;
        }
    }
    g
}

/// SVG path data for the dark modules, offset by (dx, dy) modules.
fn module_path(code: &QrCode) -> String {
    let mut path = String::new();
    for (y, row) in grid(code).iter().enumerate() {
        let mut x = 0;
        while x < row.len() {
            if row[x] {
                let start = x;
                while x < row.len() && row[x] {
                    x += 1;
                }
                path.push_str(&format!("M{start} {y}h{}v1h-{}z", x - start, x - start));
            } else {
                x += 1;
            }
        }
    }
    path
}

/// A bare QR code as SVG (one unit per module, quiet zone included).
pub fn svg(code: &QrCode) -> String {
    let size = code.width() + 2 * QUIET_ZONE;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"{px}\" height=\"{px}\" shape-rendering=\"crispEdges\">\
<rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{}\"/></svg>\n",
        module_path(code),
        px = size * 8,
    )
}

fn gray_qr(code: &QrCode, scale: u32, extra_height: u32) -> image::GrayImage {
    let g = grid(code);
    let size = g.len() as u32 * scale;
    let mut img = image::GrayImage::from_pixel(size, size + extra_height, image::Luma([255]));
    for (y, row) in g.iter().enumerate() {
        for (x, dark) in row.iter().enumerate() {
            if *dark {
                for py in 0..scale {
                    for px in 0..scale {
                        img.put_pixel(
                            x as u32 * scale + px,
                            y as u32 * scale + py,
                            image::Luma([0]),
                        );
                    }
                }
            }
        }
    }
    img
}

fn encode_png(img: &image::GrayImage) -> Result<Vec<u8>, QrError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| QrError::Png(e.to_string()))?;
    Ok(out.into_inner())
}

/// A bare QR code as PNG, `scale` pixels per module, quiet zone included.
pub fn png(code: &QrCode, scale: u32) -> Result<Vec<u8>, QrError> {
    encode_png(&gray_qr(code, scale.max(1), 0))
}

/// The code as terminal text: two modules per character cell, light modules drawn as blocks
/// so it scans from a dark-background terminal.
pub fn terminal(code: &QrCode) -> String {
    let g = grid(code);
    let mut out = String::new();
    for pair in g.chunks(2) {
        for x in 0..pair[0].len() {
            let top = !pair[0][x];
            let bottom = pair.get(1).map_or(true, |r| !r[x]);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
    }
    out
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

fn xml_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c if c.is_control() => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// The inner SVG elements of a label and its (width, height) in module units.
fn label_body(code: &QrCode, text: &LabelText) -> (String, usize, usize) {
    let size = code.width() + 2 * QUIET_ZONE;
    let height = size + 10;
    let mid = size as f64 / 2.0;
    let body = format!(
        "<rect width=\"{size}\" height=\"{height}\" fill=\"#fff\"/>\
<path fill=\"#000\" shape-rendering=\"crispEdges\" d=\"{path}\"/>\
<g font-family=\"Helvetica, Arial, sans-serif\" text-anchor=\"middle\" fill=\"#000\">\
<text x=\"{mid}\" y=\"{y1}\" font-size=\"3.2\" font-weight=\"bold\">{n}/{total}</text>\
<text x=\"{mid}\" y=\"{y2}\" font-size=\"2.4\">{title}</text>\
<text x=\"{mid}\" y=\"{y3}\" font-size=\"2\" font-family=\"monospace\">{short}</text></g>",
        path = module_path(code),
        y1 = size as f64 + 1.2,
        y2 = size as f64 + 4.6,
        y3 = size as f64 + 7.8,
        n = text.number,
        total = text.size,
        title = xml_escape(&text.title),
        short = xml_escape(&text.short_id),
    );
    (body, size, height)
}

/// A printable label as SVG: the code, "n/N", the run title and the short item id.
pub fn label_svg(code: &QrCode, text: &LabelText) -> String {
    let (body, w, h) = label_body(code, text);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{}\" height=\"{}\">{body}</svg>\n",
        w * 8,
        h * 8
    )
}

/// Pixels per module in label PNGs.
pub const LABEL_PNG_SCALE: u32 = 8;

/// A printable label as PNG (8 px per module): the code, then "n/N  short id" and the title
/// in a built-in 5x7 bitmap font (letters shown in capitals).
pub fn label_png(code: &QrCode, text: &LabelText) -> Result<Vec<u8>, QrError> {
    let scale = LABEL_PNG_SCALE;
    let pixel = 3u32;
    let line = 9 * pixel;
    let qr_size = (code.width() + 2 * QUIET_ZONE) as u32 * scale;
    let mut img = gray_qr(code, scale, 2 * line + 2 * pixel);
    let lines = [
        format!("{}/{}  {}", text.number, text.size, text.short_id),
        text.title.clone(),
    ];
    for (i, s) in lines.iter().enumerate() {
        draw_text(&mut img, s, qr_size / 2, qr_size + i as u32 * line, pixel);
    }
    encode_png(&img)
}

/// Draws `text` centred on `cx` with its top at `top`, each font pixel `p` image pixels.
fn draw_text(img: &mut image::GrayImage, text: &str, cx: u32, top: u32, p: u32) {
    let advance = 6 * p;
    let max_chars = (img.width() / advance).saturating_sub(1) as usize;
    let mut chars: Vec<char> = text.chars().collect();
    if chars.len() > max_chars {
        chars.truncate(max_chars.saturating_sub(2));
        chars.extend(['.', '.']);
    }
    let width = chars.len() as u32 * advance;
    let left = cx.saturating_sub(width / 2);
    for (i, c) in chars.iter().enumerate() {
        let rows = glyph(*c);
        for (ry, bits) in rows.iter().enumerate() {
            for rx in 0..5u32 {
                if bits & (0x10 >> rx) != 0 {
                    for py in 0..p {
                        for px in 0..p {
                            let x = left + i as u32 * advance + rx * p + px;
                            let y = top + ry as u32 * p + py;
                            if x < img.width() && y < img.height() {
                                img.put_pixel(x, y, image::Luma([0]));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A 5x7 glyph, one row per byte, bit 4 = leftmost column.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        ' ' => [0; 7],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08],
        '\'' => [0x0C, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00],
        '"' => [0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '#' => [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A],
        '&' => [0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D],
        '!' => [0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04],
        '?' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
        '+' => [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        _ => [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F],
    }
}

/// Labels per A4 sheet: columns and rows.
pub const SHEET_GRID: (usize, usize) = (4, 5);

/// One A4 page (210 × 297 mm) holding up to 20 labels in a 4 × 5 grid.
pub fn sheet_svg(labels: &[(QrCode, LabelText)]) -> String {
    let (cols, rows) = SHEET_GRID;
    let margin = 10.0;
    let cell_w = (210.0 - 2.0 * margin) / cols as f64;
    let cell_h = (297.0 - 2.0 * margin) / rows as f64;
    let mut out = String::from(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"210mm\" height=\"297mm\" viewBox=\"0 0 210 297\">\
<rect width=\"210\" height=\"297\" fill=\"#fff\"/>",
    );
    for (i, (code, text)) in labels.iter().take(cols * rows).enumerate() {
        let (body, w, h) = label_body(code, text);
        let x = margin + (i % cols) as f64 * cell_w + 1.5;
        let y = margin + (i / cols) as f64 * cell_h + 1.5;
        out.push_str(&format!(
            "<svg x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{:.2}\" viewBox=\"0 0 {w} {h}\">{body}</svg>",
            cell_w - 3.0,
            cell_h - 3.0
        ));
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn payload_strings_use_one_alphanumeric_segment() {
        // 200 bytes of CBOR in base45 is 300 characters + "PV1:": version 11 at ECC M in
        // alphanumeric mode (capacity 331), while byte mode would need version 14.
        let data = format!("PV1:{}", "A1 $%*+-./:".repeat(28));
        assert!(data.len() > 300 && data.len() <= 331);
        assert!(is_alphanumeric(&data));
        let code = encode(&data).unwrap();
        assert_eq!(code.version(), Version::Normal(11));
        assert_eq!(code.error_correction_level(), EcLevel::M);
        assert!(!is_alphanumeric("pv1:lower"));
        assert!(encode("pv1:lower").is_ok());
        assert!(encode(&"A".repeat(3392)).is_err());
        assert!(encode(&"A".repeat(3391)).is_ok());
    }

    #[test]
    fn renders_have_quiet_zone_and_text() {
        let code = encode("PV1:HELLO").unwrap();
        let size = code.width() + 8;
        assert!(svg(&code).contains(&format!("viewBox=\"0 0 {size} {size}\"")));
        let text = LabelText {
            number: 2,
            size: 3,
            title: "Eclipse <Pin>".into(),
            short_id: "abcdefgh".into(),
        };
        let label = label_svg(&code, &text);
        assert!(
            label.contains("2/3")
                && label.contains("Eclipse &lt;Pin&gt;")
                && label.contains("abcdefgh")
        );
        let png = label_png(&code, &text).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        assert_eq!(img.width(), size as u32 * LABEL_PNG_SCALE);
        assert!(img.height() > img.width());
        // The quiet zone is white.
        assert!((0..32).all(|i| img.get_pixel(i, i).0[0] == 255));
        assert_eq!(terminal(&code).lines().count(), size.div_ceil(2));
        let sheet = sheet_svg(&[(code, text)]);
        assert!(sheet.contains("210mm") && sheet.matches("<svg").count() == 2);
    }
}
