// What `etcd grpc-proxy` answers, measured against etcd itself: the candidates for a watch
// liveness probe (a watch progress request, a second watch create on the same stream, a
// linearizable and a serializable range, a lease keep-alive), each timed while etcd runs and
// again while etcd is frozen (SIGSTOP). The store's probe is the one that answers in both
// topologies and goes silent when either etcd or the proxy freezes (src/store/etcd-store.ts).
//   node --import tsx bench/proxy-answers.ts
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { EtcdProcess } from '../src/demo/etcd-process.js';
import { EtcdClient } from '../src/store/etcd-client.js';
import type { WatchRequest, WatchResponse } from '../src/store/gen/rpc.js';
import { GrpcProxyProcess } from '../test/helpers/grpc-proxy.js';

const WAIT_MS = 3_000;
type Probe = (c: EtcdClient, stream: ClientDuplexStream<WatchRequest, WatchResponse>, next: () => Promise<WatchResponse | null>) => Promise<unknown>;

const timeout = <T>(p: Promise<T>, ms: number): Promise<T | null> => Promise.race([p, sleep(ms, null)]);

/** Resolves with the stream's next response, or null after WAIT_MS. */
function nextResponse(stream: ClientDuplexStream<WatchRequest, WatchResponse>): () => Promise<WatchResponse | null> {
  const queue: WatchResponse[] = [];
  let waiter: ((r: WatchResponse) => void) | null = null;
  stream.on('data', (r: WatchResponse) => (waiter ? (waiter(r), (waiter = null)) : queue.push(r)));
  stream.on('error', () => {});
  return () => (queue.length ? Promise.resolve(queue.shift()!) : timeout(new Promise<WatchResponse>((r) => (waiter = r)), WAIT_MS));
}

const probes: Record<string, Probe> = {
  'watch progress request': async (_c, stream, next) => {
    stream.write({ progressRequest: {} });
    return next();
  },
  'second watch create (start 0)': async (_c, stream, next) => {
    EtcdClient.writeProbeCreate(stream, '/lain/lainlet/liveness-probe');
    const r = await next();
    if (r?.created) EtcdClient.writeCancel(stream, r.watchId);
    if (r) await next(); // the cancel's confirmation
    return r;
  },
  'linearizable range (1 key)': (c) => c.rangePage(Buffer.from('/lain/x'), Buffer.alloc(0), WAIT_MS, { limit: 1 }),
  'serializable range (1 key)': (c) => c.rangePage(Buffer.from('/lain/x'), Buffer.alloc(0), WAIT_MS, { limit: 1, serializable: true }),
  'lease keep-alive': async (c) => {
    const id = 1 + Math.floor(Math.random() * 2 ** 40);
    await c.leaseGrant(id, 30, WAIT_MS);
    const ka = c.leaseKeepAlive();
    ka.on('error', () => {});
    const answered = new Promise((r) => ka.once('data', r));
    ka.write({ ID: id });
    const r = await timeout(answered, WAIT_MS);
    ka.cancel();
    return r;
  },
};

async function measure(label: string, endpoint: string, etcd: EtcdProcess): Promise<void> {
  const c = new EtcdClient(endpoint);
  const stream = c.watchPrefix('/lain/', 0);
  const next = nextResponse(stream);
  await next(); // created
  for (const frozen of [false, true]) {
    if (frozen) etcd.freeze();
    for (const [name, probe] of Object.entries(probes)) {
      const times: number[] = [];
      let answered = 0;
      for (let i = 0; i < (frozen ? 1 : 5); i++) {
        const t = performance.now();
        const r = await timeout(probe(c, stream, next).catch(() => null), WAIT_MS + 500);
        if (r) {
          answered++;
          times.push(performance.now() - t);
        }
      }
      times.sort((a, b) => a - b);
      const figure = answered ? `answered ${answered}/${frozen ? 1 : 5}, median ${times[Math.floor(times.length / 2)].toFixed(1)} ms` : `no answer within ${WAIT_MS} ms`;
      console.log(`${label.padEnd(8)} etcd ${frozen ? 'frozen ' : 'running'}  ${name.padEnd(32)} ${figure}`);
    }
    if (frozen) etcd.thaw();
  }
  stream.cancel();
  c.close();
}

const etcd = await EtcdProcess.start();
const proxy = await GrpcProxyProcess.start(etcd.endpoint);
try {
  await new EtcdClient(etcd.endpoint).put('/lain/x', 'x');
  await measure('direct', etcd.endpoint, etcd);
  await measure('proxy', proxy.endpoint, etcd);
} finally {
  await proxy.stop();
  await etcd.stop();
}
process.exit(0);
