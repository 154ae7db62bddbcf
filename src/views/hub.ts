// The view hub: for each (route, query key) that someone is watching or just asked for, it
// holds the current answer, computed and encoded ONCE per change, and hands the same bytes to
// every watcher. Transports only frame and write what the hub gives them.
import type { ChangeSet, ChangeKind } from '../state/mirror.js';
import type { ClusterState, Source } from '../state/types.js';
import { isSuper } from '../auth/auth.js';
import { SharedAnswers } from './shared-answers.js';
import { ViewError, type NodeContext, type View, type ViewRequest } from './types.js';

/** The answer to a query: JSON bytes, or lainlet's error status and message. */
export type Answer = { ok: true; json: Buffer } | { ok: false; status: number; message: string };

/**
 * One change of one query's answer, shared by all its watchers. Transports derive their own
 * encodings through `encoded`, which caches them on the frame: still once per change, not per client.
 */
export class SharedUpdate {
  private readonly encodings = new Map<string, unknown>();
  constructor(
    readonly id: number,
    readonly event: 'update' | 'delete',
    readonly json: Buffer,
  ) {}

  encoded<T>(format: string, encode: (u: SharedUpdate) => T): T {
    let e = this.encodings.get(format) as T | undefined;
    if (e === undefined) {
      e = encode(this);
      this.encodings.set(format, e);
    }
    return e;
  }
}

export interface HubWatcher {
  /** The answer changed. Called synchronously for every watcher of the query. */
  update(u: SharedUpdate): void;
  /**
   * The answer can no longer be made (e.g. webrouter's safety rule, status 500), or the caller
   * lost its right to it (status 400, `authorize failed, ...`): report and end the stream.
   */
  fail(message: string, status: number): void;
}

/** A watcher's request, and what identifies alike requests (same route, caller and params). */
interface Subscriber {
  req: ViewRequest;
  alike: string;
}

class Channel {
  /** Each watcher with the request it subscribed with (its rights are checked again with it). */
  readonly watchers = new Map<HubWatcher, Subscriber | undefined>();
  constructor(
    readonly id: string,
    readonly view: View,
    readonly key: string,
    /** Its JSON is held through SharedAnswers (see setAnswer). */
    public answer: Answer,
  ) {}
}

/** How many answers nobody watches are kept for repeated GETs (besides the byte budget). */
const IDLE_CACHE_LIMIT = 256;

/** The bytes the hub's answers and their encodings may hold (`-answer-cache-bytes`). */
export const DEFAULT_ANSWER_CACHE_BYTES = 256 * 1024 * 1024;

export interface HubLimits {
  /**
   * The answers' bytes (shared ones once) and their encodings. Beyond it, answers nobody watches
   * are forgotten (oldest use first), and a new watch of a new answer by a caller that is neither
   * local nor super is refused (503 / RESOURCE_EXHAUSTED).
   */
  maxCacheBytes: number;
}

export class ViewHub {
  private readonly channels = new Map<string, Channel>();
  private readonly answers = new SharedAnswers();
  readonly stats = { renders: 0, updatesSent: 0, rightsRevoked: 0, cacheEvictions: 0, watchesRefusedCacheFull: 0 };
  private readonly limits: HubLimits;

  constructor(
    private readonly state: () => ClusterState,
    private readonly node: NodeContext,
    private readonly onViewBug: (view: View, key: string, err: unknown) => void = () => {},
    limits: Partial<HubLimits> = {},
  ) {
    this.limits = { maxCacheBytes: limits.maxCacheBytes ?? DEFAULT_ANSWER_CACHE_BYTES };
  }

  /** Bytes held by the cached answers and their encodings. */
  get cacheBytes(): number {
    return this.answers.bytes;
  }

  /** Changes received but not yet applied to the answers (see enqueue). */
  private pending: ChangeSet | null = null;

  /** The current answer for a query (cached until a change touches it, or the cache is full). */
  get(view: View, key: string): Answer {
    this.flush();
    const answer = this.channel(view, key).answer;
    this.trim();
    return answer;
  }

  /** A transport's encoding of an answer from this hub (e.g. a gRPC reply), made once per answer and counted in the cache. */
  encoded<T>(json: Buffer, format: string, encode: (json: Buffer) => T): T {
    return this.answers.encoding(json, format, encode);
  }

  /**
   * Takes a batch of state changes and applies it on the next turn of the event loop, merged
   * with whatever else arrived meanwhile: when etcd writes faster than answers can be made,
   * each touched query is recomputed once per burst instead of once per write (watchers skip
   * intermediate answers, never the latest). Reads flush first, so they never see stale answers.
   */
  enqueue(set: ChangeSet): void {
    if (this.pending) {
      mergeInto(this.pending, set);
      return;
    }
    this.pending = set;
    setImmediate(() => this.flush());
  }

