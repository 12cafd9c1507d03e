//! From verified records (or a failure) to a [`Report`]: the verdict, the story the records
//! tell, their freshness, the owner challenge, and a plain cause for every refusal.

use std::fmt::Write as _;

use provenance_core::error::{ChainError, VerifyError};
use provenance_core::head::HeadStatement;
use provenance_core::record::ReportStatus;
use provenance_core::{
    challenge, ErrorCode, ItemId, PayloadError, PayloadVerifyError, PublicKey, Role, Timestamp,
    TrustList, VerifiedChain, VerifiedPayload,
};

use crate::render::{date, inert};
use crate::report::{
    exit, ChallengeOutcome, ChallengeResult, Finding, Report, Severity, Story, TrustAnchor, Verdict,
};
use crate::story::{last_report, story};
use crate::words::buyer_words;
use crate::{
    Options, CODE_HEAD_OLD, CODE_LABEL_ONLY, CODE_NOT_TRANSFERABLE, CODE_OWNER_UNCONFIRMED,
    CODE_STOLEN, CODE_VOID, DAY_SECS,
};

/// What an owner challenge is checked against (kept typed, not serialised).
#[derive(Debug, Clone)]
pub(crate) struct OwnerContext {
    key: PublicKey,
    item: ItemId,
    basis: OwnerBasis,
}

/// Where the owner an owner challenge is checked against comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnerBasis {
    /// A label: the owner at minting.
    Label,
    /// A history without a head statement: the last owner in the file, which a cut history
    /// can make an earlier owner.
    LastInFile,
    /// The ledger's signed head statement (or records it confirms).
    Ledger,
}

/// The state the report shows: from the records, or from a head statement newer than them.
pub(crate) struct Current<'a> {
    pub(crate) chain: &'a VerifiedChain,
    pub(crate) head: Option<&'a HeadStatement>,
}

impl Current<'_> {
    /// The head statement, when it is ahead of the records carried.
    pub(crate) fn ahead(&self) -> Option<&HeadStatement> {
        self.head.filter(|h| h.seq > self.chain.seq())
    }
    pub(crate) fn owner(&self) -> &PublicKey {
        self.ahead().map_or(self.chain.owner(), |h| &h.owner)
    }
    pub(crate) fn stolen(&self) -> bool {
        self.ahead().map_or(self.chain.is_stolen(), |h| h.stolen)
    }
    pub(crate) fn void(&self) -> bool {
        self.ahead().map_or(self.chain.is_void(), |h| h.void)
    }
    /// Whether a transfer can still be recorded, at the head statement's position when it is
    /// ahead of the records.
    pub(crate) fn can_transfer(&self) -> bool {
        self.ahead().map_or(self.chain.can_transfer(), |h| {
            provenance_core::chain::transfer_room(h.seq + 1)
        })
    }
}

impl Report {
    /// A report for input that could not be read (verdict `unreadable`).
    pub fn unreadable(code: &'static str, cause: &'static str, message: String) -> Self {
        let finding = Finding {
            code,
            severity: Severity::Error,
            cause,
            message,
            record: None,
        };
        Self::finish(Verdict::Unreadable, None, vec![finding], None)
    }

    pub(crate) fn not_genuine(error: &ChainError) -> Self {
        let (cause, explanation) = chain_cause(&error.error);
        let what = if error.index == 0 {
            "the mint (record 0)".to_string()
        } else {
            format!("record {}", error.index)
        };
        let finding = Finding {
            code: error.code(),
            severity: Severity::Error,
            cause,
            message: format!("{explanation}. {what}: {}", error.error),
            record: Some(error.index),
        };
        let mut report = Self::finish(Verdict::NotGenuine, None, vec![finding], None);
        report.summary = format!(
            "{}: {cause}: {what}: {} [{}]",
            Verdict::NotGenuine.headline(),
            error.error,
            error.code()
        );
        report
    }

