// The web verifier as a collector meets it: served by the real `provenance serve` (the bundle
// it embeds), on a ledger whose maker mints through the real `provenance` CLI, for a piece that
// was sold, repaired and then reported stolen. Online, the printed label's URL shows what the
// ledger knows today (issue 20.3: the verdict and codes `provenance-verify --json` gives for the
// piece's exported history: stolen, the repair, two owners), red and first; offline it shows the
// origin only and says so; a ledger answering a forged head statement gets NOT GENUINE. The owner
// check passes today's owner online and judges no one on the label offline (issue 20.2). The
// living payload and the label photo give the native verdicts; with `serve` stopped, a reload
// still verifies from the service worker's cache.
//
// Builds target/debug/provenance and provenance-verify (cargo; quick when up to date); needs
// /usr/bin/chromium and `npm ci`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, labelUrl, nativeVerifier, root, scratch } from './helpers.mjs';

const target = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
const provenance = process.env.PROVENANCE ?? join(target, 'debug/provenance');
// Always (well under a second when up to date): `serve` embeds web/, which may have just been
// rebuilt by scripts/build-wasm.sh.
if (!process.env.PROVENANCE) {
  const build = spawnSync(
    'cargo',
    ['build', '--quiet', '--locked', '-p', 'provenance-server', '--bin', 'provenance', '-p', 'provenance-verify'],
    { cwd: root, stdio: 'inherit', env: { ...process.env, CARGO_TARGET_DIR: target } },
  );
  assert.equal(build.status, 0, 'cargo build');
}
assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM)`);

/** A free loopback port (the public URL must name it before `serve` starts). */
async function freePort() {
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const dir = mkdtempSync(join(scratch, 'ledger-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;

/** Starts `provenance serve` on `port`; resolves once it prints that it listens. */
function serve() {
  const child = spawn(
    provenance,
    ['serve', '--db', join(dir, 'ledger.db'), '--ledger-key', join(dir, 'ledger.pem'),
      '--listen', `127.0.0.1:${port}`, '--workers', '1', '--public-url', base],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, RUST_LOG: 'warn' } },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('listening on')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`serve exited (${code}) before listening: ${out}`)));
  });
}

async function stop(child) {
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Runs the CLI against the ledger, in the ledger's directory; its stdout. */
function cli(...args) {
  const run = spawnSync(provenance, ['--server', base, ...args], { cwd: dir, encoding: 'utf8' });
  assert.equal(run.status, 0, `provenance ${args.join(' ')}: ${run.stderr}`);
  return run.stdout.trim();
}

let server = await serve();
cli('keygen', '-o', 'maker.pem');
cli('trust', 'add', '--public', 'maker.pem', '--role', 'maker', '--name', 'Ada Atelier');
cli('keygen', '-o', 'desk.pem');
cli('trust', 'add', '--public', 'desk.pem', '--role', 'repairer', '--name', 'Zip Desk');
cli('keygen', '-o', 'alice.pem');
const run = cli('run', 'create', '-k', 'maker.pem', '--title', 'Indigo jacket', '--microfactory', 'Canal St', '--size', '3');
const [item] = cli('mint', '-k', 'maker.pem', '--run', run, '-n', '1', '--labels', 'labels').split('\n');
const labelPng = join(dir, 'labels', readdirSync(join(dir, 'labels')).find((f) => /^1-.*\.png$/.test(f)));
const label = cli('payload', item, '--label');
// Sold to Alice, repaired, then reported stolen by Alice: what the printed label cannot show.
cli('transfer', item, '-k', 'maker.pem', '--to', 'alice.pem');
cli('repair', item, '-k', 'desk.pem', '--note', 'new zip', '--part', 'zip');
cli('report', item, '-k', 'alice.pem', '--stolen');
const living = cli('payload', item);
const exportFile = join(dir, 'export.cbor');
cli('export', item, '--out', exportFile);
const trustFile = join(dir, 'trust.cbor');
writeFileSync(trustFile, Buffer.from(await (await fetch(`${base}/v1/trust`, { headers: { Accept: 'application/cose' } })).arrayBuffer()));

/** `provenance-verify --json` on the ledger's trust list: the verdict and codes the page must show. */
function expectedFor(payload, ...args) {
  const out = spawnSync(nativeVerifier, ['--trust', trustFile, '--json', ...args, payload], { encoding: 'utf8' });
  const report = JSON.parse(out.stdout);
  return { verdict: report.verdict, codes: report.findings.map((f) => f.code).join(' ') };
}
/** What the ledger knows today: the native verdict of the exported history. */
const today = () => expectedFor(exportFile, '--file');

const userDataDir = mkdtempSync(join(tmpdir(), 'pv-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_FLAGS,
  viewport: { width: 360, height: 640 },
});
const page = context.pages()[0] ?? (await context.newPage());
const problems = [];
page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
// Anything the ledger's one policy (spec §16) blocks is a problem: the pages must need none of it.
await context.exposeBinding('reportPolicyViolation', (_source, text) => problems.push(`policy violation: ${text}`));
await context.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', (e) => {
    window.reportPolicyViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline code'} at ${e.sourceFile}:${e.lineNumber}`);
  });
});

