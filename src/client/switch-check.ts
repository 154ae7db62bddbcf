// The switch-over check behind `lainlet diff A B`: ask two lainlets (the Go binary and ours, side
// by side on one node) the same questions and compare their answers. The questions come from A:
// every route with its defaults, then every route that takes a name once per app, node, config
// key, depends name and app IP that A lists. With a time window (`--for`), it keeps comparing
// while the cluster changes and re-checks a difference until both sides have settled, so only
// differences that stay are reported.
import { LainletClient } from './client.js';
import { jsonDifferences, type PathDifference } from './diff.js';
import { LainletConnectionError, LainletError } from './errors.js';
import { pathWithQuery } from './http.js';
import { ROUTES, type RouteInfo, type RouteName } from './routes.js';

export interface Query {
  route: RouteInfo;
  params: Record<string, string>;
  /** `path?query`, the query's identity. */
  pathQuery: string;
}

/** The names A listed, from which the queries were made. */
export interface DiscoveredNames {
  apps: string[];
  nodes: { name: string; ip: string }[];
  config: string[];
  depends: string[];
  appIps: string[];
  /** Name lists A would not give (e.g. super-only routes asked `--from` an app's IP). */
  unavailable: string[];
}

export type Outcome =
  | { kind: 'equal' }
  | { kind: 'differ'; differences: PathDifference[]; settled: boolean }
  | { kind: 'error'; message: string };

export interface QueryResult {
  query: Query;
  outcome: Outcome;
}

export interface SwitchCheckOptions {
  a: string;
  b: string;
  /** Source address of the compared GETs (lainlet authorizes by the caller's IP); the names are listed as a local caller. */
  from?: string;
  /** Keep comparing for this long (ms); 0: one pass, no re-checks. */
  forMs?: number;
  /** A difference counts only once neither side's answer has moved for this long (ms). */
  settleMs?: number;
  /** Bound on each GET (ms). */
  timeoutMs?: number;
  /** GETs in flight per side. */
  concurrency?: number;
  /** Differences kept per query. */
  maxDifferences?: number;
  /** Called after each pass over the queries (for progress output). */
  onPass?: (pass: number, results: QueryResult[]) => void;
  signal?: AbortSignal;
}

export interface SwitchCheckReport {
  names: DiscoveredNames;
  results: QueryResult[];
  passes: number;
}

// Lists the Go binary writes in map order: compared as multisets (the contract says so).
const UNORDERED_ROUTES = new Set<string>(['/v2/procwatcher', '/v2/localspecquery']);
// Routes asked once per app with `appname`.
const PER_APP: RouteName[] = ['procs', 'coreinfo', 'proxy', 'webprocs', 'localprocs', 'streamports', 'streamprocs', 'backupspec'];
// Not compared: `/v2/lainlets` lists the registry of running lainlets, which differs with the
// process asked by design (and the Go binary has no such route).
const NOT_COMPARED = new Set<RouteName>(['lainlets']);
const RECHECK_MS = 250;

type Side = { status: 200; json: string; data: unknown } | { status: number; message: string } | { error: string };

function route(name: RouteName): RouteInfo {
  return ROUTES.find((r) => r.name === name)!;
}

