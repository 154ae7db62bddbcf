// A watch that does not miss the latest state: one SSE connection at a time, reconnected with
// jittered backoff, declared dead after 3 heartbeat periods of silence, and filtered so that the
// caller never sees an answer older than one it has already seen.
//
// Which answer is newer: update ids are etcd revisions; an `init` is always id 1, so its
// revision comes from the `X-Lainlet-Revision` response header (the revision lainlet's state was
// at when it made the init). An answer whose revision is below the last one yielded is dropped
// (a lagging lainlet); after a reconnect an init equal to the last answer yielded is dropped.
// Against a lainlet without the header, inits are compared by content only.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff, type BackoffOptions } from './backoff.js';
import { LainletConnectionError, LainletError, LainletProtocolError } from './errors.js';
import { answerError, getAnswer, revisionOf, type Endpoint } from './http.js';
import { SseParser, type RawSseEvent } from './sse.js';

export interface WatchEvent<T> {
  /** `init`: the whole answer when a stream starts; `update`/`delete`: the whole new answer. */
  event: 'init' | 'update' | 'delete';
  /** As sent: 1 for init, the etcd revision for update/delete. */
  id: number;
  data: T;
  /** The etcd revision this answer reflects, when known. */
  revision: number | undefined;
  /** The answer exactly as lainlet sent it (Go-compatible JSON text). */
  json: string;
}

export interface WatchOptions {
  /** Ends the watch: the iterator finishes (no error); its socket and timers are released. */
  signal?: AbortSignal;
  /** Heartbeat period asked of lainlet, seconds (default 10). 3 silent periods = dead stream. */
  heartbeatSeconds?: number;
  /** Reconnect delays (default 250 ms doubling to 30 s, jittered). */
  backoff?: BackoffOptions;
  /**
   * Called for every failure that leads to a reconnect (connection refused, stream ended or
   * silent, lainlet 5xx or an error event), with the delay before the next attempt.
   */
  onError?: (error: Error, retry: { attempt: number; delayMs: number }) => void;
}

export interface WatchTarget {
  endpoint: Endpoint;
  /** Path and query, without `watch`/`heartbeat`. */
  path: string;
  localAddress?: string;
  /** GET timeout for the probe that classifies an error event. */
  timeoutMs: number;
}

type Item = { kind: 'open'; revision: number | undefined } | { kind: 'event'; ev: RawSseEvent } | { kind: 'end'; error: Error };

function isChange(item: Item): boolean {
  return item.kind === 'event' && (item.ev.event === 'update' || item.ev.event === 'delete');
}

/** One SSE connection: its events as a queue, ended by close, abort, error or silence. */
class StreamConnection {
  private readonly items: Item[] = [];
  private waiter: ((item: Item) => void) | null = null;
  private ended = false;
  private readonly req: http.ClientRequest;
  private readonly watchdog: NodeJS.Timeout;
  private readonly onAbort = () => this.end(new LainletConnectionError('aborted', this.pathQuery));

  constructor(
    target: WatchTarget,
    private readonly pathQuery: string,
    silenceMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    const parser = new SseParser();
    this.req = http.get(
      {
        hostname: target.endpoint.hostname,
        port: target.endpoint.port,
        path: pathQuery,
        localAddress: target.localAddress,
        agent: false,
        headers: { Accept: 'text/event-stream' },
      },
      (res) => {
        this.watchdog.refresh();
        res.setEncoding('utf8');
        if (res.statusCode !== 200) {
          let body = '';
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => this.end(answerError({ status: res.statusCode ?? 0, headers: res.headers, body }, pathQuery)));
          return;
        }
        this.push({ kind: 'open', revision: revisionOf(res.headers) });
        res.on('data', (chunk: string) => {
          this.watchdog.refresh();
          for (const ev of parser.push(chunk)) {
            if (ev.event === 'heartbeat') continue; // it did its job: the watchdog was refreshed
            this.push({ kind: 'event', ev });
          }
        });
        res.on('end', () => this.end(new LainletConnectionError('lainlet ended the stream', pathQuery)));
        res.on('error', (err) => this.end(new LainletConnectionError(err.message, pathQuery, { cause: err })));
      },
    );
    this.req.on('error', (err) => this.end(new LainletConnectionError(`watch ${pathQuery}: ${err.message}`, pathQuery, { cause: err })));
    this.watchdog = setTimeout(
      () => this.end(new LainletConnectionError(`watch ${pathQuery}: nothing received for ${silenceMs} ms (3 heartbeat periods)`, pathQuery)),
      silenceMs,
    );
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  next(): Promise<Item> {
    const item = this.items.shift();
    if (item) return Promise.resolve(item);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  private push(item: Item): void {
    if (this.ended) return;
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      w(item);
      return;
    }
    // Every update carries the whole answer: behind a slow reader, a newer one replaces the
    // unread one (never more than one pending update, and never a lost latest state).
    const last = this.items[this.items.length - 1];
    if (isChange(item) && last !== undefined && isChange(last)) this.items[this.items.length - 1] = item;
    else this.items.push(item);
  }

