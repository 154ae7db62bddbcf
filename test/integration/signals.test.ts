// SIGTERM to the PID a supervisor started (systemd's ExecStart, the README's `npx lainlet`
// run line) stops everything within 5 s: no orphan left running, nothing left listening.
// The single executable gets the same check in dist.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { startSampleEtcd, type TestEtcd } from '../helpers/etcd.js';
import { REPO_ROOT } from '../helpers/lainlet.js';
import { envWithoutNpm, sigtermStartedPid, type SigtermOutcome } from '../helpers/supervised.js';

let env: TestEtcd;
before(async () => (env = await startSampleEtcd()), { timeout: 300_000 });
after(() => env?.etcd.stop());

function assertStoppedCleanly(outcome: SigtermOutcome): void {
  const detail = `tree ${outcome.tree.join(',')}, left ${outcome.leftover.join(',') || 'none'}, listening ${outcome.listening}\n${outcome.output}`;
  assert.deepEqual(outcome.leftover, [], `processes left 5 s after SIGTERM: ${detail}`);
  assert.equal(outcome.listening, false, `port still open 5 s after SIGTERM: ${detail}`);
  assert.ok(outcome.stoppedMs !== undefined, detail);
}

test('SIGTERM to the PID of `npx lainlet ...` stops the daemon too (npm passes it only to its shell)', { timeout: 120_000 }, async () => {
  const port = await freeLoopbackPort();
  const outcome = await sigtermStartedPid('npx', ['--yes', 'lainlet', '-web', `127.0.0.1:${port}`, '-etcd', env.etcd.endpoint, '-ip', '127.0.0.1'], {
    port,
    cwd: REPO_ROOT,
    env: envWithoutNpm(),
  });
  // npm -> sh -> node: the daemon is not the PID that got the signal.
  assert.ok(outcome.tree.length >= 2, `npx ran lainlet in its own process tree: ${outcome.tree.join(',')}`);
  assertStoppedCleanly(outcome);
  console.log(`npx lainlet: all stopped ${outcome.stoppedMs} ms after SIGTERM`);
});

test('bin/lainlet.js runs the daemon in its own process: SIGTERM to it leaves nothing', { timeout: 60_000 }, async () => {
  const port = await freeLoopbackPort();
  const outcome = await sigtermStartedPid(
    process.execPath,
    [path.join(REPO_ROOT, 'bin/lainlet.js'), '-web', `127.0.0.1:${port}`, '-etcd', env.etcd.endpoint, '-ip', '127.0.0.1'],
    { port, env: envWithoutNpm() },
  );
  assert.deepEqual(outcome.tree.length, 1, `bin/lainlet.js started child processes: ${outcome.tree.join(',')}`);
  assertStoppedCleanly(outcome);
  console.log(`bin/lainlet.js: stopped ${outcome.stoppedMs} ms after SIGTERM`);
});
