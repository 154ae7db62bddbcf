// The built-in sample cluster (3 nodes, 11 apps, as deployd and the LAIN tools write it to
// etcd), shipped in the package as fixtures/cluster-small.json.
import fs from 'node:fs/promises';
import type { EtcdHttp } from './etcd-http.js';
import { readPackageFile } from '../util/package-file.js';

/** `{etcd key: value}` */
export type ClusterSnapshot = Record<string, string>;

/** The sample cluster's path from the package root (embedded as an asset in the single executable). */
export const SAMPLE_CLUSTER_FILE = 'fixtures/cluster-small.json';

export async function loadSampleCluster(): Promise<ClusterSnapshot> {
  return parseCluster(readPackageFile(SAMPLE_CLUSTER_FILE), SAMPLE_CLUSTER_FILE);
}

/** Read a snapshot file in gen_cluster.py's format: one JSON object of string keys and values. */
export async function loadClusterFile(file: string): Promise<ClusterSnapshot> {
  return parseCluster(await fs.readFile(file, 'utf8'), file);
}

function parseCluster(text: string, file: string): ClusterSnapshot {
  const parsed: unknown = JSON.parse(text);
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
