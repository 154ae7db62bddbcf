// One watch stream, from its open to its end: the main watch, behind a proxy a catch-up watch up
// to the main watch's start (see handover.ts) and its settling, the liveness probe, and the
// guard against events a proxy skipped. The store (etcd-store.ts) opens one per connection and
// learns how it ended from `done`: a clean end (close()), a ReadAgainError (read the snapshot
// again), or any other error (reconnect).
import type { Logger } from '../util/log.js';
import { EtcdClient, endOnce, prefixEnd, type WatchResponse } from './etcd-client.js';
import { hasPrefix, keyFromBytes } from './etcd-key.js';
import type { StoreChange, StoreStatus } from './etcd-store.js';
import { Event_EventType } from './gen/rpc.js';
import type { Handover } from './handover.js';

/**
 * The watch cannot go on from where we are: the snapshot is read again, from etcd itself when
 * a cached read is older than `notBefore`, and `seen` is counted in the status.
 */
export class ReadAgainError extends Error {
  constructor(
    message: string,
    readonly notBefore: number,
    readonly seen: 'compactionsSeen' | 'lostEventsSeen',
  ) {
    super(message);
  }
}

/** etcd compacted past the revision we would resume from. */
function compacted(compactRevision: number): ReadAgainError {
  return new ReadAgainError(`revision compacted (etcd compact_revision ${compactRevision})`, compactRevision, 'compactionsSeen');
}

/**
 * A watch through a grpc-proxy that replays more than 1000 revisions of history can lose events:
 * etcd sends an unsynced watch at most 1000 revisions per answer, with its newest revision in the
 * header; the proxy takes that header for how far its etcd watch has got and may merge it, with
 * its clients, into another one that is already there, and the revisions between are never sent
 * (etcd 3.4.23, proxy/grpcproxy/watch_broadcast.go; seen in the scale bench). So the catch-up
 * watch's answers are checked (see `heard`), and a snapshot from a proxy's cache that far behind
 * etcd is read again from etcd rather than caught up with (see EtcdStore.cachedReadIsStale).
 */
function skipped(from: number, to: number): ReadAgainError {
  return new ReadAgainError(`the proxy skipped events between revisions ${from} and ${to}`, to, 'lostEventsSeen');
}

/** How long both watches must have been quiet before the catch-up is settled (see `settle`), and between two tries. */
const SETTLE_AFTER_QUIET_MS = 2_000;

/**
 * Settling waits a random 0..this many times the start spread more (EtcdStore.startSpreadMs), so that
 * nodes whose catch-ups went quiet together reach a proxy a few at a time. A settled main watch
 * starts at etcd's newest revision; if a write gets there first, the proxy opens an etcd watch
 * for it, and settles arriving in the ~100 ms before that one's first event join it as often as
 * the proxy's own; with 5 or more the proxy never merges it again: a spare etcd watch that every
 * later write goes to (etcd 3.4 grpcproxy, watch_broadcast(s).go). In bench runs of 1000 nodes
 * settling within 2.5 s, one left 10 spare etcd watches (26x bytes per write); spread over the
 * start window, one of three left 1; over three times it (~10 settles a second per proxy of 3),
 * none of five.
 */
const SETTLE_SPREAD = 3;

/** etcd sends a watch replaying history at most this many revisions per answer (mvcc watchBatchMaxRevs). */
const WATCH_BATCH_MAX_REVISIONS = 1_000;

/** The status fields a watch session keeps up to date (the store's own status object). */
type SessionStatus = Pick<StoreStatus, 'state' | 'lastError' | 'catchingUp' | 'catchUps' | 'settled' | 'mainShared' | 'probes' | 'lastProbeMs' | 'catchUpsResumed'>;

export interface WatchSessionOptions {
  client: EtcdClient;
  prefix: string;
  /** The key the liveness probe watches: inside the prefix (a proxy's permission check reads it), never written. */
  probeKey: string;
  /** The endpoint is a grpc-proxy (see EtcdStore.behindProxy). */
  proxied: boolean;
  handover: Handover;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  settleBusyAfterMs: number;
  settleBusyEveryMs: number;
  /** The window the node's first read was spread over (ms; see EtcdStore.startSpreadMs): settling is spread over SETTLE_SPREAD times it. */
  startSpreadMs: number;
  resumeCappedCatchUps: boolean;
  logger: Logger;
  status: SessionStatus;
  /** etcd answered something at `revision`. */
  contact(revision: number): void;
  /** Counts one of the store's small reads once answered. */
  checked<T>(read: Promise<T>): Promise<T>;
  /** etcd's newest revision, asked of etcd itself. */
  headRevision(timeoutMs: number): Promise<number>;
  /** Delivers events, in order, once each (the handover has moved past them). */
  apply(changes: StoreChange[]): void;
}

