//! NFC beside QR (issue 22): a label's URL as an NDEF message (NFC Forum NDEF 1.0, one
//! well-known `U` record of the URI Record Type Definition), the bytes any tag writer puts on
//! an NFC sticker. A phone that taps the sticker opens the same `/v#PV1:…` page the label's QR
//! code opens (spec §7.5).
//!
//! The record: header byte `MB | ME | (SR) | TNF 1` (well-known), type length 1, payload
//! length (1 byte when at most 255, else 4 bytes big-endian, `SR` clear), type `U`, payload =
//! one URI identifier code (`https://` is code 4) and the rest of the URI in UTF-8.

/// Message Begin: the first record of the message.
const MB: u8 = 0x80;
/// Message End: the last record of the message.
const ME: u8 = 0x40;
/// Short Record: a one-byte payload length.
const SR: u8 = 0x10;
/// Type Name Format 1: an NFC Forum well-known type.
const TNF_WELL_KNOWN: u8 = 0x01;
/// The URI record's type, `U`.
const URI_TYPE: u8 = b'U';

/// The URI identifier codes this encoder abbreviates (URI RTD, table 3), longest first where
/// one prefix holds another; any other URI is written whole after code 0.
const URI_PREFIXES: [(u8, &str); 4] = [
    (0x02, "https://www."),
    (0x01, "http://www."),
    (0x04, "https://"),
    (0x03, "http://"),
];

/// The NDEF message holding `uri` as its one URI record.
pub fn uri_message(uri: &str) -> Vec<u8> {
    let (code, rest) = URI_PREFIXES
        .iter()
        .find_map(|(code, prefix)| uri.strip_prefix(prefix).map(|rest| (*code, rest)))
        .unwrap_or((0x00, uri));
    let mut payload = Vec::with_capacity(1 + rest.len());
    payload.push(code);
    payload.extend_from_slice(rest.as_bytes());
    let mut message = Vec::with_capacity(payload.len() + 7);
    match u8::try_from(payload.len()) {
        Ok(short) => {
            message.extend_from_slice(&[MB | ME | SR | TNF_WELL_KNOWN, 1, short]);
        }
        Err(_) => {
            // A label URL is far below 4 GiB; saturate rather than wrap should a caller pass more.
            let long = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            message.extend_from_slice(&[MB | ME | TNF_WELL_KNOWN, 1]);
            message.extend_from_slice(&long.to_be_bytes());
        }
    }
    message.push(URI_TYPE);
    message.extend_from_slice(&payload);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_uri_is_the_known_short_record() {
        // The URI record of "http://nodejs.org" as NFC tools write it.
        let expected = [
            0xd1, 0x01, 0x0b, 0x55, 0x03, b'n', b'o', b'd', b'e', b'j', b's', b'.', b'o', b'r',
            b'g',
        ];
        assert_eq!(uri_message("http://nodejs.org"), expected);
        assert_eq!(uri_message("https://www.a.b")[4], 0x02);
        assert_eq!(
            uri_message("urn:x")[4],
            0x00,
            "no abbreviation: written whole"
        );
    }

    #[test]
    fn a_label_url_is_a_long_record() {
        let url = format!("https://ledger.example/v#PV1:{}", "A".repeat(300));
        let m = uri_message(&url);
        assert_eq!(m[0], MB | ME | TNF_WELL_KNOWN, "SR clear");
        let len = u32::from_be_bytes([m[2], m[3], m[4], m[5]]) as usize;
        assert_eq!(len, 1 + url.len() - "https://".len());
        assert_eq!(m[6], URI_TYPE);
        assert_eq!(m[7], 0x04);
        assert_eq!(&m[8..], &url.as_bytes()["https://".len()..]);
    }
}
