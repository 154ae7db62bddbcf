// bench/SCALE.md: both topologies side by side, with the goals of issue 12, and
// bench/scale-results.json (everything measured). --quick writes SCALE.quick.md/.json.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Latency, ScaleResults, TopologyResult } from './simulation.js';
import { leastStormCost } from './storm-floor.js';

const DIR = fileURLToPath(new URL('..', import.meta.url));

export async function writeScaleReport(r: ScaleResults, quick: boolean): Promise<string[]> {
  const md = path.join(DIR, quick ? 'SCALE.quick.md' : 'SCALE.md');
  const json = path.join(DIR, quick ? 'scale-results.quick.json' : 'scale-results.json');
  await fs.promises.writeFile(json, `${JSON.stringify(r, null, 2)}\n`);
  await fs.promises.writeFile(md, renderScaleReport(r, path.basename(json)));
  return [md, json];
}

const MB = 1048576;
const mb = (b: number) => `${(b / MB).toFixed(1)} MB`;
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
const ms = (l: Latency) => (l.count ? `p50 ${l.p50Ms} / p99 ${l.p99Ms} / max ${l.maxMs} ms` : 'none arrived');
const sec = (x: number) => (Number.isFinite(x) ? `${(x / 1000).toFixed(1)} s` : 'not all');
const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');

interface Row {
  figure: string;
  goal: string;
  direct: string;
  proxy: string;
  met: string;
}

/** A goal and the topologies it is for (the proxy goals say "through proxies"). */
interface Goal {
  text: string;
  ok?: (t: TopologyResult) => boolean;
  proxyOnly?: boolean;
}

