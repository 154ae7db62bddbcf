// The command line as a newcomer meets it: each bad flag value gets a clear message, the usage
// and exit status 2 before anything starts; help never starts anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/lainlet.js';

const CLI = path.join(REPO_ROOT, 'src', 'cli', 'main.ts');

function lainlet(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('bad daemon flag values: the message, the usage, exit 2', { timeout: 120_000 }, () => {
  const cases: Array<[string[], RegExp]> = [
    [['-web', '19002', '-etcd', '127.0.0.1:1'], /^lainlet: -web "19002": expected HOST:PORT or :PORT\n/],
    [['-web', ':99999', '-etcd', '127.0.0.1:1'], /^lainlet: -web ":99999": port out of range/],
    [['-web', ':0', '-etcd', '127.0.0.1:1', '-ip', 'notanip'], /^lainlet: -ip "notanip": not an IP address\n/],
  ];
  for (const [args, message] of cases) {
    const r = lainlet(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, message);
    assert.match(r.err, /Usage: lainlet -web ADDR/);
  }
});

test('LAINLET_LOG_LEVEL=bogus: our message, exit 2', { timeout: 60_000 }, () => {
  const r = lainlet(['-web', '127.0.0.1:0', '-etcd', '127.0.0.1:1'], { LAINLET_LOG_LEVEL: 'bogus' });
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /^lainlet: LAINLET_LOG_LEVEL=bogus is not a log level; use one of fatal, error, warn, info, debug, trace, silent\n/);
});

test('an unknown client flag: our message, not the parser\'s advice about --', { timeout: 60_000 }, () => {
  const r = lainlet(['get', 'x', '--bogus']);
  assert.equal(r.code, 2);
  assert.equal(r.err, 'lainlet get: unknown flag --bogus (see lainlet get --help)\n');
});

test('lainlet demo --help prints its usage and starts nothing', { timeout: 60_000 }, () => {
  const r = lainlet(['demo', '--help']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^Usage: lainlet demo \[--web HOST:PORT \| --port N\]/);
  assert.doesNotMatch(r.out, /starting a throwaway etcd/);
});
