//! Production: `run create` and `mint` (online with a progress bar and a pool of signers, or
//! offline into the outbox), and the QR label files.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use provenance_core::codes;
use provenance_core::{
    ItemId, Mint, Payload, Record, RecordBody, RunId, RunManifest, SigningKey, Timestamp,
};

use super::args::{MintArgs, RunCreateArgs};
use super::output::{MintOutput, MintedItem, QueuedMint, QueuedMintsOutput};
use super::{refuse_bad_text, Ctx, Outcome};
use crate::api::{RecordAck, RunAck, RunView};
use crate::client::CliError;
use crate::keyfile::read_key;
use crate::ledger::now;
use crate::qr;
use crate::qr::LabelText;

pub(super) fn run_create(ctx: &Ctx, a: RunCreateArgs) -> Result<(), CliError> {
    let RunCreateArgs {
        key,
        title,
        microfactory,
        size,
        place,
        window_days,
    } = a;
    let maker = read_key(&key)?;
    let now = now();
    let record = Record {
        time: now,
        seq: 0,
        body: RecordBody::RunManifest(RunManifest {
            title: title.clone(),
            microfactory,
            place,
            size,
            window_start: now,
            window_end: Timestamp(now.0.saturating_add(window_days.saturating_mul(86_400))),
        }),
    };
    refuse_bad_text(&record)?;
    let bytes = record.sign(&maker, None);
    let (_, answer): (_, RunAck) = ctx.client.post("/v1/runs", "application/cose", &bytes)?;
    if !ctx.json {
        eprintln!("registered run \"{title}\" of {size} pieces");
    }
    ctx.print(|| format!("{}\n", answer.run), &answer);
    Ok(())
}

struct Minted {
    number: u64,
    item: ItemId,
    files: Vec<PathBuf>,
    label: Option<(qrcode::QrCode, LabelText)>,
}

impl RunView {
    /// The first `count` edition numbers nobody minted yet.
    fn free_editions(&self, run: &RunId, count: u64) -> Result<Vec<u64>, CliError> {
        let taken: std::collections::HashSet<u64> = self.items.iter().map(|p| p.number).collect();
        let free: Vec<u64> = (1..=self.size)
            .filter(|n| !taken.contains(n))
            .take(usize::try_from(count).unwrap_or(usize::MAX))
            .collect();
        if (free.len() as u64) < count {
            return Err(CliError::coded(
                format!(
                    "run {run} has {} free edition numbers of {}, cannot mint {count}",
                    self.size.saturating_sub(taken.len() as u64),
                    self.size
                ),
                codes::RUN_EDITION_OVER_CAP,
            ));
        }
        Ok(free)
    }
}

pub(super) fn mint(ctx: &Ctx, a: MintArgs) -> Result<Outcome, CliError> {
    let maker = read_key(&a.key)?;
    let run_id = RunId::from_base32(a.run.trim()).ok_or_else(|| {
        CliError::coded(
            format!("{:?} is not a run id", a.run),
            codes::LEDGER_BAD_REQUEST,
        )
    })?;
    let owner = a
        .owner
        .as_deref()
        .map(|o| super::recovery::parse_new_owner(o, None))
        .transpose()?;
    let run: RunView = match (a.offline, ctx.client.get(&format!("/v1/runs/{run_id}"))) {
        (true, _) => {
            return mint_offline(ctx, &a, &maker, &run_id, owner, "--offline")
                .map(|()| Outcome::Done)
        }
        (false, Err(e)) if crate::offline::unreachable(&e) => {
            return mint_offline(
                ctx,
                &a,
                &maker,
                &run_id,
                owner,
                "the ledger was unreachable",
            )
            .map(|()| Outcome::Queued)
        }
        (false, result) => result?,
    };
    let free = run.free_editions(&run_id, a.count)?;
    if let Some(dir) = &a.labels {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::io(format!("cannot create {}: {e}", dir.display())))?;
    }
    // With a public URL the labels open the ledger's web verifier (spec §7.5).
    let public_url = match &a.labels {
        Some(_) => ctx.public_url()?,
        None => None,
    };
    let time = now();
    let mints: Vec<(u64, Vec<u8>)> = free
        .iter()
        .map(|&number| {
            let record = Record {
                time,
                seq: 0,
                body: RecordBody::Mint(Mint {
                    run: run_id,
                    number,
                    size: run.size,
                    title: run.title.clone(),
                    microfactory: run.microfactory.clone(),
                    owner,
                }),
            };
            (number, record.sign(&maker, None))
        })
        .collect();
    let labels = a.labels.as_deref().map(|dir| LabelTarget {
        dir,
        title: &run.title,
        size: run.size,
        public_url: public_url.as_deref(),
    });
    let (mut minted, first_error) = post_mints(ctx, &mints, labels.as_ref());
    let sheets = match &a.labels {
        Some(dir) => write_sheets(dir, &run_id, &mut minted)?,
        None => Vec::new(),
    };
    print_minted(ctx, &run_id, &run, &minted, &sheets, a.labels.as_deref());
    match first_error {
        Some(e) => Err(e),
        None => Ok(Outcome::Done),
    }
}

