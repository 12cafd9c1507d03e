//! Label tests. Every SVG the tool writes is rasterized with resvg (a renderer other than a
//! browser) and read back with rqrr; PNGs and the terminal rendering are read back too.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use std::collections::BTreeSet;

use image::{GrayImage, Luma};
use provenance_core::{ItemId, Mint, Payload, Record, RecordBody, RunId, SigningKey, Timestamp};
use qrcode::{EcLevel, QrCode, Version};
use resvg::tiny_skia::{Color, Pixmap, Transform};
use resvg::usvg;

use super::font::{FONT_BYTES, MISSING};
use super::layout::SHORT_ID_PT;
use super::raster::pixels_per_metre;
use super::svg::sheet_place;
use super::terminal::side_quiet_zone;
use super::*;

/// A mint's label payload and the text printed beside it.
fn label(number: u64, title: &str) -> (String, LabelText) {
    let maker = SigningKey::from_seed([2; 32]);
    let mint = Record {
        time: Timestamp(1_780_000_000),
        seq: 0,
        body: RecordBody::Mint(Mint {
            run: RunId([9; 16]),
            number,
            size: 20,
            title: title.into(),
            microfactory: "Northside Microfactory".into(),
            owner: None,
        }),
    }
    .sign(&maker, None);
    let text = LabelText {
        number,
        size: 20,
        title: title.into(),
        short_id: ItemId::derive(&mint).short(),
    };
    (Payload::Label(mint).encode(), text)
}

/// A title of exactly 256 bytes, mixing accents, XML specials and wide Latin letters.
fn long_title() -> String {
    let mut t = "Été <1/30> & WMW ".repeat(20);
    while t.len() > 256 {
        t.pop();
    }
    while t.len() < 256 {
        t.push('W');
    }
    t
}

/// usvg options whose only font is the bundled DejaVu Sans, standing in for every family.
fn options() -> usvg::Options<'static> {
    let mut opt = usvg::Options::default();
    let db = opt.fontdb_mut();
    db.load_font_data(FONT_BYTES.to_vec());
    db.set_sans_serif_family("DejaVu Sans");
    db.set_monospace_family("DejaVu Sans");
    opt
}

fn parse(svg: &str) -> usvg::Tree {
    usvg::Tree::from_str(svg, &options()).unwrap()
}

/// Renders `svg` with resvg, `width` pixels wide, on white.
fn rasterize(svg: &str, width: u32) -> GrayImage {
    let tree = parse(svg);
    let size = tree.size();
    let s = width as f32 / size.width();
    let height = (size.height() * s).ceil() as u32;
    let mut pixmap = Pixmap::new(width, height).unwrap();
    pixmap.fill(Color::WHITE);
    resvg::render(&tree, Transform::from_scale(s, s), &mut pixmap.as_mut());
    GrayImage::from_fn(width, height, |x, y| {
        Luma([pixmap.pixel(x, y).unwrap().red()])
    })
}

/// Every QR code rqrr reads in `img`.
fn decode(img: GrayImage) -> BTreeSet<String> {
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared
        .detect_grids()
        .iter()
        .filter_map(|g| g.decode().ok().map(|(_, text)| text))
        .collect()
}

/// `svg` inside a group that strokes everything 1 unit wide, as ImageMagick does by default:
/// only elements that say `stroke="none"` stay as drawn.
fn with_default_stroke(svg: &str) -> String {
    let open = svg.find('>').unwrap() + 1;
    let close = svg.rfind("</svg>").unwrap();
    format!(
        "{}<g stroke=\"#000\" stroke-width=\"1\">{}</g>{}",
        &svg[..open],
        &svg[open..close],
        &svg[close..]
    )
}

