//! Drop KPIs (issue 13, spec/kpis.md) against numbers computed by hand: three runs of one
//! maker over 14 months, records signed at chosen times and posted over HTTP, sales on known
//! days, repeat buyers, repairs, badges, a stolen/recovered pair and a void. Also: CSV, the
//! 404s, hostile text escaped on every page, `provenance stats` (table and `--json`), an
//! append after a first read, and the same figures after a restart (folded from index 0).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod common;

use common::{assert_problem, get, key, Server};
use provenance_core::{
    Badge, ChainLink, ItemId, Mint, PublicKey, Record, RecordBody, RecordHash, Repair,
    ReportStatus, RunId, RunManifest, SigningKey, Timestamp,
};
use serde_json::Value;

const DAY: u64 = 86_400;
/// 2025-01-01T00:00:00Z: day 0 of the scenario.
const T0: u64 = 1_735_689_600;

fn at(day: u64) -> Timestamp {
    Timestamp(T0 + day * DAY)
}

struct Piece {
    item: ItemId,
    prev: RecordHash,
    seq: u64,
}

struct Ledger<'a> {
    server: &'a Server,
}

impl Ledger<'_> {
    fn run(&self, maker: &SigningKey, title: &str, size: u64, start_day: u64) -> RunId {
        let bytes = Record {
            time: at(start_day),
            seq: 0,
            body: RecordBody::RunManifest(RunManifest {
                title: title.into(),
                microfactory: "Northside <Micro> & Co".into(),
                place: "Leeds".into(),
                size,
                window_start: at(start_day),
                window_end: at(start_day + 60),
            }),
        }
        .sign(maker, None);
        let answer = self.server.post("/v1/runs", "application/cose", &bytes);
        assert_eq!(answer.0, 201, "{}", answer.1);
        RunId::derive(&bytes)
    }

    #[allow(clippy::too_many_arguments)]
    fn mint(
        &self,
        maker: &SigningKey,
        run: RunId,
        title: &str,
        number: u64,
        size: u64,
        time: Timestamp,
        owner: Option<PublicKey>,
    ) -> Piece {
        let bytes = Record {
            time,
            seq: 0,
            body: RecordBody::Mint(Mint {
                run,
                number,
                size,
                title: title.into(),
                microfactory: "Northside <Micro> & Co".into(),
                owner: owner.map(Into::into),
            }),
        }
        .sign(maker, None);
        let answer = self.server.post("/v1/items", "application/cose", &bytes);
        assert_eq!(answer.0, 201, "{}", answer.1);
        Piece {
            item: ItemId::derive(&bytes),
            prev: RecordHash::of(&bytes),
            seq: 0,
        }
    }

    fn add(&self, piece: &mut Piece, signer: &SigningKey, day: u64, body: RecordBody) {
        let seq = piece.seq + 1;
        let bytes = Record {
            time: at(day),
            seq,
            body,
        }
        .sign(
            signer,
            Some(&ChainLink {
                item: piece.item,
                prev: piece.prev,
            }),
        );
        let answer = self.server.post(
            &format!("/v1/items/{}/records", piece.item),
            "application/cose",
            &bytes,
        );
        assert_eq!(answer.0, 201, "{}", answer.1);
        piece.prev = RecordHash::of(&bytes);
        piece.seq = seq;
    }
}

fn sell(l: &Ledger<'_>, p: &mut Piece, from: &SigningKey, to: &SigningKey, day: u64) {
    l.add(p, from, day, RecordBody::Transfer(to.public_key().into()));
}

fn repair(l: &Ledger<'_>, p: &mut Piece, desk: &SigningKey, day: u64, note: &str, parts: &[&str]) {
    let parts = parts.iter().map(|s| s.to_string()).collect();
    l.add(
        p,
        desk,
        day,
        RecordBody::Repair(Repair {
            note: note.into(),
            parts,
        }),
    );
}

fn badge(l: &Ledger<'_>, p: &mut Piece, host: &SigningKey, day: u64, event: &str) {
    l.add(
        p,
        host,
        day,
        RecordBody::Badge(Badge {
            event: event.into(),
            place: Some("Leeds".into()),
        }),
    );
}

fn html(server: &Server, path: &str) -> String {
    let (status, body) = get(&format!("{}{path}", server.url), "text/html");
    assert_eq!(status, 200, "GET {path}");
    String::from_utf8(body).unwrap()
}