  /** Applies the queued changes now. */
  flush(): void {
    const set = this.pending;
    if (!set) return;
    this.pending = null;
    this.apply(set);
  }

  /**
   * Registers a watcher and returns the answer it starts from. Registration and the initial
   * answer happen in the same tick, so no change can fall between them. With the request the
   * key was made from, the caller's rights are checked again whenever they may have changed.
   */
  subscribe(
    view: View,
    key: string,
    watcher: HubWatcher,
    req?: ViewRequest,
  ): { initial: Answer; initEncoded<T>(format: string, encode: (json: Buffer) => T): T; unsubscribe(): void } {
    this.flush();
    const ch = this.channel(view, key);
    const wasIdle = ch.watchers.size === 0;
    let initial = ch.answer;
    if (initial.ok) {
      ch.watchers.set(watcher, req && { req, alike: `${view.path}\u0000${req.callerIp}\u0000${req.params.toString()}` });
      this.trim();
      // Full with answers that are watched: one more is kept for local and super callers only.
      if (wasIdle && this.answers.bytes > this.limits.maxCacheBytes && req && !isSuper(req.callerIp, this.state(), this.node)) {
        this.stats.watchesRefusedCacheFull++;
        this.drop(ch);
        initial = { ok: false, status: 503, message: `lainlet holds too many answers (limit ${this.limits.maxCacheBytes} bytes); try again later` };
      }
    }
    const answers = this.answers;
    return {
      initial,
      initEncoded<T>(format: string, encode: (json: Buffer) => T): T {
        // Only valid while the answer is still held (i.e. synchronously after subscribe).
        return answers.encoding((initial as { json: Buffer }).json, format, encode);
      },
      unsubscribe: () => {
        ch.watchers.delete(watcher);
        if (ch.watchers.size === 0) this.trim();
      },
    };
  }

