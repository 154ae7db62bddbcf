import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, UsageError } from '../../src/cli/flags.js';
import { parseListenAddress } from '../../src/daemon/daemon.js';

function run(argv: string[]) {
  const p = parseFlags(argv);
  assert.equal(p.kind, 'run');
  return (p as Extract<typeof p, { kind: 'run' }>).options;
}

test('Go single-dash flags', () => {
  const o = run(['-web', ':9001', '-etcd', '127.0.0.1:2379', '-ip', '10.0.0.5', '-debug', '-noauth']);
  assert.deepEqual([o.web, o.etcd, o.ip, o.debug, o.noAuth], [':9001', ['127.0.0.1:2379'], '10.0.0.5', true, true]);
});

test('--long form, = values, boolean values and endpoint lists', () => {
  const o = run(['--web=127.0.0.1:9001', '--etcd', 'http://10.0.0.1:2379, 10.0.0.2:2379', '-debug=false', '-noauth=true']);
  assert.deepEqual(o.etcd, ['http://10.0.0.1:2379', '10.0.0.2:2379']);
  assert.equal(o.debug, false);
  assert.equal(o.noAuth, true);
  assert.equal(o.ip, '');
});

test('-v and -help', () => {
  assert.deepEqual(parseFlags(['-v']), { kind: 'version' });
  assert.deepEqual(parseFlags(['--help']), { kind: 'help' });
});

test('usage errors say what is wrong', () => {
  assert.throws(() => parseFlags(['-etcd', '127.0.0.1:2379']), (e: Error) => e instanceof UsageError && /-web/.test(e.message));
  assert.throws(() => parseFlags(['-web', ':9001']), /-etcd is required/);
  assert.throws(() => parseFlags(['-web', ':9001', '-etcd', 'x:1', '-bogus']), UsageError);
  assert.throws(() => parseFlags(['-web', ':9001', '-etcd', 'x:1', '-debug=maybe']), /invalid boolean/);
  assert.throws(() => parseFlags(['-web', ':9001', '-etcd', 'https://x:1']), /TLS/);
  assert.throws(() => parseFlags(['-grpc.addr', ':9002', '-etcd', 'x:1', '-grpc.TLS']), /-grpc.key/);
});

test('listen addresses', () => {
  assert.deepEqual(parseListenAddress(':9001'), { host: undefined, port: 9001 });
  assert.deepEqual(parseListenAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseListenAddress('[::1]:9001'), { host: '::1', port: 9001 });
  assert.throws(() => parseListenAddress('9001'), /HOST:PORT/);
  assert.throws(() => parseListenAddress(':99999'), /range/);
});

test('lainlet limits: -max-watchers and -stall-timeout', () => {
  const o = run(['-web', ':1', '-etcd', 'x:1', '-max-watchers', '100', '-stall-timeout', '2m']);
  assert.equal(o.maxWatchers, 100);
  assert.equal(o.stallTimeoutMs, 120_000);
  assert.equal(run(['-web', ':1', '-etcd', 'x:1', '--stall-timeout=1.5']).stallTimeoutMs, 1500);
  assert.throws(() => parseFlags(['-web', ':1', '-etcd', 'x:1', '-max-watchers', '0']), /whole number/);
  assert.throws(() => parseFlags(['-web', ':1', '-etcd', 'x:1', '-stall-timeout', 'soon']), /duration/);
});

test('-register is on unless -register=false', () => {
  const base = ['-web', ':9001', '-etcd', '127.0.0.1:2379'];
  assert.equal(run(base).register, true);
  assert.equal(run([...base, '-register']).register, true);
  assert.equal(run([...base, '-register=false']).register, false);
  assert.equal(run([...base, '--register=0']).register, false);
  assert.equal(run([...base, '-register=true']).register, true);
});
