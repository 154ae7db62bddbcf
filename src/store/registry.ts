// The instance registry: one etcd key per running lainlet, kept alive by a lease (the etcd v3
// registration pattern). The key is written with a short-TTL lease and renewed on a keep-alive
// stream; stop() revokes the lease so the key goes at once, and a crashed process's key goes
// when the TTL runs out. Works through `etcd grpc-proxy` (it forwards grants and revokes, and
// answers keep-alives from its own keep-alive of the same lease).
//
// States, visible in status() and /debug: `registering` (granting the lease, writing the key),
// `registered` (keep-alives answered), `retrying` (etcd unreachable or the lease lost: grant a
// new lease and write again), `stopped`.
import type { Logger } from '../util/log.js';
import { EtcdClient, endOnce } from './etcd-client.js';

/** Where the registry keeps one key per lainlet (under /lain/, so the store's one watch sees it). */
export const INSTANCES_PREFIX = '/lain/lainlet/instances/';

export type RegistryState = 'registering' | 'registered' | 'retrying' | 'stopped';

export interface RegistryStatus {
  state: RegistryState;
  key: string;
  leaseId: number;
  /** Keep-alives etcd (or a proxy) answered. */
  keepAlives: number;
  /** Times the key was written (first registration, a changed value, re-registration after a loss). */
  writes: number;
  lastError: string | null;
}

export interface LeaseRegistryOptions {
  /** etcd endpoints (or grpc-proxies), tried in turn. Ignored when `client` is given. */
  endpoints?: string[];
  /** An existing client to use (shares its connection); the registry never closes it. */
  client?: EtcdClient;
  key: string;
  /** The value to publish, as JSON; read at every keep-alive, written again when it changed. */
  value: () => object;
  /** Lease TTL in seconds (default 5): how long a crashed process's key outlives it. */
  ttlSeconds?: number;
  /** Keep-alive period (default 2000 ms). */
  keepAliveMs?: number;
  /**
   * A changed value is written at most this often (default 15 000 ms), read before each
   * rewrite when a function (see rewriteIntervalMs). Every write is an etcd event that every
   * lainlet receives: a thousand nodes rewriting on every cluster change would multiply etcd's
   * traffic, so the published revision may be this much behind.
   */
  minRewriteMs?: number | (() => number);
  logger: Logger;
}

/** Registry rewrites the whole cluster may make per second, whatever its size (see rewriteIntervalMs). */
export const CLUSTER_REWRITES_PER_SECOND = 2;

/**
 * How often one lainlet may rewrite its key when `liveInstances` are registered: every rewrite
 * reaches every lainlet, so N lainlets rewriting every T cost N*N/T events. Spreading the
 * cluster's rewrites to CLUSTER_REWRITES_PER_SECOND keeps that linear in N (measured at N = 1000
 * with a fixed 15 s: 67 rewrites/s, most of the events every node received, and a write took
 * seconds to reach every node). At least 15 s; 500 s at 1000 lainlets.
 */