const HOSTILE_TITLE: &str = "<script>alert(1)</script> & \"Beta\"";
const HOSTILE_EVENT: &str = "Fair <b onmouseover='x'>";
const HOSTILE_NOTE: &str = "<img src=x onerror=alert(1)> resoldered";

fn assert_alpha(s: &Value) {
    // Alpha: 4 minted on day 0, window from day 0. First sales on days 2, 6 and 20.
    assert_eq!(s["size"], 4);
    assert_eq!(s["minted"], 4);
    assert_eq!(s["sold"], 3);
    // 4 minted − 3 sold = 1 in stock, and that one (edition 4) was voided on day 50.
    assert_eq!(s["in_stock"], 0);
    assert_eq!(s["sell_through_7d"], 2.0 / 4.0); // days 2 and 6
    assert_eq!(s["sell_through_30d"], 3.0 / 4.0); // and day 20
    assert_eq!(s["sell_through_7d_of_minted"], 2.0 / 4.0);
    assert_eq!(s["sell_through_30d_of_minted"], 3.0 / 4.0);
    assert_eq!(
        s["sales_by_day"],
        serde_json::json!([[2, 1], [6, 2], [20, 3]])
    );
    // Repairs: #1 on days 12 (clasp) and 40 (clasp, pin), #2 on day 9 (no parts).
    assert_eq!(s["repairs"], 3);
    assert_eq!(s["repairs_per_item"], 3.0 / 4.0);
    assert_eq!(
        s["repairs_by_part"],
        serde_json::json!({"clasp": 2, "pin": 1})
    );
    // Sale to first repair: #1 12 − 2 = 10 days, #2 9 − 6 = 3 days.
    assert_eq!(
        s["days_sale_to_first_repair"],
        serde_json::json!({"items": 2, "mean": 6.5, "median": 6.5})
    );
    // #3 stolen on day 25, recovered on day 30; #4 voided by the maker.
    assert_eq!(s["stolen"], 1);
    assert_eq!(s["recovered"], 1);
    assert_eq!(s["void"], 1);
    // Badges: #1 at the fair and the market, #2 twice at the market.
    assert_eq!(s["badges"], 4);
    assert_eq!(
        s["events"],
        serde_json::json!([{"event": HOSTILE_EVENT, "items": 1}, {"event": "Market", "items": 2}])
    );
    assert_eq!(s["items_at_several_events"], 1);
}

