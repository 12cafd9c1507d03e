//! The bundled font (DejaVu Sans, `assets/`): drawing label text in PNGs and a conservative
//! width estimate for text in SVGs, whose font the viewer chooses.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId};

/// DejaVu Sans 2.37 (Bitstream Vera licence, `assets/DejaVuSans-LICENSE.txt`): Latin with
/// accents, Greek, Cyrillic and common symbols. No CJK.
pub(super) static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Drawn in PNGs in place of a character the font lacks (CJK, most emoji): visibly not text.
pub const MISSING: char = '\u{FFFD}';

/// Appended to a line that was cut to fit.
pub const ELLIPSIS: char = '…';

/// The bundled font, parsed once.
pub fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        // The font is a fixed asset, parsed by a test; it cannot fail at run time.
        #[expect(clippy::expect_used, reason = "a compiled-in asset that a test parses")]
        FontRef::try_from_slice(FONT_BYTES).expect("the bundled DejaVu Sans parses")
    })
}

/// Whether the bundled font has a glyph for `c`.
pub fn has_glyph(c: char) -> bool {
    font().glyph_id(c) != GlyphId(0)
}

/// The character the PNG draws for `c`: `c` itself, or [`MISSING`] when the font lacks it.
pub fn drawable(c: char) -> char {
    if has_glyph(c) {
        c
    } else {
        MISSING
    }
}

/// How much wider than DejaVu Sans the viewer's font may be (Helvetica, Arial and Liberation
/// Sans are all narrower; bold DejaVu is about 10% wider).
const SAFETY: f64 = 1.15;

/// Upper estimate of the width of `c`, in ems, for any of the SVG label's sans-serif fonts.
/// Characters DejaVu Sans lacks (CJK, emoji) count as a full em, as CJK fonts draw them.
fn sans_em(c: char) -> f64 {
    let f = font();
    let id = f.glyph_id(c);
    if id == GlyphId(0) {
        return 1.0 * SAFETY;
    }
    let units = f.units_per_em().unwrap_or(2048.0);
    f64::from(f.h_advance_unscaled(id) / units) * SAFETY
}

/// Upper estimate of the width of `c`, in ems, in a monospace font (0.6 em in DejaVu Sans
/// Mono, Courier and Liberation Mono; wide characters take two cells).
fn mono_em(c: char) -> f64 {
    if has_glyph(c) {
        0.62
    } else {
        1.24
    }
}

/// Which estimate a line of SVG text uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// The label's proportional font (Helvetica, Arial, sans-serif).
    Sans,
    /// The short id's monospace font.
    Mono,
}

/// Upper estimate of the width of `text` in `family`, in ems.
pub fn estimate_em(text: &str, family: Family) -> f64 {
    text.chars()
        .map(|c| match family {
            Family::Sans => sans_em(c),
            Family::Mono => mono_em(c),
        })
        .sum()
}

/// `text` as is when `fits` accepts it, else its longest prefix that fits with
/// [`ELLIPSIS`] appended (just the ellipsis, or nothing, if not even that fits).
pub fn truncate_to_fit(text: &str, fits: impl Fn(&str) -> bool) -> String {
    if fits(text) {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    // Binary search on the prefix length: widths only grow with length.
    let (mut lo, mut hi) = (0usize, chars.len());
    let candidate = |n: usize| -> String {
        let mut s: String = chars[..n].iter().collect();
        s.truncate(s.trim_end().len());
        s.push(ELLIPSIS);
        s
    };
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(&candidate(mid)) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let best = candidate(lo);
    if fits(&best) {
        best
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_font_covers_latin_greek_cyrillic_and_the_fallbacks() {
        for c in "Été <1/30> & ÇàøßĞ ΑΩλ ЖЯж … \u{FFFD}".chars() {
            assert!(has_glyph(c), "{c:?}");
        }
        for c in "漢字かな🎨".chars() {
            assert!(!has_glyph(c), "{c:?}");
            assert_eq!(drawable(c), MISSING);
        }
        assert_eq!(drawable('É'), 'É');
    }

    #[test]
    fn estimates_are_upper_bounds_and_wide_characters_count_double() {
        // DejaVu Sans: "W" is 0.99 em, "i" 0.28 em.
        assert!(estimate_em("W", Family::Sans) > 0.99);
        assert!(estimate_em("i", Family::Sans) < 0.4);
        assert!(estimate_em("漢", Family::Sans) >= 1.0);
        assert!(estimate_em("漢", Family::Mono) > 2.0 * estimate_em("a", Family::Mono) - 1e-9);
        assert_eq!(estimate_em("", Family::Sans), 0.0);
    }

    #[test]
    fn truncation_keeps_the_longest_prefix_that_fits() {
        let fits = |s: &str| s.chars().count() <= 5;
        assert_eq!(truncate_to_fit("abc", fits), "abc");
        assert_eq!(truncate_to_fit("abcdefgh", fits), "abcd…");
        assert_eq!(truncate_to_fit("ab  defgh", fits), "ab…");
        assert_eq!(truncate_to_fit("abcdefgh", |s: &str| s.is_empty()), "");
        assert_eq!(
            truncate_to_fit("abcdefgh", |s: &str| s.chars().count() <= 1),
            "…"
        );
    }
}