/// Every text element of a parsed SVG: its string, canvas bounding box and font size in pt.
fn texts(tree: &usvg::Tree) -> Vec<(String, usvg::Rect, f64)> {
    fn walk(group: &usvg::Group, out: &mut Vec<(String, usvg::Rect, f64)>) {
        for node in group.children() {
            match node {
                usvg::Node::Group(g) => walk(g, out),
                usvg::Node::Text(t) => {
                    let scale = f64::from(t.abs_transform().sy);
                    for chunk in t.chunks() {
                        for span in chunk.spans() {
                            // Canvas px are CSS px: 96 per inch, 72 pt per inch.
                            let pt = f64::from(span.font_size().get()) * scale * 0.75;
                            out.push((chunk.text().to_string(), t.abs_bounding_box(), pt));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(tree.root(), &mut out);
    out
}

#[test]
fn payload_strings_use_one_alphanumeric_segment() {
    // 200 bytes of CBOR in base45 is 300 characters + "PV1:": version 11 at ECC M in
    // alphanumeric mode (capacity 331), while byte mode would need version 14.
    let data = format!("PV1:{}", "A1 $%*+-./:".repeat(28));
    assert!(data.len() > 300 && data.len() <= 331);
    assert!(is_alphanumeric(&data));
    let code = encode(&data).unwrap();
    assert_eq!(code.version(), Version::Normal(11));
    assert_eq!(code.error_correction_level(), EcLevel::M);
    assert!(!is_alphanumeric("pv1:lower"));
    assert!(encode("pv1:lower").is_ok());
    assert!(encode(&"A".repeat(3392)).is_err());
    assert!(encode(&"A".repeat(3391)).is_ok());
}

#[test]
fn renders_have_quiet_zone_and_text() {
    let (payload, text) = label(2, "Eclipse <Pin>");
    let code = encode(&payload).unwrap();
    let size = code.width() + 2 * QUIET_ZONE;
    assert!(svg(&code).contains(&format!("viewBox=\"0 0 {size} {size}\"")));
    let label = label_svg(&code, &text);
    assert!(
        label.contains("2/20")
            && label.contains("Eclipse &lt;Pin&gt;")
            && label.contains(&text.short_id)
    );
    let png = label_png(&code, &text).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_luma8();
    assert_eq!(img.width(), size as u32 * LABEL_PNG_SCALE);
    assert!(img.height() > img.width());
    // The quiet zone is white.
    assert!((0..32).all(|i| img.get_pixel(i, i).0[0] == 255));
    let sheet = sheet_svg(&[(code, text)]);
    assert!(
        sheet.contains("210mm")
            && sheet.matches("<svg").count() == 1
            && sheet.matches("<g transform").count() == 1
    );
}

// --- item 2: every SVG decodes through a renderer other than a browser ----------------------

#[test]
fn every_path_is_unstroked_and_crisp() {
    let (payload, text) = label(1, "Eclipse Pin");
    let code = encode(&payload).unwrap();
    for doc in [
        svg(&code),
        label_svg(&code, &text),
        sheet_svg(&[(code.clone(), text)]),
    ] {
        let paths: Vec<&str> = doc.split("<path").skip(1).collect();
        assert!(!paths.is_empty());
        for p in paths {
            let tag = &p[..p.find('>').unwrap()];
            assert!(tag.contains("stroke=\"none\""), "{tag}");
            assert!(tag.contains("shape-rendering=\"crispEdges\""), "{tag}");
        }
    }
}

#[test]
fn item_qr_svg_decodes_in_resvg_even_with_a_default_stroke() {
    let (label_payload, _) = label(7, "Eclipse Pin");
    // A label payload (v9) and a long living payload (v15).
    let living = format!("PV1:{}", "0A1B2C3D4E5F6G7H8I9J ".repeat(32));
    for payload in [label_payload, living] {
        let code = encode(&payload).unwrap();
        let doc = svg(&code);
        let px = (code.width() as u32 + 8) * 6;
        assert_eq!(
            decode(rasterize(&doc, px)),
            BTreeSet::from([payload.clone()])
        );
        assert_eq!(
            decode(rasterize(&with_default_stroke(&doc), px)),
            BTreeSet::from([payload.clone()])
        );
    }
}

#[test]
fn label_svg_decodes_in_resvg_even_with_a_default_stroke() {
    for title in ["Eclipse Pin".to_string(), long_title(), "漢字のピン".into()] {
        let (payload, text) = label(3, &title);
        let code = encode(&payload).unwrap();
        let doc = label_svg(&code, &text);
        let px = (code.width() as u32 + 8) * 6;
        assert_eq!(
            decode(rasterize(&doc, px)),
            BTreeSet::from([payload.clone()])
        );
        assert_eq!(
            decode(rasterize(&with_default_stroke(&doc), px)),
            BTreeSet::from([payload.clone()]),
            "{title}"
        );
    }
    // The stroke test bites: without stroke="none" the stroked modules merge and nothing reads.
    let (payload, text) = label(3, "Eclipse Pin");
    let code = encode(&payload).unwrap();
    let unprotected = label_svg(&code, &text).replace(" stroke=\"none\"", "");
    let px = (code.width() as u32 + 8) * 6;
    assert!(decode(rasterize(&with_default_stroke(&unprotected), px)).is_empty());
}

#[test]
fn sheet_svg_decodes_every_label_in_resvg_even_with_a_default_stroke() {
    let labels: Vec<(String, LabelText)> = (1..=20)
        .map(|n| {
            let title = if n % 5 == 0 {
                long_title()
            } else {
                format!("Eclipse Pin {n}")
            };
            label(n, &title)
        })
        .collect();
    let payloads: BTreeSet<String> = labels.iter().map(|(p, _)| p.clone()).collect();
    let codes: Vec<(QrCode, LabelText)> = labels
        .iter()
        .map(|(p, t)| (encode(p).unwrap(), t.clone()))
        .collect();
    assert!(codes.iter().any(|(c, _)| c.version() == Version::Normal(9)));
    assert!(
        codes.iter().any(|(c, _)| c.width() >= 73),
        "a long title needs v14+"
    );
    let doc = sheet_svg(&codes);
    // 12 px per mm: the smallest modules (0.5 mm) get 6 px.
    assert_eq!(decode(rasterize(&doc, 210 * 12)), payloads);
    assert_eq!(
        decode(rasterize(&with_default_stroke(&doc), 210 * 12)),
        payloads
    );
}

// --- item 15 and escaping: text stays inside the label, at a legible size --------------------

#[test]
fn long_titles_are_cut_with_an_ellipsis_inside_the_label() {
    let title = long_title();
    assert_eq!(title.len(), 256);
    for title in [title, "W".repeat(256), "漢".repeat(85)] {
        let (payload, text) = label(4, &title);
        let code = encode(&payload).unwrap();
        let doc = label_svg(&code, &text);
        let tree = parse(&doc);
        let width = f64::from(tree.size().width());
        let found = texts(&tree);
        assert_eq!(found.len(), 3, "{doc}");
        let (shown, _, _) = &found[1];
        assert!(shown.ends_with('…'), "{shown}");
        assert!(title.starts_with(shown.trim_end_matches('…')), "{shown}");
        for (s, bbox, _) in &found {
            // DejaVu Sans, wider than Helvetica and Arial, stays inside the label.
            assert!(
                f64::from(bbox.left()) >= 0.0 && f64::from(bbox.right()) <= width,
                "{s:?} at {bbox:?} in a label {width} wide"
            );
        }
    }
}

#[test]
fn sheet_text_stays_in_its_cell_and_is_at_least_6_pt() {
    let codes: Vec<(QrCode, LabelText)> = [
        label(1, "Eclipse Pin"),
        label(2, &long_title()),
        label(3, &"W".repeat(256)),
    ]
    .into_iter()
    .map(|(p, t)| (encode(&p).unwrap(), t))
    .collect();
    let doc = sheet_svg(&codes);
    let tree = parse(&doc);
    let px_per_mm = f64::from(tree.size().width()) / 210.0;
    let found = texts(&tree);
    assert_eq!(found.len(), 9);
    for (i, chunk) in found.chunks(3).enumerate() {
        let (x, y, w, h, _) = sheet_place(i, &codes[i].0);
        for (s, bbox, pt) in chunk {
            assert!(*pt >= 6.0 - 1e-6, "{s:?} is {pt} pt");
            let (l, r) = (f64::from(bbox.left()), f64::from(bbox.right()));
            let (t, b) = (f64::from(bbox.top()), f64::from(bbox.bottom()));
            assert!(
                l >= x * px_per_mm && r <= (x + w) * px_per_mm,
                "{s:?}: {l}..{r} outside {x}+{w} mm"
            );
            assert!(t >= y * px_per_mm && b <= (y + h) * px_per_mm, "{s:?}");
        }
        // The short id (last line) is the smallest text, and it is the 6.5 pt of the layout.
        assert!((chunk[2].2 - SHORT_ID_PT).abs() < 0.01, "{}", chunk[2].2);
        assert_eq!(chunk[2].0, codes[i].1.short_id);
    }
    // The single label prints its text at the same sizes.
    let tree = parse(&label_svg(&codes[0].0, &codes[0].1));
    let found = texts(&tree);
    // label_svg states mm; usvg turns them into CSS px (96 per inch) as for the sheet.
    assert!((found[2].2 - SHORT_ID_PT).abs() < 0.01, "{}", found[2].2);
    assert!(found.iter().all(|t| t.2 >= 6.0 - 1e-6));
}

#[test]
fn svg_text_is_escaped_and_reads_back_as_written() {
    let title = "a<b&c>\"d'e \u{7}f\u{FFFF}";
    let (payload, text) = label(5, title);
    let code = encode(&payload).unwrap();
    let doc = label_svg(&code, &text);
    assert!(doc.contains("a&lt;b&amp;c&gt;&quot;d&apos;e  f "), "{doc}");
    assert!(!doc.contains("a<b"));
    // A parser reads back the title (SVG collapses the runs of spaces).
    let shown: Vec<String> = texts(&parse(&doc)).into_iter().map(|t| t.0).collect();
    assert_eq!(shown[1], "a<b&c>\"d'e f");
    let sheet = sheet_svg(&[(code, text)]);
    assert!(sheet.contains("a&lt;b&amp;c&gt;&quot;d&apos;e  f "));
    let shown: Vec<String> = texts(&parse(&sheet)).into_iter().map(|t| t.0).collect();
    assert_eq!(shown[1], "a<b&c>\"d'e f");
}

// --- item 14: PNG text in a real font, pHYs ---------------------------------------------------

/// The label PNG for `title`, decoded.
fn png_for(title: &str) -> GrayImage {
    let (payload, text) = label(6, title);
    let code = encode(&payload).unwrap();
    image::load_from_memory(&label_png(&code, &text).unwrap())
        .unwrap()
        .to_luma8()
}

/// The title line's pixels (between the "n/N" line and the short id).
fn title_band(img: &GrayImage) -> Vec<u8> {
    let top = img.width() as usize;
    let rows = img.height() as usize - top;
    let (from, to) = (top + rows * 30 / 100, top + rows * 62 / 100);
    img.rows()
        .skip(from)
        .take(to - from)
        .flat_map(|r| r.map(|p| p.0[0]).collect::<Vec<_>>())
        .collect()
}

#[test]
fn png_label_draws_accents_and_brackets_as_themselves() {
    // Different titles of the same length give different pixels: the old bitmap font drew
    // "<", ">", "É" and "Ë" as the same box.
    let a = title_band(&png_for("Été <1/30>"));
    let b = title_band(&png_for("Ëtë >1/30<"));
    let c = title_band(&png_for("Ete <1/30>"));
    assert!(a.iter().any(|p| *p < 128), "the title is drawn");
    assert_ne!(a, b);
    assert_ne!(a, c);
    // Characters the font lacks fall back to U+FFFD, visibly and alike.
    let cjk = title_band(&png_for("漢"));
    assert_eq!(cjk, title_band(&png_for("字")));
    assert_eq!(cjk, title_band(&png_for(&MISSING.to_string())));
    assert_ne!(cjk, title_band(&png_for("?")));
}

#[test]
fn png_label_cuts_long_titles_inside_its_margins() {
    let img = png_for(&"W".repeat(256));
    let margin = (1.0 * f64::from(LABEL_PNG_DPI) / 25.4) as u32 - 1;
    for y in img.width()..img.height() {
        for x in (0..margin).chain(img.width() - margin..img.width()) {
            assert_eq!(img.get_pixel(x, y).0[0], 255, "ink at {x},{y}");
        }
    }
}

#[test]
fn pngs_state_their_dpi_and_decode() {
    assert_eq!(pixels_per_metre(), 11_811);
    let (payload, text) = label(8, "Été <1/30>");
    let code = encode(&payload).unwrap();
    for bytes in [label_png(&code, &text).unwrap(), png(&code, 8).unwrap()] {
        let reader = ::png::Decoder::new(std::io::Cursor::new(&bytes))
            .read_info()
            .unwrap();
        let dims = reader.info().pixel_dims.unwrap();
        assert_eq!((dims.xppu, dims.yppu), (11_811, 11_811));
        assert_eq!(dims.unit, ::png::Unit::Meter);
        let img = image::load_from_memory(&bytes).unwrap().to_luma8();
        assert_eq!(decode(img), BTreeSet::from([payload.clone()]));
    }
}

// --- item 11: the terminal rendering fits 80 columns and reads back ---------------------------

/// The smallest payload that needs version `v` at ECC M.
fn payload_of_version(v: i16) -> (String, QrCode) {
    (1..3000)
        .map(|n| format!("PV1:{}", "A".repeat(n)))
        .map(|p| {
            let c = encode(&p).unwrap();
            (p, c)
        })
        .find(|(_, c)| c.version() == Version::Normal(v))
        .unwrap()
}

/// The terminal text mapped back to modules: `true` for dark (a space half).
fn modules_of(text: &str) -> Vec<Vec<bool>> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        for c in line.chars() {
            let (t, b) = match c {
                '█' => (false, false),
                '▀' => (false, true),
                '▄' => (true, false),
                ' ' => (true, true),
                other => panic!("unexpected {other:?}"),
            };
            top.push(t);
            bottom.push(b);
        }
        rows.push(top);
        rows.push(bottom);
    }
    rows
}

#[test]
fn terminal_fits_80_columns_for_v15_and_reads_back() {
    for v in [1, 9, 14, 15] {
        let (payload, code) = payload_of_version(v);
        let text = terminal(&code);
        let columns = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(columns <= TERMINAL_COLUMNS, "v{v}: {columns} columns");
        let qx = side_quiet_zone(code.width());
        assert!(qx >= 1);
        if v <= 13 {
            assert_eq!(qx, QUIET_ZONE);
        }
        // Two module rows per text row: the characters map back to the exact module grid.
        let mut modules = modules_of(&text);
        let expected = grid_with(&code, qx, QUIET_ZONE);
        assert_eq!(modules.len(), expected.len().next_multiple_of(2));
        modules.truncate(expected.len());
        assert_eq!(modules, expected);
        // Drawn as a terminal shows it (blocks light on a dark background all around),
        // the code reads back.
        let (scale, border) = (5u32, 6u32);
        let (w, h) = (modules[0].len() as u32, modules.len() as u32);
        let img = GrayImage::from_fn(
            (w + 2 * border) * scale,
            (h + 2 * border) * scale,
            |x, y| {
                let (mx, my) = (x / scale, y / scale);
                let inside = mx >= border && my >= border && mx < w + border && my < h + border;
                let dark = !inside || modules[(my - border) as usize][(mx - border) as usize];
                Luma([if dark { 0 } else { 255 }])
            },
        );
        assert_eq!(decode(img), BTreeSet::from([payload]), "v{v}");
    }
    assert_eq!(side_quiet_zone(77), 1);
    assert_eq!(side_quiet_zone(21), QUIET_ZONE);
}

/// Issue 10: a label URL for a 30-character public URL stays at or under QR version 12 at
/// ECC M (URL in byte mode, fragment in alphanumeric mode) and reads back exactly.
#[test]
fn label_urls_fit_version_12_and_read_back() {
    let public = "https://ledger.example.org/abc";
    assert_eq!(public.len(), 30);
    let mut worst = 0;
    for number in 1..=20 {
        let (payload, _) = label(number, "Eclipse Pin");
        let url = label_url(public, &payload);
        assert!(
            url.starts_with("https://ledger.example.org/abc/v#PV1:"),
            "{url}"
        );
        assert!(!url.contains(' '), "{url}");
        let code = encode_url(&url).unwrap();
        let Version::Normal(v) = code.version() else {
            panic!("micro")
        };
        worst = worst.max(v);
        let img = code.render::<Luma<u8>>().module_dimensions(4, 4).build();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids[0].decode().unwrap().1, url);
    }
    assert!(worst <= 12, "version {worst}");
}