#[test]
fn kpis_by_hand_csv_404s_pages_and_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(dir, &[]);
    for (name, role) in [
        ("maker", "maker"),
        ("desk", "repairer"),
        ("host", "host"),
        ("a", ""),
        ("b", ""),
        ("c", ""),
        ("d", ""),
        ("stranger", ""),
    ] {
        server.ok(&["keygen", "-o", &format!("{name}.pem")]);
        if !role.is_empty() {
            server.ok(&[
                "trust",
                "add",
                "--public",
                &format!("{name}.pem"),
                "--role",
                role,
                "--name",
                name,
                "--valid-from",
                "2024-01-01",
            ]);
        }
    }
    let [maker, desk, host, a, b, c, d] =
        ["maker", "desk", "host", "a", "b", "c", "d"].map(|n| key(dir, &format!("{n}.pem")));
    let l = Ledger { server: &server };

    // Run 1, Alpha: 4 pieces, drop on day 0.
    let alpha = l.run(&maker, "Alpha", 4, 0);
    let mint_time = Timestamp(T0 + 3600);
    let mut al: Vec<Piece> = (1..=4)
        .map(|n| l.mint(&maker, alpha, "Alpha", n, 4, mint_time, None))
        .collect();
    sell(&l, &mut al[0], &maker, &a, 2);
    sell(&l, &mut al[1], &maker, &b, 6);
    repair(&l, &mut al[1], &desk, 9, "re-glued", &[]);
    repair(&l, &mut al[0], &desk, 12, HOSTILE_NOTE, &["clasp"]);
    badge(&l, &mut al[0], &host, 15, HOSTILE_EVENT);
    badge(&l, &mut al[0], &host, 16, "Market");
    badge(&l, &mut al[1], &host, 16, "Market");
    badge(&l, &mut al[1], &host, 17, "Market");
    sell(&l, &mut al[2], &maker, &c, 20);
    l.add(&mut al[2], &c, 25, RecordBody::Report(ReportStatus::Stolen));
    l.add(
        &mut al[2],
        &c,
        30,
        RecordBody::Report(ReportStatus::Recovered),
    );
    repair(&l, &mut al[0], &desk, 40, "second fix", &["clasp", "pin"]);
    l.add(
        &mut al[3],
        &maker,
        50,
        RecordBody::Report(ReportStatus::Void),
    );
    // Second hand: not a sale of the maker's.
    sell(&l, &mut al[0], &a, &c, 100);

    // Run 2, Beta (hostile title): 5 pieces, 3 minted, drop on day 200.
    let beta = l.run(&maker, HOSTILE_TITLE, 5, 200);
    let mut be: Vec<Piece> = (1..=3)
        .map(|n| l.mint(&maker, beta, HOSTILE_TITLE, n, 5, at(200), None))
        .collect();
    sell(&l, &mut be[0], &maker, &a, 203); // A again, 201 days after day 2: a repeat collector
    sell(&l, &mut be[1], &maker, &d, 240); // 40 days after the drop: not within 30

    // Run 3, Gamma: 2 pieces, drop on day 420 (14 months after Alpha).
    let gamma = l.run(&maker, "Gamma", 2, 420);
    let mut ga1 = l.mint(&maker, gamma, "Gamma", 1, 2, at(420), None);
    sell(&l, &mut ga1, &maker, &b, 421); // B: 415 days after day 6, not a repeat
                                         // Minted straight to D on day 425: a sale; D bought Beta on day 240 (185 days): a repeat.
    let ga2 = l.mint(&maker, gamma, "Gamma", 2, 2, at(425), Some(d.public_key()));

    // --- Run KPIs.
    let s = server.get_json(&format!("/v1/runs/{alpha}/stats"));
    assert_alpha(&s);
    assert_eq!(s["title"], "Alpha");
    assert_eq!(s["maker"]["key"], maker.public_key().to_base64url());

    let s = server.get_json(&format!("/v1/runs/{beta}/stats"));
    assert_eq!(s["title"], HOSTILE_TITLE);
    assert_eq!(
        (
            s["minted"].clone(),
            s["sold"].clone(),
            s["in_stock"].clone()
        ),
        (3.into(), 2.into(), 1.into())
    );
    assert_eq!(s["sell_through_7d"], 1.0 / 5.0);
    assert_eq!(s["sell_through_30d"], 1.0 / 5.0);
    assert_eq!(s["sell_through_7d_of_minted"], 1.0 / 3.0);
    assert_eq!(s["sell_through_30d_of_minted"], 1.0 / 3.0);
    assert_eq!(s["repairs_per_item"], 0.0);
    assert_eq!(s["sales_by_day"], serde_json::json!([[3, 1], [40, 2]]));
    assert_eq!(
        s["days_sale_to_first_repair"],
        serde_json::json!({"items": 0, "mean": null, "median": null})
    );

    let s = server.get_json(&format!("/v1/runs/{gamma}/stats"));
    assert_eq!(
        (
            s["minted"].clone(),
            s["sold"].clone(),
            s["in_stock"].clone()
        ),
        (2.into(), 2.into(), 0.into())
    );
    assert_eq!(s["sell_through_7d"], 1.0);
    assert_eq!(s["sell_through_30d"], 1.0);
    assert_eq!(s["sales_by_day"], serde_json::json!([[1, 1], [5, 2]]));

    // --- Maker KPIs: first-hand buyers A (Alpha d2, Beta d203), B (Alpha d6, Gamma d421),
    // C (Alpha d20), D (Beta d240, Gamma d425): A and D repeat within 12 months, B (415
    // days) and C do not.
    let maker_key = maker.public_key().to_base64url();
    let m = server.get_json(&format!("/v1/makers/{maker_key}/stats"));
    assert_eq!(m["runs"], 3);
    assert_eq!(m["minted"], 9);
    assert_eq!(m["sold"], 7);
    assert_eq!(m["first_hand_buyers"], 4);
    assert_eq!(m["repeat_collectors"], 2);
    assert_eq!(m["repeat_collector_rate_12m"], 0.5);
    let by_run: Vec<(String, f64, f64)> = m["by_run"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["title"].as_str().unwrap().to_string(),
                r["sell_through_30d"].as_f64().unwrap(),
                r["repairs_per_item"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_run,
        vec![
            ("Alpha".to_string(), 0.75, 0.75),
            (HOSTILE_TITLE.to_string(), 0.2, 0.0),
            ("Gamma".to_string(), 1.0, 0.0)
        ]
    );

    // --- CSV.
    let (status, body) = get(&format!("{}/v1/runs/{alpha}/stats", server.url), "text/csv");
    assert_eq!(status, 200);
    let csv = String::from_utf8(body).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert!(lines[0].starts_with("run,title,maker,window_start,size,minted,sold,in_stock,sell_through_7d,sell_through_30d,"), "{csv}");
    assert!(lines[1].starts_with(&format!("{alpha},Alpha,\"{maker_key}\",2025-01-01T00:00:00Z,4,4,3,0,0.5,0.75,0.5,0.75,3,0.75,clasp=2;pin=1,6.5,1,1,1,4,2,1")), "{csv}");
    let (_, body) = get(
        &format!("{}/v1/makers/{maker_key}/stats", server.url),
        "text/csv",
    );
    let csv = String::from_utf8(body).unwrap();
    assert_eq!(
        csv.split("\r\n").filter(|l| !l.is_empty()).count(),
        4,
        "{csv}"
    );
    assert!(
        csv.contains("\"<script>alert(1)</script> & \"\"Beta\"\"\""),
        "{csv}"
    );
    assert!(csv.contains(",4,2,0.5\r\n"), "{csv}");

    // --- 404s and 400s.
    let unknown_run = RunId([7; 16]);
    let answer = get(
        &format!("{}/v1/runs/{unknown_run}/stats", server.url),
        "application/json",
    );
    assert_problem(
        &(answer.0, serde_json::from_slice(&answer.1).unwrap()),
        404,
        "ledger.not_found",
    );
    let stranger = key(dir, "stranger.pem").public_key().to_base64url();
    let answer = get(
        &format!("{}/v1/makers/{stranger}/stats", server.url),
        "application/json",
    );
    assert_problem(
        &(answer.0, serde_json::from_slice(&answer.1).unwrap()),
        404,
        "ledger.unknown_maker",
    );
    assert_eq!(common::spec_status("ledger.unknown_maker"), 404);
    let answer = get(
        &format!("{}/v1/makers/not-a-key/stats", server.url),
        "application/json",
    );
    assert_problem(
        &(answer.0, serde_json::from_slice(&answer.1).unwrap()),
        400,
        "ledger.bad_request",
    );
    for path in [
        format!("/runs/{unknown_run}"),
        format!("/dashboard/{unknown_run}"),
        format!("/items/{}", ItemId([7; 16])),
    ] {
        let (status, _) = get(&format!("{}{path}", server.url), "text/html");
        assert_eq!(status, 404, "{path}");
    }

    // --- Pages: hostile text escaped everywhere, figures present.
    let escaped_title = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Beta&quot;";
    let pages = [
        html(&server, &format!("/runs/{beta}")),
        html(&server, &format!("/runs/{alpha}")),
        html(&server, &format!("/items/{}", al[0].item)),
        html(&server, &format!("/items/{}", be[0].item)),
        html(&server, "/dashboard"),
        html(&server, &format!("/dashboard/{alpha}")),
        html(&server, &format!("/dashboard/{beta}")),
    ];
    // A browser opening the API's URL of a run or an item is sent to its sheet (303, relative
    // location); JSON and CBOR clients still get JSON and CBOR.
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let no_redirects = ureq::AgentBuilder::new().redirects(0).build();
    for (api, sheet) in [
        (format!("/v1/runs/{alpha}"), format!("../../runs/{alpha}")),
        (
            format!("/v1/items/{}", al[0].item),
            format!("../../items/{}", al[0].item),
        ),
    ] {
        let answer = no_redirects
            .get(&format!("{}{api}", server.url))
            .set("Accept", browser)
            .call()
            .unwrap();
        assert_eq!(answer.status(), 303, "{api}");
        assert_eq!(answer.header("Location"), Some(sheet.as_str()), "{api}");
        let (status, followed) = get(&format!("{}{api}", server.url), browser);
        assert_eq!(status, 200);
        assert!(String::from_utf8(followed)
            .unwrap()
            .starts_with("<!doctype html>"));
        let (status, json) = get(&format!("{}{api}", server.url), "application/json");
        assert_eq!(status, 200);
        assert!(serde_json::from_slice::<Value>(&json).is_ok(), "{api}");
    }
    let followed = get(&format!("{}/v1/runs/{alpha}", server.url), browser).1;
    assert_eq!(pages[1], String::from_utf8(followed).unwrap());
    for page in &pages {
        for raw in [
            "<script>alert(1)",
            "<b onmouseover",
            "<img src=x",
            "<Micro>",
            "& Co",
        ] {
            assert!(!page.contains(raw), "unescaped {raw:?} in {page}");
        }
    }
    assert!(pages[0].contains(escaped_title));
    assert!(pages[0].contains("Northside &lt;Micro&gt; &amp; Co"));
    assert!(pages[1].contains("<td class=\"status-void\" data-field=\"status\">void</td>"));
    assert_eq!(pages[1].matches("data-field=\"status\">sold<").count(), 3);
    assert!(pages[2].contains("Fair &lt;b onmouseover=&#39;x&#39;&gt;"));
    assert!(pages[2].contains("&lt;img src=x onerror=alert(1)&gt; resoldered"));
    assert!(pages[2].contains("GENUINE"), "the verifier's verdict");
    assert!(pages[3].contains(escaped_title));
    assert!(pages[4].contains(escaped_title) && pages[4].contains("<svg class=\"chart\""));
    assert!(pages[5].contains("<b data-kpi=\"sell_through_7d\">50.0 %</b>"));
    assert!(pages[5].contains("<b data-kpi=\"sell_through_30d\">75.0 %</b>"));
    assert!(pages[5].contains("<b data-kpi=\"in_stock\">0</b>"));
    assert!(pages[6].contains("<b data-kpi=\"sell_through_7d\">20.0 %</b>"));
    // Without --public-url no QR; the pages name no external resource.
    assert!(!pages[2].contains("data-field=\"qr\""));
    for page in &pages {
        assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    }

    // --- The CLI.
    let table = server.ok(&["stats", "--run", &alpha.to_string()]);
    for line in [
        "minted  ",
        "sold  ",
        "50.0 % of the run, 50.0 % of minted",
        "75.0 % of the run",
        "3 (0.75 per item)",
        "6.5 days (mean, 2 items)",
        "1 / 1 / 1",
        "clasp",
    ] {
        assert!(table.contains(line), "{line:?} in {table}");
    }
    let table = server.ok(&["stats", "--maker", "maker.pem"]);
    assert!(table.contains("repeat rate (12 m)  50.0 %"), "{table}");
    assert!(table.contains("2025-01-01  Alpha"), "{table}");
    let json = server.ok_json(&["stats", "--run", &alpha.to_string()]);
    assert_alpha(&json);
    let json = server.ok_json(&["stats", "--maker", &maker_key]);
    assert_eq!(json["repeat_collector_rate_12m"], 0.5);
    let out = server.cli(&["stats", "--maker", "stranger.pem"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ledger.unknown_maker"));
    let out = server.cli(&["stats"]);
    assert!(!out.status.success(), "--run or --maker is required");

    // --- An append after the first read shows at once: B buys Beta #3 on day 260, 254 days
    // after Alpha on day 6, so B becomes a repeat collector (3 of 4).
    sell(&l, &mut be[2], &maker, &b, 260);
    let s = server.get_json(&format!("/v1/runs/{beta}/stats"));
    assert_eq!(
        (s["sold"].clone(), s["in_stock"].clone()),
        (3.into(), 0.into())
    );
    let m = server.get_json(&format!("/v1/makers/{maker_key}/stats"));
    assert_eq!(m["repeat_collector_rate_12m"], 0.75);
    let _ = ga2;

    // --- A restart folds the log from index 0 into the same figures.
    let before: Vec<Value> = [alpha, beta, gamma]
        .iter()
        .map(|r| server.get_json(&format!("/v1/runs/{r}/stats")))
        .collect();
    server.stop();
    let server = Server::start(dir, &[]);
    let after: Vec<Value> = [alpha, beta, gamma]
        .iter()
        .map(|r| server.get_json(&format!("/v1/runs/{r}/stats")))
        .collect();
    assert_eq!(before, after);
    assert_alpha(&after[0]);
}

#[test]
fn sheets_carry_the_verifier_qr_with_a_public_url() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(dir, &["--public-url", "https://ledger.example"]);
    server.parties(&[("maker", "maker")]);
    let run = server.run_of("maker", "Pin", 3);
    let items = server.mint_of("maker", &run, 2);
    let sheet = html(&server, &format!("/items/{}", items[0]));
    assert!(sheet.contains("data-field=\"qr\""), "{sheet}");
    assert!(sheet.contains("<svg"), "{sheet}");
    let run_sheet = html(&server, &format!("/runs/{run}"));
    assert_eq!(
        run_sheet.matches("class=\"small-qr\"").count(),
        2,
        "one label QR per minted piece"
    );
    assert!(run_sheet.contains("<b data-kpi=\"in_stock\">2</b>"));
}

/// The run sheet printed at 150 dpi: its CSS gives each label QR image a width in millimetres
/// (at least 25 mm), and every QR, rasterised at that width and 150 dpi, decodes to its
/// piece's label URL.
#[test]
fn run_sheet_qr_codes_decode_when_printed_at_150_dpi() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = Server::start(dir, &["--public-url", "https://ledger.example.org/abc"]);
    server.parties(&[("maker", "maker")]);
    let run = server.run_of("maker", "A title of a reasonable length", 120);
    let items = server.mint_of("maker", &run, 6);
    let sheet = html(&server, &format!("/runs/{run}"));
    // The sheet's style is its linked stylesheet (no inline style: spec §16).
    let css_path = sheet
        .split("<link rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the sheet links no stylesheet"));
    let css = html(&server, css_path);
    let mm: f32 = css
        .split(".small-qr img{width:")
        .nth(1)
        .and_then(|rest| rest.split("mm").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the sheet's QR width is not in mm"));
    assert!(mm >= 25.0, "{mm} mm");
    let px = (mm / 25.4 * 150.0).floor() as u32;
    let mut decoded = Vec::new();
    // Each label QR is an image of its own (issue 21.5), an SVG at an immutable URL.
    for part in sheet.split("<span class=\"small-qr\"><img src=\"").skip(1) {
        let src = part.split('"').next().unwrap().replace("&amp;", "&");
        let svg = html(&server, &src);
        let tree = resvg::usvg::Tree::from_str(&svg, &resvg::usvg::Options::default()).unwrap();
        let scale = px as f32 / tree.size().width();
        let height = (tree.size().height() * scale).ceil() as u32;
        let mut pixmap = resvg::tiny_skia::Pixmap::new(px, height).unwrap();
        pixmap.fill(resvg::tiny_skia::Color::WHITE);
        resvg::render(
            &tree,
            resvg::tiny_skia::Transform::from_scale(scale, scale),
            &mut pixmap.as_mut(),
        );
        let img = image::GrayImage::from_fn(px, height, |x, y| {
            image::Luma([pixmap.pixel(x, y).unwrap().red()])
        });
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one QR at {px} px ({mm} mm at 150 dpi)");
        let (_, text) = grids[0].decode().unwrap();
        let payload = text
            .strip_prefix("https://ledger.example.org/abc/v#")
            .unwrap_or_else(|| panic!("{text}"))
            .replace("%20", " ")
            .replace("%25", "%");
        let mint = provenance_core::Payload::decode(&payload).unwrap();
        decoded.push(provenance_core::ItemId::derive(mint.records()[0]).to_base32());
    }
    decoded.sort();
    let mut expected = items.clone();
    expected.sort();
    assert_eq!(decoded, expected, "every piece's QR decodes");
}

