// The web verifier in a real browser: Debian's Chromium driven by playwright-core, against a
// static server that serves web/ the way `provenance serve` will (tests/helpers.mjs). Covers
// every spec vector opened as a label URL, a label read through Chromium's fake camera and
// from a photo, the owner challenge, mutated payloads, and a reload from the service worker's
// cache with the server stopped.
//
// Needs /usr/bin/chromium (apt-get install -y chromium; or CHROMIUM=path), `npm ci`,
// scripts/build-wasm.sh and `cargo build -p provenance-verify`. SCREENSHOTS=1 writes the
// 360 x 640 screenshots of each verdict to docs/screenshots/.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';
import {
  vectors, operatorOf, trustOf, nativeReport, labelUrl, makeFixtures, prove, startServer,
  CHROMIUM, CHROMIUM_FLAGS, nativeVerifier, root,
} from './helpers.mjs';

assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM)`);

const fx = makeFixtures();
const server = await startServer(fx.trust);
const userDataDir = mkdtempSync(join(tmpdir(), 'pv-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    ...CHROMIUM_FLAGS,
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${fx.y4m}`,
  ],
  viewport: { width: 360, height: 640 },
});
const page = context.pages()[0] ?? (await context.newPage());
const problems = [];
page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
page.on('console', (msg) => {
  if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
});
// The vectors and fixtures are dated 2026-06-01.
await page.clock.setFixedTime(new Date(fx.now * 1000));

after(async () => {
  await context.close();
  await server.stop();
  rmSync(userDataDir, { recursive: true, force: true });
});

const shots = process.env.SCREENSHOTS ? join(root, 'docs/screenshots') : null;
if (shots) mkdirSync(shots, { recursive: true });
async function screenshot(name, fullPage = false) {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage });
}

/** The report the page shows: verdict, codes and the count of reports shown so far. */
const shown = () =>
  page.$eval('#verdict', (el) => ({
    verdict: el.dataset.verdict,
    codes: el.dataset.codes,
    code: el.dataset.code,
    n: Number(el.dataset.n ?? 0),
  }));

/** Waits until the page has shown more than `n` reports, and returns the last. */
async function nextReport(n) {
  await page.waitForFunction(
    (before) => {
      const el = document.getElementById('verdict');
      return Number(el.dataset.n ?? 0) > before && !el.hasAttribute('data-busy');
    },
    n,
    { timeout: 30_000 },
  );
  return shown();
}

/** Opens `url` as a fresh page load and returns the report it shows. */
async function open(url) {
  await page.goto('about:blank');
  await page.goto(url);
  return nextReport(0);
}

const pin = (key) =>
  page.evaluate((k) => localStorage.setItem('provenance.operator', JSON.stringify({ key: k, since: 0 })), key);

function expectedFor(payload) {
  const run = spawnSync(
    nativeVerifier,
    ['--trust', join(fx.dir, 'trust.cbor'), '--operator', fx.operator, '--now', String(fx.now), '--json', payload],
    { encoding: 'utf8' },
  );
  const report = JSON.parse(run.stdout);
  return { verdict: report.verdict, codes: report.findings.map((f) => f.code).join(' ') };
}

const useFixtures = async () => {
  server.setTrust(fx.trust);
  await page.goto(`${server.base}/v`);
  await pin(fx.operator);
};

test('the page registers its service worker and fetches the trust list as application/cose', async () => {
  await page.goto(`${server.base}/v`);
  await page.waitForSelector('#offline-status[data-offline="ready"]', { timeout: 30_000 });
  await page.waitForSelector('#trust-status[data-state="fresh"][data-version="1"]');
  assert.ok(server.state.trustRequests > 0);
  assert.equal(await page.$eval('#verdict', (el) => el.hidden), true, 'no verdict without input');
  // /v/ sends the browser to /v, where the page's relative addresses work.
  const res = await page.goto(`${server.base}/v/`);
  assert.equal(new URL(res.url()).pathname, '/v');
  await screenshot('start');
});

test('every spec vector opened as a label URL /v#PV1:... shows the native verdict and codes', async () => {
  await page.goto(`${server.base}/v`);
  for (const [i, v] of vectors.entries()) {
    const native = JSON.parse(nativeReport(v, i));
    const expected = { verdict: native.verdict, codes: native.findings.map((f) => f.code).join(' ') };
    server.setTrust(trustOf(v));
    await pin(operatorOf(v));
    const got = await open(labelUrl(server.base, v.payload));
    assert.deepEqual({ verdict: got.verdict, codes: got.codes }, expected, v.name);
    assert.equal(got.code, native.code ?? '', v.name);
  }
  // A fragment left unescaped, which the browser escapes itself (spaces only): still read,
  // as long as no `%` happens to be followed by two hex digits (hence the spec's `%25`).
  const v = vectors.find(
    (x) => x.expect === 'genuine' && x.payload.includes(' ') && !/%[0-9a-f]{2}/i.test(x.payload),
  );
  assert.ok(v, 'a vector without %XX');
  server.setTrust(trustOf(v));
  const native = JSON.parse(nativeReport(v));
  const got = await open(`${server.base}/v#${v.payload}`);
  assert.equal(got.verdict, native.verdict, v.name);
});

