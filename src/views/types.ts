// The contract of a route: params -> query key (with auth), state -> answer bytes.
// Transports (HTTP/SSE, gRPC) never compute answers themselves; they ask the view hub,
// which calls `compute` once per change per query key and shares the bytes.
import type { ClusterState, Source } from '../state/types.js';

/** What a view knows about this lainlet process. */
export interface NodeContext {
  /** The `-ip` flag: this node's IP (local caller, localspecquery's default). */
  nodeIp: string;
  /** This machine's host name (rebellion/localprocs keeps containers whose NodeName equals it). */
  hostname: string;
  /** `-noauth`: everyone passes. */
  noAuth: boolean;
}

export interface ViewRequest {
  params: URLSearchParams;
  /** The caller's IP address, without port, IPv4-mapped prefix removed. */
  callerIp: string;
}

/** A 4xx/5xx outcome with lainlet's plain-text message. */
export class ViewError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ViewError';
  }
}

export interface View {
  /** The route path, e.g. `/v2/coreinfowatcher`. */
  readonly path: string;
  /** Which sources' changes can alter the answer. */
  readonly sources: readonly Source[];
  /** False for routes that refuse watches (localspecquery). */
  readonly watchable: boolean;
  /**
   * Go compatibility: the Go binary re-sends the containers answer whenever a pod group that
   * touches the query is written, even when the answer bytes did not change. Views that set this
   * are re-sent on every touching change; all others only when the bytes differ.
   */
  readonly resendWhenTouched?: boolean;
  /** Params and caller -> the query key. Throws ViewError (400) for bad params or failed auth. */
  key(req: ViewRequest, state: ClusterState, node: NodeContext): string;
  /**
   * The part of a query key that stands for the caller's rights: a watch whose caller's rights
   * change (key() throws, or gives a key with other rights) is ended (see ViewHub.recheck).
   * Default (when absent): the whole key.
   */
  rightsOf?(queryKey: string): string;
  /**
   * Does a change of `changedKey` in `source` touch the answer for `queryKey`?
   * Default (when absent): `queryKey` is `*`, or `changedKey` starts with `queryKey`.
   */
  touches?(queryKey: string, source: Source, changedKey: string): boolean;
  /**
   * The answer for a query key, as Go-compatible JSON (text, or UTF-8 bytes when the view joins
   * cached pieces). Throws ViewError (500) when it can't be made.
   */
  render(queryKey: string, state: ClusterState, node: NodeContext): string | Buffer;
}
