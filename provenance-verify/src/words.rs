//! The report in a buyer's words (issue 20.5 and 20.6): a headline and one piece of advice for
//! someone at a market, with no codes, key ids or command names (those stay in the findings
//! and the story). A stolen piece says so first: "REPORTED STOLEN on DATE: do not buy".

use crate::render::date;
use crate::report::{Finding, Severity, Story, Verdict};

/// The headline and the advice for a report with this verdict, story and findings.
pub(crate) fn buyer_words(
    verdict: Verdict,
    story: Option<&Story>,
    findings: &[Finding],
) -> (String, String) {
    let error = findings.iter().find(|f| f.severity == Severity::Error);
    match (verdict, story) {
        (Verdict::Unreadable, _) => (
            "COULD NOT READ THIS CODE".to_string(),
            format!(
                "{} It says nothing about the piece: try again, or ask the seller for the \
                 piece's QR code.",
                unreadable_reason(error)
            ),
        ),
        (Verdict::NotGenuine, Some(story)) if story.void => (
            "WITHDRAWN BY ITS MAKER: do not buy".to_string(),
            format!(
                "{} withdrew edition {} of {} of \u{2018}{}\u{2019}: the maker says this piece \
                 must not be sold as theirs.",
                story.maker.name, story.edition.number, story.edition.size, story.title
            ),
        ),
        (Verdict::NotGenuine, _) => (
            "NOT GENUINE: do not buy".to_string(),
            format!(
                "{} Do not buy it as the maker's piece.",
                not_genuine_reason(error)
            ),
        ),
        (_, Some(story)) if story.stolen => (
            match last_stolen_report(story) {
                Some(day) => format!("REPORTED STOLEN on {day}: do not buy"),
                None => "REPORTED STOLEN: do not buy".to_string(),
            },
            format!(
                "The piece is genuine ({}), but its owner reported it stolen. Do not buy it; if \
                 you know where it came from, tell the maker or the police.",
                piece(story)
            ),
        ),
        (_, Some(story))
            if findings
                .iter()
                .any(|f| f.code == crate::CODE_NOT_TRANSFERABLE) =>
        {
            (
                "CANNOT CHANGE HANDS: do not buy".to_string(),
                format!(
                "The piece is genuine ({}), but its history is full: the ledger will refuse to \
                 record its sale, so you could never be shown as its owner.",
                piece(story)
            ),
            )
        }
        (_, Some(story)) => ("GENUINE".to_string(), genuine_advice(story, findings)),
        (_, None) => ("GENUINE".to_string(), String::new()),
    }
}

/// "‘Title’, edition 3 of 50, made by Maker".
fn piece(story: &Story) -> String {
    format!(
        "\u{2018}{}\u{2019}, edition {} of {}, made by {}",
        story.title, story.edition.number, story.edition.size, story.maker.name
    )
}

/// What a genuine piece's buyer should know: what it is, what the input can and cannot show,
/// and that the seller should prove they own it.
fn genuine_advice(story: &Story, findings: &[Finding]) -> String {
    let made = format!("{} on {}.", piece(story), date(&story.minted_at));
    match story.freshness.basis {
        "label" => format!(
            "{made} This label shows who made the piece, not who owns it today or what happened \
             to it since. Scan it while online, or ask the seller for the piece's current QR code."
        ),
        "last_record" => format!(
            "{made} Its records check out, but this copy carries no statement from the ledger, \
             so it may stop before a later sale. Ask the seller for the piece's current QR code, \
             or scan it online."
        ),
        _ => {
            let repairs = match story.repair_count {
                0 => "Never repaired".to_string(),
                1 => "Repaired once".to_string(),
                n => format!("Repaired {n} times"),
            };
            let old = findings.iter().any(|f| f.code == crate::CODE_HEAD_OLD);
            let as_of = if old {
                format!(
                    " The ledger's word on it is {} days old: ask the seller for a fresh code.",
                    story.freshness.age_days
                )
            } else {
                format!(" As of {}.", date(&story.freshness.as_of))
            };
            format!(
                "{made} {repairs}; {}.{as_of} Before you pay, have the seller prove they own it.",
                match story.owner_count {
                    1 => "one owner so far".to_string(),
                    n => format!("{n} owners so far"),
                }
            )
        }
    }
}

/// The day of the last stolen report the records carry (none when only the ledger's head
/// statement says so).
fn last_stolen_report(story: &Story) -> Option<&str> {
    story
        .reports
        .iter()
        .rev()
        .find(|r| r.status == "stolen")
        .map(|r| date(&r.time))
}

fn unreadable_reason(error: Option<&Finding>) -> &'static str {
    match error.map(|f| f.code) {
        Some(crate::CODE_INPUT_NO_QR) => "No provenance QR code was found in the picture.",
        Some(code) if code.starts_with("trust.") => {
            "The list of trusted makers could not be checked."
        }
        _ => "This is not a provenance code, or it is damaged.",
    }
}

fn not_genuine_reason(error: Option<&Finding>) -> &'static str {
    match error.map(|f| f.cause) {
        Some("tampered" | "tampered or damaged") => {
            "Its records were changed after they were signed, or copied from another piece."
        }
        Some("untrusted signer") => "It was signed by someone this ledger does not trust.",
        Some("signer not authorized") => "A record was signed by someone with no right to sign it.",
        Some("key revoked" | "key outside its validity") => {
            "A record was signed with a key that was not valid at the time."
        }
        Some("edition over cap" | "invalid edition" | "run mismatch") => {
            "Its edition does not match the maker's production run."
        }
        Some("dated in the future") => {
            "A record is dated in the future: check this device's clock, then try again."
        }
        Some("bad ledger statement") => {
            "The ledger's statement about it is forged or does not match its records."
        }
        Some("not in the ledger's log") => {
            "Its history is not in the ledger's public log: it was altered or never recorded."
        }
        Some("wrong answer from the ledger") => {
            "The ledger answered with a history that does not check out for this label."
        }
        _ => "Its records do not fit together into one history.",
    }
}