export class WatchSession {
  /** Settles when the stream ends: resolves on cancel(), rejects with the reason otherwise. */
  readonly done: Promise<void>;
  private readonly stream: ReturnType<EtcdClient["openWatch"]>;
  private readonly prefix: Buffer;
  private readonly handover: Handover;
  private readonly finish: (err: Error | null) => void;
  private readonly probe: NodeJS.Timeout;
  // One create waits for its answer at a time, so each `created` answers the one pending
  // (a proxy answers creates out of order); the first create doubles as the first probe.
  private pending: 'catch-up' | 'main' | 'probe' | null = null;
  private createSentAt: number | null = null;
  private catchUpId: number | null = null;
  private mainId: number | null = null;
  private lastHeardAt = Date.now();
  private lastEventAt = Date.now();
  private settling = false;
  private settledFrom = 0;
  private lastSettleAt = 0;
  private catchUpSince = 0;
  private ended = false;
  /**
   * Extra quiet before settling, drawn per session: nodes whose catch-ups went quiet together
   * (the end of a cold start's or a storm's burst of writes) would all settle at once, and a
   * settle can race a write (see SETTLE_SPREAD).
   */
  private readonly settleSpreadMs: number;
  // Through a proxy, a catch-up answer whose header is past its last event leaves revisions
  // (from, to] that must come next, in order, if any of them are ours. If the next events
  // start past them, or nothing comes and etcd says ours changed there, etcd is asked
  // whether any were ours: if so the proxy skipped them (see `skipped`).
  private unheard: { from: number; to: number; at: number } | null = null;

  constructor(private readonly o: WatchSessionOptions) {
    this.prefix = Buffer.from(o.prefix);
    this.settleSpreadMs = Math.random() * SETTLE_SPREAD * o.startSpreadMs;
    this.handover = o.handover;
    this.stream = o.client.openWatch();
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    this.done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    this.finish = endOnce(
      this.stream,
      () => {
        this.ended = true;
        o.status.catchingUp = false;
        clearInterval(this.probe);
      },
      (err) => (err ? reject(err) : resolve()),
    );
    // The main watch first: the sooner it follows the read of etcd's newest revision, the
    // likelier a proxy serves it from an etcd watch it holds.
    this.create('main', prefixEnd(this.prefix), this.handover.mainStart);
    this.probe = setInterval(() => this.tick(), Math.min(o.probeIntervalMs, o.probeTimeoutMs) / 8);
    this.probe.unref();
    this.stream.on('data', (res: WatchResponse) => this.onResponse(res));
    this.stream.on('error', (err) => this.finish(err));
    this.stream.on('end', () => this.finish(new Error('etcd closed the watch stream')));
  }

  /** Ends the session cleanly (close()). */
  cancel(): void {
    this.finish(null);
  }

  private create(what: 'catch-up' | 'main', rangeEnd: Buffer, from: number) {
    this.pending = what;
    this.createSentAt = Date.now();
    EtcdClient.writeCreate(this.stream, this.prefix, rangeEnd, from);
  }

  /** The probe timer: an unanswered create ends the stream; a quiet catch-up is settled; a quiet stream is probed. */
  private tick() {
    const now = Date.now();
    const o = this.o;
    if (this.createSentAt !== null) {
      if (now - this.createSentAt > o.probeTimeoutMs) {
        const what = this.pending === 'probe' ? 'a liveness probe (a watch create)' : 'the watch create';
        this.finish(new Error(`etcd did not answer ${what} within ${o.probeTimeoutMs} ms`));
      }
      return;
    }
    const settleDue =
      now - Math.max(this.lastEventAt, this.lastSettleAt) >= SETTLE_AFTER_QUIET_MS + this.settleSpreadMs ||
      (now - this.catchUpSince >= o.settleBusyAfterMs && now - this.lastSettleAt >= o.settleBusyEveryMs);
    if (this.handover.catchingUp && this.catchUpId !== null && !this.settling && settleDue) {
      void this.settle();
      return;
    }
    // Only a quiet stream is probed: events and answers already prove it alive.
    if (now - this.lastHeardAt >= o.probeIntervalMs) {
      this.pending = 'probe';
      this.createSentAt = now;
      EtcdClient.writeProbeCreate(this.stream, o.probeKey);
    }
  }

  private oursUnchanged(from: number, to: number): Promise<boolean> {
    return this.o.checked(this.o.client.unchangedBetween(this.prefix, prefixEnd(this.prefix), from, to, this.o.probeTimeoutMs));
  }

