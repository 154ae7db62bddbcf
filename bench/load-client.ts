// The load client: its own process (forked by the bench, driven over IPC), raw TCP sockets, the
// least parsing that still proves each answer and event arrived whole. GET: status line,
// Content-Length or chunked framing, byte counts. Watch: chunked framing and the blank line that
// ends each server-sent event (the JSON never holds a raw newline: docs/API.md, "Watch: the
// event stream").
import net from 'node:net';
import { MARKER } from './cluster.js';

export type ClientRequest =
  | { type: 'get'; port: number; path: string; conns: number; durationMs: number; sources: string[] }
  /** Watch paths without `watch=1` (added here). */
  | { type: 'watch'; port: number; paths: string[]; sources: string[]; concurrency: number; timeoutMs: number }
  | { type: 'arm' }
  | { type: 'await'; timeoutMs: number }
  | { type: 'markers'; on: boolean }
  | { type: 'collect-markers' }
  | { type: 'close' };

export interface GetResult {
  requests: number;
  errors: number;
  bytes: number;
  elapsedMs: number;
  latencyMs: { p50: number; p99: number; max: number };
  bodyBytes: number;
  cpuMs: number;
}

export interface WatchResult {
  opened: number;
  failed: number;
  firstError?: string;
  elapsedMs: number;
  cpuMs: number;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MARKER_BYTES = Buffer.from(MARKER);

function now(): number {
  return performance.timeOrigin + performance.now();
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Response head parsing shared by GET and watch: returns the body start, or -1 when incomplete. */
function parseHead(buf: Buffer): { end: number; status: number; length: number; chunked: boolean } | null {
  const i = buf.indexOf(CRLFCRLF);
  if (i < 0) return null;
  const head = buf.toString('latin1', 0, i);
  const status = Number(head.slice(9, 12));
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
  return { end: i + 4, status, length: cl ? Number(cl[1]) : -1, chunked };
}

/** Dechunks a chunked body incrementally, handing on payload slices (no copies). */
class Dechunker {
  private state: 'size' | 'ext' | 'data' | 'crlf' = 'size';
  private size = 0;
  private remaining = 0;
  ended = false;
  constructor(private readonly payload: (b: Buffer) => void) {}

  feed(buf: Buffer): void {
    let i = 0;
    while (i < buf.length && !this.ended) {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, buf.length - i);
        this.payload(buf.subarray(i, i + n));
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = 'crlf';
        continue;
      }
      const c = buf[i++];
      if (this.state === 'crlf') {
        if (c === 0x0a) this.state = 'size';
        continue;
      }
      if (c === 0x0a) {
        // end of the chunk-size line
        if (this.size === 0) this.ended = true;
        this.remaining = this.size;
        this.size = 0;
        this.state = 'data';
        continue;
      }
      if (this.state === 'ext') continue;
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d >= 0) this.size = this.size * 16 + d;
      else this.state = 'ext'; // ';ext' or the '\r' before the '\n'
    }
  }
}

// ------------------------------------------------------------------------------------------------
// GET load: `conns` keep-alive connections, one request in flight on each, for `durationMs`.

async function runGet(req: Extract<ClientRequest, { type: 'get' }>): Promise<GetResult> {
  const request = Buffer.from(`GET ${req.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lainlet-bench\r\n\r\n`);
  const latencies: number[] = [];
  let errors = 0;
  let bytes = 0;
  let bodyBytes = 0;
  const cpu0 = cpuMs();
  const t0 = now();
  const stopAt = t0 + req.durationMs;
  const hardStop = stopAt + 30_000;

  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const sock = net.connect({ port: req.port, host: '127.0.0.1', localAddress: req.sources[i % req.sources.length] });
      sock.setNoDelay(true);
      let head: Buffer | null = Buffer.alloc(0);
      let remaining = 0;
      let chunker: SimpleDechunker | null = null;
      let sentAt = 0;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        sock.destroy();
        resolve();
      };
      const timer = setTimeout(() => {
        errors++;
        finish();
      }, hardStop - now());
      const send = () => {
        if (now() >= stopAt) return finish();
        head = Buffer.alloc(0);
        sentAt = now();
        sock.write(request);
      };
      const done = () => {
        latencies.push(now() - sentAt);
        send();
      };
      sock.on('connect', send);
      sock.on('error', () => {
        errors++;
        finish();
      });
      sock.on('close', finish);
      sock.on('data', (data: Buffer) => {
        bytes += data.length;
        let body = data;
        if (head !== null) {
          head = head.length === 0 ? data : Buffer.concat([head, data]);
          const h = parseHead(head);
          if (!h) return;
          if (h.status !== 200) {
            errors++;
            return finish();
          }
          body = head.subarray(h.end);
          head = null;
          if (h.chunked) {
            chunker = new SimpleDechunker();
          } else {
            chunker = null;
            remaining = h.length;
          }
        }
        if (chunker) {
          bodyBytes += chunker.feed(body);
          if (chunker.ended) done();
        } else {
          remaining -= body.length;
          bodyBytes += body.length;
          if (remaining <= 0) done();
        }
      });
    });

  await Promise.all(Array.from({ length: req.conns }, (_, i) => one(i)));
  const elapsedMs = now() - t0;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    bytes,
    bodyBytes: latencies.length ? Math.round(bodyBytes / latencies.length) : 0,
    elapsedMs,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? NaN },
    cpuMs: cpuMs() - cpu0,
  };
}