/** The markdown page: what was run, the table, the notes. */
export function renderScaleReport(r: ScaleResults, jsonName: string): string {
  const d = r.topologies.direct;
  const p = r.topologies.proxy;
  const n = r.options.nodes;
  const P = p?.proxies ?? r.options.proxies;
  const rows: Row[] = [];
  const row = (figure: string, goal: Goal | string, get: (t: TopologyResult) => string) => {
    const g: Goal = typeof goal === 'string' ? { text: goal } : goal;
    const met = (['direct', 'proxy'] as const)
      .map((k) => (g.ok && r.topologies[k] && !(g.proxyOnly && k === 'direct') ? `${k}: ${verdict(g.ok(r.topologies[k]))}` : ''))
      .filter(Boolean)
      .join(', ');
    rows.push({ figure, goal: g.text, direct: d ? get(d) : '', proxy: p ? get(p) : '', met });
  };

  row(
    "etcd watch streams held, idle (of which the proxies' own, held before any node)",
    { text: `through ${P} proxies: <= ${P} (beyond the proxies' own)`, ok: (t) => t.idle.watchStreams - t.baseline.watchStreams <= P && t.storm.watchStreamsAfter - t.baseline.watchStreams <= P, proxyOnly: true },
    (t) => `${t.idle.watchStreams} (${t.baseline.watchStreams})`,
  );
  row("etcd watchers held, idle (of which the proxies' own)", 'measure', (t) => `${t.idle.watchers} (${t.baseline.watchers})`);
  row("etcd watchers per proxy beyond its own (1: all its nodes' watches merged into one)", 'measure', (t) => (t.idle.etcdWatchersPerProxy === undefined ? '' : String(t.idle.etcdWatchersPerProxy)));
  row(
    'etcd watch streams / watchers after the restart storm (watchers once no node is catching up)',
    '',
    (t) => `${t.storm.watchStreamsAfter} / ${t.storm.watchersAfter}${t.storm.watchersSettled === undefined ? '' : ` (${t.storm.watchersSettled})`}`,
  );
  row('lease keep-alives etcd received per second, idle (keep-alive streams open; nodes registered)', 'measure', (t) => `${t.idle.leaseKeepAlivesPerSec}/s (${t.idle.leaseKeepAliveStreams} streams; ${t.idle.registered}/${n} registered)`);
  row('etcd bytes sent / Range calls per second (idle)', '', (t) => `${kb(t.idle.sentBytesPerSec)}/s / ${t.idle.rangeCallsPerSec}/s`);
  row('etcd CPU (idle)', '', (t) => `${t.idle.cpuPct}% of a core`);
  row(
    `steady: write -> all ${n} nodes (${r.options.rate} writes/s)`,
    { text: 'p99 <= 2 s', ok: (t) => t.steady.toAllNodes.count > 0 && t.steady.toAllNodes.p99Ms <= 2000 && t.steady.missing === 0 },
    (t) => `${ms(t.steady.toAllNodes)}${t.steady.missing ? ` (**${t.steady.missing} missing**)` : ''}`,
  );
  row('steady: write -> each node', '', (t) => ms(t.steady.perNode));
  row("steady: node workers' own event-loop delay, worst worker (p99 / max): the simulation's share of the delays", '', (t) => `${t.steady.workerLoopDelayP99Ms} / ${t.steady.workerLoopDelayMaxMs} ms`);
  row(`steady: write -> full lainlets' SSE watchers (${r.options.lainlets} x ${r.options.sseWatchers})`, '', (t) => `${ms(t.steady.sse)}${t.steady.sseMissing ? ` (**${t.steady.sseMissing} missing**)` : ''}`);
  row(
    'etcd bytes per pod-group write (less idle background) / value size',
    { text: `through proxies: <= 6x (direct ~${n}x)`, ok: (t) => t.steady.netBytesPerWriteOverValue <= 6, proxyOnly: true },
    (t) => `${kb(t.steady.netBytesPerWrite)} = ${t.steady.netBytesPerWriteOverValue}x of ${kb(t.steady.meanValueBytes)}`,
  );
  row('steady: other Put calls (registry keys rewritten) / lease grants (re-registrations) / Range calls', '', (t) => `${t.steady.otherPuts} / ${t.steady.leaseGrants} / ${t.steady.rangeCalls}`);
  row('steady: etcd CPU', '', (t) => `${t.steady.cpuSeconds} s over ${t.steady.seconds} s`);
  row('store reconnects of all nodes between the first start and the storm (watch re-opened)', '0', (t) => String(t.reconnectsBeforeStorm));
  row(
    `restart storm: all ${n} nodes synced`,
    { text: '<= 30 s', ok: (t) => t.storm.synced === t.storm.nodes && t.storm.allSyncedMs <= 30_000 },
    (t) => `${sec(t.storm.allSyncedMs)} (p50 ${sec(t.storm.p50SyncedMs)}; ${t.storm.synced}/${t.storm.nodes})`,
  );
  row(
    'restart storm: etcd bytes sent (in full reads of /lain/)',
    { text: 'through proxies: <= 6 full reads', ok: (t) => t.storm.sentOverFullReads <= 6, proxyOnly: true },
    (t) => `${mb(t.storm.sentBytes)} (${t.storm.sentOverFullReads})`,
  );
  row(
    "restart storm: one etcd watch's share of it (its revisions replayed afterwards, with previous values, as a proxy watches) / a full read of /lain/ after it (registry keys included), in full reads",
    '',
    (t) => (t.stormFloor ? `${kb(t.stormFloor.watchBytes)} (${(t.stormFloor.watchBytes / t.fullReadBytes).toFixed(2)}) / ${kb(t.stormFloor.fullReadAfterBytes)} (${(t.stormFloor.fullReadAfterBytes / t.fullReadBytes).toFixed(2)})` : '-'),
  );
  row(
    `restart storm: the least etcd can send through ${P} proxies, however the nodes read (the storm to each proxy a full lainlet watches through, one read of /lain/ per proxy) + etcd's idle background (lease keep-alives, probes) over the storm's length, in full reads`,
    '',
    (t) => {
      if (!t.stormFloor || !t.proxies || !t.stormFloor.watchedProxies) return '';
      const least = leastStormCost(t.stormFloor, t.proxies, t.fullReadBytes);
      return `${least.beforeBackground} + ${least.background} = ${least.total} (${t.stormFloor.watchedProxies} proxies watched through)`;
    },
  );
  row(
    'restart storm: revisions etcd wrote / events it sent to its watchers (per revision) / peak etcd watchers',
    '',
    (t) => (t.storm.eventsSent === undefined ? '-' : `${t.storm.revisions} / ${t.storm.eventsSent} (${(t.storm.eventsSent / Math.max(1, t.storm.revisions)).toFixed(1)}) / ${t.storm.peakWatchers}`),
  );
  row(
    'restart storm: after the last node synced, until no catch-up watch is left: time / etcd bytes',
    '',
    (t) => (t.storm.tail === undefined ? '-' : `${sec(t.storm.tail.ms)} / ${mb(t.storm.tail.sentBytes)}`),
  );
  row('restart storm: Range calls served by etcd / made by the nodes (snapshot pages)', '', (t) => `${t.storm.rangeCalls} / ${t.storm.nodeReadPages}`);
  row('restart storm: etcd CPU / peak RSS', '', (t) => `${t.storm.cpuSeconds} s / ${mb(t.storm.peakRssBytes)}`);
  row(
    'cached reads refreshed from etcd / catch-up watches a proxy cut short (noticed, read again), cold start and storm',
    '',
    (t) => `${t.coldStart.refreshedReads} / ${t.coldStart.lostEvents ?? '-'} and ${t.storm.refreshedReads} / ${t.storm.lostEvents ?? '-'}`,
  );
  row('cold start (first start of all nodes): synced / bytes / Range calls', '', (t) => `${sec(t.coldStart.allSyncedMs)} / ${mb(t.coldStart.sentBytes)} / ${t.coldStart.rangeCalls}`);
  row('etcd CPU seconds (whole run) / peak RSS', '', (t) => `${t.cpuSeconds} s / ${mb(t.peakRssBytes)}`);
  row('node workers: CPU seconds / RSS', '', (t) => `${t.nodeWorkers.cpuSeconds} s / ${mb(t.nodeWorkers.rssBytes)}`);

  const c = r.cluster;
  const m = r.machine;
  const lines = [
    `# Cluster-scale simulation${r.options.nodes < 1000 ? ` (N = ${n})` : ''}`,
    '',
    `\`npm run bench:scale\` on ${r.date.slice(0, 16).replace('T', ' ')} UTC${r.commit ? ` (lainlet ${r.commit})` : ''}: ${n} simulated nodes (our store layer: snapshot, one watch, liveness${r.options.registry ? ', registry lease' : ''}) ` +
      `in ${r.options.workers} worker processes, plus ${r.options.lainlets} full lainlets with ${r.options.sseWatchers} SSE watchers each, ` +
      `against one etcd; direct, and through ${P} \`etcd grpc-proxy\` processes (nodes spread round-robin). Each topology gets a fresh etcd (data in /dev/shm).`,
    '',
    `Machine: ${m.cpus} x ${m.cpuModel}, ${(m.memoryBytes / 2 ** 30).toFixed(0)} GB, Node ${m.node}; load average ${m.load1AtStart} at start, ${m.load1AtEnd} at the end${m.otherLoad ? `; ${m.otherLoad}` : ''}. ` +
      'Everything (etcd, proxies, nodes, lainlets, writer) shares these cores: timings are upper bounds.',
    '',
    `Cluster: ${c.label}: ${c.keys} keys, ${kb(c.rawBytes)} under /lain/ (one full read: ${d ? kb(d.fullReadBytes) : p ? kb(p.fullReadBytes) : '?'} sent by etcd); ` +
      `pod-group values ${kb(c.podGroupValueBytes.min)} .. ${kb(c.podGroupValueBytes.max)} (median ${kb(c.podGroupValueBytes.median)}). ` +
      `Steady state: ${r.options.rate} pod-group writes/s for ${r.options.steadySeconds} s, straight to etcd, round-robin over the web pod groups ` +
      `(the SSE watchers watch \`/v2/webrouter/webprocs\`; mean value written ${kb((d ?? p)?.steady.meanValueBytes ?? NaN)}); delays from the moment each write was sent. ` +
      'A restart storm: every simulated node closes (revoking its lease, as on SIGTERM) and starts again at once; timed from that command to the last node synced (snapshot applied, watch open).',
    '',
    '| figure | goal | direct | through proxies | goal met |',
    '|---|---|---|---|---|',
    ...rows.map((x) => `| ${x.figure} | ${x.goal} | ${x.direct} | ${x.proxy} | ${x.met} |`),
    '',
  ];
  lines.push(
    'How to read it:',
    '',
    "- Each `etcd grpc-proxy` holds one watch stream of its own from the start (shown in brackets) and one more for the watches it serves.",
    '- A proxy serves a new client watch from one of its etcd watches only if that one is not ahead of the revision the client asks for,' +
      ' and merges a lagging etcd watch into another as events pass unless 5 or more clients hang on it; etcd sends each etcd watch' +
      ' every write (with the previous value: ~2x the value each). Behind a proxy a node therefore starts its main watch 2000 revisions' +
      ' past etcd\'s newest, and catches up to it with a second, short-lived watch over an equivalent range (src/store/handover.ts).' +
      ' Nodes that open a new etcd watch anyway (no etcd watch yet, or etcd went past their start while their create was on its way)' +
      ' may be joined by 5 others before it merges: those etcd watches stay.',
    '- Bytes per write are etcd\'s bytes sent during the steady phase, less its idle rate (keep-alives, probes), over the writes;' +
      ' they include the registry keys the nodes rewrite as their revision moves (counted in the "other Put calls" row).',
    '- A restart storm through proxies is read from the proxies\' caches (Range calls at etcd vs the nodes\' pages, and the nodes\'' +
      ' small checks of etcd\'s newest revision); a cached read far behind etcd is read again from etcd (the refreshed reads), and' +
      ' what etcd sends beyond that is the catch-up from the cached revision, once per etcd watch the proxies open for it, and the' +
      ' registry\'s own writes (every node\'s key deleted and written again), once per etcd watch. The events etcd sent per' +
      ' revision written count both: an event goes once to each etcd watch that covers it, replays included.',
    '- The least a storm can cost through proxies, whatever the nodes do: a proxy that a full lainlet watches through (they' +
      ' never restart) holds an etcd watch of /lain/ all along, and etcd sends it every revision the storm writes, with its' +
      ' previous value; each proxy\'s nodes need /lain/ from etcd at least once (a read, counted at its smallest, before any' +
      ' registry key, or a cached read from before the storm and a replay of the whole storm, if that is less); and etcd answers the' +
      ' registry\'s lease keep-alives meanwhile (its idle rate over the storm\'s length). The storm\'s revisions are mostly the' +
      ' registry\'s (each node\'s key deleted on SIGTERM and written again), measured by replaying them in one etcd watch after' +
      ' the storm (bench/scale/storm-floor.ts). Where that least is over 6 full reads, no design meets the storm goal on that' +
      ' cluster with this registry.',
    '',
  );
  const errors = Object.values(r.topologies).flatMap((t) => t.errors.map((e) => `- ${t.topology}: ${e}`));
  if (errors.length) lines.push('Problems seen:', '', ...errors, '');
  lines.push(`All figures: [${jsonName}](${jsonName}).`, '');
  return lines.join('\n');
}