after(async () => {
  await context.close();
  await stop(server).catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
});

async function report(n) {
  await page.waitForFunction(
    (before) => {
      const el = document.getElementById('verdict');
      return Number(el.dataset.n ?? 0) > before && !el.hasAttribute('data-busy');
    },
    n,
    { timeout: 30_000 },
  );
  return page.$eval('#verdict', (el) => ({
    verdict: el.dataset.verdict,
    codes: el.dataset.codes,
    code: el.dataset.code,
    stolen: el.dataset.stolen,
    online: el.dataset.online,
    n: Number(el.dataset.n ?? 0),
  }));
}

/** The owner check on the report shown: makes a code, the seller `who` answers it. */
async function ownerCheck(who) {
  await page.click('#challenge-start');
  const nonce = (await page.textContent('#nonce')).trim();
  const answer = cli('prove', item, '-k', `${who}.pem`, '--challenge', nonce);
  const before = (await report(0)).n;
  await page.fill('#answer', answer);
  await page.click('#answer-check');
  await report(before);
  return page.$eval('#challenge-result', (el) => ({ result: el.dataset.result, headline: el.textContent }));
}

/** SCREENSHOTS=1 writes docs/screenshots/NAME.png (the README's phone section). */
async function screenshot(name) {
  if (process.env.SCREENSHOTS) await page.screenshot({ path: join(root, 'docs/screenshots', `${name}.png`) });
}

async function open(url) {
  await page.goto('about:blank');
  await page.goto(url);
  return report(0);
}

test('online, the label URL shows what the ledger knows today: stolen, repaired, sold', async () => {
  const got = await open(labelUrl(base, label));
  assert.deepEqual({ verdict: got.verdict, codes: got.codes }, today());
  assert.equal(got.codes, 'item.stolen');
  assert.equal(got.online, 'online');
  assert.equal(got.stolen, 'true');
  assert.match(await page.textContent('#headline'), /^REPORTED STOLEN on \d{4}-\d{2}-\d{2}: do not buy$/);
  assert.equal(await page.$eval('#verdict', (el) => getComputedStyle(el).backgroundColor), 'rgb(163, 0, 27)');
  await screenshot('label-online-stolen');
  const story = await page.textContent('#story-list');
  assert.match(story, /1 repair/);
  assert.match(story, /new zip; parts: zip \(Zip Desk\)/);
  assert.match(story, /2 owners so far/);
  // The headline and the advice speak to a buyer: no codes, no key ids, no commands.
  const words = `${await page.textContent('#headline')} ${await page.textContent('#advice')}`;
  assert.doesNotMatch(words, /item\.stolen|payload\.|provenance prove|[0-9a-f]{16}/);
  // The trust list came from this ledger, and its operator key is now remembered.
  await page.waitForSelector('#trust-status[data-state]');
  assert.notEqual(await page.$eval('#trust-status', (el) => el.dataset.state), 'missing');
  // Today's owner passes the owner check; the maker, who sold it, fails.
  assert.equal((await ownerCheck('alice')).result, 'passed');
  assert.equal((await ownerCheck('maker')).result, 'failed');
});

