// bench/RESULTS.md (a table of the figures against the Go binary and the benchmark goals) and
// bench/results.json beside it (everything measured). --quick writes RESULTS.quick.md/.json.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CpuFigure } from './measure-cpu.js';
import type { FanoutFigure } from './measure-fanout.js';
import type { GetFigure } from './measure-get.js';
import type { LagFigure } from './measure-lag.js';
import type { StartFigure } from './measure-start.js';

const DIR = fileURLToPath(new URL('.', import.meta.url));

export interface Results {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; kernel: string; node: string; load1AtStart: number; load1AtEnd?: number };
  implementation: { label: string; command: string; how: string };
  etcdApi: string;
  quick: boolean;
  sources: number;
  cluster: { preset: string; scale: number; nodes: number; apps: number; keys: number; podGroups: number; containers: number; rawBytes: number };
  cluster4x?: Results['cluster'] & { readyMs: number; rssIdleBytes: number };
  start?: StartFigure & { runs: number[] };
  idle?: { readyMs: number; rssIdleBytes: number; etcdWatchersIdle?: number };
  getBig?: GetFigure;
  getSmall?: GetFigure;
  fanoutBig?: FanoutFigure;
  fanoutSmall?: FanoutFigure;
  lag?: LagFigure;
  cpu1x?: CpuFigure;
  cpu4x?: CpuFigure;
}

const MB = 1048576;
const mb = (b: number) => `${(b / MB).toFixed(0)} MB`;
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
const yes = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? 'yes' : '**no**');

export async function writeReport(r: Results): Promise<string[]> {
  const base = r.quick ? 'RESULTS.quick' : 'RESULTS';
  const md = path.join(DIR, `${base}.md`);
  const json = path.join(DIR, r.quick ? 'results.quick.json' : 'results.json');
  await fs.promises.writeFile(json, `${JSON.stringify(r, null, 2)}\n`);
  await fs.promises.writeFile(md, render(r, path.basename(json)));
  return [md, json];
}