test('screenshots of each verdict at 360 x 640', async () => {
  const byName = Object.fromEntries(vectors.map((v) => [v.name, v]));
  for (const [file, name, verdict] of [
    ['verdict-genuine', 'living-full-chain', 'genuine'],
    ['verdict-genuine-with-warnings-label', 'label', 'genuine_with_warnings'],
    ['verdict-genuine-with-warnings-stolen', 'history-stolen', 'genuine_with_warnings'],
    ['verdict-not-genuine', vectors.find((v) => v.expect === 'record.signature_invalid').name, 'not_genuine'],
    ['verdict-unreadable', 'bad-base45-lowercase', 'unreadable'],
  ]) {
    const v = byName[name];
    server.setTrust(trustOf(v));
    await page.goto(`${server.base}/v`);
    await pin(operatorOf(v));
    const got = await open(labelUrl(server.base, v.payload));
    assert.equal(got.verdict, verdict, name);
    await screenshot(file);
  }
});

test('a label read through the fake camera (no BarcodeDetector here: our own decoder)', async () => {
  await useFixtures();
  const before = (await shown()).n;
  await page.click('#scan');
  const got = await nextReport(before);
  assert.deepEqual({ verdict: got.verdict, codes: got.codes }, expectedFor(fx.label));
  assert.equal(await page.$eval('#camera', (el) => el.hidden), true, 'the camera stops after a read');
  assert.equal(await page.evaluate(() => location.hash), '', 'no stale fragment');
});

test('a photo of the label, a photo without a QR code, and a file that is no image', async () => {
  await useFixtures();
  let n = (await shown()).n;
  await page.setInputFiles('#photo', fx.png);
  let got = await nextReport(n);
  assert.deepEqual({ verdict: got.verdict, codes: got.codes }, expectedFor(fx.label));
  n = got.n;
  const blank = await page.screenshot({ clip: { x: 0, y: 0, width: 200, height: 40 } });
  await page.setInputFiles('#photo', { name: 'blank.png', mimeType: 'image/png', buffer: blank });
  got = await nextReport(n);
  assert.deepEqual({ verdict: got.verdict, codes: got.codes }, { verdict: 'unreadable', codes: 'input.no_qr' });
  n = got.n;
  await page.setInputFiles('#photo', { name: 'x.png', mimeType: 'image/png', buffer: Buffer.from('not a png') });
  got = await nextReport(n);
  assert.deepEqual({ verdict: got.verdict, codes: got.codes }, { verdict: 'unreadable', codes: 'input.unreadable' });
});

test('the paste box takes a bare payload and a label URL alike', async () => {
  await useFixtures();
  for (const text of [fx.living10, ` ${fx.label_url}\n`]) {
    const n = (await shown()).n;
    await page.click('#paste-box summary');
    await page.fill('#paste', text);
    await page.click('#paste-go');
    const got = await nextReport(n);
    assert.deepEqual({ verdict: got.verdict, codes: got.codes }, expectedFor(text.trim().startsWith('PV1:') ? text : fx.label));
    await page.click('#paste-box summary');
  }
});

