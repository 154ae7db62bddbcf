// HTTP transport: GET answers and SSE watch streams for every view, plus /debug, /version,
// /readyz and /metrics. It parses, authorizes (through the view's key()) and writes; the
// answers themselves come from the view hub.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../../util/log.js';
import type { ViewHub } from '../../views/hub.js';
import { findView } from '../../views/index.js';
import { ViewError, type NodeContext, type View } from '../../views/types.js';
import type { ClusterState } from '../../state/types.js';
import { callerIp, goQueryParams, heartbeatSeconds, wantsWatch } from './params.js';
import { SseConnection, sseFrame } from './sse.js';
import { slotCaller, WatchSlots } from '../watch-slots.js';

export interface HttpLimits {
  /** Open watch streams beyond this get 503. */
  maxWatchers: number;
  /** A watcher that has not drained its socket for this long is dropped. */
  stallTimeoutMs: number;
  /** Longer request targets get 414. */
  maxUrlLength: number;
}

/** The etcd revision a GET answer or a watch's `init` reflects. */
export const REVISION_HEADER = 'X-Lainlet-Revision';

export const DEFAULT_HTTP_LIMITS: HttpLimits = { maxWatchers: 20_000, stallTimeoutMs: 60_000, maxUrlLength: 8_192 };

export interface HttpDeps {
  hub: ViewHub;
  node: NodeContext;
  state: () => ClusterState;
  /** True once the first etcd snapshot is loaded. */
  ready: () => boolean;
  /** Is the process healthy enough to be relied on (synced and etcd reachable)? */
  readiness: () => { ready: boolean; reason: string };
  debug: () => unknown;
  metrics: () => Promise<{ contentType: string; body: string }>;
  version: string;
  logger: Logger;
  limits?: Partial<HttpLimits>;
  /** Watch slots shared with the gRPC transport; default: this transport's own, `maxWatchers` of them. */
  slots?: WatchSlots;
}

export interface HttpTransport {
  server: Server;
  /** Open watch streams. */
  readonly watchers: number;
  stats: { watchersDropped: number; watchersRefused: number; watchesOpened: number };
  /** Ends every watch stream (clients reconnect elsewhere or later). */
  closeStreams(): void;
}

function plain(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}

export function createHttpTransport(deps: HttpDeps): HttpTransport {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS };
  for (const [k, v] of Object.entries(deps.limits ?? {})) if (v !== undefined) limits[k as keyof HttpLimits] = v;
  const open = new Set<SseConnection>();
  const slots = deps.slots ?? new WatchSlots({ total: limits.maxWatchers });
  const stats = { watchersDropped: 0, watchersRefused: 0, watchesOpened: 0 };

  // Slow or stuck request headers (slowloris) are cut off, checked every second; long-lived
  // responses (watch streams) are not limited.
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 }, (req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      deps.logger.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) plain(res, 500, 'internal error');
      else res.destroy();
    }
  });

  function handle(req: IncomingMessage, res: ServerResponse) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed', { Allow: 'GET' });
    const target = req.url ?? '/';
    if (target.length > limits.maxUrlLength) return plain(res, 414, 'request URL too long');
    let url: URL;
    try {
      url = new URL(target, 'http://lainlet');
    } catch {
      return plain(res, 400, 'malformed request URL');
    }
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    switch (path) {
      case '/version':
        return plain(res, 200, deps.version);
      case '/debug':
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify(deps.debug()));
      case '/readyz': {
        const r = deps.readiness();
        return plain(res, r.ready ? 200 : 503, r.reason);
      }
      case '/metrics':
        deps.metrics().then(
          (m) => {
            res.writeHead(200, { 'Content-Type': m.contentType });
            res.end(m.body);
          },
          () => plain(res, 500, 'metrics unavailable'),
        );
        return;
    }
    const view = findView(path);
    if (!view) return plain(res, 404, '404 not found');
    if (!deps.ready()) return plain(res, 503, 'lainlet is starting: the cluster state is not loaded yet', { 'Retry-After': '1' });
    const params = goQueryParams(target);
    // Watching is a /v2/ feature; Go answers `/appname?watch=1` as a plain GET. A HEAD has no
    // body to stream: it gets the GET's headers and holds no watch slot.
    if (path.startsWith('/v2/') && wantsWatch(params) && req.method !== 'HEAD') return watch(view, params, req, res);

    const state = deps.state();
    let key: string;
    try {
      key = view.key({ params, callerIp: callerIp(req.socket.remoteAddress) }, state, deps.node);
    } catch (err) {
      if (err instanceof ViewError) return plain(res, err.status, err.message);
      throw err;
    }
    const answer = deps.hub.get(view, key);
    if (!answer.ok) return plain(res, answer.status, answer.message);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': answer.json.length, [REVISION_HEADER]: String(state.revision) });
    res.end(req.method === 'HEAD' ? undefined : answer.json);
  }

  function watch(view: View, params: URLSearchParams, req: IncomingMessage, res: ServerResponse) {
    const viewReq = { params, callerIp: callerIp(req.socket.remoteAddress) };
    const slot = slots.acquire(slotCaller(viewReq.callerIp, deps.state(), deps.node));
    if ('refused' in slot) {
      stats.watchersRefused++;
      return plain(res, 503, slot.refused, { 'Retry-After': '5' });
    }
    // The revision the `init` answer reflects (made below, in this same tick): lets a client
    // that reconnects tell an older answer from a newer one (init is always id 1).
    res.setHeader(REVISION_HEADER, String(deps.state().revision));
    const conn = new SseConnection(res, { stallTimeoutMs: limits.stallTimeoutMs });
    conn.onClose = () => slot.release();
    // Go answers a refused watch with one error event, then ends the stream.
    const refuse = (message: string) => {
      SseConnection.open(res);
      conn.fail(message);
    };
    if (!view.watchable) return refuse(`${view.path.replace(/^\/v2/, '')} do not support watch action`);
    let key: string;
    try {
      key = view.key(viewReq, deps.state(), deps.node);
    } catch (err) {
      if (err instanceof ViewError) return refuse(err.message);
      throw err;
    }
    const sub = deps.hub.subscribe(view, key, conn, viewReq);
    if (!sub.initial.ok) {
      // Our own overload (the answer cache is full): a status the client retries on, like -max-watchers.
      if (sub.initial.status === 503) return plain(res, 503, sub.initial.message, { 'Retry-After': '5' });
      return refuse(sub.initial.message);
    }
    SseConnection.open(res);
    stats.watchesOpened++;
    open.add(conn);
    conn.onClose = (reason) => {
      slot.release();
      open.delete(conn);
      sub.unsubscribe();
      if (reason === 'stalled') {
        stats.watchersDropped++;
        deps.logger.warn({ path: view.path, key }, 'dropped a watcher that stopped reading');
      }
    };
    conn.write(sub.initEncoded('sse-init', (json) => sseFrame(1, 'init', json)));
    const hb = heartbeatSeconds(params);
    if (hb > 0) conn.startHeartbeat(hb);
  }

  return {
    server,
    get watchers() {
      return open.size;
    },
    stats,
    closeStreams() {
      for (const c of [...open]) c.end('server');
    },
  };
}
