// Which events of a watch stream to apply, when the stream carries two watches of the prefix: a
// catch-up watch from where we are, and the main watch from past etcd's newest revision (only
// behind a proxy: straight to etcd the main watch starts where we are, alone).
//
// Why two: `etcd grpc-proxy` serves a new watch from an etcd watch it already holds only if
// that one is not ahead of the revision asked for, and it never moves a group of 5+ clients to
// another etcd watch. Nodes whose snapshots came from the proxy's cache (often old) would each
// ask for an old revision, open an etcd watch of their own that replays the history since, and
// those that gathered 5 clients would stay for good: etcd sends every later write once per such
// watch. (A watch "from now", start revision 0, is no way out: the proxy opens an etcd watch for
// each, one create at a time, and a thousand nodes starting at once queue past their timeouts.)
// So the main watch asks for a revision well past etcd's newest (etcd must not get there before
// our create reaches the proxy), which the etcd watch the proxy already holds can serve, and a
// second, short-lived watch over an equivalent range (the proxy groups watches by range, so it
// never shares the main one's) brings us from where we are up to that revision. Once the
// catch-up has delivered everything before the main watch's start, it is cancelled and the main
// watch's held events follow, each revision applied once.
import type { StoreChange } from './etcd-store.js';

export class Handover {
  private next: number;
  private catching: boolean;
  private held: StoreChange[] = [];

  /**
   * @param nextRevision the first revision not applied yet
   * @param mainStart the revision the main watch starts from
   */
  constructor(nextRevision: number, readonly mainStart: number) {
    this.next = nextRevision;
    this.catching = mainStart > nextRevision;
  }

  /** Whether the catch-up watch is still the one whose events count. */
  get catchingUp(): boolean {
    return this.catching;
  }

  /** One past the last revision applied: where a new stream resumes. */
  get nextRevision(): number {
    return this.next;
  }

  /**
   * Events of the catch-up watch, in order. `done`: it has delivered everything before the main
   * watch's start (cancel it); `apply` then ends with the main watch's held events.
   */
  catchUp(changes: StoreChange[]): { apply: StoreChange[]; done: boolean } {
    if (!this.catching) return { apply: [], done: false };
    const apply = this.unapplied(changes);
    if (this.next < this.mainStart) return { apply, done: false };
    this.catching = false;
    apply.push(...this.unapplied(this.held));
    this.held = [];
    return { apply, done: true };
  }

  /**
   * etcd wrote nothing of ours before `revision` that we have not applied (asked of etcd: its
   * newer revisions went to other keys), so the next one to apply is `revision` at the earliest.
   */
  nothingBefore(revision: number): void {
    this.next = Math.max(this.next, revision);
  }

  /**
   * A new main watch from `start` (<= nextRevision) has replaced both watches: it sends
   * everything from `start` on, so the catch-up and the held events are done with.
   */
  rehome(start: number): void {
    if (start > this.next) throw new Error(`a main watch from ${start} would miss revision ${this.next}`);
    this.catching = false;
    this.held = [];
  }

  /** Events of the main watch, in order: held while the catch-up runs, then applied as they come. */
  main(changes: StoreChange[]): StoreChange[] {
    if (this.catching) {
      this.held.push(...changes);
      return [];
    }
    return this.unapplied(changes);
  }

  /** A revision's events always arrive together, so "not before `next`" applies each exactly once. */
  private unapplied(changes: StoreChange[]): StoreChange[] {
    const out = changes.filter((c) => c.modRevision >= this.next);
    if (out.length > 0) this.next = out[out.length - 1].modRevision + 1;
    return out;
  }
}