  /** Number of open watchers, per route path (for /debug). */
  watcherCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const ch of this.channels.values()) out[ch.view.path] = (out[ch.view.path] ?? 0) + ch.watchers.size;
    return out;
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /** Applies one batch of state changes: recomputes each touched query once, then fans out. */
  apply(set: ChangeSet): void {
    // Before any new answer goes out: a caller that lost its right must not receive it.
    if (changesRights(set)) this.recheckRights();
    // Queries whose new answers are equal share one update (and so its encodings).
    const updates = new Map<Buffer, Partial<Record<'update' | 'delete', SharedUpdate>>>();
    for (const ch of [...this.channels.values()]) {
      const kind = touchKind(ch.view, ch.key, set);
      if (!kind) continue;
      if (ch.watchers.size === 0) {
        // Nobody watches: forget it; the next GET recomputes.
        this.drop(ch);
        continue;
      }
      const before = ch.answer;
      const rendered = this.render(ch.view, ch.key);
      if (!rendered.ok) {
        this.drop(ch);
        for (const w of ch.watchers.keys()) w.fail(rendered.message, rendered.status);
        ch.watchers.clear();
        continue;
      }
      const same = before.ok && before.json.equals(rendered.json);
      // Unchanged: keep the bytes already held (and their encodings).
      const after = same ? before.json : this.setAnswer(ch, rendered);
      if (same && !ch.view.resendWhenTouched) continue;
      const event = kind === 'delete' ? 'delete' : 'update';
      let shared = updates.get(after);
      if (!shared) updates.set(after, (shared = {}));
      const update = (shared[event] ??= new SharedUpdate(set.revision, event, after));
      this.stats.updatesSent += ch.watchers.size;
      for (const w of ch.watchers.keys()) w.update(update);
    }
    this.trim();
  }

  /**
   * Asks every watch's view again for the key of its request, on the new state: a watcher whose
   * caller may no longer see its answer (key() refuses, or gives other rights: e.g. its app
   * stopped being super) is ended with the auth error. One mechanism for every route and
   * transport; requests that are alike (same route, caller and params) are asked once.
   */
  private recheckRights(): void {
    const state = this.state();
    const verdicts = new Map<string, { rights: string } | { status: number; message: string }>();
    for (const ch of this.channels.values()) {
      const rightsOf = (key: string) => ch.view.rightsOf?.(key) ?? key;
      const granted = rightsOf(ch.key);
      for (const [watcher, subscriber] of ch.watchers) {
        if (!subscriber) continue;
        let verdict = verdicts.get(subscriber.alike);
        if (!verdict) {
          try {
            verdict = { rights: rightsOf(ch.view.key(subscriber.req, state, this.node)) };
          } catch (err) {
            if (!(err instanceof ViewError)) this.onViewBug(ch.view, ch.key, err);
            verdict = err instanceof ViewError ? { status: err.status, message: err.message } : { status: 500, message: `internal error: ${(err as Error).message}` };
          }
          verdicts.set(subscriber.alike, verdict);
        }
        if ('rights' in verdict && verdict.rights === granted) continue;
        ch.watchers.delete(watcher);
        this.stats.rightsRevoked++;
        if ('rights' in verdict) watcher.fail('authorize failed, the rights of this caller changed', 400);
        else watcher.fail(verdict.message, verdict.status);
      }
    }
  }

  private channel(view: View, key: string): Channel {
    const id = channelId(view, key);
    let ch = this.channels.get(id);
    if (ch) {
      // Most recently used last: the byte budget forgets the oldest idle answers first.
      this.channels.delete(id);
      this.channels.set(id, ch);
      return ch;
    }
    ch = new Channel(id, view, key, { ok: false, status: 500, message: 'not rendered' });
    this.setAnswer(ch, this.render(view, key));
    this.channels.set(id, ch);
    return ch;
  }

  /** Sets a query's answer: its bytes are shared with equal answers and counted. Returns the JSON held. */
  private setAnswer(ch: Channel, answer: Answer & { ok: true }): Buffer;
  private setAnswer(ch: Channel, answer: Answer): Buffer | undefined;
  private setAnswer(ch: Channel, answer: Answer): Buffer | undefined {
    const before = ch.answer;
    ch.answer = answer.ok ? { ok: true, json: this.answers.intern(answer.json) } : answer;
    if (before.ok) this.answers.release(before.json);
    return ch.answer.ok ? ch.answer.json : undefined;
  }

  /** Forgets a query (its watchers, if any, are the caller's business). */
  private drop(ch: Channel): void {
    if (this.channels.get(ch.id) !== ch) return;
    this.channels.delete(ch.id);
    if (ch.answer.ok) this.answers.release(ch.answer.json);
  }


  private render(view: View, key: string): Answer {
    this.stats.renders++;
    try {
      const json = view.render(key, this.state(), this.node);
      return { ok: true, json: typeof json === 'string' ? Buffer.from(json) : json };
    } catch (err) {
      if (err instanceof ViewError) return { ok: false, status: err.status, message: err.message };
      // A bug in one view must not take the others (or the process) down: answer 500 and say why.
      this.onViewBug(view, key, err);
      return { ok: false, status: 500, message: `internal error: ${(err as Error).message}` };
    }
  }

  /** Forgets answers nobody watches, oldest use first, until within the count and byte limits. */
  private trim() {
    const over = () => this.answers.bytes > this.limits.maxCacheBytes || this.channels.size > IDLE_CACHE_LIMIT;
    if (!over()) return;
    for (const ch of [...this.channels.values()]) {
      if (!over()) break;
      if (ch.watchers.size > 0) continue;
      this.drop(ch);
      this.stats.cacheEvictions++;
    }
  }
}

function channelId(view: View, key: string): string {
  return `${view.path}\u0000${key}`;
}

/**
 * Can this batch change what a caller may see? The super apps list, and the pod groups and
 * depends entries that map caller IPs to apps.
 */
function changesRights(set: ChangeSet): boolean {
  if (set.changes.has('podgroups') || set.changes.has('depends')) return true;
  for (const key of set.changes.get('config')?.keys() ?? []) if (key.startsWith('super_apps/')) return true;
  return false;
}

/** Adds `later`'s changes to `into` (a put wins over a delete: the key, or a sibling, still exists). */
function mergeInto(into: ChangeSet, later: ChangeSet): void {
  into.revision = later.revision;
  for (const [source, keys] of later.changes) {
    const target = into.changes.get(source);
    if (!target) {
      into.changes.set(source, new Map(keys));
      continue;
    }
    for (const [k, kind] of keys) if (target.get(k) !== 'put') target.set(k, kind);
  }
}

/** Does this batch touch the query? `delete` when every touching change was a removal. */
function touchKind(view: View, queryKey: string, set: ChangeSet): ChangeKind | null {
  let kind: ChangeKind | null = null;
  for (const source of view.sources) {
    const keys = set.changes.get(source);
    if (!keys) continue;
    for (const [changedKey, k] of keys) {
      if (!touches(view, queryKey, source, changedKey)) continue;
      if (k === 'put') return 'put';
      kind = 'delete';
    }
  }
  return kind;
}

function touches(view: View, queryKey: string, source: Source, changedKey: string): boolean {
  if (view.touches) return view.touches(queryKey, source, changedKey);
  return queryKey === '*' || changedKey.startsWith(queryKey);
}
