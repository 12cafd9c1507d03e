// A real ledger for the node tests of tests/browser/: `provenance serve` (target/debug, built
// if missing) on a fresh database in a temporary directory, and the real CLI pointed at it.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { root } from '../../provenance-verify/web/tests/helpers.mjs';

const target = process.env.CARGO_TARGET_DIR ?? join(root, 'target');
/** The `provenance` binary the tests run. */
export const bin = join(target, 'debug/provenance');

/**
 * Starts a ledger with `serveArgs` added to `serve`; resolves to `{ base, dir, cli, stop }`:
 * its URL, its directory (the CLI's working directory), `cli(...args)` running a command that
 * must succeed and giving its trimmed stdout, and `stop()` (SIGTERM, then the directory removed).
 */
export async function startLedger(prefix, serveArgs = []) {
  if (!existsSync(bin)) {
    const build = spawnSync('cargo', ['build', '--locked', '-p', 'provenance-server', '--bin', 'provenance'], {
      cwd: root,
      stdio: 'inherit',
    });
    assert.equal(build.status, 0, 'cargo build -p provenance-server');
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const serve = spawn(
    bin,
    ['serve', '--db', join(dir, 'ledger.db'), '--ledger-key', join(dir, 'ledger.pem'),
      '--listen', '127.0.0.1:0', '--workers', '2', ...serveArgs],
    { cwd: dir, env: { ...process.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const base = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: serve.stdout });
    lines.on('line', (line) => {
      const m = line.match(/^listening on (\S+)/);
      if (m) resolve(m[1]);
    });
    serve.on('exit', (code) => reject(new Error(`provenance serve exited with ${code}`)));
  });
  const cli = (...args) => {
    const run = spawnSync(bin, ['--server', base, ...args], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, PROVENANCE_HOME: join(dir, 'home') },
    });
    assert.equal(run.status, 0, `provenance ${args.join(' ')}: ${run.stderr}`);
    return run.stdout.trim();
  };
  const stop = async () => {
    serve.kill('SIGTERM');
    await new Promise((resolve) => serve.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  };
  return { base, dir, cli, stop };
}