    /// The ledger's answer to a label scanned online is not that piece's history.
    pub(crate) fn online_mismatch(detail: &str) -> Self {
        let finding = Finding {
            code: crate::CODE_ONLINE_MISMATCH,
            severity: Severity::Error,
            cause: "wrong answer from the ledger",
            message: format!(
                "the label verified, but the ledger's answer about it did not: {detail}"
            ),
            record: None,
        };
        let mut report = Self::finish(Verdict::NotGenuine, None, vec![finding], None);
        report.summary = format!(
            "{}: wrong answer from the ledger: {detail} [{}]",
            Verdict::NotGenuine.headline(),
            crate::CODE_ONLINE_MISMATCH
        );
        report
    }

    pub(crate) fn ledger_proof_refused(error: &PayloadVerifyError) -> Self {
        let (cause, explanation) = match error {
            PayloadVerifyError::Head(_) => (
                "bad ledger statement",
                "the ledger's head statement stapled to the records is forged, for another \
                 item, older than the records, or contradicts them",
            ),
            _ => (
                "not in the ledger's log",
                "the log checkpoint or inclusion proof does not prove the last record into the \
                 ledger's signed log: the history was altered or not logged",
            ),
        };
        let finding = Finding {
            code: error.code(),
            severity: Severity::Error,
            cause,
            message: format!("{explanation}: {error}"),
            record: None,
        };
        let mut report = Self::finish(Verdict::NotGenuine, None, vec![finding], None);
        report.summary = format!(
            "{}: {cause}: {error} [{}]",
            Verdict::NotGenuine.headline(),
            error.code()
        );
        report
    }

    pub(crate) fn from_verified(
        verified: &VerifiedPayload,
        label_only: bool,
        now: Timestamp,
        options: Options,
    ) -> Self {
        let chain = &verified.chain;
        let current = Current {
            chain,
            head: verified.head.as_ref(),
        };
        let story = story(&current, verified, label_only, now);
        let basis = if label_only {
            OwnerBasis::Label
        } else if verified.head.is_none() {
            OwnerBasis::LastInFile
        } else {
            OwnerBasis::Ledger
        };
        // In this order: what happened to the piece, how old the ledger's word is, and what
        // the input cannot show.
        let mut findings = status_findings(&current, &story);
        findings.extend(head_age_finding(verified, now, options));
        findings.extend(basis_finding(basis));
        let verdict = if current.void() {
            Verdict::NotGenuine
        } else if findings.is_empty() {
            Verdict::Genuine
        } else {
            Verdict::GenuineWithWarnings
        };
        let owner = OwnerContext {
            key: *current.owner(),
            item: chain.item(),
            basis,
        };
        Self::finish(verdict, Some(story), findings, Some(owner))
    }

    pub(crate) fn finish(
        verdict: Verdict,
        story: Option<Story>,
        findings: Vec<Finding>,
        owner: Option<OwnerContext>,
    ) -> Self {
        let code = findings
            .iter()
            .find(|f| f.severity == Severity::Error)
            .map(|f| f.code);
        let (headline, advice) = buyer_words(verdict, story.as_ref(), &findings);
        let mut report = Report {
            verdict,
            code,
            headline,
            advice,
            summary: String::new(),
            story,
            findings,
            owner_challenge: None,
            exit_code: verdict.exit_code(),
            trust_anchor: None,
            owner,
        };
        report.summary = report.make_summary();
        report
    }

