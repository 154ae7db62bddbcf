// etcd for integration tests: one throwaway etcd per test file (see src/demo/etcd-process.ts).
import { after, before } from 'node:test';
import { EtcdHttp } from '../../src/demo/etcd-http.js';
import { EtcdProcess, type EtcdStartOptions } from '../../src/demo/etcd-process.js';
import { loadSampleCluster, writeCluster, type ClusterSnapshot } from '../../src/demo/sample-cluster.js';

export { EtcdHttp, parseMetric } from '../../src/demo/etcd-http.js';
export { EtcdProcess, ensureEtcdInstalled, startEtcd, type EtcdStartOptions } from '../../src/demo/etcd-process.js';
export { loadSampleCluster, loadClusterFile, writeCluster, type ClusterSnapshot } from '../../src/demo/sample-cluster.js';

export interface TestEtcd {
  etcd: EtcdProcess;
  http: EtcdHttp;
}

/** Start an etcd and a gateway client for it; the caller stops it (`etcd.stop()`). */
export async function startTestEtcd(opts: EtcdStartOptions = {}): Promise<TestEtcd> {
  const etcd = await EtcdProcess.start(opts);
  return { etcd, http: new EtcdHttp(etcd.url) };
}

/**
 * Registers before/after hooks that start an etcd for this test file and stop it at the end.
 * Use the returned object's fields inside tests (they are set once `before` has run).
 */
export function useEtcd(opts: EtcdStartOptions = {}): TestEtcd {
  const handle = {} as TestEtcd;
  // The time limit allows for installing etcd on a fresh machine.
  before(async () => Object.assign(handle, await startTestEtcd(opts)), { timeout: 300_000 });
  after(async () => {
    await handle.etcd?.stop();
  });
  return handle;
}

/** An etcd loaded with the built-in sample cluster (the caller stops `etcd`). */
export async function startSampleEtcd(): Promise<TestEtcd & { cluster: ClusterSnapshot }> {
  const env = await startTestEtcd();
  const cluster = await loadSampleCluster();
  await writeCluster(env.http, cluster);
  return { ...env, cluster };
}
