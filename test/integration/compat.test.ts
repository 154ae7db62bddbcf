// The compatibility replay: the Go lainlet's recorded answers (test/fixtures, copied from
// shared/compat) against ours, through the same probe tool, on a real etcd. Must be all green,
// with lainlet on etcd itself and on an `etcd grpc-proxy` in front of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureEtcdInstalled } from '../../src/demo/etcd-process.js';
import { freeLoopbackPort } from '../../src/demo/free-port.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = join(root, 'test/fixtures');

/** Records our answers to the cases with `cmd` (see lainlet_probe.py) and compares them with Go's. */
async function replay(dir: string, cmd: string): Promise<void> {
  const ours = join(dir, 'ours.json');
  await run('python3', [
    join(fixtures, 'lainlet_probe.py'), 'record', '--cmd', cmd,
    '--fixture', join(fixtures, 'cluster-small.json'),
    '--overlay', join(fixtures, 'overlay-auth.json'),
    '--cases', join(fixtures, 'cases.json'),
    '--log', join(dir, 'lainlet.log'),
    '-o', ours,
  ], { timeout: 200_000 });
  const { stdout } = await run('python3', [join(fixtures, 'lainlet_probe.py'), 'compare', join(fixtures, 'answers-go.json'), ours]).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? String(err) }),
  );
  const summary = stdout.trim().split('\n').pop();
  console.log(`compat replay -> ${summary}`);
  assert.match(summary ?? '', /^\d+ passed, 0 failed$/, stdout);
}

// The sources beside this test (through tsx), not the last build in dist/: `npm run test:quick`
// needs no build and never replays stale code.
const LAINLET = `${process.execPath} --import ${import.meta.resolve('tsx')} ${join(root, 'src/cli/main.ts')}`;

test('replaying the Go binary recorded cases gives identical answers', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lainlet-compat-'));
  try {
    await replay(dir, `${LAINLET} -web {web} -etcd {etcd} -ip 127.0.0.1`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the same replay with lainlet behind etcd grpc-proxy gives identical answers', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lainlet-compat-proxy-'));
  try {
    // The probe runs the command in its own process group and kills the group: the proxy goes with lainlet.
    const proxy = `127.0.0.1:${await freeLoopbackPort()}`;
    const startProxy = `${await ensureEtcdInstalled()} grpc-proxy start --endpoints={etcd} --listen-addr=${proxy} --data-dir=${join(dir, 'proxy')}`;
    await replay(dir, `sh -c "${startProxy} 2>${join(dir, 'proxy.log')} & exec ${LAINLET} -web {web} -etcd ${proxy} -ip 127.0.0.1"`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