  /** Asks etcd whether any of ours changed in (from, to]; if so (or it can no longer be told) the proxy skipped them. */
  private verify({ from, to }: { from: number; to: number }) {
    this.oursUnchanged(from, to).then(
      (unchanged) => {
        if (!unchanged) this.finish(skipped(from, to));
      },
      (err: Error) => {
        // Compacted since: it can no longer be told, so it is read again. Anything else:
        // the probe and the watch tell a dead etcd.
        if (/compacted/i.test(err.message)) this.finish(skipped(from, to));
      },
    );
  }

  /** A catch-up answer through a proxy: its first event's revision and its header's (see `unheard`). */
  private heard(firstRevision: number | undefined, headerRevision: number) {
    if (!this.o.proxied) return; // etcd itself sends every event
    if (this.unheard && firstRevision !== undefined && firstRevision > this.unheard.to) {
      this.verify(this.unheard);
      this.unheard = null;
    }
    const last = this.handover.nextRevision - 1;
    const to = Math.max(this.unheard?.to ?? 0, headerRevision);
    this.unheard = to > last ? { from: last, to, at: this.unheard?.to === to ? this.unheard.at : Date.now() } : null;
  }

  /**
   * The catch-up lives until etcd has written up to the main watch's start, which a quiet
   * cluster may not do for hours. Once nothing has come for a while and nothing of ours was
   * written after the last revision we applied (etcd's newest is it, or etcd says so), a main
   * watch from past etcd's newest is unlikely to race a write (a proxy's etcd watches are no
   * further): it replaces both. In a cluster that is never quiet, the same is tried now and
   * then once the catch-up has lasted a while; a lost race costs a proxy one etcd watch that
   * it merges into another as events pass.
   */
  private async settle() {
    this.settling = true;
    this.lastSettleAt = Date.now();
    const handover = this.handover;
    const applied = handover.nextRevision - 1;
    const still = () => !this.ended && handover.catchingUp && handover.nextRevision - 1 === applied && this.createSentAt === null;
    let asked = false;
    try {
      const now = await this.o.headRevision(this.o.probeTimeoutMs);
      // etcd's newer revisions may be other keys' (etcd holds more than LAIN's prefix): then
      // asked whether any of ours changed since.
      if (now !== applied && !(still() && (await this.oursUnchanged(applied, now)))) {
        // Ours changed after what we applied; if etcd told us of those revisions a while ago
        // and nothing came since, they are not on their way.
        const unheard = this.unheard;
        if (unheard && unheard.from === applied && Date.now() - unheard.at >= SETTLE_AFTER_QUIET_MS) this.verify(unheard);
        return;
      }
      if (!still()) return;
      handover.nothingBefore(now + 1);
      this.settledFrom = now + 1;
      this.create('main', prefixEnd(this.prefix), this.settledFrom);
      asked = true; // settling ends with its answer
    } catch {
      // The probe and the watch itself tell a dead etcd; a compacted `applied` waits for the lead.
    } finally {
      if (!asked) this.settling = false;
    }
  }

  private connected(what: string, from: number) {
    this.o.status.state = 'connected';
    this.o.status.lastError = null;
    this.o.logger.info({ endpoint: this.o.client.endpoint, fromRevision: from, watch: what }, 'watching etcd');
  }

  private caughtUp() {
    this.o.status.catchingUp = false;
    this.o.logger.info({ revision: this.handover.nextRevision - 1 }, 'caught up with etcd: the main watch alone from now on');
  }

  private onResponse(res: WatchResponse) {
    this.lastHeardAt = Date.now();
    const ours = res.watchId === this.catchUpId || res.watchId === this.mainId;
    if (res.created && !ours) {
      this.onCreated(res);
      return;
    }
    if (!ours) return; // the last words of a watch we cancelled
    if (res.watchId === this.catchUpId && !this.handover.catchingUp) return; // after the handover
    this.o.contact(res.header?.revision ?? 0);
    if (res.compactRevision > 0) {
      this.finish(compacted(res.compactRevision));
      return;
    }
    if (res.canceled) {
      this.finish(new Error(`etcd cancelled the watch: ${res.cancelReason || 'no reason given'}`));
      return;
    }
    const changes = this.ourChanges(res);
    if (changes.length > 0) this.lastEventAt = Date.now();
    if (res.watchId === this.mainId) {
      this.o.apply(this.handover.main(changes));
      return;
    }
    const { apply: caught, done } = this.handover.catchUp(changes);
    this.o.apply(caught);
    if (done) {
      EtcdClient.writeCancel(this.stream, res.watchId);
      this.catchUpId = null;
      this.caughtUp();
      return;
    }
    if (this.o.proxied && this.o.resumeCappedCatchUps && this.createSentAt === null && cappedReplay(res)) {
      // More history follows, which a proxy may skip (see `skipped`): a new catch-up from
      // here instead, in a new etcd watch; the old one's further answers are ignored.
      EtcdClient.writeCancel(this.stream, res.watchId);
      this.catchUpId = null;
      this.unheard = null;
      this.o.status.catchUpsResumed++;
      this.create('catch-up', catchUpRangeEnd(this.prefix), this.handover.nextRevision);
      return;
    }
    this.heard(changes[0]?.modRevision, res.header?.revision ?? 0);
  }