/// Where and how to write label files.
struct LabelTarget<'a> {
    dir: &'a Path,
    title: &'a str,
    size: u64,
    /// The ledger's public URL: labels then hold label URLs (spec §7.5).
    public_url: Option<&'a str>,
}

/// Posts the signed mints from four threads (with a progress bar on a terminal) and writes each
/// piece's labels; the pieces minted in edition order, and the first error.
fn post_mints(
    ctx: &Ctx,
    mints: &[(u64, Vec<u8>)],
    labels: Option<&LabelTarget<'_>>,
) -> (Vec<Minted>, Option<CliError>) {
    // indicatif draws on stderr: show the bar whenever stderr is a terminal, also when stdout
    // is redirected (`mint ... > items.txt`).
    let bar = (std::io::stderr().is_terminal() && !ctx.json).then(|| {
        let bar = indicatif::ProgressBar::new(mints.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} minted {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<Minted, (u64, CliError)>>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4.min(mints.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((number, bytes)) = mints.get(i) else {
                    break;
                };
                let result = ctx
                    .client
                    .post::<RecordAck>("/v1/items", "application/cose", bytes)
                    .and_then(|_| label_files(*number, bytes, labels))
                    .map_err(|e| (*number, e));
                if let Some(bar) = &bar {
                    bar.inc(1);
                }
                if let Ok(mut r) = results.lock() {
                    r.push(result);
                }
            });
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|r| match r {
        Ok(m) => m.number,
        Err((n, _)) => *n,
    });
    let mut minted = Vec::new();
    let mut first_error = None;
    for r in results {
        match r {
            Ok(m) => minted.push(m),
            Err((n, e)) => {
                eprintln!("error: edition {n}: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    (minted, first_error)
}

/// Writes the A4 sheets of the minted pieces' labels (4 × 5 per page); their paths.
fn write_sheets(dir: &Path, run: &RunId, minted: &mut [Minted]) -> Result<Vec<PathBuf>, CliError> {
    let with_labels: Vec<(qrcode::QrCode, LabelText)> =
        minted.iter_mut().filter_map(|m| m.label.take()).collect();
    let per_page = qr::SHEET_GRID.0 * qr::SHEET_GRID.1;
    let mut sheets = Vec::new();
    for page in with_labels.chunks(per_page) {
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            continue;
        };
        let (first, last) = (first.1.number, last.1.number);
        let path = dir.join(format!("sheet-{}-{first}-{last}.svg", run.short()));
        std::fs::write(&path, qr::sheet_svg(page))
            .map_err(|e| CliError::io(format!("cannot write {}: {e}", path.display())))?;
        sheets.push(path);
    }
    Ok(sheets)
}

/// The item ids on stdout (or the JSON), and the summary on stderr.
fn print_minted(
    ctx: &Ctx,
    run_id: &RunId,
    run: &RunView,
    minted: &[Minted],
    sheets: &[PathBuf],
    labels: Option<&Path>,
) {
    let shown = |files: &[PathBuf]| files.iter().map(|f| f.display().to_string()).collect();
    let machine = MintOutput {
        run: run_id.to_base32(),
        items: minted
            .iter()
            .map(|m| MintedItem {
                number: m.number,
                size: run.size,
                item: m.item.to_base32(),
                short: m.item.short(),
                labels: shown(&m.files),
            })
            .collect(),
        sheets: shown(sheets),
    };
    ctx.print(
        || minted.iter().map(|m| format!("{}\n", m.item)).collect(),
        &machine,
    );
    if ctx.json || minted.is_empty() {
        return;
    }
    let numbers: Vec<u64> = minted.iter().map(|m| m.number).collect();
    eprintln!(
        "minted {} of \"{}\" (edition{} {} of {})",
        minted.len(),
        crate::client::from_ledger(&run.title),
        if numbers.len() == 1 { "" } else { "s" },
        edition_ranges(&numbers),
        run.size
    );
    if let Some(dir) = labels {
        eprintln!(
            "labels and {} A4 sheet(s) in {}",
            sheets.len(),
            dir.display()
        );
    }
}

/// Edition numbers as ranges: `1-3, 5, 7-1000` (the numbers must be sorted).
pub fn edition_ranges(numbers: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(&start) = numbers.get(i) {
        let mut end = start;
        while numbers.get(i + 1) == Some(&(end + 1)) {
            end += 1;
            i += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

/// Writes a minted piece's label files (SVG and PNG) when a labels directory is given; with
/// the ledger's public URL the code holds the label URL (spec §7.5), else the bare payload, and
/// the label URL is also written as an NDEF message (`.ndef`) for an NFC sticker.
fn label_files(
    number: u64,
    bytes: &[u8],
    labels: Option<&LabelTarget<'_>>,
) -> Result<Minted, CliError> {
    let item = ItemId::derive(bytes);
    let mut files = Vec::new();
    let mut label = None;
    if let Some(target) = labels {
        let payload = Payload::Label(bytes.to_vec()).encode();
        let code = qr::encode_payload(target.public_url, &payload)
            .map_err(|e| CliError::msg(e.to_string()))?;
        let text = LabelText {
            number,
            size: target.size,
            title: target.title.to_string(),
            short_id: item.short(),
        };
        let stem = target.dir.join(format!("{number}-{}", item.short()));
        let svg = stem.with_extension("svg");
        let png = stem.with_extension("png");
        let write = |path: &Path, data: &[u8]| {
            std::fs::write(path, data)
                .map_err(|e| CliError::io(format!("cannot write {}: {e}", path.display())))
        };
        write(&svg, qr::label_svg(&code, &text).as_bytes())?;
        write(
            &png,
            &qr::label_png(&code, &text).map_err(|e| CliError::msg(e.to_string()))?,
        )?;
        files = vec![svg, png];
        if let Some(public_url) = target.public_url {
            let ndef = stem.with_extension("ndef");
            write(
                &ndef,
                &crate::nfc::uri_message(&qr::label_url(public_url, &payload)),
            )?;
            files.push(ndef);
        }
        label = Some((code, text));
    }
    Ok(Minted {
        number,
        item,
        files,
        label,
    })
}

/// Mints from the outbox's cached run and queues the mints (labels are written at once: they
/// need no ledger).
fn mint_offline(
    ctx: &Ctx,
    a: &MintArgs,
    maker: &SigningKey,
    run: &RunId,
    owner: Option<provenance_core::NewOwner>,
    reason: &str,
) -> Result<(), CliError> {
    let (cached, minted) =
        crate::offline::queue_mints(&ctx.home, run, a.count, owner, &a.key, maker, reason)?;
    if let Some(dir) = &a.labels {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::io(format!("cannot create {}: {e}", dir.display())))?;
    }
    let labels = a.labels.as_deref().map(|dir| LabelTarget {
        dir,
        title: &cached.title,
        size: cached.size,
        public_url: None,
    });
    let mut items = Vec::new();
    for (number, _, bytes) in &minted {
        items.push(label_files(*number, bytes, labels.as_ref())?);
    }
    let numbers: Vec<u64> = items.iter().map(|m| m.number).collect();
    ctx.print(
        || items.iter().map(|m| format!("{}\n", m.item)).collect(),
        &QueuedMintsOutput {
            run: run.to_base32(),
            queued: true,
            state: crate::outbox::EntryState::Queued.name(),
            reason: reason.to_string(),
            items: items
                .iter()
                .map(|m| QueuedMint {
                    number: m.number,
                    item: m.item.to_base32(),
                })
                .collect(),
        },
    );
    if !ctx.json {
        eprintln!(
            "queued {} mint(s) of \"{}\" (editions {} of {}) ({reason}); `provenance sync` sends them",
            items.len(),
            crate::client::from_ledger(&cached.title),
            edition_ranges(&numbers),
            cached.size
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edition_numbers_are_summarised_as_ranges() {
        assert_eq!(edition_ranges(&[]), "");
        assert_eq!(edition_ranges(&[7]), "7");
        assert_eq!(edition_ranges(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
        let thousand: Vec<u64> = (1..=1000).collect();
        assert_eq!(edition_ranges(&thousand), "1-1000");
    }
}
