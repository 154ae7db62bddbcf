// `lainlet demo` as a newcomer runs it: a readable banner with no log lines in it, the watched
// example changing within a few seconds, Ctrl-C stopping everything, and a busy port an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { freeLoopbackPort } from '../../src/demo/free-port.js';
import { REPO_ROOT, watch } from '../helpers/lainlet.js';

const CLI = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');

function demo(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'demo', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (c: Buffer) => (out.stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out.stderr += c.toString()));
  return { child, out, exited: once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]> };
}

test('the demo: a clean banner, the watched example changes within seconds, Ctrl-C stops it', { timeout: 300_000 }, async () => {
  const port = await freeLoopbackPort();
  const d = demo(['--web', `127.0.0.1:${port}`]);
  try {
    const deadline = Date.now() + 240_000; // may install etcd first
    while (!/Ctrl-C stops everything/.test(d.out.stdout)) {
      assert.ok(Date.now() < deadline && d.child.exitCode === null, `no banner:\n${d.out.stdout}\n${d.out.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // The banner names the port asked for, and no JSON log line is mixed into it.
    assert.match(d.out.stdout, new RegExp(`serving the sample cluster on http://127\\.0\\.0\\.1:${port};`));
    assert.doesNotMatch(d.out.stdout + d.out.stderr, /^\{"level"/m);
    const suggested = /curl -N '(http:\/\/[^']+\/v2\/procwatcher\?[^']+)'/.exec(d.out.stdout)?.[1];
    assert.ok(suggested, d.out.stdout);
    const url = new URL(suggested);
    const w = watch(port, url.pathname + url.search);
    try {
      await w.next((e) => e.event === 'init');
      // The default interval is 3 s and the watched app changes every other step.
      const update = await w.next((e) => e.event === 'update' || e.event === 'delete', 10_000);
      assert.ok(update.data);
    } finally {
      w.close();
    }
  } finally {
    d.child.kill('SIGINT');
  }
  const [code] = await d.exited;
  assert.equal(code, 0, d.out.stderr);
  assert.match(d.out.stdout, /demo: stopped\./);
});

test('the demo on a busy port: an error naming the port, not another port', { timeout: 60_000 }, async () => {
  const busy = net.createServer().listen(0, '127.0.0.1');
  await once(busy, 'listening');
  const port = (busy.address() as net.AddressInfo).port;
  try {
    const d = demo(['--web', `127.0.0.1:${port}`]);
    const [code] = await d.exited;
    assert.equal(code, 1);
    assert.match(d.out.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is in use`));
    assert.doesNotMatch(d.out.stdout, /starting a throwaway etcd/);
  } finally {
    busy.close();
  }
});