test('a ledger that answers a forged head statement gets NOT GENUINE', async () => {
  const history = Buffer.from(await (await fetch(`${base}/v1/items/${item}/export`)).arrayBuffer());
  const head = Buffer.from(await (await fetch(`${base}/v1/items/${item}/head`, { headers: { Accept: 'application/cose' } })).arrayBuffer());
  // The export carries a head statement signed at another moment: take its own, found by its
  // protected header and payload, and break its signature's last byte.
  const at = history.indexOf(head.subarray(0, head.length - 64));
  assert.ok(at > 0, 'the head statement is in the export');
  const forged = Buffer.from(history);
  forged[at + head.length - 1] ^= 0x01;
  await page.route('**/v1/items/*/export', (route) =>
    route.fulfill({ status: 200, contentType: 'application/cbor', body: forged }));
  try {
    const got = await open(labelUrl(base, label));
    assert.equal(got.verdict, 'not_genuine');
    assert.match(got.code, /^head\./);
    assert.match(await page.textContent('#headline'), /^NOT GENUINE/);
  } finally {
    await page.unroute('**/v1/items/*/export');
  }
});

test('offline, the label shows its origin only, says so, and judges no owner', async () => {
  await open(labelUrl(base, living)); // the service worker has the page from here on
  await page.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 30_000 });
  await context.setOffline(true);
  try {
    const got = await open(labelUrl(base, label));
    assert.deepEqual({ verdict: got.verdict, codes: got.codes }, expectedFor(label));
    assert.equal(got.codes, 'payload.label_only');
    assert.equal(got.online, 'offline');
    assert.match(await page.textContent('#online-status'), /^Offline: this shows where the piece comes from, not who owns it today/);
    assert.equal(await page.textContent('#headline'), 'GENUINE');
    await screenshot('label-offline');
    // The maker's key answers for the owner at minting, but a label judges no one.
    const check = await ownerCheck('maker');
    assert.equal(check.result, 'not_judged');
    assert.match(check.headline, /OWNER NOT CHECKED/);
    await page.$eval('#challenge-result', (el) => el.scrollIntoView());
    await screenshot('label-offline-owner-not-checked');
    assert.equal((await ownerCheck('alice')).result, 'not_judged');
  } finally {
    await context.setOffline(false);
  }
});

test('the living payload (mint and a fresh head statement) gives the native verdict', async () => {
  const got = await open(labelUrl(base, living));
  assert.deepEqual({ verdict: got.verdict, codes: got.codes }, expectedFor(living));
  assert.equal(got.codes, 'item.stolen');
  assert.equal(got.online, '', 'a living payload needs no ledger');
});

test('the printed label photo is read by the page', async () => {
  const first = await open(labelUrl(base, living));
  await page.setInputFiles('#photo', labelPng);
  const got = await report(first.n);
  // The photo's label, checked online: what the ledger knows today.
  assert.deepEqual({ verdict: got.verdict, codes: got.codes }, today());
});

test('with serve stopped, a reload verifies from the service worker cache', async () => {
  await open(labelUrl(base, living));
  await page.waitForFunction(() => !!navigator.serviceWorker.controller, null, { timeout: 30_000 });
  await stop(server);
  try {
    await page.reload();
    const got = await report(0);
    assert.deepEqual({ verdict: got.verdict, codes: got.codes }, expectedFor(living));
    await page.waitForSelector('#trust-status[data-state="saved"]');
  } finally {
    server = await serve();
  }
});

test('over plain http on a network name, the page says why there is no camera or offline use', async () => {
  // ledger.test resolves to this loopback server, but is no secure context to the browser,
  // as a ledger on http://192.168.1.5 would not be.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_FLAGS, '--host-resolver-rules=MAP ledger.test 127.0.0.1'],
  });
  try {
    const insecure = await browser.newPage({ viewport: { width: 360, height: 640 } });
    await insecure.goto(`http://ledger.test:${port}/v`);
    await insecure.waitForSelector('#offline-status[data-offline="insecure"]');
    assert.match(await insecure.textContent('#hint'), /not on https/);
    await insecure.click('#scan');
    await insecure.waitForSelector('#camera-status[data-reason="insecure"]');
    assert.match(await insecure.textContent('#camera-status'), /not on https, so the browser does not let it use the camera/);
    assert.equal(await insecure.$eval('#video', (el) => el.hidden), true, 'no black video box');
  } finally {
    await browser.close();
  }
});

test('no page errors', () => {
  assert.deepEqual(problems, []);
});
