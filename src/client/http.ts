// The client's HTTP on node:http: addresses, URLs, one-shot GETs. No connection pooling: a GET
// opens its own connection and closes it, so an idle client holds no sockets.
import http from 'node:http';
import { LainletConnectionError, LainletError } from './errors.js';

export const DEFAULT_ADDR = '127.0.0.1:9001';
/** The response header with the etcd revision the answer reflects (lainlet >= 3). */
export const REVISION_HEADER = 'x-lainlet-revision';

export interface Endpoint {
  hostname: string;
  port: number;
}

/** `HOST:PORT`, `:PORT`, `[::1]:PORT` or `http://HOST:PORT` -> where to connect. */
export function parseAddr(addr: string): Endpoint {
  const s = addr.trim().replace(/^http:\/\//, '').replace(/\/+$/, '');
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  if (!m) throw new TypeError(`bad lainlet address ${JSON.stringify(addr)}: expected HOST:PORT`);
  const port = Number(m[3]);
  if (port < 1 || port > 65_535) throw new TypeError(`bad lainlet address ${JSON.stringify(addr)}: port out of range`);
  return { hostname: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** `path?k=v&...`; params with an undefined value are left out. */
export function pathWithQuery(path: string, params: Readonly<Record<string, string | number | undefined>> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, String(v));
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Whole request bound, ms. */
  timeoutMs: number;
  /** Source address of the connection (lainlet authorizes by the caller's IP). */
  localAddress?: string;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** The revision from a response's headers, if lainlet sent one. */
export function revisionOf(headers: http.IncomingHttpHeaders): number | undefined {
  const v = headers[REVISION_HEADER];
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** GET and read the whole answer, whatever its status. Rejects with LainletConnectionError or the signal's reason. */
export function getAnswer(ep: Endpoint, pathQuery: string, opts: RequestOptions): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason);
    let settled = false;
    const finish = (err: unknown, answer?: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve(answer!);
      else {
        req.destroy();
        reject(err);
      }
    };
    const req = http.get(
      { hostname: ep.hostname, port: ep.port, path: pathQuery, localAddress: opts.localAddress, agent: false, headers: { Accept: 'application/json' } },
      (res) => {
        res.setEncoding('utf8');
        let body = '';
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', (err) => finish(new LainletConnectionError(`GET ${pathQuery}: ${err.message}`, pathQuery, { cause: err })));
      },
    );
    req.on('error', (err) => finish(new LainletConnectionError(`GET ${pathQuery}: ${err.message}`, pathQuery, { cause: err })));
    const timer = setTimeout(
      () => finish(new LainletConnectionError(`GET ${pathQuery}: no answer within ${opts.timeoutMs} ms`, pathQuery)),
      opts.timeoutMs,
    );
    const onAbort = () => finish(opts.signal!.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** An error answer as a LainletError (lainlet's message is the plain-text body). */
export function answerError(answer: Answer, pathQuery: string): LainletError {
  return new LainletError(answer.status, answer.body.trim() || `HTTP ${answer.status}`, pathQuery);
}
