// Raw node:http clients for the tests: they choose their source address (lainlet's auth keys
// on the caller's IP: 127.0.0.1 is local, 127.0.0.32 is whichever app has that container IP
// in the test cluster) and see the bytes as sent.
import http from 'node:http';

export interface RequestOptions {
  /** Source address of the connection, e.g. `127.0.0.32` (any 127/8 address works on lo). */
  from?: string;
  /** Default 127.0.0.1. */
  host?: string;
  headers?: Record<string, string>;
  /** Default 10 s for get(); for watch(), the time allowed until the response headers. */
  timeoutMs?: number;
}

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET `path` on `port`; resolves with the whole answer. */
export function get(port: number, path: string, opts: RequestOptions = {}): Promise<HttpAnswer> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = http.get(requestOptions(port, path, opts), (res) => {
      res.setEncoding('utf8');
      let body = '';
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`GET ${path}: no complete answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** GET `path` and parse the body as JSON (throws with the body if the status is not 200). */
export async function getJson<T = unknown>(port: number, path: string, opts: RequestOptions = {}): Promise<T> {
  const answer = await get(port, path, opts);
  if (answer.status !== 200) throw new Error(`GET ${path}: HTTP ${answer.status}: ${answer.body}`);
  return JSON.parse(answer.body) as T;
}

export interface SseEvent {
  /** As sent (`'1'`, `'0'`...); `''` when the event had no id line. */
  id: string;
  /** `init`, `update`, `delete`, `error`, `heartbeat`; `''` when absent. */
  event: string;
  /** The data line(s) joined with `\n`; undefined when the event had none (heartbeats). */
  data: string | undefined;
}

/** A server-sent-events stream being read; events are collected as they arrive. */
export class SseWatch {
  /** Every event received so far, in order. */
  readonly events: SseEvent[] = [];
  /** Status and headers, once the response started. */
  readonly response: Promise<{ status: number; headers: http.IncomingHttpHeaders }>;
  /** Resolves when the server ends the stream (or it fails, or close() is called). */
  readonly ended: Promise<void>;
  /** Everything received, as text (also the body of a non-stream answer such as a 400). */
  raw = '';
  /** True once the server finished the response properly (the chunked body's last chunk), false for a reset or cut connection. */
  endedCleanly = false;
  private cursor = 0;
  private pending = '';
  private current: SseEvent = { id: '', event: '', data: undefined };
  private readonly listeners = new Set<() => void>();
  private readonly req: http.ClientRequest;
  private isEnded = false;

  constructor(port: number, path: string, opts: RequestOptions = {}) {
    let endStream!: () => void;
    this.ended = new Promise<void>((resolve) => (endStream = resolve));
    const finish = (): void => {
      this.isEnded = true;
      endStream();
      this.notify();
    };
    const timeoutMs = opts.timeoutMs ?? 10_000;
    let started!: (r: { status: number; headers: http.IncomingHttpHeaders }) => void;
    let failed!: (err: Error) => void;
    this.response = new Promise((resolve, reject) => ([started, failed] = [resolve, reject]));
    this.req = http.get(requestOptions(port, path, opts), (res) => {
      clearTimeout(timer);
      started({ status: res.statusCode ?? 0, headers: res.headers });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.receive(chunk));
      res.on('end', () => {
        this.endedCleanly = res.complete;
        finish();
      });
      res.on('error', finish);
      res.on('close', finish);
    });
    const timer = setTimeout(() => this.req.destroy(new Error(`watch ${path}: no response within ${timeoutMs} ms`)), timeoutMs);
    this.req.on('error', (err) => {
      clearTimeout(timer);
      failed(err);
      finish();
    });
    this.response.catch(() => undefined); // observed through next()/ended too; never unhandled
  }

  /**
   * The next event (after those already returned by next) that satisfies `predicate`.
   * Rejects after `timeoutMs`, or when the stream ends first, listing what did arrive.
   */
  next(predicate: (e: SseEvent) => boolean = () => true, timeoutMs = 5_000): Promise<SseEvent> {
    return new Promise<SseEvent>((resolve, reject) => {
      const check = (): void => {
        while (this.cursor < this.events.length) {
          const e = this.events[this.cursor++];
          if (predicate(e)) return done(() => resolve(e));
        }
        if (this.isEnded) done(() => reject(new Error(`stream ended before the awaited event; got:\n${this.describe()}`)));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`no awaited event within ${timeoutMs} ms; got:\n${this.describe()}`))),
        timeoutMs,
      );
      const done = (settle: () => void): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Stop reading: closes the connection (the server sees the client go away). */
  close(): void {
    this.req.destroy();
  }

  /** Received events, one per line, for failure messages. */
  describe(): string {
    return this.events.map((e) => `  id=${e.id} event=${e.event} data=${(e.data ?? '').slice(0, 300)}`).join('\n') || '  (none)';
  }

  private receive(chunk: string): void {
    this.raw += chunk;
    this.pending += chunk;
    let newline: number;
    while ((newline = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, newline).replace(/\r$/, '');
      this.pending = this.pending.slice(newline + 1);
      this.parseLine(line);
    }
    this.notify();
  }

  private parseLine(line: string): void {
    if (line === '') {
      const e = this.current;
      if (e.id !== '' || e.event !== '' || e.data !== undefined) this.events.push(e);
      this.current = { id: '', event: '', data: undefined };
      return;
    }
    if (line.startsWith(':')) return; // comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') this.current.id = value;
    else if (field === 'event') this.current.event = value;
    else if (field === 'data') this.current.data = this.current.data === undefined ? value : `${this.current.data}\n${value}`;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Open a watch (an SSE GET) on `path`; see SseWatch. Close it when done. */
export function watch(port: number, path: string, opts: RequestOptions = {}): SseWatch {
  return new SseWatch(port, path, opts);
}

function requestOptions(port: number, path: string, opts: RequestOptions): http.RequestOptions {
  return {
    host: opts.host ?? '127.0.0.1',
    port,
    path,
    localAddress: opts.from,
    headers: opts.headers,
    agent: false, // a connection per request: its source address is the caller's identity
  };
}