  /** The answer to the create pending: the probe's, the main watch's, the catch-up's or a settled main watch's. */
  private onCreated(res: WatchResponse) {
    const o = this.o;
    const what = this.pending;
    this.pending = null;
    if (what === 'probe' || what === null) {
      // The probe's watch: created (answer it with a cancel) or refused (etcd 3.4 answers
      // a refused create under watch_id -1); both prove the stream, proxy and etcd alive.
      o.contact(res.header?.revision ?? 0);
      if (what === 'probe' && this.createSentAt !== null) {
        o.status.probes++;
        o.status.lastProbeMs = this.lastHeardAt - this.createSentAt;
      }
      this.createSentAt = null;
      if (!res.canceled) EtcdClient.writeCancel(this.stream, res.watchId);
      return;
    }
    this.createSentAt = null;
    if (res.compactRevision > 0) {
      this.finish(compacted(res.compactRevision));
      return;
    }
    if (res.canceled) {
      this.finish(new Error(`etcd refused the ${what} watch: ${res.cancelReason || 'no reason given'}`));
      return;
    }
    const handover = this.handover;
    if (what === 'catch-up') {
      o.status.catchUps++;
      this.catchUpId = res.watchId;
      if (this.catchUpSince === 0) this.catchUpSince = Date.now(); // a resumed catch-up (see cappedReplay) goes on with the first one's time
      o.status.catchingUp = handover.catchingUp;
      o.contact(res.header?.revision ?? 0);
      this.connected('catch-up', handover.nextRevision);
    } else if (this.mainId === null) {
      // No contact(): a proxy answers a watch it serves from one it holds with our own
      // start revision as the header's, which is ahead of etcd's newest.
      this.mainId = res.watchId;
      o.status.mainShared = servedByProxy(res);
      if (handover.catchingUp) this.create('catch-up', catchUpRangeEnd(this.prefix), handover.nextRevision);
      else this.connected('main', handover.mainStart);
    } else {
      // The settled main watch (see settle): it sends all from settledFrom, the other two go.
      EtcdClient.writeCancel(this.stream, this.mainId);
      if (this.catchUpId !== null) EtcdClient.writeCancel(this.stream, this.catchUpId);
      this.mainId = res.watchId;
      this.catchUpId = null;
      this.settling = false;
      handover.rehome(this.settledFrom);
      o.status.mainShared = servedByProxy(res);
      o.status.settled++;
      this.caughtUp();
    }
  }

  /**
   * A watch answer's events under our prefix. The catch-up's range holds one key past the prefix
   * (so that it differs from the main watch's); that key is not ours.
   */
  private ourChanges(res: WatchResponse): StoreChange[] {
    return res.events.flatMap((e): StoreChange[] => {
      if (!e.kv || !hasPrefix(e.kv.key, this.prefix)) return [];
      const removed = e.type === Event_EventType.DELETE;
      return [{ type: removed ? 'delete' : 'put', key: keyFromBytes(e.kv.key), value: removed ? '' : e.kv.value.toString('utf8'), modRevision: e.kv.modRevision }];
    });
  }
}

/**
 * Whether a grpc-proxy answered this watch create itself, serving the watch from an etcd watch it
 * already held: it leaves etcd's member id out of such a header, where etcd always sets it.
 */
function servedByProxy(res: WatchResponse): boolean {
  return !(res.header?.memberId ?? false);
}

/**
 * Whether a watch answer is one of etcd's capped batches of history, with more to follow: it
 * holds WATCH_BATCH_MAX_REVISIONS revisions and its header (etcd's newest) is past them.
 */
function cappedReplay(res: WatchResponse): boolean {
  const last = res.events[res.events.length - 1]?.kv?.modRevision ?? 0;
  if (last === 0 || (res.header?.revision ?? 0) <= last) return false;
  let revisions = 0;
  let previous = 0;
  for (const e of res.events) {
    const rev = e.kv?.modRevision ?? 0;
    if (rev !== previous) revisions++;
    previous = rev;
  }
  return revisions >= WATCH_BATCH_MAX_REVISIONS;
}

/** The catch-up watch's range end: the prefix's, plus one key (`prefixEnd` itself), so that a proxy never mistakes it for the main watch's range. */
function catchUpRangeEnd(prefix: Buffer): Buffer {
  return Buffer.concat([prefixEnd(prefix), Buffer.from([0])]);
}
