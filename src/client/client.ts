// The typed lainlet client: one method per route, a generic get, and a watch that reconnects.
import { LainletProtocolError } from './errors.js';
import { answerError, DEFAULT_ADDR, getAnswer, parseAddr, pathWithQuery, revisionOf, type Endpoint } from './http.js';
import { findRoute, type AnswerOf, type ParamsOf, type RouteName, type RoutePath, type WatchableRoute } from './routes.js';
import { watchStream, type WatchEvent, type WatchOptions } from './watch.js';
import { LainletError } from './errors.js';

export interface ClientOptions {
  /** lainlet's address, `HOST:PORT` (default `127.0.0.1:9001`; `http://` accepted). */
  addr?: string;
  /** Bound on each GET, ms (default 10 000). */
  timeoutMs?: number;
  /** Source address for connections (lainlet authorizes callers by IP). */
  localAddress?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

/** A GET answer with what came with it. */
export interface AnswerWithMeta<T> {
  data: T;
  /** The answer exactly as lainlet sent it (Go-compatible JSON text). */
  json: string;
  /** The etcd revision the answer reflects (`X-Lainlet-Revision`), when lainlet sent it. */
  revision: number | undefined;
}

type Params = Readonly<Record<string, string | number | undefined>>;
type Route = RouteName | RoutePath;

export class LainletClient {
  readonly endpoint: Endpoint;
  private readonly timeoutMs: number;
  private readonly localAddress: string | undefined;

  constructor(opts: ClientOptions = {}) {
    this.endpoint = parseAddr(opts.addr ?? DEFAULT_ADDR);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.localAddress = opts.localAddress;
  }

  /** A route's answer by name or path. Throws LainletError (4xx/5xx) or LainletConnectionError. */
  async get<R extends Route>(route: R, params?: ParamsOf<R>, opts?: CallOptions): Promise<AnswerOf<R>>;
  async get(route: string, params?: Params, opts?: CallOptions): Promise<unknown>;
  async get(route: string, params: Params = {}, opts: CallOptions = {}): Promise<unknown> {
    return (await this.getWithMeta(route, params, opts)).data;
  }

  /** Like get, with the answer's text and revision. */
  async getWithMeta<R extends Route>(route: R, params?: ParamsOf<R>, opts?: CallOptions): Promise<AnswerWithMeta<AnswerOf<R>>>;
  async getWithMeta(route: string, params?: Params, opts?: CallOptions): Promise<AnswerWithMeta<unknown>>;
  async getWithMeta(route: string, params: Params = {}, opts: CallOptions = {}): Promise<AnswerWithMeta<unknown>> {
    const pathQuery = pathWithQuery(routePath(route), params);
    const answer = await getAnswer(this.endpoint, pathQuery, { signal: opts.signal, timeoutMs: this.timeoutMs, localAddress: this.localAddress });
    if (answer.status !== 200) throw answerError(answer, pathQuery);
    let data: unknown;
    try {
      data = JSON.parse(answer.body);
    } catch {
      throw new LainletProtocolError(`GET ${pathQuery}: the answer is not JSON: ${answer.body.slice(0, 200)}`);
    }
    return { data, json: answer.body, revision: revisionOf(answer.headers) };
  }

  /**
   * Watches a route: `init`, then every change, as `{event, id, data}`; reconnects by itself
   * and never yields an answer older than one it yielded. Ends when `opts.signal` aborts (or the
   * loop breaks); throws LainletError on a 4xx (bad params, failed auth, not watchable).
   */
  watch<R extends WatchableRoute>(route: R, params?: ParamsOf<R>, opts?: WatchOptions): AsyncGenerator<WatchEvent<AnswerOf<R>>, void, undefined>;
  watch(route: string, params?: Params, opts?: WatchOptions): AsyncGenerator<WatchEvent<unknown>, void, undefined>;
  watch(route: string, params: Params = {}, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<unknown>, void, undefined> {
    const path = routePath(route);
    const info = findRoute(path);
    if (info && !info.watchable) throw new LainletError(400, `${info.path.replace(/^\/v2/, '')} do not support watch action`, path);
    const { watch: _w, heartbeat: _h, ...rest } = params;
    return watchStream<unknown>(
      { endpoint: this.endpoint, path: pathWithQuery(path, rest), localAddress: this.localAddress, timeoutMs: this.timeoutMs },
      opts,
    );
  }

  /** lainlet's version string. */
  async version(opts: CallOptions = {}): Promise<string> {
    const answer = await getAnswer(this.endpoint, '/version', { signal: opts.signal, timeoutMs: this.timeoutMs, localAddress: this.localAddress });
    if (answer.status !== 200) throw answerError(answer, '/version');
    return answer.body.trim();
  }

  config(params?: ParamsOf<'config'>, opts?: CallOptions) {
    return this.get('config', params, opts);
  }
  procs(params: ParamsOf<'procs'> & { appname: string }, opts?: CallOptions) {
    return this.get('procs', params, opts);
  }
  coreinfo(params?: ParamsOf<'coreinfo'>, opts?: CallOptions) {
    return this.get('coreinfo', params, opts);
  }
  proxy(params?: ParamsOf<'proxy'>, opts?: CallOptions) {
    return this.get('proxy', params, opts);
  }
  webprocs(params?: ParamsOf<'webprocs'>, opts?: CallOptions) {
    return this.get('webprocs', params, opts);
  }
  localprocs(params?: ParamsOf<'localprocs'>, opts?: CallOptions) {
    return this.get('localprocs', params, opts);
  }
  streamports(params?: ParamsOf<'streamports'>, opts?: CallOptions) {
    return this.get('streamports', params, opts);
  }
  streamprocs(params?: ParamsOf<'streamprocs'>, opts?: CallOptions) {
    return this.get('streamprocs', params, opts);
  }
  apps(opts?: CallOptions) {
    return this.get('apps', {}, opts);
  }
  backupspec(params?: ParamsOf<'backupspec'>, opts?: CallOptions) {
    return this.get('backupspec', params, opts);
  }
  depends(params?: ParamsOf<'depends'>, opts?: CallOptions) {
    return this.get('depends', params, opts);
  }
  nodes(params?: ParamsOf<'nodes'>, opts?: CallOptions) {
    return this.get('nodes', params, opts);
  }
  containers(params?: ParamsOf<'containers'>, opts?: CallOptions) {
    return this.get('containers', params, opts);
  }
  localspecquery(params?: ParamsOf<'localspecquery'>, opts?: CallOptions) {
    return this.get('localspecquery', params, opts);
  }
  appname(params?: ParamsOf<'appname'>, opts?: CallOptions) {
    return this.get('appname', params, opts);
  }
  /** Live lainlets (our route; the Go lainlet had none). */
  lainlets(params?: ParamsOf<'lainlets'>, opts?: CallOptions) {
    return this.get('lainlets', params, opts);
  }
}

/** A route name or path -> its path; an unknown string that starts with `/` is used as given. */
function routePath(route: string): string {
  const info = findRoute(route);
  if (info) return info.path;
  if (route.startsWith('/')) return route;
  throw new TypeError(`unknown lainlet route ${JSON.stringify(route)}`);
}

export function createClient(opts: ClientOptions = {}): LainletClient {
  return new LainletClient(opts);
}
