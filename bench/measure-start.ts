// Start-up: from spawning the implementation to the first full 200 answer of
// /v2/coreinfowatcher (the largest view), then its idle RSS.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { now, Target } from './target.js';

/** One GET with node:http; resolves with the status and body size (or the error). */
export function getOnce(port: number, path: string, timeoutMs = 10_000): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export interface StartFigure {
  readyMs: number;
  answerBytes: number;
}

/** Starts the implementation and waits for the full answer; the target is left running. */
export async function startAndWaitReady(command: string, port: number, timeoutMs = 60_000): Promise<{ target: Target; fig: StartFigure }> {
  const target = new Target(command, port);
  const deadline = target.startedAt + timeoutMs;
  while (now() < deadline) {
    if (!target.running) throw new Error(`the implementation exited during start-up:\n${target.output()}`);
    try {
      const r = await getOnce(port, '/v2/coreinfowatcher', 10_000);
      if (r.status === 200) return { target, fig: { readyMs: Math.round(now() - target.startedAt), answerBytes: r.bytes } };
    } catch {
      // not listening yet
    }
    await sleep(10);
  }
  await target.stop();
  throw new Error(`no 200 answer from /v2/coreinfowatcher within ${timeoutMs} ms:\n${target.output()}`);
}