function query(r: RouteInfo, params: Record<string, string> = {}): Query {
  return { route: r, params, pathQuery: pathWithQuery(r.path, params) };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

async function ask(client: LainletClient, q: Query, signal?: AbortSignal): Promise<Side> {
  try {
    const answer = await client.getWithMeta(q.route.path, q.params, { signal });
    return { status: 200, json: answer.json, data: answer.data };
  } catch (err) {
    if (err instanceof LainletError) return { status: err.status, message: err.message };
    return { error: (err as Error).message };
  }
}

/** What one side said, as text: equal texts mean the side has not moved. */
function sideText(s: Side): string {
  if ('error' in s) return `error: ${s.error}`;
  return 'json' in s ? s.json : `${s.status} ${s.message}`;
}

function compareSides(q: Query, a: Side, b: Side, limit: number): Outcome {
  if ('error' in a || 'error' in b) {
    const parts = [['A', a] as const, ['B', b] as const].flatMap(([n, s]) => ('error' in s ? [`${n}: ${s.error}`] : []));
    return { kind: 'error', message: parts.join('; ') };
  }
  if ('data' in a && 'data' in b) {
    const differences = jsonDifferences(a.data, b.data, { unorderedTopLevel: UNORDERED_ROUTES.has(q.route.path), limit });
    return differences.length === 0 ? { kind: 'equal' } : { kind: 'differ', differences, settled: true };
  }
  if (sideText(a) === sideText(b)) return { kind: 'equal' }; // the same error status and message
  return { kind: 'differ', differences: [{ path: '(answer)', a: answerText(a), b: answerText(b) }], settled: true };
}

/** A whole answer in a few words: `HTTP 400 "authorize failed, super required"`. */
function answerText(s: Exclude<Side, { error: string }>): string {
  if ('data' in s) return `HTTP 200 ${s.json.length > 120 ? `${s.json.slice(0, 120)}...` : s.json}`;
  return `HTTP ${s.status} ${JSON.stringify(s.message)}`;
}

/** The names to ask about, from A's own answers. */
export async function discoverNames(client: LainletClient, signal?: AbortSignal): Promise<DiscoveredNames> {
  const names: DiscoveredNames = { apps: [], nodes: [], config: [], depends: [], appIps: [], unavailable: [] };
  const keysOf = async (name: RouteName, params: Record<string, string> = {}): Promise<Record<string, unknown> | undefined> => {
    try {
      const data = await client.get(name, params, { signal });
      if (data && typeof data === 'object' && !Array.isArray(data)) return data as Record<string, unknown>;
    } catch (err) {
      if (err instanceof LainletConnectionError) throw err;
      names.unavailable.push(`${route(name).path}: ${(err as Error).message}`);
    }
    return undefined;
  };
  const [apps, nodes, config, depends, containers] = await Promise.all([
    keysOf('apps'),
    keysOf('nodes'),
    keysOf('config', { target: '*' }),
    keysOf('depends'),
    keysOf('containers'),
  ]);
  names.apps = Object.keys(apps ?? {}).sort();
  names.nodes = Object.keys(nodes ?? {})
    .sort()
    .map((k) => {
      const [name, ip] = k.split(':');
      return { name, ip: ip ?? '' };
    });
  names.config = Object.keys(config ?? {}).sort();
  names.depends = Object.keys(depends ?? {}).sort();
  // One container IP per app: enough to check the IP -> app mapping of every app.
  const ipOfApp = new Map<string, string>();
  for (const c of Object.values(containers ?? {}) as Array<{ app?: unknown; ip?: unknown }>) {
    if (typeof c?.app === 'string' && typeof c.ip === 'string' && c.ip !== '' && !ipOfApp.has(c.app)) ipOfApp.set(c.app, c.ip);
  }
  names.appIps = [...ipOfApp.values()].sort();
  return names;
}

/** Every query of the check: each route with its defaults, then per name. */
export function queriesFor(names: DiscoveredNames): Query[] {
  const out = ROUTES.filter((r) => !NOT_COMPARED.has(r.name)).map((r) => query(r));
  for (const app of names.apps) for (const name of PER_APP) out.push(query(route(name), { appname: app }));
  for (const n of names.nodes) {
    out.push(query(route('nodes'), { name: n.name }), query(route('containers'), { nodename: n.name }));
    if (n.ip) out.push(query(route('containers'), { nodename: n.ip }), query(route('localspecquery'), { nodeip: n.ip }));
  }
  for (const k of names.config) out.push(query(route('config'), { target: k }));
  for (const d of names.depends) out.push(query(route('depends'), { target: d }));
  for (const ip of names.appIps) out.push(query(route('appname'), { ip }));
  const seen = new Set<string>();
  return out.filter((q) => !seen.has(q.pathQuery) && seen.add(q.pathQuery));
}

/** Runs `fn` over `items` with at most `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/** Compares A and B on every query; see the module comment. */
export async function checkSwitchOver(opts: SwitchCheckOptions): Promise<SwitchCheckReport> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const a = new LainletClient({ addr: opts.a, localAddress: opts.from, timeoutMs });
  const b = new LainletClient({ addr: opts.b, localAddress: opts.from, timeoutMs });
  // The names come from A as a local caller (who may list everything), whoever asks the questions.
  const lister = new LainletClient({ addr: opts.a, timeoutMs });
  const forMs = opts.forMs ?? 0;
  const settleMs = opts.settleMs ?? 2_000;
  const limit = opts.maxDifferences ?? 20;
  const signal = opts.signal;
  const deadline = Date.now() + forMs;

  const askBoth = async (q: Query): Promise<[Side, Side]> => Promise.all([ask(a, q, signal), ask(b, q, signal)]);

  /** Re-asks a differing query until both agree, or both have held still for settleMs. */
  const recheck = async (q: Query, first: [Side, Side], outcome: Outcome): Promise<Outcome> => {
    // A side that keeps moving gets a last word at the latest this long after the window.
    const giveUpAt = Math.max(deadline, Date.now()) + 3 * settleMs;
    let [lastA, lastB] = first.map(sideText);
    let stillSince = Date.now();
    while (!signal?.aborted) {
      await sleep(RECHECK_MS, signal);
      const [sa, sb] = await askBoth(q);
      outcome = compareSides(q, sa, sb, limit);
      if (outcome.kind === 'equal') return outcome;
      const [ta, tb] = [sideText(sa), sideText(sb)];
      if (ta !== lastA || tb !== lastB) {
        [lastA, lastB, stillSince] = [ta, tb, Date.now()];
      } else if (Date.now() - stillSince >= settleMs) {
        return outcome;
      }
      if (Date.now() >= giveUpAt) return outcome.kind === 'differ' ? { ...outcome, settled: false } : outcome;
    }
    return outcome;
  };

  let names: DiscoveredNames;
  let results: Map<string, QueryResult>;
  let passes = 0;
  do {
    if (passes > 0) await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())), signal);
    // Names again each pass: apps come and go while the cluster changes.
    names = await discoverNames(lister, signal);
    const queries = queriesFor(names);
    const pass = new Map<string, QueryResult>();
    await pool(queries, opts.concurrency ?? 8, async (q) => {
      const sides = await askBoth(q);
      let outcome = compareSides(q, sides[0], sides[1], limit);
      if (forMs > 0 && outcome.kind !== 'equal') outcome = await recheck(q, sides, outcome);
      pass.set(q.pathQuery, { query: q, outcome });
    });
    // Only the latest pass counts, in the order the queries were made.
    results = new Map(queries.map((q) => [q.pathQuery, pass.get(q.pathQuery)!]));
    passes++;
    opts.onPass?.(passes, [...results.values()]);
  } while (Date.now() < deadline && !signal?.aborted);
  return { names, results: [...results.values()], passes };
}
