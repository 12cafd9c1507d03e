// NFC beside QR (issue 22): `provenance mint --labels` writes each label's URL as an NDEF
// message (`<n>-<short id>.ndef`) for any tag writer. Parsed here by an independent NDEF
// implementation (npm `ndef`, don/ndef-js), which must find one well-known URI record holding
// exactly the label URL the QR code holds: the ledger's `/v#` page with the label's payload.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ndef from 'ndef';
import { startLedger } from './ledger.mjs';

const PUBLIC_URL = 'https://ledger.example';
const { dir, cli, stop } = await startLedger('pv-ndef-', ['--public-url', PUBLIC_URL]);
after(stop);

test('every label NDEF file holds one URI record: the label URL of its piece', () => {
  cli('keygen', '--out', 'maker.pem');
  cli('trust', 'add', '--public', 'maker.pem', '--role', 'maker', '--name', 'Karim Studio');
  const run = cli('run', 'create', '--key', 'maker.pem', '--title', 'Eclipse Pin', '--microfactory', 'Northside', '--size', '3');
  const items = cli('mint', '--key', 'maker.pem', '--run', run, '--count', '3', '--labels', 'labels').split('\n');
  const files = readdirSync(join(dir, 'labels')).filter((f) => f.endsWith('.ndef')).sort();
  assert.equal(files.length, 3, files.join(', '));
  for (const [n, item] of items.entries()) {
    const file = files.find((f) => f === `${n + 1}-${item.slice(0, 8)}.ndef`);
    assert.ok(file, `an NDEF file for edition ${n + 1} (${item})`);
    const bytes = [...readFileSync(join(dir, 'labels', file))];
    const records = ndef.decodeMessage(bytes);
    assert.equal(records.length, 1, 'one record');
    const [record] = records;
    assert.equal(record.tnf, ndef.TNF_WELL_KNOWN);
    assert.deepEqual([...record.type].map((c) => (typeof c === 'number' ? String.fromCharCode(c) : c)).join(''), 'U');
    const url = ndef.uri.decodePayload(record.payload);
    // The label URL: the web verifier with the label's payload in the fragment (spec §7.5).
    const payload = cli('payload', item, '--label');
    const fragment = payload.replaceAll('%', '%25').replaceAll(' ', '%20');
    assert.equal(url, `${PUBLIC_URL}/v#${fragment}`);
    assert.ok(bytes.length <= 504, `${bytes.length} bytes: fits an NTAG215 (504 bytes of user memory)`);
  }
});
