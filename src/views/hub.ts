// The view hub: for each (route, query key) that someone is watching or just asked for, it
// holds the current answer, computed and encoded ONCE per change, and hands the same bytes to
// every watcher. Transports only frame and write what the hub gives them.
import type { ChangeSet, ChangeKind } from '../state/mirror.js';
import type { ClusterState, Source } from '../state/types.js';
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

class Channel {
  /** Each watcher with the request it subscribed with (its rights are checked again with it). */
  readonly watchers = new Map<HubWatcher, ViewRequest | undefined>();
  /** Per-transport encodings of the current answer (e.g. the SSE `init` frame), made on first use. */
  readonly initEncodings = new Map<string, unknown>();
  constructor(
    readonly view: View,
    readonly key: string,
    public answer: Answer,
  ) {}
}

/** How many answers nobody watches are kept for repeated GETs. */
const IDLE_CACHE_LIMIT = 256;

export class ViewHub {
  private readonly channels = new Map<string, Channel>();
  readonly stats = { renders: 0, updatesSent: 0, rightsRevoked: 0 };

  constructor(
    private readonly state: () => ClusterState,
    private readonly node: NodeContext,
    private readonly onViewBug: (view: View, key: string, err: unknown) => void = () => {},
  ) {}

  /** Changes received but not yet applied to the answers (see enqueue). */
  private pending: ChangeSet | null = null;

  /** The current answer for a query (cached until a change touches it). */
  get(view: View, key: string): Answer {
    this.flush();
    return this.channel(view, key).answer;
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
    const initial = ch.answer;
    if (initial.ok) ch.watchers.set(watcher, req);
    return {
      initial,
      initEncoded<T>(format: string, encode: (json: Buffer) => T): T {
        // Only valid while the channel still holds `initial` (i.e. synchronously after subscribe).
        let e = ch.initEncodings.get(format) as T | undefined;
        if (e === undefined && initial.ok) {
          e = encode(initial.json);
          ch.initEncodings.set(format, e);
        }
        return e as T;
      },
      unsubscribe: () => {
        ch.watchers.delete(watcher);
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
    for (const [id, ch] of this.channels) {
      const kind = touchKind(ch.view, ch.key, set);
      if (!kind) continue;
      if (ch.watchers.size === 0) {
        // Nobody watches: forget it; the next GET recomputes.
        this.channels.delete(id);
        continue;
      }
      const before = ch.answer;
      const after = this.render(ch.view, ch.key);
      ch.answer = after;
      ch.initEncodings.clear();
      if (!after.ok) {
        this.channels.delete(id);
        for (const w of ch.watchers.keys()) w.fail(after.message, after.status);
        ch.watchers.clear();
        continue;
      }
      if (before.ok && !ch.view.resendWhenTouched && before.json.equals(after.json)) continue;
      const update = new SharedUpdate(set.revision, kind === 'delete' ? 'delete' : 'update', after.json);
      this.stats.updatesSent += ch.watchers.size;
      for (const w of ch.watchers.keys()) w.update(update);
    }
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
      for (const [watcher, req] of ch.watchers) {
        if (!req) continue;
        const id = `${ch.view.path}\u0000${req.callerIp}\u0000${req.params.toString()}`;
        let verdict = verdicts.get(id);
        if (!verdict) {
          try {
            verdict = { rights: rightsOf(ch.view.key(req, state, this.node)) };
          } catch (err) {
            if (!(err instanceof ViewError)) this.onViewBug(ch.view, ch.key, err);
            verdict = err instanceof ViewError ? { status: err.status, message: err.message } : { status: 500, message: `internal error: ${(err as Error).message}` };
          }
          verdicts.set(id, verdict);
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
    const id = `${view.path}\u0000${key}`;
    let ch = this.channels.get(id);
    if (!ch) {
      ch = new Channel(view, key, this.render(view, key));
      this.channels.set(id, ch);
      this.evictIdle();
    }
    return ch;
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

  private evictIdle() {
    if (this.channels.size <= IDLE_CACHE_LIMIT) return;
    for (const [id, ch] of this.channels) {
      if (this.channels.size <= IDLE_CACHE_LIMIT) break;
      if (ch.watchers.size === 0) this.channels.delete(id);
    }
  }
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