    pub(crate) fn make_summary(&self) -> String {
        let mut line = format!("{}: ", self.verdict.headline());
        match (&self.story, self.verdict) {
            (Some(story), Verdict::NotGenuine) => {
                // Voided: the records verify, but the maker withdrew the piece.
                let _ = write!(
                    line,
                    "{}/{} of '{}' was VOIDED by its maker {}.",
                    story.edition.number,
                    story.edition.size,
                    inert(&story.title),
                    inert(&story.maker.name)
                );
            }
            (Some(story), _) => {
                if story.stolen {
                    line.push_str("REPORTED STOLEN. ");
                }
                let _ = write!(
                    line,
                    "{}/{} of '{}', made by {} at {} on {}.",
                    story.edition.number,
                    story.edition.size,
                    inert(&story.title),
                    inert(&story.maker.name),
                    inert(&story.microfactory),
                    date(&story.minted_at)
                );
                if story.freshness.basis == "label" {
                    line.push_str(" Label only: proves origin, not current owner or history.");
                } else {
                    match story.repair_count {
                        0 => line.push_str(" Never repaired."),
                        1 => line.push_str(" Repaired once."),
                        2 => line.push_str(" Repaired twice."),
                        n => {
                            let _ = write!(line, " Repaired {n} times.");
                        }
                    }
                    let owners = story.owner_count;
                    let plural = if owners == 1 { "" } else { "s" };
                    let owner = &story.current_owner.key_id;
                    if story.freshness.basis == "last_record" {
                        let _ = write!(
                            line,
                            " {owners} owner{plural}. Last owner in this file: key {owner}, \
                             not confirmed by the ledger."
                        );
                    } else {
                        let _ = write!(line, " {owners} owner{plural}. Current owner key {owner}.");
                    }
                }
            }
            (None, _) => {
                if let Some(f) = self.findings.first() {
                    let _ = write!(line, "{} — {} [{}]", f.cause, f.message, f.code);
                }
            }
        }
        line
    }

    /// Checks an owner's answer (from `provenance prove ITEM --challenge NONCE`) against the
    /// verified current owner key and item. The result is stored in
    /// [`Report::owner_challenge`] and changes [`Report::exit_code`] to
    /// [`exit::CHALLENGE_FAILED`] when a verified piece's challenge fails.
    pub fn check_owner(&mut self, nonce: &[u8], answer: &str) -> &ChallengeOutcome {
        let outcome = match &self.owner {
            None => ChallengeOutcome::failed(
                None,
                "not checked: the piece did not verify, so there is no owner key to check the \
                 answer against"
                    .to_string(),
            ),
            // Issue 20.2: a label names the owner at minting, a history without the ledger's
            // head statement its last owner in the file; neither is today's owner for sure, so
            // no answer passes, not even theirs (the maker who sold the piece would).
            Some(owner) if owner.basis == OwnerBasis::Label => ChallengeOutcome::not_judged(
                CODE_LABEL_ONLY,
                "NOT CHECKED: a label shows where the piece comes from, not who owns it today. \
                 Scan the label while online, or ask the seller to show the piece's current QR \
                 code from their app, then check again"
                    .to_string(),
            ),
            Some(owner) if owner.basis == OwnerBasis::LastInFile => ChallengeOutcome::not_judged(
                CODE_OWNER_UNCONFIRMED,
                "NOT CHECKED: this history has no statement from the ledger, so it may stop \
                 before a later sale and cannot show who owns the piece today. Ask the seller for \
                 the piece's current QR code, or scan it online, then check again"
                    .to_string(),
            ),
            Some(owner) => match challenge::check(answer, &owner.key, &owner.item, nonce) {
                Ok(()) => ChallengeOutcome {
                    result: ChallengeResult::Passed,
                    passed: true,
                    code: None,
                    message: format!(
                        "PASSED: the seller holds the key of today's owner ({})",
                        owner.key.key_id()
                    ),
                },
                Err(error) => ChallengeOutcome::failed(
                    Some(error.code()),
                    format!(
                        "FAILED: the seller did not prove ownership: {error}. The piece may be \
                         genuine, but this seller has not shown they own it"
                    ),
                ),
            },
        };
        let verified = matches!(
            self.verdict,
            Verdict::Genuine | Verdict::GenuineWithWarnings
        );
        if !outcome.passed && self.owner.is_some() && verified {
            self.exit_code = exit::CHALLENGE_FAILED;
        }
        self.owner_challenge.insert(outcome)
    }

