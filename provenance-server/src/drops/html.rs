//! HTML output: the one escaping function every page uses, percentages, and the page shell
//! (screen and A4 print CSS, no external resource).

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

/// The shared style: readable on a phone, and A4 on paper (`@page`, no navigation, no
/// page break inside a table row or a card).
pub const STYLE: &str = "\
*{box-sizing:border-box}\
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1b1b1b;background:#fafaf7}\
main{max-width:60rem;margin:0 auto;padding:1rem}\
header.top{background:#1b1b1b;color:#fff;padding:.5rem 1rem}\
header.top a{color:#fff;margin-right:1rem}\
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin:1.2rem 0 .4rem}\
table{border-collapse:collapse;width:100%;margin:.4rem 0}\
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #ddd;vertical-align:top}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.4rem 0}\
dl.facts dt{color:#555}dl.facts dd{margin:0}\
.kpis{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0}\
.kpi{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.4rem .7rem;min-width:7.5rem}\
.kpi b{display:block;font-size:1.3rem}.kpi span{color:#555;font-size:.85rem}\
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.7rem;margin:.7rem 0}\
.qr{float:right;width:9rem;margin:0 0 .5rem 1rem}.qr svg{width:100%;height:auto}\
.small-qr svg{width:35mm;height:auto}\
.status-void,.status-stolen{color:#a40000;font-weight:600}\
svg.chart{width:100%;height:auto;max-width:40rem;display:block}\
.muted{color:#666;font-size:.85rem}\
.verdict{font-weight:700}\
.verdict.alarm{background:#a3001b;color:#fff;padding:.4em .6em;border-radius:6px;font-size:1.3em}\
code,td,dd{overflow-wrap:anywhere}\
@media (max-width:480px){.qr{width:6.5rem}.card{padding:.5rem}th,td{padding:.2rem}}\
@media print{@page{size:A4;margin:15mm}body{background:#fff;font-size:10.5pt}\
header.top,.noprint{display:none}main{max-width:none;padding:0}\
tr,.card,.kpi{break-inside:avoid}a{color:inherit;text-decoration:none}}";

/// A whole page: `title` (escaped here) and `body` (already HTML).
pub fn page(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + STYLE.len() + 512);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body>\
<header class=\"top\"><a href=\"/dashboard\">Dashboard</a><a href=\"/v\">Verify a piece</a></header>\
<main>{body}</main></body></html>",
        escape(title)
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
        assert!(p.contains("@page{size:A4"));
        assert!(
            !p.contains("http://") && !p.contains("https://"),
            "no external resource"
        );
    }
}
