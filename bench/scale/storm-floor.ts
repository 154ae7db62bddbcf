// The least a restart storm can cost etcd through P proxies, whatever the nodes do, measured
// after the storm rather than argued. etcd sends a proxy data only as Range answers and watch
// events, and replays history only in a watch of its own, so:
// - a proxy that a full lainlet watches through (the bench's full lainlets do not restart) holds
//   an etcd watch of /lain/ all through the storm: etcd sends it every revision the storm wrote,
//   with its previous value (a proxy always asks for those). Measured by replaying the storm's
//   revisions in one etcd watch afterwards: mostly the registry's own writes, every node's key
//   deleted on SIGTERM and written again at start.
// - every proxy's nodes need /lain/ as of some revision in the storm: a read of it from etcd (at
//   least the read before any registry key, `fullReadBytes`), or a cached read from before the
//   storm plus a replay of the storm in an etcd watch of its own: the lesser of the two.
// - etcd answers the registry's lease keep-alives and the liveness probes meanwhile: its idle
//   background, over the storm's length.
import { EtcdClient, prefixEnd, type WatchResponse } from '../../src/store/etcd-client.js';
import { WatchCreateRequest } from '../../src/store/gen/rpc.js';
import { readEtcdFigures } from './etcd-metrics.js';

export interface StormFloor {
  /** Bytes etcd sent one new etcd watch of /lain/ replaying the storm's revisions (less the idle background). */
  watchBytes: number;
  /** The storm's revisions that watch covered, and the events it received. */
  revisions: number;
  events: number;
  /** Bytes etcd sent for one full read of /lain/ after the storm (the registry's keys included). */
  fullReadAfterBytes: number;
  /** Proxies a full lainlet watched through during the storm. */
  watchedProxies: number;
  /** etcd's idle background (bytes/s, measured in the idle phase) times the storm's length. */
  backgroundBytes: number;
}

/** How long the replay may go quiet before it is taken as done, and how long it may take in all. */
const QUIET_MS = 1_000;
const REPLAY_TIMEOUT_MS = 30_000;

/**
 * Replays revisions `from`..`to` of `prefix` in one watch straight to etcd, as a proxy asks
 * (previous values), and returns what etcd sent for it, less `idleBytesPerSec` over the time it took.
 */
export async function measureWatchReplay(
  etcd: { endpoint: string; url: string },
  prefix: string,
  from: number,
  to: number,
  idleBytesPerSec: number,
): Promise<{ bytes: number; events: number }> {
  const client = new EtcdClient(etcd.endpoint);
  try {
    await client.headRevision(prefix, 10_000); // connects first: the connection is not the replay's cost
    const before = await readEtcdFigures(etcd.url);
    const events = await new Promise<number>((resolve, reject) => {
      const stream = client.openWatch();
      let count = 0;
      let quiet: NodeJS.Timeout | undefined;
      const done = (err: Error | null) => {
        clearTimeout(quiet);
        clearTimeout(overall);
        stream.removeAllListeners('data');
        stream.on('error', () => {}); // the CANCELLED that cancel() causes
        stream.cancel();
        if (err) reject(err);
        else resolve(count);
      };
      const overall = setTimeout(() => done(new Error(`the replay of revisions ${from}..${to} took over ${REPLAY_TIMEOUT_MS} ms`)), REPLAY_TIMEOUT_MS);
      stream.on('data', (res: WatchResponse) => {
        if (res.canceled || res.compactRevision > 0) return done(new Error(`etcd refused the replay: ${res.cancelReason || `compacted at ${res.compactRevision}`}`));
        for (const e of res.events) if ((e.kv?.modRevision ?? 0) <= to) count++;
        const last = res.events[res.events.length - 1]?.kv?.modRevision ?? 0;
        if (last >= to) return done(null);
        // The last revision may be another key's: done once etcd is past it and has gone quiet.
        clearTimeout(quiet);
        if ((res.header?.revision ?? 0) >= to) quiet = setTimeout(() => done(null), QUIET_MS);
      });
      stream.on('error', (err) => done(err));
      const key = Buffer.from(prefix);
      stream.write({ createRequest: WatchCreateRequest.fromPartial({ key, rangeEnd: prefixEnd(key), startRevision: from, prevKv: true }) });
    });
    const after = await readEtcdFigures(etcd.url);
    const seconds = (after.at - before.at) / 1000;
    return { bytes: Math.max(0, Math.round(after.sentBytes - before.sentBytes - idleBytesPerSec * seconds)), events };
  } finally {
    client.close();
  }
}

/** The least etcd can send over the storm through `proxies` proxies, in full reads (`fullReadBytes`: /lain/ before any registry key). */
export function leastStormCost(f: StormFloor, proxies: number, fullReadBytes: number): { beforeBackground: number; background: number; total: number } {
  const r = (x: number) => Math.round((x / fullReadBytes) * 100) / 100;
  // Each proxy's nodes: a read from etcd, or a cached read from before the storm and the storm replayed, whichever is less.
  const before = f.watchedProxies * f.watchBytes + proxies * Math.min(fullReadBytes, f.watchBytes);
  return { beforeBackground: r(before), background: r(f.backgroundBytes), total: r(before + f.backgroundBytes) };
}