    /// Records which trust list the verdict rests on and whether its operator was pinned; the
    /// text output then warns when it was not.
    pub fn note_trust_anchor(&mut self, trust: &TrustList, pinned: bool) {
        let content = trust.content();
        self.trust_anchor = Some(TrustAnchor {
            operator_key_id: trust.operator().key_id().to_string(),
            pinned,
            version: content.version,
            issued_at: content.issued_at.to_rfc3339(),
        });
    }

    /// The process exit code: 0 genuine, 1 genuine with warnings, 2 not genuine,
    /// 3 unreadable, 4 owner challenge failed or not judged on a piece that verified.
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }

    /// The codes of every finding, in order (handy for tests and scripts).
    pub fn codes(&self) -> Vec<&'static str> {
        self.findings.iter().map(|f| f.code).collect()
    }
}

/// Stolen and void: what the records (or the head statement ahead of them) say happened.
fn status_findings(current: &Current<'_>, story: &Story) -> Vec<Finding> {
    let chain = current.chain;
    let when = |status| {
        if current.ahead().is_some() {
            " (per the ledger's head statement)".to_string()
        } else {
            last_report(chain, status).unwrap_or_default()
        }
    };
    let mut findings = Vec::new();
    if current.stolen() {
        findings.push(Finding {
            code: CODE_STOLEN,
            severity: Severity::Warning,
            cause: "reported stolen",
            message: format!(
                "REPORTED STOLEN by its owner{}. The piece is genuine, but do not buy it from \
                 anyone who cannot prove they are the current owner; contact the ledger operator.",
                when(ReportStatus::Stolen)
            ),
            record: None,
        });
    }
    if !current.void() && !current.can_transfer() {
        findings.push(Finding {
            code: CODE_NOT_TRANSFERABLE,
            severity: Severity::Warning,
            cause: "cannot change hands",
            message: format!(
                "the history is full up to the positions kept for the maker's void ({} records): \
                 the ledger will refuse any transfer, so nobody can be recorded as its next owner",
                story.records
            ),
            record: None,
        });
    }
    if current.void() {
        findings.push(Finding {
            code: CODE_VOID,
            severity: Severity::Error,
            cause: "voided by the maker",
            message: format!(
                "the maker {} voided this piece{} (a misprint, a destroyed or withdrawn piece): \
                 it no longer counts as genuine edition {}/{}",
                chain.maker().name,
                when(ReportStatus::Void),
                chain.mint().number,
                chain.mint().size
            ),
            record: usize::try_from(story.records.saturating_sub(1)).ok(),
        });
    }
    findings
}

/// `head.old` when the ledger's head statement is older than the options allow.
fn head_age_finding(
    verified: &VerifiedPayload,
    now: Timestamp,
    options: Options,
) -> Option<Finding> {
    let head = verified.head.as_ref()?;
    let age = now.0.saturating_sub(head.time.0);
    (age > options.max_age_secs).then(|| Finding {
        code: CODE_HEAD_OLD,
        severity: Severity::Warning,
        cause: "old ownership information",
        message: format!(
            "the ledger confirmed the owner {} days ago ({}), more than the {}-day maximum: the \
             piece may have changed hands since. Ask the seller for a fresh QR from `provenance \
             qr`.",
            age / DAY_SECS,
            head.time.to_date(),
            options.max_age_secs / DAY_SECS
        ),
        record: None,
    })
}

