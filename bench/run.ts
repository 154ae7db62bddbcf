// `npm run bench`: starts its own etcd, loads a generated cluster, starts lainlet (or --cmd),
// measures the figures of the benchmark goals (the table in bench/RESULTS.md) with a load client
// in its own process, and writes bench/RESULTS.md and bench/results.json. `npm run bench -- --help` for the options.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadCluster, markPodGroup, podGroups, PRESETS, scaled, type Cluster } from './cluster.js';
import { LoadClient, sources } from './client.js';
import type { Ctx } from './context.js';
import { BenchEtcd, type EtcdApi } from './etcd.js';
import { measureCpu, type CpuFigure } from './measure-cpu.js';
import { measureFanout, type FanoutFigure } from './measure-fanout.js';
import { measureGet, type GetFigure } from './measure-get.js';
import { measureLag, type LagFigure } from './measure-lag.js';
import { startAndWaitReady, type StartFigure } from './measure-start.js';
import { writeReport, type Results } from './report.js';
import { buildLainlet, fillTemplate, productionNodeFlags, type Target } from './target.js';
import { freeLoopbackPort } from '../src/demo/free-port.js';

const FIGURES = ['start', 'get-big', 'get-small', 'fanout-big', 'fanout-small', 'lag', 'cpu'] as const;
type Figure = (typeof FIGURES)[number];

const USAGE = `npm run bench -- [options]
  --preset small|large   cluster preset of gen_cluster.py (default large)
  --scale N              N times the preset's nodes and apps (default 1)
  --cmd 'TEMPLATE'       implementation to measure, e.g. 'lainlet -web {web} -etcd {etcd} -ip 127.0.0.1';
                         placeholders {web} {port} {etcd} {etcdUrl}. Default: this lainlet, compiled
  --etcd-api v2|v3       the etcd API the implementation reads (default v3); the cluster is written through it
  --only a,b             figures: ${FIGURES.join(', ')} (default all)
  --quick                short smoke run (fewer watchers, shorter windows); writes RESULTS.quick.md
  --sources N            loopback source addresses 127.0.0.1..N for the client (default 8; use 1 when
                         the implementation checks callers, as only 127.0.0.1 is local)
  --profile DIR          run lainlet with --cpu-prof, profiles written to DIR
  --label TEXT           name of the implementation in the report`;

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

