// The web verifier as a collector meets it: served by the real `provenance serve` (the bundle
// it embeds), on a ledger whose maker mints through the real `provenance` CLI. The label URL
// and the living payload open /v in Debian's Chromium and show the same verdict and codes as
// `provenance-verify --json`; the label photo is read by the page; with `serve` stopped, a
// reload still verifies from the service worker's cache.
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
const run = cli('run', 'create', '-k', 'maker.pem', '--title', 'Indigo jacket', '--microfactory', 'Canal St', '--size', '3');
const [item] = cli('mint', '-k', 'maker.pem', '--run', run, '-n', '1', '--labels', 'labels').split('\n');
const labelPng = join(dir, 'labels', readdirSync(join(dir, 'labels')).find((f) => /^1-.*\.png$/.test(f)));
const label = cli('payload', item, '--label');
const living = cli('payload', item);
const trustFile = join(dir, 'trust.cbor');
writeFileSync(trustFile, Buffer.from(await (await fetch(`${base}/v1/trust`, { headers: { Accept: 'application/cose' } })).arrayBuffer()));

/** `provenance-verify --json` on the ledger's trust list: the verdict and codes the page must show. */
function expectedFor(payload) {
  const out = spawnSync(nativeVerifier, ['--trust', trustFile, '--json', payload], { encoding: 'utf8' });
  const report = JSON.parse(out.stdout);
  return { verdict: report.verdict, codes: report.findings.map((f) => f.code).join(' ') };
}

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
    n: Number(el.dataset.n ?? 0),
  }));
}

async function open(url) {
  await page.goto('about:blank');
  await page.goto(url);
  return report(0);
}

test('the label URL a camera opens shows the verdict provenance-verify gives', async () => {
  const got = await open(labelUrl(base, label));
  assert.deepEqual({ verdict: got.verdict, codes: got.codes }, expectedFor(label));
  assert.match(got.verdict, /^genuine/);
  // The trust list came from this ledger, and its operator key is now remembered.
  await page.waitForSelector('#trust-status[data-state]');
  assert.notEqual(await page.$eval('#trust-status', (el) => el.dataset.state), 'missing');
});

test('the living payload (mint and a fresh head statement) is genuine, as natively', async () => {
  const got = await open(labelUrl(base, living));
  assert.deepEqual({ verdict: got.verdict, codes: got.codes }, expectedFor(living));
  assert.equal(got.verdict, 'genuine');
});

test('the printed label photo is read by the page', async () => {
  const first = await open(labelUrl(base, living));
  await page.setInputFiles('#photo', labelPng);
  const got = await report(first.n);
  assert.deepEqual({ verdict: got.verdict, codes: got.codes }, expectedFor(label));
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

test('no page errors', () => {
  assert.deepEqual(problems, []);
});