export function rewriteIntervalMs(liveInstances: number): number {
  return Math.max(15_000, Math.ceil((liveInstances * 1000) / CLUSTER_REWRITES_PER_SECOND));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** A lease ID etcd can take and JavaScript can hold exactly: 1 .. 2^53-1. */
function newLeaseId(): number {
  return 1 + Math.floor(Math.random() * (Number.MAX_SAFE_INTEGER - 1));
}

export class LeaseRegistry {
  private readonly opts: Required<Omit<LeaseRegistryOptions, 'client' | 'endpoints'>>;
  private readonly endpoints: string[];
  private readonly ownClients = new Map<string, EtcdClient>();
  private endpointIndex = 0;
  private readonly st: RegistryStatus;
  /** The lease is granted and (as far as we know) alive: renewed less than a TTL ago. */
  private leaseAlive = false;
  private renewedAt = 0;
  private written: string | null = null;
  private writtenAt = 0;
  private running: Promise<void> | null = null;
  private cancelStream: (() => void) | null = null;
  private lastClient: EtcdClient | null = null;

  constructor(private readonly options: LeaseRegistryOptions) {
    this.endpoints = options.endpoints ?? [];
    if (!options.client && this.endpoints.length === 0) throw new Error('LeaseRegistry needs a client or endpoints');
    this.opts = { ttlSeconds: 5, keepAliveMs: 2_000, minRewriteMs: 15_000, ...options };
    this.st = { state: 'registering', key: options.key, leaseId: 0, keepAlives: 0, writes: 0, lastError: null };
  }

  private minRewriteMs(): number {
    const m = this.opts.minRewriteMs;
    return typeof m === 'function' ? m() : m;
  }

  status(): RegistryStatus {
    return { ...this.st };
  }

  /** Registers and keeps the key alive until stop(); failures are retried, never thrown. */
  start(): void {
    if (this.running) return;
    this.running = this.run();
  }

  /** Stops renewing and revokes the lease, so the key is deleted now (not after the TTL). */
  async stop(timeoutMs = 1_000): Promise<void> {
    if (this.st.state === 'stopped') return;
    this.st.state = 'stopped';
    this.cancelStream?.();
    // Bounded: a grant or put may be waiting on an unreachable etcd.
    await Promise.race([this.running, sleep(timeoutMs)]);
    if (this.leaseAlive && this.lastClient) {
      try {
        await this.lastClient.leaseRevoke(this.st.leaseId, timeoutMs);
        this.opts.logger.info({ key: this.opts.key }, 'revoked the registry lease');
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message, key: this.opts.key }, 'could not revoke the registry lease: the key expires with its TTL');
      }
    }
    this.leaseAlive = false;
    for (const c of this.ownClients.values()) c.close();
    this.ownClients.clear();
  }

  private client(): EtcdClient {
    if (this.options.client) return this.options.client;
    const endpoint = this.endpoints[this.endpointIndex];
    let c = this.ownClients.get(endpoint);
    if (!c) this.ownClients.set(endpoint, (c = new EtcdClient(endpoint)));
    return c;
  }

  private async run(): Promise<void> {
    let backoff = 250;
    while (this.st.state !== 'stopped') {
      const client = this.client();
      this.lastClient = client;
      try {
        // Not renewed for a whole TTL (cut off): etcd has let it expire, and the key with it.
        if (Date.now() - this.renewedAt > this.opts.ttlSeconds * 1000) this.leaseAlive = false;
        if (!this.leaseAlive) {
          const id = newLeaseId();
          await client.leaseGrant(id, this.opts.ttlSeconds);
          this.st.leaseId = id;
          this.leaseAlive = true;
          this.renewedAt = Date.now();
        }
        // Written after every (re)connect: etcd may have lost the key (a restore, a wiped member).
        await this.write(client);
        await this.keepAlive(client);
        backoff = 250;
      } catch (err) {
        if ((this.st.state as RegistryState) === 'stopped') break;
        if (/lease not found/i.test((err as Error).message)) this.leaseAlive = false;
        this.st.state = 'retrying';
        this.st.lastError = (err as Error).message;
        this.opts.logger.warn({ err: (err as Error).message, key: this.opts.key, retryInMs: backoff }, 'instance registry: retrying');
        if (this.endpoints.length > 1) this.endpointIndex = (this.endpointIndex + 1) % this.endpoints.length;
        await sleep(backoff * (0.75 + Math.random() * 0.5));
        backoff = Math.min(backoff * 2, 2_000);
      }
    }
  }

  private async write(client: EtcdClient): Promise<void> {
    const value = JSON.stringify(this.opts.value());
    await client.put(this.opts.key, value, 5_000, this.st.leaseId);
    this.written = value;
    this.writtenAt = Date.now();
    this.st.writes++;
  }

  /** Renews the lease until the stream breaks (rejects) or stop() (resolves). */
  private keepAlive(client: EtcdClient): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const stream = client.leaseKeepAlive();
      let lastAnswerAt = Date.now();
      let rewriting = false;
      const finish = endOnce(
        stream,
        () => {
          clearInterval(timer);
          this.cancelStream = null;
        },
        (err) => (err ? reject(err) : resolve()),
      );
      this.cancelStream = () => finish(null);
      const renew = () => stream.write({ ID: this.st.leaseId });
      const timer = setInterval(() => {
        // No answer for a whole TTL: the lease has expired by etcd's clock (or will any moment).
        if (Date.now() - lastAnswerAt > this.opts.ttlSeconds * 1000) {
          this.leaseAlive = false;
          finish(new Error(`no keep-alive answer for ${this.opts.ttlSeconds} s`));
          return;
        }
        renew();
        const value = JSON.stringify(this.opts.value());
        if (!rewriting && value !== this.written && Date.now() - this.writtenAt >= this.minRewriteMs()) {
          rewriting = true;
          this.write(client).then(
            () => (rewriting = false),
            (err: Error) => finish(err),
          );
        }
      }, this.opts.keepAliveMs);
      timer.unref();
      stream.on('data', (res: { TTL: number }) => {
        if (res.TTL <= 0) {
          // etcd no longer knows the lease (it expired while we were cut off): the key is gone.
          this.leaseAlive = false;
          finish(new Error('the registry lease expired'));
          return;
        }
        lastAnswerAt = this.renewedAt = Date.now();
        this.st.keepAlives++;
        if (this.st.state !== 'registered') {
          this.st.state = 'registered';
          this.st.lastError = null;
          this.opts.logger.info({ key: this.opts.key, leaseId: this.st.leaseId, ttlSeconds: this.opts.ttlSeconds }, 'registered this instance');
        }
      });
      stream.on('error', (err) => finish(err));
      stream.on('end', () => finish(new Error('etcd closed the lease keep-alive stream')));
      renew();
    });
  }
}
