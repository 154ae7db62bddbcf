// Every process the scale simulation starts (etcd, grpc-proxies, node workers, lainlets, load
// clients) is registered here, so that it is stopped on every way out: the normal end, a
// failure, Ctrl-C or SIGTERM (async stop), and as a last resort a synchronous SIGKILL when the
// bench process exits anyway.
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { GrpcProxyProcess } from '../../test/helpers/grpc-proxy.js';

interface Owned {
  name: string;
  stop(): Promise<void>;
  /** Synchronous last resort (process 'exit'): SIGKILL, remove temp dirs. */
  killNow(): void;
}

const owned = new Set<Owned>();
let hooksInstalled = false;

/** Registers `p` for clean-up; returns a function that unregisters it (after its own stop). */
export function own(p: Owned): () => void {
  installHooks();
  owned.add(p);
  return () => owned.delete(p);
}

let stopping: Promise<void> | null = null;

/**
 * Stops everything still registered (in reverse order of start: clients before servers). Each
 * stays registered until its stop is done, so that the exit hook still kills what a stop left.
 */
export function stopAll(): Promise<void> {
  stopping ??= (async () => {
    for (const p of [...owned].reverse()) {
      try {
        await p.stop();
      } catch (err) {
        process.stderr.write(`scale: stopping ${p.name}: ${(err as Error).message}\n`);
        p.killNow();
      }
      owned.delete(p);
    }
  })().finally(() => (stopping = null));
  return stopping;
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const p of owned) p.killNow();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`scale: ${signal}: stopping every process started\n`);
      // A second signal, or a stop that hangs, ends it the hard way (the 'exit' hook kills).
      const hard = setTimeout(() => process.exit(130), 15_000);
      hard.unref();
      void stopAll().finally(() => process.exit(130));
    });
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child exited. */
export async function terminate(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  if (await Promise.race([exited.then(() => true), sleep(graceMs, false)])) return;
  child.kill('SIGKILL');
  await Promise.race([exited, sleep(5_000)]);
}

/** `etcd grpc-proxy start` in front of `etcdEndpoint` (the tests' helper), registered for clean-up. */
export async function startGrpcProxy(etcdEndpoint: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const proxy = await GrpcProxyProcess.start(etcdEndpoint);
  const unown = own({ name: `grpc-proxy ${proxy.endpoint}`, stop: () => proxy.stop(), killNow: () => proxy.killNow() });
  return { endpoint: proxy.endpoint, stop: () => proxy.stop().then(unown) };
}
