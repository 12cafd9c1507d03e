//! The characters signed text may hold (spec §3): no control characters (Unicode general
//! category Cc: C0, DEL, C1) and no bidirectional formatting characters, so that a note, an
//! event name or a display name can neither clear a terminal, forge an output line, nor
//! reverse the text shown around it. Also the escaping used when printing text that was
//! stored before this rule.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Bidirectional formatting characters (Unicode UAX #9): ALM, LRM, RLM, LRE, RLE, PDF, LRO,
/// RLO, LRI, RLI, FSI, PDI.
const BIDI_FORMATTING: [char; 12] = [
    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

/// The line and paragraph separators (Unicode Zl, Zp), which some displays break lines at.
const SEPARATORS: [char; 2] = ['\u{2028}', '\u{2029}'];

/// Whether `c` may appear in signed text.
pub fn is_allowed(c: char) -> bool {
    !c.is_control() && !BIDI_FORMATTING.contains(&c) && !SEPARATORS.contains(&c)
}

/// The first character signed text may not hold, if any.
pub fn first_forbidden(text: &str) -> Option<char> {
    text.chars().find(|&c| !is_allowed(c))
}

/// `text` with every forbidden character written as `\u{XXXX}`, for terminals. Borrowed when
/// nothing needed escaping (the common case).
pub fn escape_for_terminal(text: &str) -> Cow<'_, str> {
    if first_forbidden(text).is_none() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_allowed(c) {
            out.push(c);
        } else {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_forbidden_everything_else_allowed() {
        for bad in [
            '\u{2028}', '\u{2029}', '\u{1b}', '\r', '\n', '\t', '\0', '\u{7f}', '\u{85}', '\u{9b}',
            '\u{202e}',
        ] {
            assert!(!is_allowed(bad), "{bad:?}");
        }
        for good in ['a', ' ', 'é', 'É', '漢', '<', '>', '&', '\u{200d}', '🙂'] {
            assert!(is_allowed(good), "{good:?}");
        }
        assert_eq!(first_forbidden("Été <1/30>"), None);
        assert_eq!(first_forbidden("ok\u{1b}[2J"), Some('\u{1b}'));
    }

    #[test]
    fn escaping_makes_text_inert_and_keeps_the_rest() {
        assert!(matches!(escape_for_terminal("plain Été"), Cow::Borrowed(_)));
        assert_eq!(
            escape_for_terminal("a\u{1b}[2Jb\r\nOwners\u{202e}x"),
            "a\\u{001b}[2Jb\\u{000d}\\u{000a}Owners\\u{202e}x"
        );
    }
}
