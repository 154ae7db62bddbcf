// The registry's rewrite interval: the whole cluster's registry rewrites stay about
// CLUSTER_REWRITES_PER_SECOND whatever the number of lainlets (every rewrite reaches every node).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_REWRITES_PER_SECOND, rewriteIntervalMs } from '../../src/store/registry.js';

test('a small cluster rewrites a changed registry value every 15 s at most', () => {
  assert.equal(rewriteIntervalMs(0), 15_000);
  assert.equal(rewriteIntervalMs(1), 15_000);
  assert.equal(rewriteIntervalMs(30), 15_000);
});

test('a large cluster spreads its rewrites so that their total rate stays bounded', () => {
  assert.equal(rewriteIntervalMs(1000), 500_000);
  for (const n of [31, 100, 1000, 5000]) {
    const clusterRate = n / (rewriteIntervalMs(n) / 1000);
    assert.ok(clusterRate <= CLUSTER_REWRITES_PER_SECOND + 1e-9, `${n} lainlets: ${clusterRate} rewrites/s`);
  }
});