test("the owner challenge passes for the owner's answer and fails for anyone else's", async () => {
  await useFixtures();
  const got = await open(labelUrl(server.base, fx.history));
  assert.equal(got.verdict, 'genuine');
  await page.click('#challenge-start');
  const nonce = await page.textContent('#nonce');
  assert.match(nonce, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
  assert.ok(await page.$('#nonce-qr svg path'), 'the nonce is drawn as a QR code');
  assert.match(await page.textContent('#prove-command'), new RegExp(`provenance prove ${fx.history_item} .*--challenge ${nonce}`));
  const check = async (answer) => {
    const n = (await shown()).n;
    await page.fill('#answer', answer);
    await page.click('#answer-check');
    await nextReport(n);
    return page.$eval('#challenge-result', (el) => ({ passed: el.dataset.passed, code: el.dataset.code, hidden: el.hidden }));
  };
  assert.deepEqual(await check(prove('owner', nonce)), { passed: 'true', code: '', hidden: false });
  await screenshot('challenge-passed');
  assert.deepEqual(await check(prove('stranger', nonce)), { passed: 'false', code: 'proof.invalid', hidden: false });
  await screenshot('challenge-failed');
  assert.deepEqual(await check('not an answer'), { passed: 'false', code: 'proof.malformed', hidden: false });
  // The piece's own verdict is unchanged by a failed challenge.
  assert.equal((await shown()).verdict, 'genuine');
});

test('mutated payloads through the page: never genuine, never a dead page', async () => {
  const v = vectors.find((x) => x.name === 'living-full-chain');
  server.setTrust(trustOf(v));
  await page.goto(`${server.base}/v`);
  await pin(operatorOf(v));
  await open(labelUrl(server.base, v.payload));
  let checked = 0;
  for (let at = 4; at < v.payload.length; at += 7) {
    for (const c of ['0', '%', ' ']) {
      if (v.payload[at] === c) continue;
      const mutated = v.payload.slice(0, at) + c + v.payload.slice(at + 1);
      const n = (await shown()).n;
      await page.evaluate((hash) => {
        location.hash = hash;
      }, labelUrl('', mutated).slice('/v#'.length));
      const got = await nextReport(n);
      assert.ok(['unreadable', 'not_genuine'].includes(got.verdict), `@${at}=${c}: ${got.verdict}`);
      checked += 1;
    }
  }
  assert.ok(checked > 300, `${checked} mutations`);
  const n = (await shown()).n;
  await page.evaluate((hash) => {
    location.hash = hash;
  }, labelUrl('', v.payload).slice('/v#'.length));
  assert.equal((await nextReport(n)).verdict, 'genuine', 'still verifies afterwards');
});

test('an error thrown by a wasm call is an unreadable verdict, and the next call gets a fresh instance', async () => {
  // A separate browser without service workers, whose first verifier instance is made to
  // fail the way a trap would (and to stay broken, as a trapped instance may).
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  try {
    const ctx = await browser.newContext({ serviceWorkers: 'block' });
    await ctx.route(
      (url) => url.pathname.endsWith('/v/pkg/provenance_verify.js'),
      async (route) => {
        const response = await route.fetch();
        let body = await response.text();
        if (!new URL(route.request().url()).search) {
          const head = 'export function verify_json(payload, trust, operator, now) {';
          assert.ok(body.includes(head), 'the glue still has verify_json');
          body = body.replace(
            head,
            `let broken = false;\n${head}\n  if (broken || payload.includes('TRAP')) { broken = true; throw new WebAssembly.RuntimeError('unreachable'); }`,
          );
        }
        await route.fulfill({ response, body });
      },
    );
    const p = await ctx.newPage();
    await p.clock.setFixedTime(new Date(fx.now * 1000));
    server.setTrust(fx.trust);
    await p.goto(`${server.base}/v`);
    await p.evaluate((k) => localStorage.setItem('provenance.operator', JSON.stringify({ key: k, since: 0 })), fx.operator);
    const report = async (hash) => {
      const n = await p.$eval('#verdict', (el) => Number(el.dataset.n ?? 0));
      await p.evaluate((h) => {
        location.hash = h;
      }, hash);
      await p.waitForFunction((before) => Number(document.getElementById('verdict').dataset.n ?? 0) > before, n);
      return p.$eval('#verdict', (el) => ({ verdict: el.dataset.verdict, codes: el.dataset.codes }));
    };
    assert.deepEqual(await report('PV1:TRAP'), { verdict: 'unreadable', codes: 'input.unreadable' });
    assert.match(await p.textContent('#summary'), /verifier stopped on this input/);
    const label = labelUrl('', fx.label).slice('/v#'.length);
    assert.deepEqual(await report(label), expectedFor(fx.label));
  } finally {
    await browser.close();
  }
});

test('with the server stopped, a reload verifies from the service worker cache', async () => {
  await useFixtures();
  const url = labelUrl(server.base, fx.history);
  assert.equal((await open(url)).verdict, 'genuine');
  assert.ok(await page.evaluate(() => !!navigator.serviceWorker.controller), 'controlled by the worker');
  await server.stop();
  try {
    await page.reload();
    const got = await nextReport(0);
    assert.deepEqual({ verdict: got.verdict, codes: got.codes }, expectedFor(fx.history));
    await page.waitForSelector('#trust-status[data-state="saved"]');
    await page.waitForSelector('#offline-status[data-offline="ready"]');
    await screenshot('offline', true);
    // A fresh navigation too, and the scan module for a photo.
    const label = await open(labelUrl(server.base, fx.label));
    assert.equal(label.verdict, 'genuine_with_warnings');
    await page.setInputFiles('#photo', fx.png);
    assert.deepEqual(
      { verdict: (await nextReport(label.n)).verdict },
      { verdict: 'genuine_with_warnings' },
    );
  } finally {
    await server.start();
  }
});

test('no page errors', () => {
  // Failed fetches while the server was stopped are expected console noise; nothing else.
  const unexpected = problems.filter((p) => !/ERR_CONNECTION_REFUSED|Failed to load resource/.test(p));
  assert.deepEqual(unexpected, []);
});