  /** Ends the stream with `error` as its last item; releases the socket, timer and abort listener. */
  end(error: Error): void {
    if (this.ended) return;
    this.push({ kind: 'end', error });
    this.ended = true;
    this.close();
  }

  close(): void {
    this.ended = true;
    clearTimeout(this.watchdog);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.req.destroy();
  }
}

/** The watch loop behind `LainletClient.watch`. */
export async function* watchStream<T>(target: WatchTarget, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>, void, undefined> {
  const { signal } = opts;
  const heartbeat = Math.max(1, Math.floor(opts.heartbeatSeconds ?? 10));
  const silenceMs = 3 * heartbeat * 1000;
  const sep = target.path.includes('?') ? '&' : '?';
  const pathQuery = `${target.path}${sep}watch=1&heartbeat=${heartbeat}`;
  const backoff = new Backoff(opts.backoff);
  let lastJson: string | undefined;
  let lastRevision: number | undefined;

  while (!signal?.aborted) {
    const conn = new StreamConnection(target, pathQuery, silenceMs, signal);
    let failure: Error;
    try {
      let streamRevision: number | undefined;
      let sawInit = false;
      for (;;) {
        const item = await conn.next();
        if (item.kind === 'end') {
          failure = item.error;
          break;
        }
        if (item.kind === 'open') {
          streamRevision = item.revision;
          continue;
        }
        const { ev } = item;
        if (ev.event === 'error') {
          failure = await classifyErrorEvent(target, ev.data ?? '', sawInit, signal);
          break;
        }
        if (ev.event !== 'init' && ev.event !== 'update' && ev.event !== 'delete') continue; // heartbeat, unknown
        const json = ev.data ?? '';
        let data: T;
        try {
          data = JSON.parse(json) as T;
        } catch {
          failure = new LainletProtocolError(`watch ${target.path}: ${ev.event} event data is not JSON`);
          break;
        }
        let revision: number | undefined;
        if (ev.event === 'init') {
          sawInit = true;
          backoff.reset();
          revision = streamRevision;
          const older = revision !== undefined && lastRevision !== undefined && revision < lastRevision;
          if (lastJson !== undefined && (older || json === lastJson)) {
            if (!older && revision !== undefined) lastRevision = Math.max(lastRevision ?? 0, revision);
            continue;
          }
        } else {
          revision = Number(ev.id);
          if (!Number.isSafeInteger(revision)) revision = undefined;
          if (revision !== undefined && lastRevision !== undefined && revision <= lastRevision) continue;
        }
        lastJson = json;
        if (revision !== undefined) lastRevision = revision;
        yield { event: ev.event, id: Number(ev.id) || 0, data, revision, json };
      }
    } finally {
      conn.close();
    }
    if (signal?.aborted) return;
    if (failure instanceof LainletError && failure.status >= 400 && failure.status < 500) throw failure;
    const delayMs = backoff.next();
    opts.onError?.(failure, { attempt: backoff.attempts, delayMs });
    try {
      await sleep(delayMs, undefined, { signal });
    } catch {
      return; // aborted while waiting
    }
  }
}

/**
 * An `error` event: before `init` it is the answer to our request (bad params, failed auth, or
 * a view that can't be made right now); the same query as a GET tells which, by its status.
 * After `init` it is a view that can no longer be made (e.g. webrouter's safety rule): transient.
 */
async function classifyErrorEvent(target: WatchTarget, message: string, sawInit: boolean, signal?: AbortSignal): Promise<Error> {
  const transient = new LainletError(500, message, target.path);
  if (sawInit) return transient;
  try {
    const answer = await getAnswer(target.endpoint, target.path, { signal, timeoutMs: target.timeoutMs, localAddress: target.localAddress });
    if (answer.status >= 400 && answer.status < 500) return new LainletError(answer.status, message || answer.body.trim(), target.path);
    return answer.status >= 500 ? answerError(answer, target.path) : transient;
  } catch (err) {
    return err instanceof Error ? err : transient;
  }
}
