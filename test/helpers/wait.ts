// Waiting on conditions, never on fixed sleeps (tests assert behaviour; a loaded machine makes
// them slower, not red).
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `cond` every 25 ms until it holds; throws after `timeoutMs`, naming `what`. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** The error a promise rejects with; throws when it resolves. */
export async function rejection<E = Error>(p: Promise<unknown>): Promise<E> {
  try {
    await p;
  } catch (err) {
    return err as E;
  }
  throw new Error('expected the call to fail');
}