/** Counting-only dechunker for GET bodies (one response at a time, pipelining not used). */
class SimpleDechunker {
  ended = false;
  private payloadBytes = 0;
  private readonly inner = new Dechunker((b) => (this.payloadBytes += b.length));
  feed(buf: Buffer): number {
    const before = this.payloadBytes;
    this.inner.feed(buf);
    this.ended = this.inner.ended;
    return this.payloadBytes - before;
  }
}

// ------------------------------------------------------------------------------------------------
// Watchers: open, wait for `init`, then time the events that follow.

class Watcher {
  events = 0;
  /** Time the first event after `arm` was complete. */
  armedAt = 0;
  firstAfterArm = NaN;
  private head: Buffer | null = Buffer.alloc(0);
  private dechunker: Dechunker | null = null;
  private lastWasLf = false;
  private pieces: Buffer[] = [];
  ok = false;
  error: string | undefined;
  constructor(
    readonly sock: net.Socket,
    private readonly client: WatchClient,
    readonly index: number,
  ) {
    sock.on('data', (d: Buffer) => this.data(d));
  }

  private data(d: Buffer) {
    if (this.head !== null) {
      this.head = this.head.length === 0 ? d : Buffer.concat([this.head, d]);
      const h = parseHead(this.head);
      if (!h) return;
      if (h.status !== 200) {
        this.error = `HTTP ${h.status}`;
        this.sock.destroy();
        return;
      }
      const rest = this.head.subarray(h.end);
      this.head = null;
      if (h.chunked) this.dechunker = new Dechunker((b) => this.payload(b));
      if (rest.length) this.body(rest);
      return;
    }
    this.body(d);
  }

  private body(d: Buffer) {
    if (this.dechunker) this.dechunker.feed(d);
    else this.payload(d);
  }

  private payload(p: Buffer) {
    if (p.length === 0) return;
    let from = 0;
    if (this.lastWasLf && p[0] === 0x0a) {
      this.eventEnd(p, 0, 1);
      from = 1;
    }
    // Newlines are rare (three per event: the JSON has none), so look for single ones with
    // memchr-speed indexOf(byte) and check the byte after; a 2-byte needle search is far slower.
    for (let at = from; ; ) {
      const i = p.indexOf(0x0a, at);
      if (i < 0 || i + 1 >= p.length) break;
      if (p[i + 1] === 0x0a) {
        this.eventEnd(p, from, i + 2);
        from = at = i + 2;
      } else at = i + 1;
    }
    if (from < p.length && this.client.recordMarkers) this.pieces.push(p.subarray(from));
    this.lastWasLf = from < p.length && p[p.length - 1] === 0x0a;
  }

  private eventEnd(p: Buffer, from: number, end: number) {
    const t = now();
    this.events++;
    if (this.events === 1) {
      this.ok = true;
      this.client.opened(this);
    } else if (Number.isNaN(this.firstAfterArm) && this.armedAt > 0) {
      this.firstAfterArm = t;
      this.client.gotArmed();
    }
    if (this.client.recordMarkers) {
      this.pieces.push(p.subarray(from, end));
      const ev = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces);
      this.pieces = [];
      const found: number[] = [];
      for (let i = ev.indexOf(MARKER_BYTES); i >= 0; i = ev.indexOf(MARKER_BYTES, i + MARKER_BYTES.length)) {
        let n = 0;
        let j = i + MARKER_BYTES.length;
        for (; j < ev.length && ev[j] >= 0x30 && ev[j] <= 0x39; j++) n = n * 10 + ev[j] - 0x30;
        found.push(n);
      }
      this.client.marks.push(this.index, t, found.length, ...found);
    }
  }
}

