//! Terminal rendering: two module rows per text row with half blocks (▀ ▄ █ and space), one
//! column per module, light modules drawn so the code scans from a dark-background terminal.

use qrcode::QrCode;

use super::{grid_with, QUIET_ZONE};

/// The width the terminal rendering keeps to when the code allows: a version 15 code
/// (77 modules, what a mint-only item's living payload needs) fits with a 1-module quiet zone.
pub const TERMINAL_COLUMNS: usize = 80;

/// Quiet zone left and right, in modules: the standard 4 where that fits in
/// [`TERMINAL_COLUMNS`], else as much as fits, and at least 1. Above and below it stays 4:
/// rows cost no width.
pub(super) fn side_quiet_zone(width: usize) -> usize {
    (TERMINAL_COLUMNS.saturating_sub(width) / 2).clamp(1, QUIET_ZONE)
}

/// The code as terminal text: each character cell holds two modules one above the other
/// (`█` both light, `▀` top light, `▄` bottom light, space both dark), so the code is one
/// column per module wide and half as many rows as modules high. Light modules (and the
/// quiet zone) are drawn as blocks, for a dark-background terminal. Versions up to 15 fit
/// in 80 columns.
pub fn terminal(code: &QrCode) -> String {
    let g = grid_with(code, side_quiet_zone(code.width()), QUIET_ZONE);
    let mut out = String::new();
    for pair in g.chunks(2) {
        for x in 0..pair[0].len() {
            let top = !pair[0][x];
            let bottom = pair.get(1).is_none_or(|r| !r[x]);
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
