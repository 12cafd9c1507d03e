//! SVG output: the bare code, the printable label and the A4 sheet of labels.
//!
//! Every dark module is part of one `<path fill="#000" stroke="none"
//! shape-rendering="crispEdges">`: renderers that stroke paths by default (ImageMagick's)
//! would otherwise merge neighbouring modules. Text is XML-escaped and fitted to the label.

use qrcode::QrCode;

use super::font::{estimate_em, truncate_to_fit, Family};
use super::layout::{LEADING, MM_PER_PT, NUMBER_PT, SHORT_ID_PT, SIDE_MM, TEXT_BLOCK_MM, TITLE_PT};
use super::raster::LABEL_MODULE_MM;
use super::{grid, LabelText, QUIET_ZONE};

/// Attributes of the path holding every dark module.
const MODULE_STYLE: &str = "fill=\"#000\" stroke=\"none\" shape-rendering=\"crispEdges\"";

/// SVG path data for the dark modules, one unit per module, quiet zone included.
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
<rect width=\"{size}\" height=\"{size}\" fill=\"#fff\" stroke=\"none\"/><path {MODULE_STYLE} d=\"{}\"/></svg>\n",
        module_path(code),
        px = size * 8,
    )
}

/// `s` with the XML specials escaped and the characters XML 1.0 forbids (controls,
/// U+FFFE, U+FFFF) replaced by spaces.
pub(super) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A label's inner SVG elements, in module units.
pub(super) struct LabelBody {
    /// The elements (no enclosing `<svg>`).
    pub svg: String,
    /// Width, in module units.
    pub width: f64,
    /// Height, in module units.
    pub height: f64,
}

/// One fitted line of label text, in module units.
struct Line {
    text: String,
    size: f64,
    baseline: f64,
    family: Family,
    bold: bool,
}

/// The label's three lines ("n/N", title, short id) under a code `size` modules wide, fitted
/// to its width when one module is `module_mm` millimetres. Font sizes are fixed in points, so
/// every label prints its text alike whatever the code's version.
fn label_lines(text: &LabelText, size: f64, module_mm: f64) -> Vec<Line> {
    let units = |mm: f64| mm / module_mm;
    let avail = size - 2.0 * units(SIDE_MM);
    let mut top = size;
    let specs = [
        (
            format!("{}/{}", text.number, text.size),
            NUMBER_PT,
            Family::Sans,
            true,
        ),
        (text.title.clone(), TITLE_PT, Family::Sans, false),
        (text.short_id.clone(), SHORT_ID_PT, Family::Mono, false),
    ];
    specs
        .into_iter()
        .map(|(s, pt, family, bold)| {
            let fs = units(pt * MM_PER_PT);
            let text = truncate_to_fit(&s, |t| estimate_em(t, family) * fs <= avail);
            let baseline = top + 0.95 * fs;
            top += LEADING * fs;
            Line {
                text,
                size: fs,
                baseline,
                family,
                bold,
            }
        })
        .collect()
}

/// The inner SVG elements of a label at `module_mm` millimetres per module.
pub(super) fn label_body(code: &QrCode, text: &LabelText, module_mm: f64) -> LabelBody {
    let size = (code.width() + 2 * QUIET_ZONE) as f64;
    let height = size + TEXT_BLOCK_MM / module_mm;
    let mid = size / 2.0;
    let mut texts = String::new();
    for line in label_lines(text, size, module_mm) {
        texts.push_str(&format!(
            "<text x=\"{mid}\" y=\"{:.3}\" font-size=\"{:.3}\"{}{}>{}</text>",
            line.baseline,
            line.size,
            if line.bold {
                " font-weight=\"bold\""
            } else {
                ""
            },
            if line.family == Family::Mono {
                " font-family=\"monospace\""
            } else {
                ""
            },
            xml_escape(&line.text),
        ));
    }
    let svg = format!(
        "<rect width=\"{size}\" height=\"{height:.3}\" fill=\"#fff\" stroke=\"none\"/>\
<path {MODULE_STYLE} d=\"{path}\"/>\
<g font-family=\"Helvetica, Arial, sans-serif\" text-anchor=\"middle\" fill=\"#000\" stroke=\"none\">{texts}</g>",
        path = module_path(code),
    );
    LabelBody {
        svg,
        width: size,
        height,
    }
}

/// A printable label as SVG: the code, "n/N", the run title and the short item id. Printed at
/// its stated size (millimetres) it matches the PNG label at [`super::LABEL_PNG_DPI`].
pub fn label_svg(code: &QrCode, text: &LabelText) -> String {
    let m = LABEL_MODULE_MM;
    let body = label_body(code, text, m);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h:.3}\" width=\"{:.2}mm\" height=\"{:.2}mm\">{}</svg>\n",
        body.width * m,
        body.height * m,
        body.svg,
        w = body.width,
        h = body.height,
    )
}

/// Labels per A4 sheet: columns and rows.
pub const SHEET_GRID: (usize, usize) = (4, 5);

/// Page margin of a sheet, in mm.
const SHEET_MARGIN_MM: f64 = 10.0;
/// Space kept free on each side of a label inside its cell, in mm.
const CELL_PAD_MM: f64 = 1.5;

/// Where label `i` of a sheet goes, all in mm: (x, y, width, height, mm per module).
pub(super) fn sheet_place(i: usize, code: &QrCode) -> (f64, f64, f64, f64, f64) {
    let (cols, rows) = SHEET_GRID;
    let cell_w = (210.0 - 2.0 * SHEET_MARGIN_MM) / cols as f64;
    let cell_h = (297.0 - 2.0 * SHEET_MARGIN_MM) / rows as f64;
    let (inner_w, inner_h) = (cell_w - 2.0 * CELL_PAD_MM, cell_h - 2.0 * CELL_PAD_MM);
    let size = (code.width() + 2 * QUIET_ZONE) as f64;
    // The text block keeps its size in points; the code takes what is left of the cell.
    let m = (inner_w / size).min((inner_h - TEXT_BLOCK_MM) / size);
    let (w, h) = (size * m, size * m + TEXT_BLOCK_MM);
    let x = SHEET_MARGIN_MM + (i % cols) as f64 * cell_w + (cell_w - w) / 2.0;
    let y = SHEET_MARGIN_MM + (i / cols) as f64 * cell_h + CELL_PAD_MM;
    (x, y, w, h, m)
}

/// One A4 page (210 × 297 mm) holding up to 20 labels in a 4 × 5 grid. Text keeps its
/// printed size (the short id is 6.5 pt); the code is as large as the cell allows.
pub fn sheet_svg(labels: &[(QrCode, LabelText)]) -> String {
    let (cols, rows) = SHEET_GRID;
    let mut out = String::from(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"210mm\" height=\"297mm\" viewBox=\"0 0 210 297\">\
<rect width=\"210\" height=\"297\" fill=\"#fff\" stroke=\"none\"/>",
    );
    for (i, (code, text)) in labels.iter().take(cols * rows).enumerate() {
        let (x, y, _, _, m) = sheet_place(i, code);
        let body = label_body(code, text, m);
        // A transformed group, not a nested <svg x= y=>: ImageMagick ignores a nested
        // viewport's position and would stack every label in the corner.
        out.push_str(&format!(
            "<g transform=\"translate({x:.3} {y:.3}) scale({m:.5})\">{}</g>",
            body.svg
        ));
    }
    out.push_str("</svg>\n");
    out
}
