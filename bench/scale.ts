// `npm run bench:scale`: the cluster-scale simulation of issue 12 (bench/scale/simulation.ts)
// in both topologies, written to bench/SCALE.md and bench/scale-results.json.
// `npm run bench:scale -- --help` for the options.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadCluster, PRESETS, type Cluster } from './cluster.js';
import { own, stopAll } from './scale/processes.js';
import { writeScaleReport } from './scale/report.js';
import { runScale, type Topology } from './scale/simulation.js';
import { sampleCluster } from './scale/sample.js';
import { buildLainlet, productionNodeFlags, REPO } from './target.js';

const USAGE = `npm run bench:scale -- [options]
  --nodes N          simulated nodes (default 1000; --quick: 50)
  --proxies P        etcd grpc-proxy processes in the proxy topology (default 3)
  --workers W        worker processes the nodes are spread over (default 4)
  --preset NAME      cluster data: sample (the repo's fixture), small or large (gen_cluster.py presets);
                     default small (the large one, 19 MB, does not fit this machine at 1000 nodes: the node workers held 8.8 GB at 300);
                     generated to list the simulated nodes in /lain/nodes/nodes/, as a cluster of
                     that many nodes does (the start spread is sized by that list)
  --preset-nodes     keep the preset's own node list (small: 3) instead
  --rate R           pod-group writes per second in the steady phase (default 5)
  --duration S       seconds of steady writes (default 30; --quick: 5)
  --idle S           seconds of the idle window (default 10; --quick: 3)
  --lainlets K       full lainlets (real daemon, child processes) (default 2)
  --sse M            SSE watchers per full lainlet (default 10)
  --topologies LIST  direct,proxy (default both)
  --no-registry      simulated nodes without the registry lease
  --sync-timeout S   longest wait for all nodes to be synced (default 120)
  --other-load TEXT  what else ran on the machine (goes into the report)
  --quick            small, short run; writes SCALE.quick.md / scale-results.quick.json`;

const log = (msg: string) => process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

async function main() {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string' },
      proxies: { type: 'string', default: '3' },
      workers: { type: 'string', default: '4' },
      preset: { type: 'string', default: 'small' },
      rate: { type: 'string', default: '5' },
      duration: { type: 'string' },
      idle: { type: 'string' },
      lainlets: { type: 'string', default: '2' },
      sse: { type: 'string', default: '10' },
      topologies: { type: 'string', default: 'direct,proxy' },
      'no-registry': { type: 'boolean', default: false },
      'preset-nodes': { type: 'boolean', default: false },
      'sync-timeout': { type: 'string', default: '120' },
      'other-load': { type: 'string', default: '' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  // The machine's load when we start matters for the figures: say so early.
  log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} on ${os.cpus().length} cores`);
  const quick = values.quick;
  const int = (name: string, text: string | undefined, fallback: number, min: number, max: number) => {
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer ${min}..${max}`);
    return n;
  };
  const topologies = values.topologies.split(',').map((t) => t.trim()) as Topology[];
  for (const t of topologies) if (t !== 'direct' && t !== 'proxy') throw new Error(`--topologies: unknown topology ${t} (direct, proxy)`);
  const preset = values.preset;
  const nodes = int('nodes', values.nodes, quick ? 50 : 1000, 1, 5000);
  let cluster: Cluster;
  let label = `${preset} preset`;
  if (preset === 'sample') cluster = await sampleCluster();
  else if (preset === 'small' || preset === 'large') {
    const shape = PRESETS[preset];
    const listed = values['preset-nodes'] ? shape.nodes : Math.max(shape.nodes, nodes);
    cluster = await loadCluster({ ...shape, nodes: listed });
    if (listed !== shape.nodes) label += ` listing ${listed} nodes`;
  } else throw new Error('--preset must be sample, small or large');

  const built = await buildLainlet(productionNodeFlags());
  // Its temp dir goes on every way out too (Ctrl-C included).
  own({ name: 'lainlet build', stop: () => built.cleanup(), killNow: () => fs.rmSync(built.dir, { recursive: true, force: true }) });
  log(`full lainlet: ${built.how}`);
  const watchdog = setTimeout(() => {
    log('watchdog: the run took more than 40 minutes; stopping everything');
    void stopAll().finally(() => process.exit(3));
  }, 40 * 60_000);
  watchdog.unref();
  try {
    const results = await runScale({
      nodes,
      proxies: int('proxies', values.proxies, 3, 1, 32),
      workers: int('workers', values.workers, 4, 1, 64),
      lainlets: int('lainlets', values.lainlets, 2, 0, 16),
      sseWatchers: int('sse', values.sse, 10, 1, 1000),
      rate: int('rate', values.rate, 5, 1, 1000),
      steadySeconds: int('duration', values.duration, quick ? 5 : 30, 1, 600),
      idleSeconds: int('idle', values.idle, quick ? 3 : 10, 1, 300),
      syncTimeoutMs: int('sync-timeout', values['sync-timeout'], 120, 5, 1800) * 1000,
      registry: !values['no-registry'],
      lainletCommand: built.template,
      topologies,
      cluster: { label, data: cluster },
      log,
    });
    results.machine.otherLoad = values['other-load'];
    results.commit = gitDescribe();
    const written = await writeScaleReport(results, quick);
    log(`wrote ${written.join(' and ')}`);
  } finally {
    await stopAll();
  }
}

/** The commit measured, `-dirty` with uncommitted changes; undefined outside a git checkout. */
function gitDescribe(): string | undefined {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

main().then(
  () => process.exit(0),
  async (err: Error) => {
    log(`failed: ${err.stack ?? err.message}`);
    await stopAll();
    process.exit(1);
  },
);
