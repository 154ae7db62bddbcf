// How the store reports etcd being out of reach: the first failure of an outage at once, then
// a line with the count at a backed-off interval (10 s, 20 s, ... every 5 min), and one line when
// etcd answers again. The store retries every second; a line per retry would bury everything
// else in the log during an outage of hours.
import type { Logger } from '../util/log.js';

export interface OutageStatus {
  /** When the current run of failures began (ms since epoch), or null while etcd answers. */
  unreachableSince: number | null;
  /** Failed attempts since etcd last answered. */
  failedAttempts: number;
}

export interface FailureLogOptions {
  /** First repeat after this long; doubled each time. Default 10 s. */
  firstRepeatMs?: number;
  /** Longest time between two lines. Default 5 min. */
  maxRepeatMs?: number;
  now?: () => number;
}

/**
 * A gRPC error as a person reads it. grpc-js appends "Resolution note: " with nothing after it
 * to connection errors, and wraps the socket's error in "14 UNAVAILABLE: No connection
 * established. Last error: Error: ...": the socket's error is the news.
 */
export function cleanEtcdError(message: string): string {
  const m = message.replace(/\.?\s*Resolution note:\s*$/, '').trim();
  const socket = /^14 UNAVAILABLE: No connection established\. Last error: (?:Error: )?(.+)$/.exec(m);
  return socket ? socket[1] : m;
}

export class FailureLog {
  private since: number | null = null;
  private failures = 0;
  private nextLogAt = 0;
  private repeatMs: number;
  private readonly now: () => number;

  constructor(
    private readonly logger: Logger,
    private readonly opts: FailureLogOptions = {},
  ) {
    this.repeatMs = opts.firstRepeatMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** One failed attempt; `wasConnected`: a working stream broke (rather than a connect failed). */
  failed(endpoint: string, error: string, retryInMs: number, wasConnected: boolean): void {
    const now = this.now();
    this.failures++;
    if (this.since === null) {
      this.since = now;
      this.repeatMs = this.opts.firstRepeatMs ?? 10_000;
      this.nextLogAt = now + this.repeatMs;
      this.logger.warn({ endpoint, err: error, retryInMs }, wasConnected ? 'etcd connection lost; retrying' : 'etcd unreachable; retrying');
      return;
    }
    if (now < this.nextLogAt) return;
    this.logger.warn(
      { endpoint, err: error, failedAttempts: this.failures, unreachableForS: Math.round((now - this.since) / 1000) },
      'etcd still unreachable; retrying',
    );
    this.repeatMs = Math.min(this.repeatMs * 2, this.opts.maxRepeatMs ?? 300_000);
    this.nextLogAt = now + this.repeatMs;
  }

  /** etcd answered: ends the current outage (and says so if there was one). */
  recovered(endpoint: string): void {
    if (this.since === null) return;
    this.logger.info({ endpoint, failedAttempts: this.failures, unreachableForS: Math.round((this.now() - this.since) / 1000) }, 'etcd reachable again');
    this.since = null;
    this.failures = 0;
  }

  status(): OutageStatus {
    return { unreachableSince: this.since, failedAttempts: this.failures };
  }
}
