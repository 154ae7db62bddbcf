// The client's SSE parser: lainlet's framing, the WHATWG line rules, chunks split anywhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser, type RawSseEvent } from '../../src/client/sse.js';

function parseAll(chunks: string[]): RawSseEvent[] {
  const p = new SseParser();
  return chunks.flatMap((c) => p.push(c));
}

const STREAM = 'id: 1\nevent: init\ndata: {"a":1}\n\nid: 0\nevent: heartbeat\n\nid: 57\nevent: update\ndata: {"a":2}\n\n';
const EXPECTED: RawSseEvent[] = [
  { id: '1', event: 'init', data: '{"a":1}' },
  { id: '0', event: 'heartbeat', data: undefined },
  { id: '57', event: 'update', data: '{"a":2}' },
];

test('parses lainlet frames, heartbeats without data included', () => {
  assert.deepEqual(parseAll([STREAM]), EXPECTED);
});

test('the same events whatever the chunking (every split point)', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    assert.deepEqual(parseAll([STREAM.slice(0, i), STREAM.slice(i)]), EXPECTED, `split at ${i}`);
  }
  assert.deepEqual(parseAll([...STREAM]), EXPECTED, 'one character at a time');
});

test('CRLF and CR line endings, also split between \\r and \\n', () => {
  const crlf = STREAM.replace(/\n/g, '\r\n');
  assert.deepEqual(parseAll([crlf]), EXPECTED);
  for (let i = 0; i <= crlf.length; i++) assert.deepEqual(parseAll([crlf.slice(0, i), crlf.slice(i)]), EXPECTED, `split at ${i}`);
  assert.deepEqual(parseAll([STREAM.replace(/\n/g, '\r')]), EXPECTED);
});

test('comments, unknown fields, retry ignored; multi-line data joined; one leading space stripped', () => {
  const events = parseAll([': hello\nretry: 10\nfoo: bar\nevent: update\ndata:  two spaces\ndata:x\ndata\n\n']);
  assert.deepEqual(events, [{ id: '', event: 'update', data: ' two spaces\nx\n' }]);
});

test('no event until the blank line; blank lines alone dispatch nothing', () => {
  const p = new SseParser();
  assert.deepEqual(p.push('\n\nid: 3\nevent: update\ndata: {}\n'), []);
  assert.deepEqual(p.push('\n'), [{ id: '3', event: 'update', data: '{}' }]);
  assert.deepEqual(parseAll(['data: x\n\n']), [{ id: '', event: 'message', data: 'x' }]);
});
