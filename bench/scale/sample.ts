// The repository's sample cluster (fixtures/cluster-small.json) as a bench Cluster: no
// generator run (python3) needed, which keeps the quick form in the test suite self-contained.
import { loadSampleCluster } from '../../src/demo/sample-cluster.js';
import { describeCluster, PRESETS, type Cluster } from '../cluster.js';

export async function sampleCluster(): Promise<Cluster> {
  return describeCluster(PRESETS.small, await loadSampleCluster());
}
