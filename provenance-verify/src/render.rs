//! The report as the plain-language, one-screen text the binary prints, every signed text
//! made inert for a terminal.

use std::fmt::Write as _;

use crate::report::{Finding, Report, Severity, Story, TrustAnchor};

impl Report {
    /// The plain-language, one-screen text the binary prints.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // A buyer's words first (a stolen piece says so before anything else), then the
        // details with their codes.
        let _ = writeln!(out, "{}", inert(&self.headline));
        if !self.advice.is_empty() {
            let _ = writeln!(out, "{}\n", inert(&self.advice));
        }
        let _ = writeln!(out, "{}", inert(&self.summary));
        if let Some(story) = &self.story {
            out.push('\n');
            write_story(&mut out, story);
        }
        if !self.findings.is_empty() {
            out.push('\n');
            for f in &self.findings {
                write_finding(&mut out, f);
            }
        }
        if let Some(c) = &self.owner_challenge {
            let code = c.code.map(|c| format!(" [{c}]")).unwrap_or_default();
            let _ = writeln!(out, "\n  Owner challenge{code}: {}", c.message);
        }
        if let Some(anchor) = &self.trust_anchor {
            write_trust_anchor(&mut out, anchor);
        }
        out
    }
}

/// The story's lines: the piece, its maker, then every repair, badge and report, the owners
/// and the freshness.
fn write_story(out: &mut String, story: &Story) {
    let _ = writeln!(out, "  Item        {}", story.item);
    let _ = writeln!(
        out,
        "  Piece       '{}', edition {}/{}",
        inert(&story.title),
        story.edition.number,
        story.edition.size
    );
    let _ = writeln!(
        out,
        "  Maker       {} (key id {})",
        inert(&story.maker.name),
        story.maker.key_id
    );
    let _ = writeln!(out, "  Made at     {}", inert(&story.microfactory));
    let _ = writeln!(out, "  Run         {}", story.run);
    let _ = writeln!(out, "  Minted      {}", story.minted_at);
    write_events(out, story);
    let owner_word = if story.freshness.basis == "label" {
        "Owner at minting"
    } else {
        "Owner"
    };
    let _ = writeln!(
        out,
        "  Owners      {} so far; {owner_word}: key id {} ({})",
        story.owner_count, story.current_owner.key_id, story.current_owner.key
    );
    let _ = writeln!(out, "  Freshness   {}", story.freshness.note);
}

/// Repairs, badges and reports, one line each, and the counts the ledger knows beyond them.
fn write_events(out: &mut String, story: &Story) {
    for r in &story.repairs {
        let parts = if r.parts.is_empty() {
            String::new()
        } else {
            let parts: Vec<_> = r.parts.iter().map(|p| inert(p)).collect();
            format!(" (parts: {})", parts.join(", "))
        };
        let _ = writeln!(
            out,
            "  Repair      {} at {}: {}{parts}",
            date(&r.time),
            inert(&r.desk.name),
            inert(&r.note)
        );
    }
    if story.repair_count > story.repairs.len() as u64 {
        let _ = writeln!(
            out,
            "  Repairs     {} in all, per the ledger (ask for `provenance export` to see each)",
            story.repair_count
        );
    }
    for b in &story.badges {
        let place = b
            .place
            .as_deref()
            .map(|p| format!(", {}", inert(p)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  Badge       {} {}{place} (host {})",
            date(&b.time),
            inert(&b.event),
            inert(&b.host.name)
        );
    }
    if story.badge_count > story.badges.len() as u64 {
        let _ = writeln!(
            out,
            "  Badges      {} in all, per the ledger",
            story.badge_count
        );
    }
    for r in &story.reports {
        let by = if r.by_recovery_key {
            " (by the owner's recovery key)"
        } else {
            ""
        };
        let _ = writeln!(out, "  Report      {} {}{by}", date(&r.time), r.status);
    }
    for r in &story.recoveries {
        let _ = writeln!(
            out,
            "  Recovery    owner key recovered on {}: key {} replaced by key {}",
            date(&r.time),
            r.from.key_id,
            r.to.key_id
        );
    }
}

fn write_finding(out: &mut String, f: &Finding) {
    let tag = match f.severity {
        Severity::Warning => "WARNING",
        Severity::Error => "PROBLEM",
    };
    let _ = writeln!(
        out,
        "  {tag} [{}] {}: {}",
        f.code,
        f.cause,
        inert(&f.message)
    );
}

fn write_trust_anchor(out: &mut String, anchor: &TrustAnchor) {
    let _ = write!(
        out,
        "\n  Trust list  version {} of {}, operator key id {}",
        anchor.version,
        date(&anchor.issued_at),
        anchor.operator_key_id
    );
    if anchor.pinned {
        let _ = writeln!(out, " (pinned)");
    } else {
        let _ = writeln!(
            out,
            "\n              NOT PINNED: this file is its own trust anchor, and anyone can \
             sign a trust list.\n              Pass --operator KEY (from the ledger \
             operator's published key) to pin it."
        );
    }
}

/// Text from signed records made inert for a terminal (control and bidirectional-formatting
/// characters escaped). Decoding already refuses them (spec §3); this is the second fence, and
/// the JSON output keeps the exact text.
pub(crate) fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    provenance_core::text::escape_for_terminal(text)
}

/// The date part of an RFC 3339 time.
pub(crate) fn date(time: &str) -> &str {
    time.get(..10).unwrap_or(time)
}
