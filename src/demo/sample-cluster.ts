// The built-in sample cluster (3 nodes, 11 apps, as deployd and the LAIN tools write it to
// etcd), shipped in the package as fixtures/cluster-small.json.
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { EtcdHttp } from './etcd-http.js';

/** `{etcd key: value}` */
export type ClusterSnapshot = Record<string, string>;

// This module is src/demo/*.ts under tsx and dist/demo/*.js after the build: two levels
// below the package root either way.
export const SAMPLE_CLUSTER_PATH = fileURLToPath(new URL('../../fixtures/cluster-small.json', import.meta.url));

export function loadSampleCluster(): Promise<ClusterSnapshot> {
  return loadClusterFile(SAMPLE_CLUSTER_PATH);
}

/** Read a snapshot file in gen_cluster.py's format: one JSON object of string keys and values. */
export async function loadClusterFile(file: string): Promise<ClusterSnapshot> {
  const parsed: unknown = JSON.parse(await fs.readFile(file, 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file}: expected a JSON object of etcd keys to values`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value !== 'string') throw new Error(`${file}: value of ${key} is not a string`);
  }
  return parsed as ClusterSnapshot;
}

/** Write a snapshot into etcd; returns the revision after the last write. */
export function writeCluster(etcd: EtcdHttp, cluster: ClusterSnapshot): Promise<number> {
  return etcd.putMany(cluster);
}
