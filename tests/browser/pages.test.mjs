// Drop operations in a real browser (issue 13): the real `provenance serve` (./ledger.mjs)
// with a run made through the real CLI; headless Debian chromium renders the
// provenance sheets and the dashboard. Checks the figures in the DOM equal the stats JSON,
// hostile text shows as text, the chart SVG is there, and an append reaches the open
// dashboard through server-sent events without a reload.
// SCREENSHOTS=1 also writes docs/screenshots/drops-*.png (360 px phone, A4-ish desktop).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_FLAGS, root } from '../../provenance-verify/web/tests/helpers.mjs';
import { startLedger } from './ledger.mjs';

assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM)`);

const { base, cli, stop } = await startLedger('pv-drops-', ['--public-url', 'https://ledger.example']);

const TITLE = 'Night <b>Pin</b> & "Co"';
for (const [who, role] of [['maker', 'maker'], ['desk', 'repairer'], ['host', 'host'], ['alice', ''], ['bob', '']]) {
  cli('keygen', '--out', `${who}.pem`);
  if (role) cli('trust', 'add', '--public', `${who}.pem`, '--role', role, '--name', `${who} <i>studio</i>`);
}
const run = cli('run', 'create', '--key', 'maker.pem', '--title', TITLE, '--microfactory', 'North <Micro>', '--place', 'Leeds', '--size', '8');
const items = cli('mint', '--key', 'maker.pem', '--run', run, '--count', '5').split('\n');
cli('transfer', items[0], '--key', 'maker.pem', '--to', 'alice.pem');
cli('transfer', items[1], '--key', 'maker.pem', '--to', 'bob.pem');
cli('repair', items[0], '--key', 'desk.pem', '--note', '<script>window.pwned=1</script> clasp', '--part', 'clasp');
cli('badge', items[0], '--key', 'host.pem', '--event', 'Fair <img src=x onerror="window.pwned=1">');

const statsOf = async () => (await fetch(`${base}/v1/runs/${run}/stats`)).json();
const percent = (f) => `${(f * 100).toFixed(1)} %`;

const userDataDir = mkdtempSync(join(tmpdir(), 'pv-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_FLAGS,
  viewport: { width: 360, height: 740 },
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
  await stop();
  rmSync(userDataDir, { recursive: true, force: true });
});

const shoot = async (name, width, height) => {
  if (process.env.SCREENSHOTS !== '1') return;
  await page.setViewportSize({ width, height });
  await page.screenshot({ path: join(root, 'docs/screenshots', `drops-${name}.png`), fullPage: true });
  await page.setViewportSize({ width: 360, height: 740 });
};

test('the run sheet shows the run, its editions and statuses as the JSON says', async () => {
  const stats = await statsOf();
  await page.goto(`${base}/runs/${run}`);
  assert.equal(await page.textContent('h1'), TITLE, 'hostile title shown as text');
  assert.equal(await page.locator('h1 b').count(), 0, 'no markup from record text');
  assert.equal(await page.textContent('[data-field=microfactory]'), 'North <Micro>');
  assert.equal(await page.textContent('[data-kpi=minted]'), String(stats.minted));
  assert.equal(await page.textContent('[data-kpi=sold]'), String(stats.sold));
  assert.equal(await page.textContent('[data-kpi=in_stock]'), String(stats.in_stock));
  const statuses = await page.locator('table.editions [data-field=status]').allTextContents();
  assert.deepEqual(statuses, ['sold', 'sold', 'in stock', 'in stock', 'in stock']);
  assert.equal(await page.locator('.small-qr img').count(), 5, 'a verifier QR image per piece');
  // Each label QR is its own immutable image (issue 21.5): every one loaded.
  assert.ok(await page.evaluate(() => [...document.querySelectorAll('.small-qr img')]
    .every((img) => img.complete && img.naturalWidth > 0)), 'every label QR image loaded');
  // The style comes from the linked stylesheet (no inline style is allowed, spec §16).
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(250, 250, 247)');
  await shoot('run-sheet-desktop', 794, 1123);
  assert.deepEqual(problems, []);
});

test('the item sheet tells the verifier story, escaped, with the QR', async () => {
  await page.goto(`${base}/items/${items[0]}`);
  assert.match(await page.textContent('[data-field=verdict]'), /^GENUINE/);
  assert.equal(await page.textContent('h1'), TITLE);
  assert.equal(await page.textContent('[data-field=owners]'), '2');
  const repairs = await page.locator('table.repairs td').allTextContents();
  assert.ok(repairs.includes('<script>window.pwned=1</script> clasp'), repairs.join('|'));
  const badges = await page.locator('table.badges td').allTextContents();
  assert.ok(badges.includes('Fair <img src=x onerror="window.pwned=1">'), badges.join('|'));
  assert.equal(await page.evaluate(() => window.pwned), undefined, 'no record text ran');
  assert.equal(await page.locator('[data-field=qr] svg').count(), 1);
  await shoot('item-sheet-phone', 360, 740);
  assert.deepEqual(problems, []);
});

test('the dashboard shows the JSON figures and a chart, and updates live on an append', async () => {
  const before = await statsOf();
  await page.goto(`${base}/dashboard`);
  const card = page.locator(`section.card[data-run="${run}"]`);
  assert.equal(await card.locator('h2').textContent(), TITLE);
  assert.equal(await card.locator('[data-kpi=sold]').textContent(), `${before.sold} / ${before.minted}`);
  assert.equal(await card.locator('[data-kpi=sell_through_7d]').textContent(), percent(before.sell_through_7d));
  assert.equal(await card.locator('[data-kpi=sell_through_30d]').textContent(), percent(before.sell_through_30d));
  assert.equal(await card.locator('[data-kpi=in_stock]').textContent(), String(before.in_stock));
  assert.equal(await card.locator('svg.chart path.sales').count(), 1);
  await shoot('dashboard-phone', 360, 740);

  await page.goto(`${base}/dashboard/${run}`);
  await page.waitForFunction(() => document.getElementById('state').dataset.state === 'open');
  await page.evaluate(() => { window.notReloaded = true; });
  const live = page.locator('#live [data-kpi=sold]');
  assert.equal(await live.textContent(), `2 / 5`);
  cli('transfer', items[2], '--key', 'maker.pem', '--to', 'alice.pem');
  await page.waitForFunction(
    () => document.querySelector('#live [data-kpi=sold]')?.textContent === '3 / 5',
    null,
    { timeout: 10_000 },
  );
  const after = await statsOf();
  assert.equal(after.sold, 3);
  assert.equal(await page.evaluate(() => window.notReloaded), true, 'updated without a reload');
  assert.equal(await page.locator('#live [data-kpi=in_stock]').textContent(), String(after.in_stock));
  assert.equal(await page.locator('#live [data-kpi=sell_through_7d]').textContent(), percent(after.sell_through_7d));
  assert.equal(await page.locator('#live svg.chart').getAttribute('data-points'), String(after.sales_by_day.length));
  const events = await page.locator('#live table.events tr td:nth-child(2)').allTextContents();
  assert.equal(events[0], 'sold', 'the newest event first');
  await shoot('dashboard-run-desktop', 1024, 900);
  assert.deepEqual(problems, []);
});
