// Reconnect delays: exponential from 250 ms to 30 s, each jittered so that the clients of a
// restarted lainlet do not all come back in the same instant.

export interface BackoffOptions {
  /** First delay, ms (default 250). */
  minMs?: number;
  /** Largest delay, ms (default 30 000). */
  maxMs?: number;
  /** Random source in [0, 1) (tests pass their own). */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.minMs = opts.minMs ?? 250;
    this.maxMs = opts.maxMs ?? 30_000;
    this.random = opts.random ?? Math.random;
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /**
   * The delay before the next attempt: the exponential step `min * 2^n` (capped at max), then a
   * random point between half of it and all of it, never below min or above max.
   */
  next(): number {
    const step = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const jittered = step / 2 + (this.random() * step) / 2;
    return Math.round(Math.min(this.maxMs, Math.max(this.minMs, jittered)));
  }

  /** A connection worked: start again from the smallest delay. */
  reset(): void {
    this.attempt = 0;
  }
}