/// What the kind of input cannot show: the current owner (a history without the ledger's
/// head statement) or anything after minting (a label).
fn basis_finding(basis: OwnerBasis) -> Option<Finding> {
    let (code, cause, message) = match basis {
        OwnerBasis::Ledger => return None,
        OwnerBasis::LastInFile => (
            CODE_OWNER_UNCONFIRMED,
            "owner not confirmed",
            "this history carries no head statement signed by the ledger, so nothing shows it is \
             complete: a history cut before a later transfer looks exactly like this. The owner \
             shown is the last one in the file, not confirmed as the current owner. Ask the \
             seller for the living QR from `provenance qr` or a fresh `provenance export`.",
        ),
        OwnerBasis::Label => (
            CODE_LABEL_ONLY,
            "label only",
            "this is the printed label: it proves who made the piece (origin), not who owns it \
             now nor what happened to it since (repairs, transfers, stolen reports). Ask the \
             seller for the living QR from `provenance qr` or a full history from `provenance \
             export`, and an owner challenge.",
        ),
    };
    Some(Finding {
        code,
        severity: Severity::Warning,
        cause,
        message: message.to_string(),
        record: None,
    })
}

pub(crate) fn payload_cause(error: &PayloadError) -> &'static str {
    match error {
        PayloadError::TooLarge(_) => "payload too large",
        PayloadError::BadPrefix => "not a provenance payload",
        PayloadError::BadBase45 => "damaged payload",
        PayloadError::BadContainer(_) => "not a provenance payload",
        _ => "damaged payload",
    }
}

pub(crate) fn payload_message(error: &PayloadError) -> String {
    match error {
        PayloadError::BadPrefix => {
            "the input is not a provenance payload (it must start with PV1:) nor a history file"
                .to_string()
        }
        other => format!("the payload could not be read: {other}"),
    }
}

/// The cause in words and a short explanation for a chain error.
pub(crate) fn chain_cause(error: &VerifyError) -> (&'static str, &'static str) {
    match error {
        VerifyError::Decode(_) => (
            "tampered or damaged",
            "a record is malformed or was altered after signing",
        ),
        VerifyError::SignatureInvalid => (
            "tampered",
            "a signature does not verify: the record was altered, or moved from another item \
             or position",
        ),
        VerifyError::UnknownSigner(_) => (
            "untrusted signer",
            "signed by a key that is not on the trust list (an untrusted maker, desk or host)",
        ),
        VerifyError::SignerNotAuthorized(Role::Maker) => (
            "signer not authorized",
            "signed by a trusted key that is not a trusted maker",
        ),
        VerifyError::SignerNotAuthorized(_) => (
            "signer not authorized",
            "signed by a trusted key without the role this record needs",
        ),
        VerifyError::SignerNotOwner => (
            "signer not authorized",
            "a transfer or stolen/recovered report not signed by the owner at that time",
        ),
        VerifyError::SignerNotMaker => (
            "signer not authorized",
            "a void report not signed by the piece's maker",
        ),
        VerifyError::KeyRevoked => (
            "key revoked",
            "signed with a key the operator revoked before the record's date",
        ),
        VerifyError::KeyExpired | VerifyError::KeyNotYetValid => (
            "key outside its validity",
            "signed with a key that was not valid at the record's date",
        ),
        VerifyError::EditionOverCap { .. } => (
            "edition over cap",
            "the edition number is larger than the run size",
        ),
        VerifyError::EditionZero => ("invalid edition", "the edition number is 0"),
        VerifyError::RunMismatch(_) | VerifyError::OutsideWindow | VerifyError::InvalidWindow => (
            "run mismatch",
            "the mint does not agree with its production run",
        ),
        VerifyError::TimeInFuture => (
            "dated in the future",
            "a record is dated after now (check --now and the clock)",
        ),
        VerifyError::ItemVoid => ("broken chain", "a record follows the maker's void report"),
        _ => (
            "broken chain",
            "the records do not form one valid chain (order, sequence, dates or kinds)",
        ),
    }
}

impl ChallengeOutcome {
    fn failed(code: Option<&'static str>, message: String) -> Self {
        ChallengeOutcome {
            result: ChallengeResult::Failed,
            passed: false,
            code,
            message,
        }
    }

    fn not_judged(code: &'static str, message: String) -> Self {
        ChallengeOutcome {
            result: ChallengeResult::NotJudged,
            passed: false,
            code: Some(code),
            message,
        }
    }
}