class WatchClient {
  watchers: Watcher[] = [];
  recordMarkers = false;
  /** Per event: watcher index, time, number of markers in the event's data, the markers. */
  marks: number[] = [];
  private armedWaiter: (() => void) | null = null;
  private openedCount = 0;
  private armedCount = 0;
  private armedExpected = 0;

  opened(_w: Watcher) {
    this.openedCount++;
  }

  gotArmed() {
    this.armedCount++;
    if (this.armedCount >= this.armedExpected) this.armedWaiter?.();
  }

  async open(req: Extract<ClientRequest, { type: 'watch' }>): Promise<WatchResult> {
    const cpu0 = cpuMs();
    const t0 = now();
    const deadline = t0 + req.timeoutMs;
    let failed = 0;
    let firstError: string | undefined;
    let next = 0;
    const openOne = (i: number) =>
      new Promise<void>((resolve) => {
        const sock = net.connect({ port: req.port, host: '127.0.0.1', localAddress: req.sources[i % req.sources.length] });
        sock.setNoDelay(true);
        const w = new Watcher(sock, this, i);
        this.watchers.push(w);
        let settled = false;
        const settle = (err?: string) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (err) {
            failed++;
            firstError ??= err;
          }
          resolve();
        };
        const timer = setTimeout(() => settle('timed out waiting for init'), Math.max(1, deadline - now()));
        const check = () => {
          if (w.ok) settle();
        };
        const target = req.paths[i] + (req.paths[i].includes('?') ? '&' : '?') + 'watch=1';
        sock.on('connect', () => sock.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lainlet-bench\r\n\r\n`));
        sock.on('error', (e) => settle(e.message));
        sock.on('close', () => settle(w.error ?? 'closed before init'));
        // Poll this watcher's state on every data event (cheap) until its init is complete.
        sock.on('data', check);
      });
    const lane = async () => {
      while (next < req.paths.length && now() < deadline) await openOne(next++);
    };
    await Promise.all(Array.from({ length: Math.min(req.concurrency, req.paths.length) }, lane));
    return { opened: this.openedCount, failed, firstError, elapsedMs: now() - t0, cpuMs: cpuMs() - cpu0 };
  }

  arm() {
    const t = now();
    this.armedCount = 0;
    this.armedExpected = this.watchers.filter((w) => w.ok && !w.sock.destroyed).length;
    for (const w of this.watchers) {
      w.armedAt = t;
      w.firstAfterArm = NaN;
    }
  }

  async awaitArmed(timeoutMs: number): Promise<{ times: number[]; cpuMs: number; missing: number }> {
    const cpu0 = cpuMs();
    if (this.armedCount < this.armedExpected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.armedWaiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.armedWaiter = null;
    }
    const live = this.watchers.filter((w) => w.ok);
    const times = live.map((w) => w.firstAfterArm);
    return { times: times.filter((t) => !Number.isNaN(t)), missing: times.filter((t) => Number.isNaN(t)).length, cpuMs: cpuMs() - cpu0 };
  }

  close() {
    for (const w of this.watchers) w.sock.destroy();
    this.watchers = [];
    this.openedCount = 0;
    this.marks = [];
  }
}

// ------------------------------------------------------------------------------------------------

const watchClient = new WatchClient();

async function handle(msg: ClientRequest): Promise<unknown> {
  switch (msg.type) {
    case 'get':
      return runGet(msg);
    case 'watch':
      return watchClient.open(msg);
    case 'arm':
      watchClient.arm();
      return { ok: true };
    case 'await':
      return watchClient.awaitArmed(msg.timeoutMs);
    case 'markers':
      watchClient.recordMarkers = msg.on;
      watchClient.marks = [];
      return { ok: true };
    case 'collect-markers': {
      const marks = watchClient.marks;
      watchClient.marks = [];
      return { marks, cpuMs: cpuMs() };
    }
    case 'close':
      watchClient.close();
      return { ok: true };
  }
}

process.on('message', (m: { id: number; req: ClientRequest }) => {
  handle(m.req).then(
    (result) => process.send!({ id: m.id, result }),
    (err: Error) => process.send!({ id: m.id, error: err.stack ?? String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
