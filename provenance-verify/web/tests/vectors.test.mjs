// The web verifier's wasm gives, for every spec vector, the same JSON report as the native
// `provenance-verify --json` (compared byte for byte in compact form), never throws on mutated
// payloads, and its helpers (trust_info, qr_modules, the scan module) behave. Run with
// `npm test` after scripts/build-wasm.sh and `cargo build -p provenance-verify`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  vectors, operatorOf, nowOf, trustOf, nativeReport, loadWasm, labelUrl, web, root,
} from './helpers.mjs';

const wasm = await loadWasm();
const { verify_json, verify_with_challenge_json, trust_info, qr_modules } = wasm;

test('every vector: the wasm report is the native --json report, also from a label URL', () => {
  assert.ok(vectors.length > 80, `${vectors.length} vectors`);
  for (const [i, v] of vectors.entries()) {
    const expected = nativeReport(v, i);
    const got = verify_json(v.payload, trustOf(v), operatorOf(v), BigInt(nowOf(v)));
    assert.equal(got, expected, v.name);
    if (v.payload.startsWith('PV1:')) {
      const url = labelUrl('https://ledger.example', v.payload);
      assert.equal(verify_json(url, trustOf(v), operatorOf(v), BigInt(nowOf(v))), expected, `${v.name} as a URL`);
    }
  }
});

test('every owner check vector: the wasm passes only today\'s owner, as natively (spec §8)', () => {
  const checks = JSON.parse(readFileSync(join(root, 'spec/vectors/owner_checks.json'))).vectors;
  assert.ok(checks.length >= 8, `${checks.length} owner checks`);
  const byName = Object.fromEntries(vectors.map((v) => [v.name, v]));
  for (const c of checks) {
    const v = byName[c.payload_vector];
    const report = JSON.parse(
      verify_with_challenge_json(v.payload, trustOf(v), operatorOf(v), BigInt(nowOf(v)), c.challenge, c.answer),
    );
    const outcome = report.owner_challenge;
    assert.equal(outcome.result, c.expect, c.name);
    assert.equal(outcome.code ?? null, c.code, c.name);
    assert.equal(outcome.passed, c.expect === 'passed', c.name);
    assert.equal(report.exit_code, c.expect === 'passed' ? (report.verdict === 'genuine' ? 0 : 1) : 4, c.name);
  }
});

test('mutated payloads never throw and never verify', () => {
  const valid = vectors.filter((v) => v.expect === 'genuine').slice(0, 3);
  const swaps = ['0', 'Z', ' ', '%', 'a', '\u00e9'];
  let checked = 0;
  for (const v of valid) {
    for (let at = 4; at < v.payload.length; at += 1) {
      for (const c of swaps) {
        if (v.payload[at] === c) continue;
        const mutated = v.payload.slice(0, at) + c + v.payload.slice(at + 1);
        const report = JSON.parse(verify_json(mutated, trustOf(v), operatorOf(v), BigInt(nowOf(v))));
        assert.ok(
          report.verdict === 'unreadable' || report.verdict === 'not_genuine',
          `${v.name} @${at}=${c}: ${report.verdict}`,
        );
        assert.ok(report.code, `${v.name} @${at}=${c}: no code`);
        checked += 1;
      }
    }
    // Truncated and extended.
    for (const cut of [5, 20, v.payload.length - 1]) {
      const report = JSON.parse(verify_json(v.payload.slice(0, cut), trustOf(v), operatorOf(v), BigInt(nowOf(v))));
      assert.notEqual(report.verdict, 'genuine');
      assert.notEqual(report.verdict, 'genuine_with_warnings');
    }
  }
  assert.ok(checked > 1000, `${checked} mutations`);
});

test('garbage never throws: empty, huge, binary-looking and hostile inputs are unreadable', () => {
  const v = vectors[0];
  const inputs = ['', ' ', 'PV1:', 'PV1:'.padEnd(200_000, 'A'), '\u0000\u0001', 'https://x/v#PV1:%', '#PV1:%%%'];
  for (const input of inputs) {
    const report = JSON.parse(verify_json(input, trustOf(v), operatorOf(v), BigInt(nowOf(v))));
    assert.equal(report.verdict, 'unreadable', JSON.stringify(input.slice(0, 20)));
  }
  // A trust list that is not one, a bad pinned key, time zero and the largest time.
  for (const [trust, op, now] of [
    [new Uint8Array(), operatorOf(v), nowOf(v)],
    [new Uint8Array(3000).fill(0xff), null, nowOf(v)],
    [trustOf(v), 'not-a-key', nowOf(v)],
    [trustOf(v), operatorOf(v), 0],
    [trustOf(v), operatorOf(v), 2 ** 63],
  ]) {
    const report = JSON.parse(verify_json(v.payload, trust, op, BigInt(now)));
    assert.notEqual(report.verdict, 'genuine', JSON.stringify([trust.length, op, now]));
  }
});

test('trust_info names the operator only of a list that verifies', () => {
  const v = vectors[0];
  const info = JSON.parse(trust_info(trustOf(v)));
  assert.equal(info.operator, operatorOf(v));
  assert.match(info.operator_key_id, /^[0-9a-f]{16}$/);
  const tampered = Uint8Array.from(trustOf(v));
  tampered[tampered.length - 1] ^= 1;
  assert.equal(trust_info(tampered), 'null');
});

test('the owner challenge through the wasm: a wrong answer fails with its code', () => {
  const v = vectors.find((x) => x.name === 'living-full-chain');
  const report = JSON.parse(
    verify_with_challenge_json(v.payload, trustOf(v), operatorOf(v), BigInt(nowOf(v)), 'ABCD-EFGH-JKMN', 'x'.repeat(86)),
  );
  assert.equal(report.owner_challenge.passed, false);
  assert.equal(report.owner_challenge.code, 'proof.malformed');
  assert.equal(report.exit_code, 4);
});

test('the scan module reads back what qr_modules draws; wrong sizes give nothing', async () => {
  const scan = await loadWasm('provenance_scan');
  const v = vectors.find((x) => x.name === 'label');
  const grid = qr_modules(labelUrl('https://ledger.example', v.payload));
  const n = grid[0];
  const px = 3;
  const side = (n + 8) * px;
  const luma = new Uint8Array(side * side).fill(255);
  for (let i = 0; i < n * n; i += 1) {
    if (!grid[1 + i]) continue;
    const [mx, my] = [(i % n) + 4, Math.floor(i / n) + 4];
    for (let dy = 0; dy < px; dy += 1) luma.fill(0, (my * px + dy) * side + mx * px, (my * px + dy) * side + mx * px + px);
  }
  assert.deepEqual(JSON.parse(scan.decode_qr(side, side, luma)), [v.payload]);
  assert.equal(scan.decode_qr(side, side - 1, luma), '[]');
  assert.equal(scan.decode_qr(0, 0, new Uint8Array()), '[]');
  assert.equal(scan.decode_qr(4096, 4096, new Uint8Array(16)), '[]');
  assert.equal(scan.decode_qr(64, 64, new Uint8Array(64 * 64).map((_, i) => (i * 2654435761) >>> 24)), '[]');
});

test("the page's service worker and bundle.json are stamped for the current files", () => {
  const run = spawnSync(process.execPath, [join(web, 'tools/stamp.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
});
