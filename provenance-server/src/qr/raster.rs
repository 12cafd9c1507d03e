//! PNG output: the bare code and the printable label, at [`LABEL_PNG_DPI`] (pHYs chunk) with
//! text drawn in the bundled DejaVu Sans.
//!
//! Pixel geometry is computed in floats and converted with `as`: a QR code has at most 177
//! modules (8 px each) and a label a few hundred pixels of text, so every value is far inside
//! the target types, and Rust's float-to-int `as` saturates rather than wraps.
#![expect(
    clippy::cast_possible_truncation,
    reason = "pixel geometry of at most a few thousand pixels"
)]

use ab_glyph::{Font, Glyph, PxScale, ScaleFont};
use qrcode::QrCode;

use super::font::{drawable, font, truncate_to_fit};
use super::layout::{BOTTOM_MM, LEADING, MM_PER_PT, NUMBER_PT, SHORT_ID_PT, SIDE_MM, TITLE_PT};
use super::{grid, LabelText, QrError};

/// Pixels per module in label PNGs.
pub const LABEL_PNG_SCALE: u32 = 8;

/// Resolution every PNG states in its pHYs chunk: at 8 px per module a module prints
/// 0.68 mm wide, and a version 9 label 41 mm.
pub const LABEL_PNG_DPI: u32 = 300;

/// Millimetres per module of a label printed at its stated size (PNG and SVG alike).
pub(super) const LABEL_MODULE_MM: f64 = LABEL_PNG_SCALE as f64 / LABEL_PNG_DPI as f64 * 25.4;

/// [`LABEL_PNG_DPI`] in pixels per metre, the unit of PNG's pHYs chunk.
pub(super) fn pixels_per_metre() -> u32 {
    (f64::from(LABEL_PNG_DPI) / 0.0254).round() as u32
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

/// 8-bit grayscale PNG with a pHYs chunk stating [`LABEL_PNG_DPI`].
fn encode_png(img: &image::GrayImage) -> Result<Vec<u8>, QrError> {
    let mut out = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut out, img.width(), img.height());
    encoder.set_color(::png::ColorType::Grayscale);
    encoder.set_depth(::png::BitDepth::Eight);
    let ppm = pixels_per_metre();
    encoder.set_pixel_dims(Some(::png::PixelDimensions {
        xppu: ppm,
        yppu: ppm,
        unit: ::png::Unit::Meter,
    }));
    let png_error = |e: ::png::EncodingError| QrError::Png(e.to_string());
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(img.as_raw()).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

/// A bare QR code as PNG, `scale` pixels per module, quiet zone included.
pub fn png(code: &QrCode, scale: u32) -> Result<Vec<u8>, QrError> {
    encode_png(&gray_qr(code, scale.max(1), 0))
}

/// Pixels per millimetre at [`LABEL_PNG_DPI`].
fn px_per_mm() -> f64 {
    f64::from(LABEL_PNG_DPI) / 25.4
}

/// A printable label as PNG (8 px per module, 300 dpi): the code, then "n/N", the title and
/// the short id in DejaVu Sans, each line cut with "…" to fit. Characters the font lacks (CJK,
/// most emoji) are drawn as U+FFFD "�".
pub fn label_png(code: &QrCode, text: &LabelText) -> Result<Vec<u8>, QrError> {
    captioned_png(
        code,
        &[
            (&format!("{}/{}", text.number, text.size), NUMBER_PT),
            (&text.title, TITLE_PT),
            (&text.short_id, SHORT_ID_PT),
        ],
    )
}

/// A QR code as PNG (8 px per module, 300 dpi) with lines of text below it, each `(text,
/// size in points)`, centred and cut with "…" to the code's width: the label's layout, used
/// for labels and for the recovery sheet.
pub fn captioned_png(code: &QrCode, lines: &[(&str, f64)]) -> Result<Vec<u8>, QrError> {
    let scale = LABEL_PNG_SCALE;
    let qr_size = grid(code).len() as u32 * scale;
    let points: f64 = lines.iter().map(|(_, pt)| pt).sum();
    let block_mm = points * LEADING * MM_PER_PT + BOTTOM_MM;
    let text_px = (block_mm * px_per_mm()).ceil() as u32;
    let mut img = gray_qr(code, scale, text_px);
    let avail = f64::from(qr_size) - 2.0 * SIDE_MM * px_per_mm();
    let mut top = f64::from(qr_size);
    for (s, pt) in lines {
        let px = pt * MM_PER_PT * px_per_mm();
        draw_line(&mut img, s, px, top + 0.95 * px, avail);
        top += LEADING * px;
    }
    encode_png(&img)
}

/// The characters drawn for `text`: controls dropped, missing glyphs as U+FFFD.
fn drawn(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .map(drawable)
        .collect()
}

/// The glyphs of `text` laid out from x = 0 on baseline 0, and the advance width.
fn layout(text: &str, px: f64) -> (Vec<Glyph>, f32) {
    let scaled = font().as_scaled(PxScale::from(px as f32));
    let mut glyphs = Vec::new();
    let mut caret = 0.0f32;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scaled.scale(), ab_glyph::point(caret, 0.0)));
        caret += scaled.h_advance(id);
        previous = Some(id);
    }
    (glyphs, caret)
}

/// Draws one line of text centred on the image, baseline at `baseline`, at `px` pixels per
/// em, cut with "…" to at most `avail` pixels wide.
fn draw_line(img: &mut image::GrayImage, text: &str, px: f64, baseline: f64, avail: f64) {
    let fitted = truncate_to_fit(&drawn(text), |t| f64::from(layout(t, px).1) <= avail);
    let (glyphs, width) = layout(&fitted, px);
    let left = ((f64::from(img.width()) - f64::from(width)) / 2.0).max(0.0) as f32;
    for mut glyph in glyphs {
        glyph.position.x += left;
        glyph.position.y += baseline as f32;
        if let Some(outline) = font().outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|x, y, coverage| {
                let (x, y) = (
                    bounds.min.x as i64 + i64::from(x),
                    bounds.min.y as i64 + i64::from(y),
                );
                if x < 0 || y < 0 || x >= i64::from(img.width()) || y >= i64::from(img.height()) {
                    return;
                }
                let ink = (coverage.clamp(0.0, 1.0) * 255.0).round() as u8;
                let pixel = img.get_pixel_mut(x as u32, y as u32);
                pixel.0[0] = pixel.0[0].min(255 - ink);
            });
        }
    }
}