const STATS_TOKEN: &str = "op-stats-token-4f9c2a7d1e";

/// GET with an Accept header and an optional `Authorization` value; returns the status, the
/// body, and the `WWW-Authenticate` challenges. Streams are not read past their headers.
fn get_auth(url: &str, accept: &str, auth: Option<&str>) -> (u16, Vec<u8>, Vec<String>) {
    let mut request = ureq::get(url)
        .set("Accept", accept)
        .timeout(std::time::Duration::from_secs(20));
    if let Some(auth) = auth {
        request = request.set("Authorization", auth);
    }
    let (status, response) = match request.call() {
        Ok(r) => (r.status(), r),
        Err(ureq::Error::Status(s, r)) => (s, r),
        Err(e) => panic!("GET {url}: {e}"),
    };
    let challenges = response
        .all("WWW-Authenticate")
        .into_iter()
        .map(str::to_string)
        .collect();
    let body = if response.content_type() == "text/event-stream" {
        Vec::new()
    } else {
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut response.into_reader(), &mut body).unwrap();
        body
    };
    (status, body, challenges)
}

/// `provenance stats` with the given extra environment.
fn stats_cli(server: &Server, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(common::bin())
        .args(["--server", &server.url, "stats"])
        .args(args)
        .current_dir(&server.dir)
        .env_remove("PROVENANCE_SERVER")
        .env_remove("PROVENANCE_STATS_TOKEN")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// `serve --stats token` (issue 20.8, spec §15): every route that serves figures refuses
/// without the operator's token (401 `ledger.unauthorized`, with the challenges a browser
/// prompts on) and answers with it, as Bearer or as a browser's Basic password; the run sheet
/// hides its figures; the log, items, exports, sheets of items and /v stay public; `provenance
/// stats` sends the token from `--token-file` or `PROVENANCE_STATS_TOKEN`.
#[test]
fn private_figures_need_the_operators_token_and_the_log_stays_public() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let token_file = dir.join("stats-token");
    std::fs::write(&token_file, format!("{STATS_TOKEN}\n")).unwrap();
    let server = Server::start(
        dir,
        &[
            "--stats",
            "token",
            "--stats-token-file",
            token_file.to_str().unwrap(),
        ],
    );
    server.parties(&[("maker", "maker")]);
    let run = server.run_of("maker", "Pin", 3);
    let items = server.mint_of("maker", &run, 2);
    let maker_key = key(dir, "maker.pem").public_key().to_base64url();
    let bearer = format!("Bearer {STATS_TOKEN}");
    // base64("operator:" + STATS_TOKEN): what a browser sends after its login prompt.
    let basic = "Basic b3BlcmF0b3I6b3Atc3RhdHMtdG9rZW4tNGY5YzJhN2QxZQ==".to_string();
    let covered = [
        (format!("/v1/runs/{run}/stats"), "application/json"),
        (format!("/v1/runs/{run}/stats"), "text/csv"),
        (format!("/v1/makers/{maker_key}/stats"), "application/json"),
        (format!("/v1/makers/{maker_key}/stats"), "text/csv"),
        ("/dashboard".to_string(), "text/html"),
        ("/dashboard/events".to_string(), "text/event-stream"),
        (format!("/dashboard/{run}"), "text/html"),
        (format!("/dashboard/{run}/events"), "text/event-stream"),
    ];
    let code = "ledger.unauthorized";
    for (path, accept) in &covered {
        let url = format!("{}{path}", server.url);
        for auth in [
            None,
            Some("Bearer wrong-token-0000000000"),
            Some("Basic !!"),
        ] {
            let (status, body, challenges) = get_auth(&url, accept, auth);
            let problem: Value = serde_json::from_slice(&body).unwrap_or_else(|_| {
                panic!("GET {path} {auth:?}: {}", String::from_utf8_lossy(&body))
            });
            assert_problem(&(status, problem), common::spec_status(code), code);
            assert_eq!(status, 401);
            assert!(
                challenges.iter().any(|c| c.starts_with("Basic realm="))
                    && challenges.iter().any(|c| c.starts_with("Bearer realm=")),
                "{path}: {challenges:?}"
            );
            assert!(
                !String::from_utf8_lossy(&body).contains(STATS_TOKEN),
                "the token is never echoed"
            );
        }
        for auth in [&bearer, &basic] {
            let (status, body, challenges) = get_auth(&url, accept, Some(auth));
            assert_eq!(
                status,
                200,
                "GET {path} with the token: {}",
                String::from_utf8_lossy(&body)
            );
            assert!(challenges.is_empty(), "{path}: {challenges:?}");
        }
    }
    let (_, body, _) = get_auth(
        &format!("{}/v1/runs/{run}/stats", server.url),
        "application/json",
        Some(&bearer),
    );
    let figures: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(figures["minted"], 2);

    // The run sheet: the editions (public histories) for everyone, the figures with the token.
    let sheet_url = format!("{}/runs/{run}", server.url);
    let (status, body, _) = get_auth(&sheet_url, "text/html", None);
    let sheet = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    assert_eq!(sheet.matches("<tr data-item=").count(), 2, "{sheet}");
    assert!(
        !sheet.contains("data-kpi="),
        "no figures without the token: {sheet}"
    );
    assert!(!sheet.contains("/dashboard/"), "{sheet}");
    let (_, body, _) = get_auth(&sheet_url, "text/html", Some(&basic));
    let sheet = String::from_utf8(body).unwrap();
    assert!(sheet.contains("<b data-kpi=\"minted\">2</b>"), "{sheet}");

    // Always public: the log, items, heads, exports, payloads, item sheets, trust list, /v.
    let item = &items[0];
    for (path, accept) in [
        (format!("/v1/runs/{run}"), "application/json"),
        (format!("/v1/items/{item}"), "application/json"),
        (format!("/v1/items/{item}"), "application/cbor"),
        (format!("/v1/items/{item}/head"), "application/cose"),
        (format!("/v1/items/{item}/export"), "application/cbor"),
        (format!("/v1/items/{item}/payload"), "text/plain"),
        (format!("/items/{item}"), "text/html"),
        ("/v1/log/checkpoint".to_string(), "text/plain"),
        (
            "/v1/log/entries?start=0&end=2".to_string(),
            "application/json",
        ),
        (
            "/v1/log/inclusion?index=0&size=2".to_string(),
            "application/json",
        ),
        ("/v1/trust".to_string(), "application/json"),
        ("/v".to_string(), "text/html"),
    ] {
        let (status, body, _) = get_auth(&format!("{}{path}", server.url), accept, None);
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    assert!(server.ok(&["show", item]).contains("Pin"));

    // The CLI: refused without the token, answered with --token-file or the environment.
    let refused = stats_cli(&server, &["--run", &run], &[]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("[ledger.unauthorized]"), "{stderr}");
    assert!(stderr.contains("--token-file"), "says how: {stderr}");
    let wrong = stats_cli(
        &server,
        &["--run", &run],
        &[("PROVENANCE_STATS_TOKEN", "nope-nope-nope-nope")],
    );
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("[ledger.unauthorized]"));
    for (args, env) in [
        (vec!["--run", &run, "--token-file", "stats-token"], vec![]),
        (
            vec!["--run", &run],
            vec![("PROVENANCE_STATS_TOKEN", STATS_TOKEN)],
        ),
    ] {
        let out = stats_cli(&server, &args, &env);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("minted"), "{stdout}");
    }
    let out = stats_cli(
        &server,
        &["--maker", &maker_key, "--token-file", "stats-token"],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `serve --stats` refuses a setting it cannot keep, before it listens: a token without a
/// file, a file without `--stats token`, a short token. The default keeps today's behaviour:
/// the figures, dashboards and run-sheet figures are public.
#[test]
fn the_stats_setting_is_checked_at_start_and_public_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("short"), "abc\n").unwrap();
    std::fs::write(dir.join("stats-token"), STATS_TOKEN).unwrap();
    for (args, says) in [
        (vec!["--stats", "token"], "--stats-token-file"),
        (vec!["--stats-token-file", "stats-token"], "--stats token"),
        (
            vec!["--stats", "token", "--stats-token-file", "short"],
            "16 to 512",
        ),
        (
            vec!["--stats", "token", "--stats-token-file", "missing"],
            "cannot read",
        ),
        (vec!["--stats", "everyone"], "public"),
    ] {
        let out = std::process::Command::new(common::bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--db", "refused.db"])
            .args(&args)
            .current_dir(dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            !dir.join("refused.db").exists(),
            "{args:?} created the database"
        );
    }

    let server = Server::start(dir, &[]);
    server.parties(&[("maker", "maker")]);
    let run = server.run_of("maker", "Pin", 3);
    server.mint_of("maker", &run, 1);
    for (path, accept) in [
        (format!("/v1/runs/{run}/stats"), "application/json"),
        ("/dashboard".to_string(), "text/html"),
        (format!("/dashboard/{run}/events"), "text/event-stream"),
    ] {
        let (status, _, challenges) = get_auth(&format!("{}{path}", server.url), accept, None);
        assert_eq!(status, 200, "{path}");
        assert!(challenges.is_empty());
    }
    assert!(html(&server, &format!("/runs/{run}")).contains("<b data-kpi=\"minted\">1</b>"));
    assert!(server.ok(&["stats", "--run", &run]).contains("minted"));
}
