// The web verifier's figures (issue 10): first-load bytes, the wasm's size, and the time from
// a decoded string to the verdict in headless Chromium (performance.now() around the wasm
// call, as the page shows it in #verdict[data-ms]), median of many runs; also the scan module's
// time to read one 640 x 480 camera frame of a label (in Node's V8, Chromium's engine).
//
//   node provenance-verify/web/tools/figures.mjs [RUNS]
//
// Needs what the browser test needs (tests/browser.test.mjs). Prints the figures; asserts
// nothing (timings on a shared machine are not tests).
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import {
  web, makeFixtures, startServer, CHROMIUM, CHROMIUM_FLAGS, median, loadWasm,
} from '../tests/helpers.mjs';

const runs = Number(process.argv[2] ?? 101);
const fx = makeFixtures();
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;

const bundle = JSON.parse(readFileSync(join(web, 'bundle.json'), 'utf8'));
let raw = 0;
let zipped = 0;
const rows = [];
for (const file of bundle.files) {
  const bytes = readFileSync(join(web, file.path));
  raw += bytes.length;
  zipped += gz(bytes);
  rows.push(`  ${file.path.padEnd(32)} ${String(bytes.length).padStart(8)} ${String(gz(bytes)).padStart(8)}`);
}
rows.push(`  ${'trust list (the fixtures)'.padEnd(32)} ${String(fx.trust.length).padStart(8)} ${String(gz(fx.trust)).padStart(8)}`);
raw += fx.trust.length;
zipped += gz(fx.trust);
console.log(`  ${'file'.padEnd(32)} ${'bytes'.padStart(8)} ${'gzip -9'.padStart(8)}`);
console.log(rows.join('\n'));
console.log(`FIGURE first load (every file the service worker keeps + trust list): ${raw} bytes, ${zipped} gzipped`);
const verifierWasm = readFileSync(join(web, 'pkg/provenance_verify_bg.wasm'));
const scanWasm = readFileSync(join(web, 'pkg/provenance_scan_bg.wasm'));
console.log(`FIGURE verifier wasm: ${verifierWasm.length} bytes, ${gz(verifierWasm)} gzipped`);
console.log(`FIGURE scan wasm: ${scanWasm.length} bytes, ${gz(scanWasm)} gzipped`);

// One camera frame: the Y plane of the fake camera's first frame.
const y4m = readFileSync(fx.y4m);
const header = y4m.subarray(0, y4m.indexOf(10)).toString();
const w = Number(/ W(\d+)/.exec(header)[1]);
const h = Number(/ H(\d+)/.exec(header)[1]);
const start = y4m.indexOf('FRAME\n') + 6;
const luma = Uint8Array.from(y4m.subarray(start, start + w * h));
const scan = await loadWasm('provenance_scan');
const decodeMs = [];
for (let i = 0; i < Math.min(runs, 51); i += 1) {
  const t0 = performance.now();
  const texts = JSON.parse(scan.decode_qr(w, h, luma));
  decodeMs.push(performance.now() - t0);
  if (texts[0] !== fx.label) throw new Error('the frame did not decode to the label');
}
console.log(`FIGURE read a ${w}x${h} camera frame (scan wasm, Node ${process.version}): median ${median(decodeMs).toFixed(2)} ms`);

const server = await startServer(fx.trust);
const userDataDir = mkdtempSync(join(tmpdir(), 'pv-figures-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_FLAGS,
  viewport: { width: 360, height: 640 },
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  // No fake clock here: Playwright's also replaces performance.now(). At the real date the
  // fixtures' head statements are old, so the living payload gets a head.old warning; the
  // work done is the same.
  await page.goto(`${server.base}/v`);
  await page.evaluate((k) => localStorage.setItem('provenance.operator', JSON.stringify({ key: k, since: 0 })), fx.operator);
  await page.click('#paste-box summary');
  for (const [name, payload] of [['label', fx.label], ['10-record living payload', fx.living10]]) {
    const times = [];
    let verdict;
    for (let i = 0; i < runs; i += 1) {
      const n = await page.$eval('#verdict', (el) => Number(el.dataset.n ?? 0));
      await page.fill('#paste', payload);
      await page.click('#paste-go');
      await page.waitForFunction((before) => Number(document.getElementById('verdict').dataset.n ?? 0) > before, n);
      const shown = await page.$eval('#verdict', (el) => ({ ms: Number(el.dataset.ms), verdict: el.dataset.verdict }));
      times.push(shown.ms);
      verdict = shown.verdict;
    }
    times.sort((a, b) => a - b);
    console.log(
      `FIGURE decoded string to verdict, ${name} (${payload.length} characters, ${verdict}), Chromium ${context.browser()?.version() ?? ''}: ` +
        `median ${median(times).toFixed(2)} ms, p90 ${times[Math.floor(times.length * 0.9)].toFixed(2)} ms, max ${times.at(-1).toFixed(2)} ms over ${runs} runs`,
    );
  }
} finally {
  await context.close();
  await server.stop();
  rmSync(userDataDir, { recursive: true, force: true });
}
