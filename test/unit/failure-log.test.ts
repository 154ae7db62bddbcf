// How an etcd outage reads in the log: once at once, then with a count at a backed-off interval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { cleanEtcdError, FailureLog } from '../../src/store/failure-log.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'info', base: undefined },
    new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  return { logger, lines };
}

test('an outage is logged once, then with the count at a doubling interval, then its end', async () => {
  const { logger, lines } = capture();
  let now = 1_000_000;
  const log = new FailureLog(logger, { firstRepeatMs: 10_000, maxRepeatMs: 40_000, now: () => now });
  // One attempt a second for 100 s.
  for (let i = 0; i < 100; i++, now += 1_000) log.failed('e:1', 'connect ECONNREFUSED', 1_000, false);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    lines.map((l) => [l.msg, l.failedAttempts]),
    [
      ['etcd unreachable; retrying', undefined],
      ['etcd still unreachable; retrying', 11], // at 10 s
      ['etcd still unreachable; retrying', 31], // 20 s later
      ['etcd still unreachable; retrying', 71], // 40 s later (the cap)
    ],
  );
  assert.deepEqual(log.status(), { unreachableSince: 1_000_000, failedAttempts: 100 });
  log.recovered('e:1');
  log.recovered('e:1'); // nothing more to say
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 5);
  assert.equal(lines[4].msg, 'etcd reachable again');
  assert.equal(lines[4].failedAttempts, 100);
  assert.deepEqual(log.status(), { unreachableSince: null, failedAttempts: 0 });
  // A broken stream says so; the next outage starts from the first interval again.
  log.failed('e:1', 'etcd closed the watch stream', 250, true);
  await new Promise((r) => setImmediate(r));
  assert.equal(lines[5].msg, 'etcd connection lost; retrying');
});

test('gRPC connection errors without the empty "Resolution note:" fragment', () => {
  assert.equal(
    cleanEtcdError('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: '),
    'connect ECONNREFUSED 127.0.0.1:1',
  );
  assert.equal(cleanEtcdError('4 DEADLINE_EXCEEDED: Deadline exceeded'), '4 DEADLINE_EXCEEDED: Deadline exceeded');
});
