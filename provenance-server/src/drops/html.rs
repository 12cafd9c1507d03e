//! HTML output: the one escaping function every page uses, percentages, and the page shell
//! (linking the pages' stylesheet, [`crate::assets::PAGE_CSS`]: no inline style or script,
//! no external resource).

use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attribute values: `& < > " '` become
/// entities; control characters (C0, C1), bidirectional formatting characters and line or
/// paragraph separators become U+FFFD, so record text can neither open markup nor reorder
/// the text around it.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() || !provenance_core::text::is_allowed(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A fraction as a percentage with one decimal and a space before the sign: `0.375` →
/// `"37.5 %"`; `None` → `"–"`.
pub fn percent(fraction: Option<f64>) -> String {
    match fraction {
        Some(f) if f.is_finite() => format!("{:.1} %", f * 100.0),
        _ => "–".to_string(),
    }
}

/// A whole page: `title` (escaped here) and `body` (already HTML).
pub fn page(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 512);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title><link rel=\"stylesheet\" href=\"{}\"></head><body>\
<header class=\"top\"><a href=\"/dashboard\">Dashboard</a><a href=\"/v\">Verify a piece</a></header>\
<main>{body}</main></body></html>",
        escape(title),
        crate::assets::PAGE_CSS.path(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_ampersands_and_controls() {
        assert_eq!(
            escape("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("a \"b\" & c"), "a &quot;b&quot; &amp; c");
        assert_eq!(escape("&amp;"), "&amp;amp;");
        assert_eq!(
            escape("bell\u{7}esc\u{1b}[31m nl\n"),
            "bell\u{FFFD}esc\u{FFFD}[31m nl\u{FFFD}"
        );
        assert_eq!(escape("c1\u{85}\u{9b}"), "c1\u{FFFD}\u{FFFD}");
        assert_eq!(escape("rtl\u{202E}txt\u{2066}"), "rtl\u{FFFD}txt\u{FFFD}");
        assert_eq!(escape("Café № 5 — ok"), "Café № 5 — ok");
        for hostile in [
            "<img src=x onerror=alert(1)>",
            "\"><svg onload=x>",
            "'onmouseover='x",
        ] {
            let out = escape(hostile);
            assert!(!out.contains(['<', '>', '"', '\'']), "{out}");
        }
    }

    #[test]
    fn percentages_have_one_decimal_and_a_space() {
        assert_eq!(percent(Some(0.375)), "37.5 %");
        assert_eq!(percent(Some(1.0)), "100.0 %");
        assert_eq!(percent(Some(0.0)), "0.0 %");
        assert_eq!(percent(Some(2.0 / 3.0)), "66.7 %");
        assert_eq!(percent(None), "–");
        assert_eq!(percent(Some(f64::NAN)), "–");
    }

    #[test]
    fn the_page_escapes_its_title() {
        let p = page("<b>x</b>", "<p>body</p>");
        assert!(p.contains("<title>&lt;b&gt;x&lt;/b&gt;</title>"));
        assert!(p.contains("<p>body</p>"));
        assert!(p.contains(&format!(
            "<link rel=\"stylesheet\" href=\"{}\">",
            crate::assets::PAGE_CSS.path()
        )));
        assert!(crate::assets::PAGE_CSS.body().contains("@page{size:A4"));
        assert!(
            !p.contains("<style") && !p.contains("<script"),
            "nothing inline"
        );
        assert!(
            !p.contains("http://") && !p.contains("https://"),
            "no external resource"
        );
    }
}
