// The web verifier's wasm gives, for every spec vector, the same JSON report as the native
// `provenance-verify --json` (compared byte for byte in compact form), and never throws on
// mutated payloads. Run with `npm test` after scripts/build-wasm.sh and `cargo build`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
const pkg = join(here, '../pkg');
const wasm = await import(join(pkg, 'provenance_verify.js'));
await wasm.default({ module_or_path: readFileSync(join(pkg, 'provenance_verify_bg.wasm')) });
const { verify_json } = wasm;

const vectors = JSON.parse(readFileSync(join(root, 'spec/vectors/payloads.json'))).vectors;
const native = process.env.PROVENANCE_VERIFY ?? join(root, 'target/debug/provenance-verify');
const scratch = mkdtempSync(join(tmpdir(), 'pv-web-'));

const operatorOf = (v) => Buffer.from(v.operator_public_key_hex, 'hex').toString('base64url');
const nowOf = (v) => Math.floor(Date.parse(v.now) / 1000);
const trustOf = (v) => Buffer.from(v.trust_list_hex, 'hex');

test('every vector: the wasm report is the native --json report', () => {
  assert.ok(vectors.length > 80, `${vectors.length} vectors`);
  for (const [i, v] of vectors.entries()) {
    const file = join(scratch, `trust-${i}.cbor`);
    writeFileSync(file, trustOf(v));
    const run = spawnSync(
      native,
      ['--trust', file, '--operator', operatorOf(v), '--now', v.now, '--json', v.payload],
      { encoding: 'utf8' },
    );
    assert.ok(run.stdout, `${v.name}: no native output (${run.stderr})`);
    const expected = JSON.stringify(JSON.parse(run.stdout));
    const got = verify_json(v.payload, trustOf(v), operatorOf(v), BigInt(nowOf(v)));
    assert.equal(got, expected, v.name);
  }
});

test('mutated payloads never throw and never verify', () => {
  const valid = vectors.filter((v) => v.expect === 'genuine').slice(0, 3);
  const swaps = ['0', 'Z', ' ', '%'];
  let checked = 0;
  for (const v of valid) {
    for (let at = 4; at < v.payload.length; at += 1) {
      for (const c of swaps) {
        if (v.payload[at] === c) continue;
        const mutated = v.payload.slice(0, at) + c + v.payload.slice(at + 1);
        const report = JSON.parse(
          verify_json(mutated, trustOf(v), operatorOf(v), BigInt(nowOf(v))),
        );
        assert.ok(
          report.verdict === 'unreadable' || report.verdict === 'not_genuine',
          `${v.name} @${at}=${c}: ${report.verdict}`,
        );
        checked += 1;
      }
    }
  }
  assert.ok(checked > 1000, `${checked} mutations`);
});
