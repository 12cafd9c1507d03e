// Shared by the web verifier's tests and tools/figures.mjs: paths, the spec vectors, the native
// verifier's report, the fixtures, and a static server that serves the page the way
// `provenance serve` will (bundle.json's addresses, types and headers) plus a trust list.
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const web = join(here, '..');
export const root = join(web, '../..');
const target = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
export const nativeVerifier = process.env.PROVENANCE_VERIFY ?? join(target, 'debug/provenance-verify');
export const scratch = mkdtempSync(join(tmpdir(), 'pv-web-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

export const vectors = JSON.parse(readFileSync(join(root, 'spec/vectors/payloads.json'))).vectors;
export const operatorOf = (v) => Buffer.from(v.operator_public_key_hex, 'hex').toString('base64url');
export const nowOf = (v) => Math.floor(Date.parse(v.now) / 1000);
export const trustOf = (v) => Buffer.from(v.trust_list_hex, 'hex');

/** The label URL form of a payload (spec §7.5): base45's space and `%` escaped. */
export const labelUrl = (base, payload) =>
  `${base}/v#${payload.replaceAll('%', '%25').replaceAll(' ', '%20')}`;

/** `provenance-verify --json` for a vector (operator pinned), as compact JSON text. */
export function nativeReport(v, i = 0) {
  const file = join(scratch, `trust-${i}.cbor`);
  writeFileSync(file, trustOf(v));
  const run = spawnSync(
    nativeVerifier,
    ['--trust', file, '--operator', operatorOf(v), '--now', v.now, '--json', v.payload],
    { encoding: 'utf8' },
  );
  if (!run.stdout) {
    throw new Error(`${v.name}: no output from ${nativeVerifier} (run cargo build -p provenance-verify): ${run.stderr ?? run.error}`);
  }
  return JSON.stringify(JSON.parse(run.stdout));
}

/** The wasm verifier loaded in Node (`--target web` glue, initialised with the bytes). */
export async function loadWasm(name = 'provenance_verify', instance = 0) {
  const glue = join(web, 'pkg', `${name}.js`);
  const mod = await import(`${glue}${instance ? `?instance=${instance}` : ''}`);
  await mod.default({ module_or_path: readFileSync(join(web, 'pkg', `${name}_bg.wasm`)) });
  return mod;
}

function cargoExample(args) {
  const run = spawnSync(
    'cargo',
    ['run', '--quiet', '--locked', '-p', 'provenance-verify', '--example', 'web_fixtures', '--', ...args],
    { cwd: root, encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`web_fixtures ${args.join(' ')}: ${run.stderr}`);
  return run.stdout.trim();
}

/** Builds the fixtures (examples/web_fixtures.rs): trust list, label, histories, label video. */
export function makeFixtures() {
  const dir = join(scratch, 'fixtures');
  cargoExample([dir]);
  const fixtures = JSON.parse(readFileSync(join(dir, 'fixtures.json'), 'utf8'));
  return {
    ...fixtures,
    dir,
    trust: Buffer.from(fixtures.trust_hex, 'hex'),
    png: join(dir, 'label.png'),
    y4m: join(dir, 'label.y4m'),
  };
}

/** The owner challenge answer for the fixture history's item, by its owner or a stranger. */
export const prove = (who, nonce) => cargoExample(['prove', who, nonce]);

/**
 * Serves web/ as `provenance serve` will: every file of bundle.json at its url with its type
 * and headers (the page at /v), /v/ redirected to /v, and `trust` at /v1/trust for
 * `Accept: application/cose`. `stop()` closes it (and every connection), `start()` listens on
 * the same port again.
 */
export async function startServer(trust) {
  const state = { trust, trustRequests: 0 };
  const handler = (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (url.pathname === '/v/') {
      res.writeHead(308, { Location: '/v' }).end();
      return;
    }
    if (url.pathname === '/v1/trust') {
      state.trustRequests += 1;
      if (!(req.headers.accept ?? '').includes('application/cose')) {
        res.writeHead(406).end();
      } else if (!state.trust) {
        res.writeHead(404, { 'Content-Type': 'application/problem+json' }).end('{}');
      } else {
        res.writeHead(200, { 'Content-Type': 'application/cose' }).end(state.trust);
      }
      return;
    }
    const bundle = JSON.parse(readFileSync(join(web, 'bundle.json'), 'utf8'));
    const file = bundle.files.find((f) => f.url === url.pathname);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': file.type, ...file.headers });
    res.end(readFileSync(join(web, file.path)));
  };
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  let current = server;
  return {
    base: `http://127.0.0.1:${port}`,
    state,
    setTrust(bytes) {
      state.trust = bytes;
    },
    async stop() {
      current.closeAllConnections();
      await new Promise((resolve) => current.close(resolve));
    },
    async start() {
      current = createServer(handler);
      await new Promise((resolve) => current.listen(port, '127.0.0.1', resolve));
    },
  };
}

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** The flags every browser test runs Chromium with (plus a fresh user-data-dir). */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
