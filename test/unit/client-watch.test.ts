// The watch's ordering rules against a scripted loopback SSE server: an answer older than one
// already yielded (by the X-Lainlet-Revision of an init, by id for updates) is never yielded,
// and an init equal to the last answer is not yielded again after a reconnect.
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { LainletClient, type WatchEvent } from '../../src/client/index.js';

interface Script {
  revision?: number;
  frames: string[];
}

const frame = (id: number, event: string, data: unknown) => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** Serves one script per connection, in order; each stream ends after its frames. */
async function scriptedServer(scripts: Script[]): Promise<{ server: http.Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const s = scripts.shift();
    if (!s) {
      res.writeHead(503).end('no more scripts');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', ...(s.revision === undefined ? {} : { 'X-Lainlet-Revision': String(s.revision) }) });
    for (const f of s.frames) res.write(f);
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, requests };
}

async function collect(port: number, n: number): Promise<Array<WatchEvent<unknown>>> {
  const client = new LainletClient({ addr: `127.0.0.1:${port}` });
  const out: Array<WatchEvent<unknown>> = [];
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort(), 10_000);
  for await (const ev of client.watch('/v2/coreinfowatcher', { appname: 'hello' }, { signal: ac.signal, heartbeatSeconds: 2, backoff: { minMs: 10, maxMs: 20 } })) {
    out.push(ev);
    if (out.length === n) break;
  }
  clearTimeout(guard);
  return out;
}

test('never older than what was yielded; an unchanged init is not repeated', async () => {
  const { server, port, requests } = await scriptedServer([
    { revision: 10, frames: [frame(1, 'init', { a: 1 }), frame(0, 'heartbeat', undefined).replace('data: undefined\n', ''), frame(12, 'update', { a: 2 })] },
    // A lagging lainlet: its init (revision 11) and its update 12 are older than or as old as update 12.
    { revision: 11, frames: [frame(1, 'init', { a: 'old' }), frame(12, 'update', { a: 2 })] },
    // Caught up: the same answer as the last one yielded (not repeated), then a newer change.
    { revision: 12, frames: [frame(1, 'init', { a: 2 }), frame(13, 'delete', {})] },
    // A newer init with a different answer is yielded.
    { revision: 20, frames: [frame(1, 'init', { b: 1 })] },
  ]);
  try {
    const events = await collect(port, 4);
    assert.deepEqual(
      events.map((e) => [e.event, e.id, e.revision, e.data]),
      [
        ['init', 1, 10, { a: 1 }],
        ['update', 12, 12, { a: 2 }],
        ['delete', 13, 13, {}],
        ['init', 1, 20, { b: 1 }],
      ],
    );
    assert.equal(requests.length, 4);
    for (const r of requests) assert.equal(r, '/v2/coreinfowatcher?appname=hello&watch=1&heartbeat=2');
  } finally {
    server.close();
  }
});

test('without the revision header, inits are compared by content', async () => {
  const { server, port } = await scriptedServer([
    { frames: [frame(1, 'init', [1])] },
    { frames: [frame(1, 'init', [1])] },
    { frames: [frame(1, 'init', [1, 2])] },
  ]);
  try {
    const events = await collect(port, 2);
    assert.deepEqual(events.map((e) => [e.event, e.revision, e.data]), [
      ['init', undefined, [1]],
      ['init', undefined, [1, 2]],
    ]);
  } finally {
    server.close();
  }
});
