// SIGTERM to the PID a supervisor started (systemd's ExecStart, the README's `npx lainlet`
// run line) stops everything within 5 s: no orphan left running, nothing left listening.
// The single executable gets the same check in dist.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { startSampleEtcd, type TestEtcd } from '../helpers/etcd.js';
import { get, REPO_ROOT } from '../helpers/lainlet.js';
import { envWithoutNpm, sigtermStartedPid, type SigtermOutcome } from '../helpers/supervised.js';

const run = promisify(execFile);
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

test('outside npm, a lainlet whose parent exits keeps running (nohup, a shell that ends)', { timeout: 60_000 }, async () => {
  const port = await freeLoopbackPort();
  const bin = path.join(REPO_ROOT, 'bin/lainlet.js');
  // The shell starts lainlet in the background, prints its PID, and exits once lainlet is up
  // (lainlet notes its parent at start).
  const { stdout } = await run('sh', ['-c', `"$0" "$@" >/dev/null 2>&1 & echo $!; sleep 2`, process.execPath, bin,
    '-web', `127.0.0.1:${port}`, '-etcd', env.etcd.endpoint, '-ip', '127.0.0.1'], { env: envWithoutNpm() });
  const pid = Number(stdout.trim());
  try {
    let answered = false;
    for (let i = 0; i < 100 && !answered; i++) {
      answered = (await get(port, '/readyz', { timeoutMs: 1_000 }).catch(() => undefined))?.status === 200;
      if (!answered) await sleep(100);
    }
    assert.ok(answered, 'lainlet answered after its parent exited');
    await sleep(1_000); // several of the parent checks an npm-started lainlet makes
    assert.equal((await get(port, '/readyz', { timeoutMs: 1_000 })).status, 200, 'still serving');
  } finally {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone (the failure above says why)
    }
  }
});
