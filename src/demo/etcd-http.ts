// The few etcd operations the demo and the tests need, over etcd's v3 JSON gateway
// (`/v3/kv/...`, served on the client port since etcd 3.4) with plain fetch: no etcdctl, and
// independent of the etcd client that lainlet itself uses. Keys and values travel base64'd;
// int64 fields come back as JSON strings.

export interface EtcdHttpOptions {
  /** Per-request time limit. Default 5 s (tests freeze etcd; nothing may hang for ever). */
  timeoutMs?: number;
}

interface ResponseHeader {
  revision?: string;
}

interface KeyValue {
  key: string;
  value?: string;
  mod_revision?: string;
}

export class EtcdHttp {
  readonly url: string;
  private readonly timeoutMs: number;

  /** `endpoint`: `127.0.0.1:PORT` or `http://127.0.0.1:PORT`. */
  constructor(endpoint: string, opts: EtcdHttpOptions = {}) {
    this.url = (/^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`).replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 5_000;
  }

  /** Put one key; returns the revision of the write. */
  async put(key: string, value: string): Promise<number> {
    const res = await this.call<{ header?: ResponseHeader }>('/v3/kv/put', { key: b64(key), value: b64(value) });
    return revisionOf(res.header);
  }

  /** The value of `key`, or undefined if it does not exist. */
  async get(key: string): Promise<string | undefined> {
    const res = await this.call<{ kvs?: KeyValue[] }>('/v3/kv/range', { key: b64(key) });
    const kv = res.kvs?.[0];
    return kv ? unb64(kv.value ?? '') : undefined;
  }

  /** Every key under `prefix` (`''`: all keys) with its value. */
  async getPrefix(prefix: string): Promise<Record<string, string>> {
    const res = await this.call<{ kvs?: KeyValue[] }>('/v3/kv/range', {
      key: b64(prefix || '\0'),
      range_end: prefixEnd(prefix),
    });
    const out: Record<string, string> = {};
    for (const kv of res.kvs ?? []) out[unb64(kv.key)] = unb64(kv.value ?? '');
    return out;
  }

  /** Delete `key`, or with `prefix: true` every key starting with it. Returns how many were deleted. */
  async del(key: string, opts: { prefix?: boolean } = {}): Promise<number> {
    const body: Record<string, string> = { key: b64(opts.prefix && !key ? '\0' : key) };
    if (opts.prefix) body.range_end = prefixEnd(key);
    const res = await this.call<{ deleted?: string }>('/v3/kv/deleterange', body);
    return Number(res.deleted ?? 0);
  }

  /** Compact history up to `revision` (watches from an older revision then fail with "compacted"). */
  async compact(revision: number): Promise<void> {
    await this.call('/v3/kv/compaction', { revision: String(revision), physical: true });
  }

  /** The store's current revision. */
  async getRevision(): Promise<number> {
    const res = await this.call<{ header?: ResponseHeader }>('/v3/kv/range', { key: b64('\0'), count_only: true });
    return revisionOf(res.header);
  }

  /**
   * Put every entry of `record`, at most `concurrency` requests in flight (a whole cluster
   * one by one is slow; all at once can overrun etcd's request queue). Returns the highest
   * revision written.
   */
  async putMany(record: Record<string, string>, concurrency = 16): Promise<number> {
    const entries = Object.entries(record);
    let next = 0;
    let maxRevision = 0;
    const worker = async (): Promise<void> => {
      while (next < entries.length) {
        const [key, value] = entries[next++];
        maxRevision = Math.max(maxRevision, await this.put(key, value));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, entries.length) }, worker));
    return maxRevision;
  }

  /**
   * The value of a Prometheus metric from etcd's `/metrics` (summed over its label sets), e.g.
   * `etcd_debugging_mvcc_watcher_total`: how many watchers etcd has, which shows whether
   * lainlet shares one etcd watch between its clients.
   */
  async metric(name: string): Promise<number> {
    const res = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(this.timeoutMs) });
    if (!res.ok) throw new Error(`etcd ${this.url}/metrics: HTTP ${res.status}`);
    const value = parseMetric(await res.text(), name);
    if (value === undefined) throw new Error(`etcd ${this.url}/metrics has no metric named ${name}`);
    return value;
  }

  private async call<T = unknown>(route: string, body: unknown): Promise<T> {
    const res = await fetch(this.url + route, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`etcd ${route}: HTTP ${res.status}: ${text.trim()}`);
    return JSON.parse(text) as T;
  }
}

/** Sum of the samples of metric `name` in Prometheus text format; undefined if absent. */
export function parseMetric(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    // Exactly this metric: next comes its labels or the value, not a longer name.
    if (!rest.startsWith('{') && !rest.startsWith(' ')) continue;
    const valueText = rest.startsWith('{') ? rest.slice(rest.lastIndexOf('}') + 1) : rest;
    const value = Number(valueText.trim().split(/\s+/)[0]);
    if (!Number.isNaN(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function unb64(text: string): string {
  return Buffer.from(text, 'base64').toString('utf8');
}

/** The range end that makes a range cover every key starting with `prefix`, base64'd. */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i]++;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64'); // no upper bound: to the end of the keyspace
}

function revisionOf(header: ResponseHeader | undefined): number {
  const revision = Number(header?.revision);
  if (!Number.isFinite(revision)) throw new Error('etcd answered without a header revision');
  return revision;
}