function render(r: Results, jsonName: string): string {
  const rows: string[][] = [];
  const row = (figure: string, go: string, goal: string, got: string, ok?: boolean) => rows.push([figure, go, goal, got, yes(ok)]);
  const rssGoal = 2 * r.cluster.rawBytes + 64 * MB;
  if (r.start) row('ready after start (full /v2/coreinfowatcher answer)', '1.1 s', '<= 1 s', `${(r.start.readyMs / 1000).toFixed(2)} s (runs: ${r.start.runs.join(', ')} ms)`, r.start.readyMs <= 1000);
  if (r.idle) row('RSS idle', '247 MB', `<= 2 x raw + 64 MB = ${mb(rssGoal)}`, mb(r.idle.rssIdleBytes), r.idle.rssIdleBytes <= rssGoal);
  if (r.getBig) row(`GET /v2/coreinfowatcher (${kb(r.getBig.answerBytes)}), ${r.getBig.conns} conns`, '168 req/s, p99 291 ms', '>= 1500 req/s', `${r.getBig.reqPerSec} req/s, p99 ${r.getBig.p99Ms} ms`, r.getBig.reqPerSec >= 1500 && r.getBig.errors === 0);
  if (r.getSmall) row(`GET ${r.getSmall.path} (${r.getSmall.answerBytes} B), ${r.getSmall.conns} conns`, '', '>= 15,000 req/s', `${r.getSmall.reqPerSec} req/s, p99 ${r.getSmall.p99Ms} ms`, r.getSmall.reqPerSec >= 15_000 && r.getSmall.errors === 0);
  const fan = (f: FanoutFigure, go: string) =>
    row(
      `fan-out: one change -> ${f.watchers} watchers of ${f.path}`,
      go,
      'p99 <= 250 ms',
      `p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms, max ${f.maxMs} ms (${f.rounds} changes${f.missedEvents ? `, ${f.missedEvents} events missing` : ''}${f.failed ? `, ${f.failed} watchers failed to open` : ''})`,
      f.p99Ms <= 250 && f.missedEvents === 0 && f.failed === 0,
    );
  if (r.fanoutBig) fan(r.fanoutBig, 'p50 1127 ms, p99 2452 ms (1000 watchers)');
  if (r.fanoutSmall) fan(r.fanoutSmall, '');
  const perWatcher = r.fanoutSmall ?? r.fanoutBig;
  if (perWatcher) row(`RSS per connected idle watcher (${perWatcher.opened} watchers)`, '283 KB', '<= 16 KB', kb(perWatcher.rssPerWatcherBytes), perWatcher.rssPerWatcherBytes <= 16 * 1024);
  const ew = r.fanoutSmall?.etcdWatchers ?? r.idle?.etcdWatchersIdle;
  if (ew !== undefined) row(`etcd watches held${r.fanoutSmall ? ` (with ${r.fanoutSmall.opened} clients watching)` : ''}`, '8', '1', String(ew), ew <= 1);
  if (r.cpu1x && r.cpu4x) {
    for (let i = 0; i < r.cpu1x.scenarios.length; i++) {
      const a = r.cpu1x.scenarios[i];
      const b = r.cpu4x.scenarios[i];
      const ratio = a.cpuMsPerChange > 0 ? b.cpuMsPerChange / a.cpuMsPerChange : NaN;
      const whole = a.name.includes('whole cluster');
      row(
        `CPU per pod group change, ${a.name}: 1x (${r.cpu1x.clusterContainers} containers) / 4x (${r.cpu4x.clusterContainers})`,
        '',
        whole ? 'the view includes the cluster: grows with it' : 'flat with cluster size',
        `${a.cpuMsPerChange} ms / ${b?.cpuMsPerChange} ms (x${ratio.toFixed(1)})`,
        whole ? undefined : b.cpuMsPerChange <= Math.max(1.5 * a.cpuMsPerChange, a.cpuMsPerChange + 0.3),
      );
    }
  }
  if (r.lag) {
    const l = r.lag;
    row(
      `lag behind etcd: ${l.achievedRate} writes/s for ${l.seconds} s, ${l.watchers} watchers (${l.perAppWatchers} per-app coreinfowatcher over ${l.apps} apps + ${l.globalWatchers} webrouter/webprocs)`,
      '',
      'p99 <= 100 ms',
      `p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms (per-app p99 ${l.perAppP99Ms}, webprocs p99 ${l.globalP99Ms}), max ${l.maxMs} ms${l.notCaughtUp ? `, ${l.notCaughtUp} never seen` : ''}`,
      l.p99Ms <= 100 && l.notCaughtUp === 0,
    );
  }

  const load: string[] = [];
  const cpuLine = (name: string, x: { serverCpuPct: number; clientCpuPct: number } | undefined) => {
    if (x) load.push(`| ${name} | ${x.serverCpuPct}% | ${x.clientCpuPct}% |`);
  };
  cpuLine('GET /v2/coreinfowatcher', r.getBig);
  cpuLine(`GET ${r.getSmall?.path ?? ''}`, r.getSmall);
  cpuLine('fan-out webprocs', r.fanoutBig);
  cpuLine('fan-out small', r.fanoutSmall);
  cpuLine('sustained writes', r.lag);

  const c = r.cluster;
  const m = r.machine;
  return `# Benchmark results${r.quick ? ' (--quick smoke run: short windows, fewer watchers; not the figures)' : ''}

- date: ${r.date}
- implementation: ${r.implementation.label}: \`${r.implementation.command}\` (${r.implementation.how}); etcd API ${r.etcdApi}
- cluster: \`gen_cluster.py\` ${c.preset} x${c.scale}: ${c.nodes} nodes, ${c.apps} apps, ${c.podGroups} pod groups, ${c.containers} containers, ${c.keys} keys, raw etcd data ${(c.rawBytes / 1e6).toFixed(1)} MB${r.cluster4x ? `; 4x cluster for the CPU figure: ${r.cluster4x.containers} containers, ${(r.cluster4x.rawBytes / 1e6).toFixed(1)} MB (ready ${(r.cluster4x.readyMs / 1000).toFixed(2)} s, idle RSS ${mb(r.cluster4x.rssIdleBytes)})` : ''}
- machine: ${m.cpus} x ${m.cpuModel}, ${mb(m.memoryBytes)} RAM, ${m.kernel}, node ${m.node}; load average (1 min) at start ${m.load1AtStart}, at end ${m.load1AtEnd ?? '?'} (other work ran on the machine too). etcd, the implementation, the load client and the bench share these cores.
- load client: its own process, raw sockets over loopback from ${r.sources} source address(es) 127.0.0.1..${r.sources}

| figure | Go binary (measured when the goals were set) | goal | measured | met |
|---|---|---|---|---|
${rows.map((x) => `| ${x.join(' | ')} |`).join('\n')}

CPU use during the load figures (100% = one core). The implementation serves from one JS thread,
so a server at ~100% while the client stays below it means the server is the limit, not the client.

| figure | server | load client |
|---|---|---|
${load.join('\n')}

All numbers: \`${jsonName}\`.
`;
}