async function main() {
  const { values } = parseArgs({
    options: {
      preset: { type: 'string', default: 'large' },
      scale: { type: 'string', default: '1' },
      cmd: { type: 'string' },
      'etcd-api': { type: 'string', default: 'v3' },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      sources: { type: 'string', default: '8' },
      profile: { type: 'string' },
      label: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const preset = values.preset as keyof typeof PRESETS;
  if (!(preset in PRESETS)) throw new Error(`--preset must be small or large`);
  const scale = Number(values.scale);
  if (!Number.isInteger(scale) || scale < 1 || scale > 16) throw new Error('--scale must be an integer 1..16');
  const api = values['etcd-api'] as EtcdApi;
  if (api !== 'v2' && api !== 'v3') throw new Error('--etcd-api must be v2 or v3');
  const only = new Set<Figure>((values.only?.split(',').map((s) => s.trim()) ?? FIGURES) as Figure[]);
  for (const f of only) if (!FIGURES.includes(f)) throw new Error(`unknown figure ${f}; figures: ${FIGURES.join(', ')}`);
  const quick = values.quick;
  const nSources = Math.min(64, Math.max(1, Number(values.sources)));

  const shape = scaled(PRESETS[preset], scale);
  log(`cluster: ${preset} x${scale}; generating/loading`);
  const cluster = await loadCluster(shape);
  log(`cluster: ${cluster.keys} keys, ${cluster.podGroups} pod groups, ${cluster.containers} containers, ${(cluster.rawBytes / 1e6).toFixed(1)} MB`);
  const built = values.cmd
    ? { template: values.cmd, how: 'given with --cmd', dir: '', cleanup: async () => {} }
    : await buildLainlet([...productionNodeFlags(), ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [])]);
  log(`implementation: ${built.template} (${built.how})`);

  const results: Results = {
    date: new Date().toISOString(),
    machine: machine(),
    implementation: { label: values.label ?? (values.cmd ? values.cmd.split(' ')[0] : 'lainlet (this repo)'), command: built.template, how: built.how },
    etcdApi: api,
    quick,
    cluster: clusterInfo(cluster, preset, scale),
    sources: nSources,
  };

  const watchdog = setTimeout(() => {
    log('watchdog: the run took more than 30 minutes; giving up');
    process.exit(3);
  }, 30 * 60_000);
  watchdog.unref();

  try {
    const main = await session(cluster, api, built.template, quick, nSources, async (ctx, start) => {
      results.start = start;
      if (only.has('get-big')) results.getBig = await measureGet(ctx, '/v2/coreinfowatcher', 16);
      if (only.has('get-small')) results.getSmall = await measureGet(ctx, '/v2/configwatcher?target=vips', 16);
      if (only.has('fanout-big')) {
        const pg = podGroups(cluster, { web: true })[0];
        results.fanoutBig = await measureFanout(ctx, '/v2/webrouter/webprocs', quick ? 200 : 1000, async (seq) => {
          await ctx.etcd.put(pg.key, markPodGroup(pg.value, seq));
        });
      }
      if (only.has('fanout-small')) {
        results.fanoutSmall = await measureFanout(ctx, '/v2/configwatcher?target=vips', quick ? 1000 : 10_000, async (seq) => {
          await ctx.etcd.put('/lain/config/vips/10.255.0.1', JSON.stringify({ app: 'bench', seq: `bench-seq-${seq}` }));
        });
      }
      if (only.has('lag')) results.lag = await measureLag(ctx, { watchers: quick ? 200 : 1000, globalWatchers: 2, rate: 200 });
      if (only.has('cpu')) results.cpu1x = await measureCpu(ctx);
    });
    results.idle = main;
    if (only.has('cpu')) {
      const big = await loadCluster(scaled(shape, 4));
      log(`4x cluster: ${big.containers} containers, ${(big.rawBytes / 1e6).toFixed(1)} MB`);
      const r4 = await session(big, api, built.template, quick, nSources, async (ctx) => {
        results.cpu4x = await measureCpu(ctx);
      });
      results.cluster4x = { ...clusterInfo(big, preset, scale * 4), readyMs: r4.readyMs, rssIdleBytes: r4.rssIdleBytes };
    }
  } finally {
    await built.cleanup();
  }
  results.machine.load1AtEnd = Math.round(os.loadavg()[0] * 100) / 100;
  const written = await writeReport(results);
  log(`wrote ${written.join(' and ')}`);
}

interface SessionInfo {
  readyMs: number;
  readyRuns: number[];
  rssIdleBytes: number;
  etcdWatchersIdle?: number;
  answerBytes: number;
}

/** etcd + cluster + implementation + load client for `body`; everything stopped afterwards. */
async function session(
  cluster: Cluster,
  api: EtcdApi,
  template: string,
  quick: boolean,
  nSources: number,
  body: (ctx: Ctx, start: StartFigure & { runs: number[] }) => Promise<void>,
): Promise<SessionInfo> {
  const etcd = await BenchEtcd.start(api);
  let target: Target | undefined;
  let client: LoadClient | undefined;
  try {
    const t0 = Date.now();
    await etcd.putMany(cluster.kv, 16);
    log(`etcd ${api} at ${etcd.endpoint}: ${cluster.keys} keys loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const port = await freeLoopbackPort();
    const command = fillTemplate(template, { port, etcd: etcd.endpoint });
    // Ready after start: median of 3 starts (1 with --quick); the last one stays up.
    const runs: number[] = [];
    let start: StartFigure | undefined;
    const starts = quick ? 1 : 3;
    for (let i = 0; i < starts; i++) {
      await target?.stop();
      await sleep(300);
      const s = await startAndWaitReady(command, port);
      target = s.target;
      start = s.fig;
      runs.push(s.fig.readyMs);
    }
    const readyMs = [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)];
    log(`ready after start: ${runs.join(', ')} ms (answer ${start!.answerBytes} B)`);
    // Idle RSS once settled: V8 hands freed heap pages back to the system some 20 s after the
    // start-up burst (its memory reducer), so the figure is taken after 30 s of idling.
    await sleep(2000);
    const rssAt2s = target!.rss();
    await sleep(28_000);
    const rssIdleBytes = target!.rss();
    log(`RSS 2 s after ready ${(rssAt2s / 1048576).toFixed(1)} MiB`);
    const etcdWatchersIdle = await etcd.watchers();
    log(`idle RSS ${(rssIdleBytes / 1048576).toFixed(1)} MiB; etcd watchers ${etcdWatchersIdle}`);
    client = new LoadClient();
    const ctx: Ctx = { etcd, target: target!, client, cluster, opts: { quick, sources: sources(nSources) }, log };
    await body(ctx, { ...start!, readyMs, runs });
    if (!target!.running) throw new Error(`the implementation exited during the run:\n${target!.output()}`);
    return { readyMs, readyRuns: runs, rssIdleBytes, etcdWatchersIdle, answerBytes: start!.answerBytes };
  } finally {
    await client?.stop();
    await target?.stop();
    await etcd.stop();
  }
}

function clusterInfo(c: Cluster, preset: string, scale: number) {
  return { preset, scale, ...c.shape, keys: c.keys, podGroups: c.podGroups, containers: c.containers, rawBytes: c.rawBytes };
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    load1AtStart: Math.round(os.loadavg()[0] * 100) / 100,
  };
}

export type { CpuFigure, FanoutFigure, GetFigure, LagFigure };

main().catch((err) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
