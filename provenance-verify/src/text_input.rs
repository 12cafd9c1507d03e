//! Payload text as people paste or scan it: a bare `PV1:...` string, or a label URL
//! `https://host/v#PV1:...` whose fragment writes base45's space as `%20` and `%` as `%25`
//! (spec §7.5). Both give the same payload string, and so the same report.

/// The `PV1:` payload in `text`: the fragment of a label URL (percent-decoded), or the text
/// itself (trimmed) when it is not a URL.
pub fn payload_from_text(text: &str) -> String {
    let text = text.trim();
    match text.find("#PV1:") {
        Some(at) if text[..at].contains("://") => percent_decode(&text[at + 1..]),
        _ => text.to_string(),
    }
}

/// Undoes `%XX` escapes (the label URL writes only `%20` and `%25`); anything malformed is
/// kept as it is, so the payload decoder refuses it with its own code.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|&c| (c as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::payload_from_text;

    #[test]
    fn label_urls_and_bare_payloads_give_the_same_string() {
        let bare = "PV1:6BFOXN%TS3DH PVO";
        let url = "https://ledger.example/v#PV1:6BFOXN%25TS3DH%20PVO";
        assert_eq!(payload_from_text(url), bare);
        assert_eq!(payload_from_text(&format!("  {bare}\n")), bare);
        // Not a URL: left to the payload decoder.
        assert_eq!(payload_from_text("x#PV1:AB"), "x#PV1:AB");
        // Malformed escapes stay as they are.
        assert_eq!(payload_from_text("https://h/v#PV1:A%2"), "PV1:A%2");
    }
}
